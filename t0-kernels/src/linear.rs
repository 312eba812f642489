//! Linear layers: `y[rows, out] = x[rows, in] · W[out, in]ᵀ` with f32 activations, packed
//! f32 / bf16 / f16 weights ([`PackedLinear`]) and f32 accumulation.
//!
//! One register-blocked micro-kernel (`MR` rows × 32 outputs; AVX-512: 8×32, AVX2: 3×32,
//! NEON: 4×32, scalar: 2×32) serves both shapes:
//! - **GEMV / small batches** (`rows <= MR`): each panel is streamed once over the whole
//!   input dimension; 16-bit weights are widened in registers. Threads take contiguous
//!   panel ranges, so both cores stream disjoint parts of the matrix.
//! - **GEMM** (`rows > MR`): blocked by `KC` input features (the 32×`KC` panel block stays in
//!   L1) and `MC` rows (the activation block stays in L2); 16-bit panel blocks are widened
//!   once into an f32 buffer and reused for all `MC` rows.
//!
//! Every output element is accumulated by the same sequence of fused multiply-adds
//! (`acc = fma(x[k], w[k], acc)` for k = 0, 1, …) whichever path, block sizes or thread
//! split computes it, so results are bit-identical for any thread count.

use alloc::vec;
use alloc::vec::Vec;

use crate::isa::Isa;
use crate::pack::{NR, PackedLinear, WeightType};
use crate::simd::Simd;

/// Input features per block in the GEMM path.
const KC: usize = 256;
/// Rows per block in the GEMM path.
const MC: usize = 256;

/// A raw output pointer shared by the threads of one call; each writes disjoint columns.
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: threads write disjoint elements (disjoint panel ranges); the pointer outlives the
// parallel section because the borrow it came from is held by the caller until it returns.
unsafe impl Send for OutPtr {}
// SAFETY: as above.
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper).
    pub(crate) fn get(&self) -> *mut f32 {
        self.0
    }
}

/// Everything one linear call needs, shared by its threads.
pub(crate) struct LinearJob<'a> {
    pub(crate) x: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) w: &'a PackedLinear,
    pub(crate) y: OutPtr,
}

/// Loads one vector of packed weights of some storage type.
pub(crate) trait WLoad {
    type E: Copy;
    /// # Safety
    /// `p` valid for `S::LANES` elements; the ISA is available.
    unsafe fn load<S: Simd>(p: *const Self::E) -> S::V;
}
pub(crate) struct WF32;
pub(crate) struct WBf16;
pub(crate) struct WF16;
impl WLoad for WF32 {
    type E = f32;
    #[inline(always)]
    unsafe fn load<S: Simd>(p: *const f32) -> S::V {
        // SAFETY: forwarded contract.
        unsafe { S::load(p) }
    }
}
impl WLoad for WBf16 {
    type E = u16;
    #[inline(always)]
    unsafe fn load<S: Simd>(p: *const u16) -> S::V {
        // SAFETY: forwarded contract.
        unsafe { S::load_bf16(p) }
    }
}
impl WLoad for WF16 {
    type E = u16;
    #[inline(always)]
    unsafe fn load<S: Simd>(p: *const u16) -> S::V {
        // SAFETY: forwarded contract.
        unsafe { S::load_f16(p) }
    }
}

/// The micro-kernel: `c[0..M, 0..ncols] (+)= a[0..M, 0..kc] · b[0..kc, 0..32]`.
///
/// # Safety
/// `a` valid for rows `0..M` of stride `lda` and `kc` columns; `b` valid for `kc * 32`
/// elements; `c` valid for rows `0..M` of stride `ldc` and `ncols <= 32` columns;
/// `VN * S::LANES == 32`; the ISA is available.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro<S: Simd, const VN: usize, const M: usize, W: WLoad>(
    a: *const f32,
    lda: usize,
    b: *const W::E,
    kc: usize,
    c: *mut f32,
    ldc: usize,
    ncols: usize,
    accumulate: bool,
) {
    // SAFETY: all pointer offsets stay inside the ranges the caller guarantees.
    unsafe {
        let l = S::LANES;
        let mut acc = [[S::zero(); VN]; M];
        if accumulate {
            for (r, accr) in acc.iter_mut().enumerate() {
                for (v, accv) in accr.iter_mut().enumerate() {
                    let s = v * l;
                    if s + l <= ncols {
                        *accv = S::load(c.add(r * ldc + s));
                    } else if s < ncols {
                        *accv = crate::simd::load_partial::<S>(c.add(r * ldc + s), ncols - s, 0.0);
                    }
                }
            }
        }
        let mut bk = b;
        // One base pointer per row, so the loop only advances `k`.
        let ap: [*const f32; M] = core::array::from_fn(|r| a.add(r * lda));
        for k in 0..kc {
            let mut bv = [S::zero(); VN];
            for (v, bvv) in bv.iter_mut().enumerate() {
                *bvv = W::load::<S>(bk.add(v * l));
            }
            for (r, accr) in acc.iter_mut().enumerate() {
                let av = S::splat(*ap[r].add(k));
                for v in 0..VN {
                    accr[v] = S::fma(av, bv[v], accr[v]);
                }
            }
            bk = bk.add(NR);
        }
        for (r, accr) in acc.iter().enumerate() {
            for (v, accv) in accr.iter().enumerate() {
                let s = v * l;
                if s + l <= ncols {
                    S::store(c.add(r * ldc + s), *accv);
                } else if s < ncols {
                    crate::simd::store_partial::<S>(c.add(r * ldc + s), ncols - s, *accv);
                }
            }
        }
    }
}

