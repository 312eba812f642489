//! Quantized linear layers: int8 per-output-channel and 4-bit blockwise weights.
//!
//! # Formats (both row-major by output channel, so a file's bytes are the kernels' bytes)
//!
//! **Int8** ([`Int8Linear`]): `W[out, in]` as `i8`, row-major, one f32 scale per output row
//! (symmetric: `w ≈ q · scale[o]`, `scale = max|W[o, :]| / 127`). The kernels also keep the
//! per-row sum of `q` (computed at load) for the VNNI unsigned-activation offset.
//!
//! **Q4** ([`Q4Linear`]): blocks of [`Q4_BLOCK`] = 32 consecutive weights of one row, each
//! with an f16 scale `d` (symmetric: `w ≈ (q − 8) · d`, `q ∈ 0..16`; `d` may be negative so
//! the extra level −8 lands on the block's largest-magnitude value; `d` is chosen among a few
//! candidates near `m / −8` by least squared error).
//! A block is 16 bytes: byte `j` holds weight `j` in its low nibble and weight `j + 16` in
//! its high nibble (so one AND and one shift unpack a block into two contiguous halves).
//! A row is `ceil(in / 32) · 16` bytes; a partial last block is padded with `q = 8` (zero).
//! Scales are `[out, ceil(in / 32)]` f16.
//!
//! # Arithmetic (identical on every ISA path)
//! Each activation row is quantized on the fly to int8 (symmetric, `sx = max|x| / 127`,
//! round to nearest). Dot products are exact 32-bit integer sums; int8 outputs are
//! `sx · scale[o] · dot`, q4 outputs `sx · Σ_b d_b · dot_b`. On AVX-512 with VNNI the
//! integer dots are `vpdpbusd` (64 multiply-adds per instruction), on NEON `smull`/`sadalp`;
//! elsewhere (AVX2 too, for now) a portable loop computes the same integers, so int8 results are bit-identical across paths and
//! q4 results differ only by f32 summation order.
//!
//! The batch (`rows > 1`, GEMM) case loops output rows outermost so a weight row stays in
//! L1 while every (already quantized, L2-resident) activation row streams past it; the
//! batch-1 case (GEMV) reads every weight byte exactly once.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use crate::Isa;

#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;
pub mod scalar;

/// Weights per 4-bit block.
pub const Q4_BLOCK: usize = 32;
/// Bytes per 4-bit block.
pub const Q4_BLOCK_BYTES: usize = Q4_BLOCK / 2;
/// Largest input width accepted (keeps every 32-bit integer dot product exact).
pub const MAX_IN: usize = 1 << 16;

/// Why quantized weights could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuantError {
    /// A buffer holds a different number of elements than the shape needs.
    Length {
        /// Which buffer (`"weights"`, `"scales"`).
        what: &'static str,
        /// Elements expected.
        expected: usize,
        /// Elements given.
        got: usize,
    },
    /// A block size other than [`Q4_BLOCK`].
    BlockSize {
        /// The block size asked for.
        got: usize,
    },
    /// `in` exceeds [`MAX_IN`] or `out · in` overflows.
    TooLarge,
    /// A scale is NaN or infinite (or negative, for int8).
    BadScale {
        /// Its index.
        index: usize,
    },
}

impl fmt::Display for QuantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantError::Length {
                what,
                expected,
                got,
            } => write!(f, "{what}: expected {expected} elements, got {got}"),
            QuantError::BlockSize { got } => write!(
                f,
                "block size {got} is not supported (the 4-bit kernels use {Q4_BLOCK})"
            ),
            QuantError::TooLarge => write!(f, "shape too large (in ≤ {MAX_IN})"),
            QuantError::BadScale { index } => {
                write!(f, "scale {index} is negative, NaN or infinite")
            }
        }
    }
}

impl core::error::Error for QuantError {}

