//! A small SIMD abstraction: every kernel body is written once, generic over [`Simd`], and
//! instantiated per ISA inside a `#[target_feature]` entry point (see `x86.rs`, `neon.rs`).
//!
//! All methods are `unsafe` because the vector implementations use intrinsics that are only
//! sound after CPU feature detection, and the load/store methods take raw pointers.

/// One vector ISA: its vector type and the handful of operations the kernels need.
///
/// # Safety
/// Implementations may only be called when the CPU supports the ISA (guaranteed by the
/// dispatch in [`crate::isa`]); pointer arguments must be valid for `LANES` elements.
pub(crate) unsafe trait Simd: Copy {
    /// f32 lanes per vector.
    const LANES: usize;
    /// The vector type.
    type V: Copy;
    /// All lanes zero.
    unsafe fn zero() -> Self::V;
    /// All lanes `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// Unaligned load of `LANES` f32.
    unsafe fn load(p: *const f32) -> Self::V;
    /// Unaligned store of `LANES` f32.
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Loads `LANES` bfloat16 values (raw bits) and widens them to f32 (exact).
    unsafe fn load_bf16(p: *const u16) -> Self::V;
    /// Loads `LANES` IEEE half values (raw bits) and widens them to f32 (exact).
    unsafe fn load_f16(p: *const u16) -> Self::V;
    /// `a * b + c`, fused where the ISA has FMA.
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a - b`.
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b`.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a / b`.
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise maximum.
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise `max(a, 0)`.
    unsafe fn relu(a: Self::V) -> Self::V {
        // SAFETY: forwarded under the caller's contract.
        unsafe { Self::max(a, Self::zero()) }
    }
    /// Sum of all lanes (fixed order per ISA).
    unsafe fn hsum(v: Self::V) -> f32;
    /// Maximum of all lanes.
    unsafe fn hmax(v: Self::V) -> f32;
    /// `e^x` per lane; relative error ≤ ~2 ulp for x in [-87.3, 88.3], 0 below, clamped above.
    unsafe fn exp(x: Self::V) -> Self::V;
}

/// Cephes `expf` constants shared by the vector implementations.
#[allow(dead_code)] // unused on targets with only the scalar path
pub(crate) mod expc {
    pub const HI: f32 = 88.376_26;
    pub const LO: f32 = -87.336_55;
    pub const LOG2E: f32 = core::f32::consts::LOG2_E;
    pub const C1: f32 = 0.693_359_4;
    pub const C2: f32 = -2.121_944_4e-4;
    pub const P0: f32 = 1.987_569_1e-4;
    pub const P1: f32 = 1.398_2e-3;
    pub const P2: f32 = 8.333_452e-3;
    pub const P3: f32 = 4.166_579_6e-2;
    pub const P4: f32 = 1.666_666_5e-1;
    pub const P5: f32 = 0.5;
}

/// Exact IEEE half → f32 widening using only integer shifts and one power-of-two multiply
/// (the same bit trick the NEON path uses; also the scalar path's converter).
#[inline(always)]
pub(crate) fn f16_bits_to_f32(h: u16) -> f32 {
    let h = h as u32;
    let sign = (h & 0x8000) << 16;
    let em = (h & 0x7fff) << 13;
    let bits = if (h & 0x7c00) == 0x7c00 {
        em | 0x7f80_0000 // inf / NaN keep their payload
    } else {
        // Rebias by multiplying with 2^112: exact for normals and subnormals alike.
        (f32::from_bits(em) * f32::from_bits(0x7780_0000)).to_bits()
    };
    f32::from_bits(bits | sign)
}

/// bfloat16 bits → f32 (exact: a 16-bit shift).
#[inline(always)]
pub(crate) fn bf16_bits_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// The portable one-lane "vector": the `Isa::Scalar` path (and no_std targets).
#[derive(Clone, Copy)]
pub(crate) struct Scalar;

// SAFETY: plain f32 arithmetic; pointer methods require valid pointers (caller contract).
unsafe impl Simd for Scalar {
    const LANES: usize = 1;
    type V = f32;
    #[inline(always)]
    unsafe fn zero() -> f32 {
        0.0
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> f32 {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> f32 {
        // SAFETY: caller guarantees `p` is valid for one read.
        unsafe { p.read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: f32) {
        // SAFETY: caller guarantees `p` is valid for one write.
        unsafe { p.write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> f32 {
        // SAFETY: caller guarantees `p` is valid for one read.
        bf16_bits_to_f32(unsafe { p.read_unaligned() })
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> f32 {
        // SAFETY: caller guarantees `p` is valid for one read.
        f16_bits_to_f32(unsafe { p.read_unaligned() })
    }
    #[inline(always)]
    unsafe fn fma(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    unsafe fn add(a: f32, b: f32) -> f32 {
        a + b
    }
    #[inline(always)]
    unsafe fn sub(a: f32, b: f32) -> f32 {
        a - b
    }
    #[inline(always)]
    unsafe fn mul(a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    unsafe fn div(a: f32, b: f32) -> f32 {
        a / b
    }
    #[inline(always)]
    unsafe fn max(a: f32, b: f32) -> f32 {
        if a > b { a } else { b }
    }
    #[inline(always)]
    unsafe fn hsum(v: f32) -> f32 {
        v
    }
    #[inline(always)]
    unsafe fn hmax(v: f32) -> f32 {
        v
    }
    #[inline(always)]
    unsafe fn exp(x: f32) -> f32 {
        if x < expc::LO { 0.0 } else { libm::expf(x) }
    }
}

/// Loads `n < LANES` f32 from `p` into a vector, padding the remaining lanes with `pad`.
///
/// # Safety
/// `p` valid for `n` reads; `n <= S::LANES <= 16`.
#[inline(always)]
pub(crate) unsafe fn load_partial<S: Simd>(p: *const f32, n: usize, pad: f32) -> S::V {
    let mut buf = [pad; 16];
    // SAFETY: caller guarantees `p` valid for `n` reads and n <= 16.
    unsafe {
        core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n);
        S::load(buf.as_ptr())
    }
}

/// Stores the first `n < LANES` lanes of `v` to `p`.
///
/// # Safety
/// `p` valid for `n` writes; `n <= S::LANES <= 16`.
#[inline(always)]
pub(crate) unsafe fn store_partial<S: Simd>(p: *mut f32, n: usize, v: S::V) {
    let mut buf = [0.0f32; 16];
    // SAFETY: buf holds 16 >= LANES floats; caller guarantees `p` valid for `n` writes.
    unsafe {
        S::store(buf.as_mut_ptr(), v);
        core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n);
    }
}