/// [`micro`] with the row count chosen at run time (`1 ..= 8`).
///
/// # Safety
/// As [`micro`] with `M = m`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn micro_m<S: Simd, const VN: usize, W: WLoad>(
    m: usize,
    a: *const f32,
    lda: usize,
    b: *const W::E,
    kc: usize,
    c: *mut f32,
    ldc: usize,
    ncols: usize,
    accumulate: bool,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match m {
            1 => micro::<S, VN, 1, W>(a, lda, b, kc, c, ldc, ncols, accumulate),
            2 => micro::<S, VN, 2, W>(a, lda, b, kc, c, ldc, ncols, accumulate),
            3 => micro::<S, VN, 3, W>(a, lda, b, kc, c, ldc, ncols, accumulate),
            4 => micro::<S, VN, 4, W>(a, lda, b, kc, c, ldc, ncols, accumulate),
            5 => micro::<S, VN, 5, W>(a, lda, b, kc, c, ldc, ncols, accumulate),
            6 => micro::<S, VN, 6, W>(a, lda, b, kc, c, ldc, ncols, accumulate),
            7 => micro::<S, VN, 7, W>(a, lda, b, kc, c, ldc, ncols, accumulate),
            8 => micro::<S, VN, 8, W>(a, lda, b, kc, c, ldc, ncols, accumulate),
            _ => unreachable!("micro-kernel rows must be 1..=8"),
        }
    }
}

/// Streams panels `p0..p1` for `rows <= MR` (the GEMV path), native weight type.
///
/// # Safety
/// `job` consistent (checked by [`linear_with`]); `p0 <= p1 <= panels`; ISA available.
#[inline(always)]
unsafe fn small<S: Simd, const VN: usize, const MR: usize, W: WLoad>(
    job: &LinearJob<'_>,
    data: &[W::E],
    p0: usize,
    p1: usize,
) {
    let (k, out) = (job.w.in_features(), job.w.out_features());
    for p in p0..p1 {
        let ncols = NR.min(out - p * NR);
        let mut r0 = 0;
        while r0 < job.rows {
            let m = MR.min(job.rows - r0);
            // SAFETY: panel p spans data[p*NR*k .. (p+1)*NR*k]; rows r0..r0+m of x and y
            // exist; columns p*NR .. p*NR+ncols of y exist.
            unsafe {
                micro_m::<S, VN, W>(
                    m,
                    job.x.as_ptr().add(r0 * k),
                    k,
                    data.as_ptr().add(p * NR * k),
                    k,
                    job.y.0.add(r0 * out + p * NR),
                    out,
                    ncols,
                    false,
                );
            }
            r0 += m;
        }
    }
}

/// Blocked GEMM over panels `p0..p1` for `rows > MR`.
///
/// # Safety
/// As [`small`].
#[inline(always)]
unsafe fn blocked<S: Simd, const VN: usize, const MR: usize>(
    job: &LinearJob<'_>,
    p0: usize,
    p1: usize,
) {
    let (k, out, rows) = (job.w.in_features(), job.w.out_features(), job.rows);
    let wt = job.w.weight_type();
    let mut buf: Vec<f32> = if wt == WeightType::F32 {
        Vec::new()
    } else {
        vec![0.0; KC * NR]
    };
    let mut kc0 = 0;
    while kc0 < k {
        let kc = KC.min(k - kc0);
        let mut mc0 = 0;
        while mc0 < rows {
            let mc = MC.min(rows - mc0);
            for p in p0..p1 {
                let ncols = NR.min(out - p * NR);
                let start = p * NR * k + kc0 * NR;
                let b: *const f32 = match wt {
                    WeightType::F32 => {
                        let d = job.w.f32_data().unwrap_or(&[]);
                        d[start..start + kc * NR].as_ptr()
                    }
                    _ => {
                        let d = job.w.half_data().unwrap_or(&[]);
                        let src = &d[start..start + kc * NR];
                        let mut i = 0;
                        while i < kc * NR {
                            // SAFETY: src and buf hold kc*NR elements; i + LANES <= kc*NR as
                            // kc*NR is a multiple of every LANES.
                            unsafe {
                                let v = if wt == WeightType::Bf16 {
                                    S::load_bf16(src.as_ptr().add(i))
                                } else {
                                    S::load_f16(src.as_ptr().add(i))
                                };
                                S::store(buf.as_mut_ptr().add(i), v);
                            }
                            i += S::LANES;
                        }
                        buf.as_ptr()
                    }
                };
                let mut r0 = mc0;
                while r0 < mc0 + mc {
                    let m = MR.min(mc0 + mc - r0);
                    // SAFETY: b holds kc*NR floats; x rows r0..r0+m, columns kc0..kc0+kc
                    // exist; y rows r0..r0+m, columns p*NR..p*NR+ncols exist.
                    unsafe {
                        micro_m::<S, VN, WF32>(
                            m,
                            job.x.as_ptr().add(r0 * k + kc0),
                            k,
                            b,
                            kc,
                            job.y.0.add(r0 * out + p * NR),
                            out,
                            ncols,
                            kc0 > 0,
                        );
                    }
                    r0 += m;
                }
            }
            mc0 += mc;
        }
        kc0 += kc;
    }
}