/// Something that owns bytes for the lifetime of a shared weight (a memory-mapped file).
pub trait ByteOwner: Send + Sync {
    /// The owned bytes.
    fn bytes(&self) -> &[u8];
}

/// Quantized weight bytes: owned, or a range of a shared owner (zero-copy from a mapped
/// file).
#[derive(Clone)]
pub enum WeightBytes {
    /// Owned bytes.
    Owned(Vec<u8>),
    /// `owner.bytes()[range]`.
    Shared(Arc<dyn ByteOwner>, Range<usize>),
}

impl WeightBytes {
    /// The bytes (empty if a shared range is out of bounds, which the constructors reject).
    pub fn as_slice(&self) -> &[u8] {
        match self {
            WeightBytes::Owned(v) => v,
            WeightBytes::Shared(o, r) => o.bytes().get(r.clone()).unwrap_or(&[]),
        }
    }
    fn len(&self) -> usize {
        match self {
            WeightBytes::Owned(v) => v.len(),
            WeightBytes::Shared(o, r) => o.bytes().get(r.clone()).map_or(0, |s| s.len()),
        }
    }
}

impl fmt::Debug for WeightBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightBytes::Owned(v) => write!(f, "Owned({} bytes)", v.len()),
            WeightBytes::Shared(_, r) => write!(f, "Shared({r:?})"),
        }
    }
}

fn checked_numel(out: usize, inp: usize) -> Result<usize, QuantError> {
    if inp > MAX_IN {
        return Err(QuantError::TooLarge);
    }
    out.checked_mul(inp).ok_or(QuantError::TooLarge)
}

fn check_scales(s: impl Iterator<Item = f32>, signed: bool) -> Result<(), QuantError> {
    for (i, v) in s.enumerate() {
        if !(v.is_finite() && (signed || v >= 0.0)) {
            return Err(QuantError::BadScale { index: i });
        }
    }
    Ok(())
}

