//! Weights of a linear layer, packed once at load time into the layout the kernels stream.
//!
//! # Layout
//! A checkpoint stores `W[out, in]` row-major. [`PackedLinear`] regroups it into *panels*
//! of [`NR`] = 32 output rows: panel `p` holds rows `32p .. 32p+32` interleaved by input
//! index, i.e. element `W[32p + c][k]` lives at `panel_base(p) + k * 32 + c`. The last
//! panel is zero-padded to 32 rows. Panels follow each other contiguously and the buffer
//! starts on a 64-byte boundary, so
//! - one step of the inner loop reads one 128-byte (f32) or 64-byte (bf16/f16) line of
//!   32 weights that multiply the same activation `x[k]`, i.e. full-width vector loads;
//! - the whole matrix is one sequential stream: batch-1 decode (GEMV) reads every weight
//!   byte exactly once per token, and threads split the panels into contiguous ranges;
//! - for GEMM the same panel is the register-blocked `B` operand of the micro-kernel
//!   (`MR` activation rows × 32 outputs), blocked by `KC` input features so it stays in L1.
//!
//! bf16 and f16 weights stay 16-bit in memory (half the bytes to stream) and are widened
//! to f32 in registers (bf16: a 16-bit shift; f16: `vcvtph2ps` on x86, shifts on NEON).

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// Output rows per panel (the micro-kernel's width).
pub const NR: usize = 32;

/// Element type of packed weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WeightType {
    /// IEEE binary32.
    F32,
    /// bfloat16 (upper half of an f32).
    Bf16,
    /// IEEE binary16.
    F16,
}

impl WeightType {
    /// Bytes per stored weight.
    pub fn size(self) -> usize {
        match self {
            WeightType::F32 => 4,
            WeightType::Bf16 | WeightType::F16 => 2,
        }
    }
}

/// Why a weight matrix could not be packed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PackError {
    /// The data holds a different number of elements (or bytes) than `out * in` needs.
    Length {
        /// Elements (or bytes, for [`PackedLinear::from_le_bytes`]) expected.
        expected: usize,
        /// Elements (or bytes) given.
        got: usize,
    },
    /// `out * in` overflows `usize`.
    TooLarge,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackError::Length { expected, got } => {
                write!(
                    f,
                    "weight data has {got} elements/bytes, expected {expected}"
                )
            }
            PackError::TooLarge => write!(f, "weight shape overflows usize"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PackError {}

#[derive(Clone)]
enum Store {
    F32(Vec<f32>),
    Half(Vec<u16>),
}

/// A `[out, in]` weight matrix in the panel layout described in the module docs.
#[derive(Clone)]
pub struct PackedLinear {
    out: usize,
    inp: usize,
    wtype: WeightType,
    store: Store,
    /// Offset (in elements) of the 64-byte-aligned start inside the store.
    off: usize,
}

impl fmt::Debug for PackedLinear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackedLinear")
            .field("out", &self.out)
            .field("in", &self.inp)
            .field("wtype", &self.wtype)
            .finish()
    }
}

fn check_len(out: usize, inp: usize, got: usize) -> Result<usize, PackError> {
    let n = out.checked_mul(inp).ok_or(PackError::TooLarge)?;
    if n != got {
        return Err(PackError::Length { expected: n, got });
    }
    let panels = out.div_ceil(NR);
    panels
        .checked_mul(NR)
        .and_then(|x| x.checked_mul(inp))
        .and_then(|x| x.checked_add(64))
        .ok_or(PackError::TooLarge)
}