/// Computes panels `p0..p1` of `job` (the body each ISA entry point instantiates).
///
/// # Safety
/// `job` consistent (checked by [`linear_with`]); `p0 <= p1 <= panels`; ISA available;
/// `VN * S::LANES == 32`; `MR <= 8`.
#[inline(always)]
pub(crate) unsafe fn panels_body<S: Simd, const VN: usize, const MR: usize>(
    job: &LinearJob<'_>,
    p0: usize,
    p1: usize,
) {
    // SAFETY: forwarded contract.
    unsafe {
        if job.rows > MR {
            blocked::<S, VN, MR>(job, p0, p1);
            return;
        }
        match job.w.weight_type() {
            WeightType::F32 => {
                small::<S, VN, MR, WF32>(job, job.w.f32_data().unwrap_or(&[]), p0, p1)
            }
            WeightType::Bf16 => {
                small::<S, VN, MR, WBf16>(job, job.w.half_data().unwrap_or(&[]), p0, p1)
            }
            WeightType::F16 => {
                small::<S, VN, MR, WF16>(job, job.w.half_data().unwrap_or(&[]), p0, p1)
            }
        }
    }
}

/// `y = x · Wᵀ` on the best available ISA (see [`linear_with`]).
pub fn linear(x: &[f32], rows: usize, w: &PackedLinear, y: &mut [f32]) {
    linear_with(Isa::best(), x, rows, w, y)
}

/// `y[rows, out] = x[rows, in] · W[out, in]ᵀ` on a chosen ISA path, using the threads of the
/// current rayon pool under `std` (bit-identical results for any thread count).
///
/// # Panics
/// If `isa` is not available on this CPU, or `x.len() != rows * in` or
/// `y.len() != rows * out`.
pub fn linear_with(isa: Isa, x: &[f32], rows: usize, w: &PackedLinear, y: &mut [f32]) {
    let (k, out) = (w.in_features(), w.out_features());
    assert!(
        isa.is_available(),
        "linear: ISA {} not available on this CPU",
        isa.name()
    );
    assert_eq!(
        Some(x.len()),
        rows.checked_mul(k),
        "linear: x must be rows * in"
    );
    assert_eq!(
        Some(y.len()),
        rows.checked_mul(out),
        "linear: y must be rows * out"
    );
    if rows == 0 || out == 0 {
        return;
    }
    if k == 0 {
        y.fill(0.0);
        return;
    }
    let job = LinearJob {
        x,
        rows,
        w,
        y: OutPtr(y.as_mut_ptr()),
    };
    let panels = w.panels();
    let work = rows * k * out;
    crate::par::for_ranges(panels, work, &|p0, p1| {
        // SAFETY: the ISA was checked above; job was validated; p0..p1 within panels.
        unsafe { crate::entries::linear_panels(isa, &job, p0, p1) }
    });
}

/// Fused gated feed-forward input: `y = act(x · W0ᵀ) ⊙ (x · W1ᵀ)` (T5's gated-gelu /
/// gated-silu `wi_0`, `wi_1`). `tmp` is scratch of the same size as `y`.
#[allow(clippy::too_many_arguments)]
///
/// # Panics
/// As [`linear_with`]; if `w0` and `w1` differ in shape; if `tmp.len() != y.len()`.
pub fn linear_gated_with(
    isa: Isa,
    x: &[f32],
    rows: usize,
    w0: &PackedLinear,
    w1: &PackedLinear,
    act: crate::ops::Activation,
    y: &mut [f32],
    tmp: &mut [f32],
) {
    assert_eq!(
        (w0.out_features(), w0.in_features()),
        (w1.out_features(), w1.in_features()),
        "linear_gated: w0 and w1 shapes differ"
    );
    assert_eq!(tmp.len(), y.len(), "linear_gated: tmp must match y");
    linear_with(isa, x, rows, w0, y);
    linear_with(isa, x, rows, w1, tmp);
    crate::ops::gated_act_with(isa, act, y, tmp);
}