/// f32 → f16 bits (round to nearest even).
pub fn f32_to_f16(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// f16 bits → f32.
pub fn f16_to_f32(h: u16) -> f32 {
    half::f16::from_bits(h).to_f32()
}

/// The f16 block scale with the least squared error among a few candidates around
/// `m / −8` (`m` the block's value of largest magnitude: its sign picks which end gets the
/// extra level) and `max|w| / 7`.
fn best_q4_scale(blk: &[f32]) -> u16 {
    let m = blk
        .iter()
        .fold(0f32, |a, &v| if v.abs() > a.abs() { v } else { a });
    if m == 0.0 || !m.is_finite() {
        return f32_to_f16(if m.is_finite() { 0.0 } else { f32::NAN });
    }
    let mut best = (f32::INFINITY, 0u16);
    for t in [-8.0f32, -7.75, -7.5, -7.25, -7.0, -6.75, -6.5, 7.0] {
        let h = f32_to_f16(m / t);
        let d = f16_to_f32(h);
        if d == 0.0 || !d.is_finite() {
            continue;
        }
        let inv = 1.0 / d;
        let err: f32 = blk
            .iter()
            .map(|&v| {
                let e = v - round(v * inv).clamp(-8.0, 7.0) * d;
                e * e
            })
            .sum();
        if err < best.0 {
            best = (err, h);
        }
    }
    best.1
}

fn round(x: f32) -> f32 {
    libm::roundf(x)
}

/// An int8 `[out, in]` weight matrix (format in the module docs).
#[derive(Debug, Clone)]
pub struct Int8Linear {
    out: usize,
    inp: usize,
    data: WeightBytes,
    scales: Vec<f32>,
    row_sums: Vec<i32>,
}

impl Int8Linear {
    /// Quantizes row-major f32 `w[out, in]`.
    pub fn quantize(w: &[f32], out: usize, inp: usize) -> Result<Self, QuantError> {
        let (q, s) = Self::quantize_parts(w, out, inp)?;
        Self::from_parts(out, inp, WeightBytes::Owned(q), s)
    }

    /// Quantizes `w[out, in]` into its stored parts: `i8` bytes and per-row scales.
    pub fn quantize_parts(
        w: &[f32],
        out: usize,
        inp: usize,
    ) -> Result<(Vec<u8>, Vec<f32>), QuantError> {
        let n = checked_numel(out, inp)?;
        if w.len() != n {
            return Err(QuantError::Length {
                what: "weights",
                expected: n,
                got: w.len(),
            });
        }
        let mut q = vec![0u8; n];
        let mut scales = vec![0f32; out];
        for o in 0..out {
            let row = &w[o * inp..(o + 1) * inp];
            let amax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            let s = amax / 127.0;
            scales[o] = s;
            let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
            for (d, v) in q[o * inp..(o + 1) * inp].iter_mut().zip(row) {
                *d = round(v * inv).clamp(-127.0, 127.0) as i8 as u8;
            }
        }
        Ok((q, scales))
    }

    /// Builds from stored parts, checking every length and scale.
    pub fn from_parts(
        out: usize,
        inp: usize,
        data: WeightBytes,
        scales: Vec<f32>,
    ) -> Result<Self, QuantError> {
        let n = checked_numel(out, inp)?;
        if data.len() != n {
            return Err(QuantError::Length {
                what: "weights",
                expected: n,
                got: data.len(),
            });
        }
        if scales.len() != out {
            return Err(QuantError::Length {
                what: "scales",
                expected: out,
                got: scales.len(),
            });
        }
        check_scales(scales.iter().copied(), false)?;
        let bytes = data.as_slice();
        let row_sums = (0..out)
            .map(|o| {
                bytes[o * inp..(o + 1) * inp]
                    .iter()
                    .map(|&b| b as i8 as i32)
                    .sum()
            })
            .collect();
        Ok(Int8Linear {
            out,
            inp,
            data,
            scales,
            row_sums,
        })
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.out
    }
    /// Input features.
    pub fn in_features(&self) -> usize {
        self.inp
    }
    /// The `i8` weights (as bytes), row-major.
    pub fn data(&self) -> &[u8] {
        self.data.as_slice()
    }
    /// Per-row scales.
    pub fn scales(&self) -> &[f32] {
        &self.scales
    }
    /// Bytes a GEMV streams (weights and scales).
    pub fn stream_bytes(&self) -> usize {
        self.out * self.inp + self.out * 4
    }
    /// Dequantized row-major f32 weights (tests, references).
    pub fn to_f32_rows(&self) -> Vec<f32> {
        let d = self.data();
        let mut w = vec![0f32; self.out * self.inp];
        for o in 0..self.out {
            let s = self.scales[o];
            let src = &d[o * self.inp..(o + 1) * self.inp];
            for (v, &b) in w[o * self.inp..(o + 1) * self.inp].iter_mut().zip(src) {
                *v = b as i8 as f32 * s;
            }
        }
        w
    }
}

/// A 4-bit blockwise `[out, in]` weight matrix (format in the module docs).
#[derive(Debug, Clone)]
pub struct Q4Linear {
    out: usize,
    inp: usize,
    data: WeightBytes,
    scales: Vec<u16>,
}

impl Q4Linear {
    /// Blocks per row.
    pub fn blocks_for(inp: usize) -> usize {
        inp.div_ceil(Q4_BLOCK)
    }

    /// Quantizes row-major f32 `w[out, in]`.
    pub fn quantize(w: &[f32], out: usize, inp: usize) -> Result<Self, QuantError> {
        let (q, s) = Self::quantize_parts(w, out, inp)?;
        Self::from_parts(out, inp, Q4_BLOCK, WeightBytes::Owned(q), s)
    }

    /// Quantizes `w[out, in]` into its stored parts: packed nibbles
    /// (`out · blocks · 16` bytes) and f16 scales (`out · blocks`).
    pub fn quantize_parts(
        w: &[f32],
        out: usize,
        inp: usize,
    ) -> Result<(Vec<u8>, Vec<u16>), QuantError> {
        let n = checked_numel(out, inp)?;
        if w.len() != n {
            return Err(QuantError::Length {
                what: "weights",
                expected: n,
                got: w.len(),
            });
        }
        let nb = Self::blocks_for(inp);
        let mut q = vec![0x88u8; out * nb * Q4_BLOCK_BYTES];
        let mut scales = vec![0u16; out * nb];
        for o in 0..out {
            let row = &w[o * inp..(o + 1) * inp];
            for b in 0..nb {
                let blk = &row[b * Q4_BLOCK..((b + 1) * Q4_BLOCK).min(inp)];
                let h = best_q4_scale(blk);
                scales[o * nb + b] = h;
                let d = f16_to_f32(h);
                let inv = if d != 0.0 { 1.0 / d } else { 0.0 };
                let base = (o * nb + b) * Q4_BLOCK_BYTES;
                for (i, v) in blk.iter().enumerate() {
                    let qi = (round(v * inv).clamp(-8.0, 7.0) as i32 + 8) as u8;
                    let byte = &mut q[base + (i % 16)];
                    *byte = if i < 16 {
                        (*byte & 0xF0) | qi
                    } else {
                        (*byte & 0x0F) | (qi << 4)
                    };
                }
            }
        }
        Ok((q, scales))
    }

    /// Builds from stored parts, checking the block size, every length and scale.
    pub fn from_parts(
        out: usize,
        inp: usize,
        block: usize,
        data: WeightBytes,
        scales: Vec<u16>,
    ) -> Result<Self, QuantError> {
        if block != Q4_BLOCK {
            return Err(QuantError::BlockSize { got: block });
        }
        checked_numel(out, inp)?;
        let nb = Self::blocks_for(inp);
        let bytes = out
            .checked_mul(nb * Q4_BLOCK_BYTES)
            .ok_or(QuantError::TooLarge)?;
        if data.len() != bytes {
            return Err(QuantError::Length {
                what: "weights",
                expected: bytes,
                got: data.len(),
            });
        }
        if scales.len() != out * nb {
            return Err(QuantError::Length {
                what: "scales",
                expected: out * nb,
                got: scales.len(),
            });
        }
        check_scales(scales.iter().map(|&h| f16_to_f32(h)), true)?;
        Ok(Q4Linear {
            out,
            inp,
            data,
            scales,
        })
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        self.out
    }
    /// Input features.
    pub fn in_features(&self) -> usize {
        self.inp
    }
    /// Packed nibbles, row-major by output row.
    pub fn data(&self) -> &[u8] {
        self.data.as_slice()
    }
    /// f16 block scales `[out, blocks]`.
    pub fn scales(&self) -> &[u16] {
        &self.scales
    }
    /// Bytes a GEMV streams (nibbles and scales).
    pub fn stream_bytes(&self) -> usize {
        self.data.len() + self.scales.len() * 2
    }
    /// Dequantized row-major f32 weights, block by block (the batch path's operand).
    pub fn dequantize(&self) -> Vec<f32> {
        let nb = Self::blocks_for(self.inp);
        let d = self.data();
        let mut w = vec![0f32; self.out * self.inp];
        let mut blk = [0f32; Q4_BLOCK];
        for o in 0..self.out {
            let row = &mut w[o * self.inp..(o + 1) * self.inp];
            for b in 0..nb {
                let s = f16_to_f32(self.scales[o * nb + b]);
                let bytes = &d[(o * nb + b) * Q4_BLOCK_BYTES..(o * nb + b + 1) * Q4_BLOCK_BYTES];
                for j in 0..16 {
                    blk[j] = ((bytes[j] & 15) as i32 - 8) as f32 * s;
                    blk[j + 16] = ((bytes[j] >> 4) as i32 - 8) as f32 * s;
                }
                let k0 = b * Q4_BLOCK;
                let n = (self.inp - k0).min(Q4_BLOCK);
                row[k0..k0 + n].copy_from_slice(&blk[..n]);
            }
        }
        w
    }

    /// Dequantized row-major f32 weights (tests, references).
    pub fn to_f32_rows(&self) -> Vec<f32> {
        let nb = Self::blocks_for(self.inp);
        let d = self.data();
        let mut w = vec![0f32; self.out * self.inp];
        for o in 0..self.out {
            for k in 0..self.inp {
                let (b, i) = (k / Q4_BLOCK, k % Q4_BLOCK);
                let byte = d[(o * nb + b) * Q4_BLOCK_BYTES + i % 16];
                let q = if i < 16 { byte & 15 } else { byte >> 4 };
                w[o * self.inp + k] = (q as f32 - 8.0) * f16_to_f32(self.scales[o * nb + b]);
            }
        }
        w
    }
}

/// Quantizes one activation row to int8 (symmetric, round to nearest); returns the scale.
pub fn quantize_row(x: &[f32], q: &mut [i8]) -> f32 {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let s = amax / 127.0;
    let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
    for (d, v) in q.iter_mut().zip(x) {
        *d = round(v * inv).clamp(-127.0, 127.0) as i8;
    }
    s
}

/// Whether the VNNI path (AVX-512F + BW + VNNI) can run here.
pub fn has_vnni() -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    {
        cfg!(all(
            target_arch = "x86_64",
            target_feature = "avx512f",
            target_feature = "avx512bw",
            target_feature = "avx512vnni"
        ))
    }
}