/// f32 → bfloat16 bits, round to nearest even (NaN stays NaN).
pub fn f32_to_bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    if x.is_nan() {
        return ((b >> 16) | 0x40) as u16;
    }
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// f32 → IEEE half bits, round to nearest even.
pub fn f32_to_f16_bits(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// bfloat16 bits → f32 (exact).
pub fn bf16_bits_to_f32(h: u16) -> f32 {
    crate::simd::bf16_bits_to_f32(h)
}

/// IEEE half bits → f32 (exact).
pub fn f16_bits_to_f32(h: u16) -> f32 {
    crate::simd::f16_bits_to_f32(h)
}

impl PackedLinear {
    fn build<T: Copy + Default>(
        out: usize,
        inp: usize,
        total: usize,
        elem_align: usize,
        get: impl Fn(usize) -> T,
    ) -> (Vec<T>, usize) {
        let mut v = vec![T::default(); total];
        let addr = v.as_ptr() as usize;
        let off = ((64 - addr % 64) % 64) / elem_align;
        let panels = out.div_ceil(NR);
        for p in 0..panels {
            let base = off + p * NR * inp;
            for c in 0..NR.min(out - p * NR) {
                let row = (p * NR + c) * inp;
                for k in 0..inp {
                    v[base + k * NR + c] = get(row + k);
                }
            }
        }
        (v, off)
    }

    /// Packs row-major f32 `w[out, in]`, storing it as `wtype` (bf16/f16 round to nearest
    /// even).
    pub fn from_f32(
        w: &[f32],
        out: usize,
        inp: usize,
        wtype: WeightType,
    ) -> Result<Self, PackError> {
        let total = check_len(out, inp, w.len())?;
        let (store, off) = match wtype {
            WeightType::F32 => {
                let (v, off) = Self::build(out, inp, total, 4, |i| w[i]);
                (Store::F32(v), off)
            }
            WeightType::Bf16 => {
                let (v, off) = Self::build(out, inp, total, 2, |i| f32_to_bf16_bits(w[i]));
                (Store::Half(v), off)
            }
            WeightType::F16 => {
                let (v, off) = Self::build(out, inp, total, 2, |i| f32_to_f16_bits(w[i]));
                (Store::Half(v), off)
            }
        };
        Ok(PackedLinear {
            out,
            inp,
            wtype,
            store,
            off,
        })
    }

    /// Packs little-endian checkpoint bytes of type `src` (F32 / Bf16 / F16, row-major
    /// `[out, in]`, any alignment) into weights stored as `dst`.
    ///
    /// Conversions: identical types are copied bit for bit; 16-bit → f32 widens exactly;
    /// f32 → 16-bit rounds to nearest even; bf16 ↔ f16 goes through f32.
    pub fn from_le_bytes(
        bytes: &[u8],
        src: WeightType,
        out: usize,
        inp: usize,
        dst: WeightType,
    ) -> Result<Self, PackError> {
        let n = out.checked_mul(inp).ok_or(PackError::TooLarge)?;
        let need = n.checked_mul(src.size()).ok_or(PackError::TooLarge)?;
        if bytes.len() != need {
            return Err(PackError::Length {
                expected: need,
                got: bytes.len(),
            });
        }
        let total = check_len(out, inp, n)?;
        let f = |i: usize| -> f32 {
            match src {
                WeightType::F32 => {
                    let b = &bytes[4 * i..4 * i + 4];
                    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
                }
                WeightType::Bf16 => {
                    bf16_bits_to_f32(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]))
                }
                WeightType::F16 => {
                    f16_bits_to_f32(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]))
                }
            }
        };
        let h = |i: usize| -> u16 { u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]]) };
        let (store, off) = match dst {
            WeightType::F32 => {
                let (v, off) = Self::build(out, inp, total, 4, f);
                (Store::F32(v), off)
            }
            WeightType::Bf16 if src == WeightType::Bf16 => {
                let (v, off) = Self::build(out, inp, total, 2, h);
                (Store::Half(v), off)
            }
            WeightType::F16 if src == WeightType::F16 => {
                let (v, off) = Self::build(out, inp, total, 2, h);
                (Store::Half(v), off)
            }
            WeightType::Bf16 => {
                let (v, off) = Self::build(out, inp, total, 2, |i| f32_to_bf16_bits(f(i)));
                (Store::Half(v), off)
            }
            WeightType::F16 => {
                let (v, off) = Self::build(out, inp, total, 2, |i| f32_to_f16_bits(f(i)));
                (Store::Half(v), off)
            }
        };
        Ok(PackedLinear {
            out,
            inp,
            wtype: dst,
            store,
            off,
        })
    }

    /// Output features (rows of `W`).
    pub fn out_features(&self) -> usize {
        self.out
    }

    /// Input features (columns of `W`).
    pub fn in_features(&self) -> usize {
        self.inp
    }

    /// How the weights are stored.
    pub fn weight_type(&self) -> WeightType {
        self.wtype
    }

    /// Number of panels (`ceil(out / 32)`).
    pub fn panels(&self) -> usize {
        self.out.div_ceil(NR)
    }

    /// Bytes of weight data streamed by one pass (padding included).
    pub fn stream_bytes(&self) -> usize {
        self.panels() * NR * self.inp * self.wtype.size()
    }

    /// The stored weight `W[o][k]` widened to f32 (for references and tests).
    ///
    /// # Panics
    /// If `o >= out` or `k >= in`.
    pub fn get(&self, o: usize, k: usize) -> f32 {
        assert!(
            o < self.out && k < self.inp,
            "PackedLinear::get out of range"
        );
        let idx = self.off + (o / NR) * NR * self.inp + k * NR + o % NR;
        match (&self.store, self.wtype) {
            (Store::F32(v), _) => v[idx],
            (Store::Half(v), WeightType::Bf16) => bf16_bits_to_f32(v[idx]),
            (Store::Half(v), _) => f16_bits_to_f32(v[idx]),
        }
    }

    /// Unpacks to row-major f32 `[out, in]` (tests, references).
    pub fn to_f32_rows(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.out * self.inp);
        for o in 0..self.out {
            for k in 0..self.inp {
                v.push(self.get(o, k));
            }
        }
        v
    }

    /// Panel data for f32 weights (starts 64-byte aligned).
    pub(crate) fn f32_data(&self) -> Option<&[f32]> {
        match &self.store {
            Store::F32(v) => Some(&v[self.off..]),
            Store::Half(_) => None,
        }
    }

    /// Panel data for 16-bit weights (starts 64-byte aligned).
    pub(crate) fn half_data(&self) -> Option<&[u16]> {
        match &self.store {
            Store::Half(v) => Some(&v[self.off..]),
            Store::F32(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_roundtrip_and_alignment() {
        let (out, inp) = (37, 5);
        let w: Vec<f32> = (0..out * inp).map(|i| i as f32).collect();
        for t in [WeightType::F32, WeightType::Bf16, WeightType::F16] {
            let p = PackedLinear::from_f32(&w, out, inp, t).unwrap();
            assert_eq!(p.panels(), 2);
            // Small integers are exact in every type.
            assert_eq!(p.to_f32_rows(), w);
            match t {
                WeightType::F32 => assert_eq!(p.f32_data().unwrap().as_ptr() as usize % 64, 0),
                _ => assert_eq!(p.half_data().unwrap().as_ptr() as usize % 64, 0),
            }
        }
        let p = PackedLinear::from_f32(&w, out, inp, WeightType::F32).unwrap();
        let d = p.f32_data().unwrap();
        // W[33][2] is in panel 1, column 1, k = 2.
        assert_eq!(d[NR * inp + 2 * NR + 1], w[33 * inp + 2]);
        // Padding rows are zero.
        assert_eq!(d[NR * inp + 2 * NR + 10], 0.0);
    }

    #[test]
    fn length_errors() {
        assert_eq!(
            PackedLinear::from_f32(&[1.0; 5], 2, 3, WeightType::F32).unwrap_err(),
            PackError::Length {
                expected: 6,
                got: 5
            }
        );
        assert!(matches!(
            PackedLinear::from_le_bytes(&[0; 7], WeightType::F16, 2, 2, WeightType::F32),
            Err(PackError::Length {
                expected: 8,
                got: 7
            })
        ));
        assert_eq!(
            PackedLinear::from_f32(&[], usize::MAX, 2, WeightType::F32).unwrap_err(),
            PackError::TooLarge
        );
    }

    #[test]
    fn le_bytes_conversions() {
        let vals = [1.5f32, -2.25, 0.0, 65504.0, 1e-7, -3.0];
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let p =
            PackedLinear::from_le_bytes(&bytes, WeightType::F32, 2, 3, WeightType::F32).unwrap();
        assert_eq!(p.to_f32_rows(), vals);
        let bf: Vec<u8> = vals
            .iter()
            .flat_map(|v| f32_to_bf16_bits(*v).to_le_bytes())
            .collect();
        let p = PackedLinear::from_le_bytes(&bf, WeightType::Bf16, 2, 3, WeightType::Bf16).unwrap();
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(p.get(i / 3, i % 3), bf16_bits_to_f32(f32_to_bf16_bits(*v)));
        }
        let h: Vec<u8> = vals
            .iter()
            .flat_map(|v| f32_to_f16_bits(*v).to_le_bytes())
            .collect();
        let p = PackedLinear::from_le_bytes(&h, WeightType::F16, 2, 3, WeightType::F32).unwrap();
        for (i, v) in vals.iter().enumerate() {
            assert_eq!(p.get(i / 3, i % 3), half::f16::from_f32(*v).to_f32());
        }
    }

    #[test]
    fn f16_bit_trick_matches_half_for_all_values() {
        for h in 0..=u16::MAX {
            let a = f16_bits_to_f32(h);
            let b = half::f16::from_bits(h).to_f32();
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "{h:#x}"
            );
        }
    }
}