/// The integer-dot implementation behind an [`Isa`] for quantized weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// AVX-512 VNNI `vpdpbusd`.
    Vnni,
    /// NEON `smull`/`sadalp`.
    Neon,
    /// Portable loop (also AVX2, and AVX-512 without VNNI).
    Scalar,
}

fn path_for(isa: Isa) -> Path {
    if isa == Isa::Avx512 && has_vnni() {
        Path::Vnni
    } else if isa == Isa::Neon && isa.is_available() {
        Path::Neon
    } else {
        Path::Scalar
    }
}

/// Calls `f(o_start, o_end, yt_chunk)` over output-row chunks, in parallel under `std`;
/// `yt` is `[out, rows]` (transposed output).
fn for_out_chunks(
    out: usize,
    rows: usize,
    work: usize,
    yt: &mut [f32],
    f: &(dyn Fn(usize, usize, &mut [f32]) + Sync),
) {
    #[cfg(feature = "std")]
    {
        const CHUNK: usize = 16;
        if rayon::current_num_threads() > 1 && work >= 1 << 16 && out > CHUNK {
            use rayon::prelude::*;
            yt.par_chunks_mut(CHUNK * rows)
                .enumerate()
                .for_each(|(c, ch)| f(c * CHUNK, (c * CHUNK + CHUNK).min(out), ch));
            return;
        }
    }
    let _ = (work, rows);
    f(0, out, yt);
}

fn scatter(yt: &[f32], rows: usize, out: usize, y: &mut [f32]) {
    if rows == 1 {
        y.copy_from_slice(yt);
        return;
    }
    for o in 0..out {
        for r in 0..rows {
            y[r * out + o] = yt[o * rows + r];
        }
    }
}

/// `y[rows, out] = x[rows, in] · Wᵀ` for int8 weights on the best path.
///
/// # Panics
/// When `x.len() != rows · in` or `y.len() != rows · out`.
pub fn int8_linear(x: &[f32], rows: usize, w: &Int8Linear, y: &mut [f32]) {
    int8_linear_with(Isa::best(), x, rows, w, y)
}

/// [`int8_linear`] on a given path (unavailable paths fall back to scalar).
///
/// # Panics
/// When `x.len() != rows · in` or `y.len() != rows · out`.
pub fn int8_linear_with(isa: Isa, x: &[f32], rows: usize, w: &Int8Linear, y: &mut [f32]) {
    let (out, inp) = (w.out, w.inp);
    assert_eq!(x.len(), rows * inp, "int8_linear: x length");
    assert_eq!(y.len(), rows * out, "int8_linear: y length");
    // Activations, quantized once, stored as u8 = q + 128 (VNNI's unsigned operand).
    let mut xq = vec![0i8; rows * inp];
    let sx: Vec<f32> = (0..rows)
        .map(|r| quantize_row(&x[r * inp..(r + 1) * inp], &mut xq[r * inp..(r + 1) * inp]))
        .collect();
    let xu: Vec<u8> = xq.iter().map(|&v| (v as i32 + 128) as u8).collect();
    let path = path_for(isa);
    let data = w.data();
    let mut yt = vec![0f32; rows * out];
    for_out_chunks(out, rows, rows * out * inp, &mut yt, &|o0, o1, ch| {
        for o in o0..o1 {
            let wr = &data[o * inp..(o + 1) * inp];
            for r in 0..rows {
                let xr = &xu[r * inp..(r + 1) * inp];
                let acc = dot_u8_i8(path, xr, wr);
                let dot = acc.wrapping_sub(128i32.wrapping_mul(w.row_sums[o]));
                ch[(o - o0) * rows + r] = sx[r] * w.scales[o] * dot as f32;
            }
        }
    });
    scatter(&yt, rows, out, y);
}

/// `y[rows, out] = x[rows, in] · Wᵀ` for int8 weights **without** quantizing the
/// activations: weights are widened to f32 in registers and multiplied with f32 FMA
/// (weight-only quantization error; AVX-512F, portable loop elsewhere). Slower in compute
/// than VNNI, same bytes streamed.
///
/// # Panics
/// When `x.len() != rows · in` or `y.len() != rows · out`.
pub fn int8_linear_f32act_with(isa: Isa, x: &[f32], rows: usize, w: &Int8Linear, y: &mut [f32]) {
    let (out, inp) = (w.out, w.inp);
    assert_eq!(x.len(), rows * inp, "int8_linear: x length");
    assert_eq!(y.len(), rows * out, "int8_linear: y length");
    let simd = isa == Isa::Avx512 && isa.is_available();
    let data = w.data();
    let mut yt = vec![0f32; rows * out];
    for_out_chunks(out, rows, rows * out * inp, &mut yt, &|o0, o1, ch| {
        for o in o0..o1 {
            let wr = &data[o * inp..(o + 1) * inp];
            for r in 0..rows {
                let xr = &x[r * inp..(r + 1) * inp];
                ch[(o - o0) * rows + r] = w.scales[o] * dot_f32_i8(simd, xr, wr);
            }
        }
    });
    scatter(&yt, rows, out, y);
}

fn dot_f32_i8(simd: bool, x: &[f32], w: &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` only when AVX-512F is available; both slices are one row of `in`.
        return unsafe { avx512::dot_f32_i8(x, w) };
    }
    let _ = simd;
    x.iter().zip(w).map(|(a, &b)| a * (b as i8) as f32).sum()
}

fn dot_u8_i8(path: Path, x: &[u8], w: &[u8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if path == Path::Vnni {
        // SAFETY: `Path::Vnni` is chosen only when AVX-512F/BW/VNNI were detected on this
        // CPU; the slices have equal length (both are one row of `in` values).
        return unsafe { avx512::dot_u8_i8(x, w) };
    }
    #[cfg(target_arch = "aarch64")]
    if path == Path::Neon {
        return neon::dot_u8_i8(x, w);
    }
    let _ = path;
    scalar::dot_u8_i8(x, w)
}

/// Activations of one row prepared for the q4 kernels: the int8 values split per block
/// into low and high halves in the order the unpacked nibbles come out.
struct Q4Act {
    /// `[groups · 64]` activations matching low nibbles, then `[groups · 64]` high.
    lo: Vec<i8>,
    hi: Vec<i8>,
    /// Per block: `−8 · Σ x` split over 4 lanes (`−2 · Σ x` each), `[groups · 16]`.
    corr: Vec<i32>,
    /// Per block: exact `Σ x` (for the portable path).
    sums: Vec<i32>,
    scale: f32,
}

fn prep_q4(x: &[f32], nb: usize) -> Q4Act {
    let inp = x.len();
    let groups = nb.div_ceil(4);
    let mut q = vec![0i8; groups * 4 * Q4_BLOCK];
    let scale = quantize_row(x, &mut q[..inp]);
    let mut lo = vec![0i8; groups * 64];
    let mut hi = vec![0i8; groups * 64];
    let mut corr = vec![0i32; groups * 16];
    let mut sums = vec![0i32; groups * 4];
    for b in 0..groups * 4 {
        let blk = &q[b * 32..b * 32 + 32];
        lo[b * 16..b * 16 + 16].copy_from_slice(&blk[..16]);
        hi[b * 16..b * 16 + 16].copy_from_slice(&blk[16..]);
        let s: i32 = blk.iter().map(|&v| v as i32).sum();
        sums[b] = s;
        for t in 0..4 {
            corr[b * 4 + t] = -2 * s;
        }
    }
    Q4Act {
        lo,
        hi,
        corr,
        sums,
        scale,
    }
}

/// `y[rows, out] = x[rows, in] · Wᵀ` for 4-bit weights on the best path.
///
/// # Panics
/// When `x.len() != rows · in` or `y.len() != rows · out`.
pub fn q4_linear(x: &[f32], rows: usize, w: &Q4Linear, y: &mut [f32]) {
    q4_linear_with(Isa::best(), x, rows, w, y)
}

/// [`q4_linear`] on a given path (unavailable paths fall back to scalar).
///
/// # Panics
/// When `x.len() != rows · in` or `y.len() != rows · out`.
pub fn q4_linear_with(isa: Isa, x: &[f32], rows: usize, w: &Q4Linear, y: &mut [f32]) {
    let (out, inp) = (w.out, w.inp);
    assert_eq!(x.len(), rows * inp, "q4_linear: x length");
    assert_eq!(y.len(), rows * out, "q4_linear: y length");
    let nb = Q4Linear::blocks_for(inp);
    let acts: Vec<Q4Act> = (0..rows)
        .map(|r| prep_q4(&x[r * inp..(r + 1) * inp], nb))
        .collect();
    let path = path_for(isa);
    let data = w.data();
    let rb = nb * Q4_BLOCK_BYTES;
    let mut yt = vec![0f32; rows * out];
    for_out_chunks(out, rows, rows * out * inp, &mut yt, &|o0, o1, ch| {
        for o in o0..o1 {
            let wr = &data[o * rb..(o + 1) * rb];
            let sr = &w.scales[o * nb..(o + 1) * nb];
            for (r, a) in acts.iter().enumerate() {
                ch[(o - o0) * rows + r] = a.scale * q4_row(path, wr, sr, a);
            }
        }
    });
    scatter(&yt, rows, out, y);
}

fn q4_row(path: Path, w: &[u8], s: &[u16], a: &Q4Act) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if path == Path::Vnni {
        // SAFETY: `Path::Vnni` only when AVX-512F/BW/VNNI were detected; `a` was
        // prepared for `s.len()` blocks (its buffers cover whole groups of 4 blocks) and
        // `w.len() == 16 · s.len()`.
        return unsafe { avx512::q4_row(w, s, &a.lo, &a.hi, &a.corr) };
    }
    #[cfg(target_arch = "aarch64")]
    if path == Path::Neon {
        return neon::q4_row(w, s, &a.lo, &a.hi, &a.sums);
    }
    let _ = (path, &a.corr);
    scalar::q4_row(w, s, &a.lo, &a.hi, &a.sums)
}

#[cfg(test)]
mod tests;
