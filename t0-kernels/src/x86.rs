//! x86-64 vector types: AVX-512F (16 lanes) and AVX2 + FMA + F16C (8 lanes).
//!
//! The methods are `#[inline(always)]` so they are compiled inside the `#[target_feature]`
//! entry points of `entries.rs`, which are only called after detection.

use core::arch::x86_64::*;

use crate::simd::{Simd, expc};

/// AVX-512F, `__m512`.
#[derive(Clone, Copy)]
pub(crate) struct Avx512;

// SAFETY: every method is only reached from `#[target_feature(enable = "avx512f")]` entry
// points that the dispatcher calls after `is_x86_feature_detected!("avx512f")` (or with the
// feature enabled at compile time); pointer validity is the caller's contract.
unsafe impl Simd for Avx512 {
    const LANES: usize = 16;
    type V = __m512;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: AVX-512F available (trait contract).
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: AVX-512F available; `p` valid for 16 floats (caller).
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: AVX-512F available; `p` valid for 16 floats (caller).
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> __m512 {
        // SAFETY: AVX-512F available; `p` valid for 16 u16 (caller).
        unsafe {
            let h = _mm256_loadu_si256(p as *const __m256i);
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
        }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> __m512 {
        // SAFETY: AVX-512F available (vcvtph2ps zmm is AVX-512F); `p` valid for 16 u16.
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p as *const __m256i)) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m512, b: __m512) -> __m512 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn hsum(v: __m512) -> f32 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_reduce_add_ps(v) }
    }
    #[inline(always)]
    unsafe fn hmax(v: __m512) -> f32 {
        // SAFETY: AVX-512F available.
        unsafe { _mm512_reduce_max_ps(v) }
    }
    #[inline(always)]
    unsafe fn exp(x: __m512) -> __m512 {
        // SAFETY: AVX-512F available.
        unsafe {
            let under = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(expc::LO));
            let x = _mm512_min_ps(x, _mm512_set1_ps(expc::HI));
            let x = _mm512_max_ps(x, _mm512_set1_ps(expc::LO));
            let n = _mm512_roundscale_ps::<0x08>(_mm512_mul_ps(x, _mm512_set1_ps(expc::LOG2E)));
            let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(expc::C1), x);
            let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(expc::C2), r);
            let mut p = _mm512_set1_ps(expc::P0);
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(expc::P1));
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(expc::P2));
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(expc::P3));
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(expc::P4));
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(expc::P5));
            let r2 = _mm512_mul_ps(r, r);
            p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0)));
            let e = _mm512_slli_epi32::<23>(_mm512_add_epi32(
                _mm512_cvtps_epi32(n),
                _mm512_set1_epi32(127),
            ));
            let y = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
            _mm512_mask_mov_ps(y, under, _mm512_setzero_ps())
        }
    }
}

/// AVX2 + FMA + F16C, `__m256`.
#[derive(Clone, Copy)]
pub(crate) struct Avx2;

// SAFETY: every method is only reached from `#[target_feature(enable = "avx2,fma,f16c")]`
// entry points called after detecting all three features; pointer validity is the
// caller's contract.
unsafe impl Simd for Avx2 {
    const LANES: usize = 8;
    type V = __m256;
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: AVX available.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        // SAFETY: AVX available.
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: AVX available; `p` valid for 8 floats.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: AVX available; `p` valid for 8 floats.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> __m256 {
        // SAFETY: AVX2 available; `p` valid for 8 u16.
        unsafe {
            let h = _mm_loadu_si128(p as *const __m128i);
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
        }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> __m256 {
        // SAFETY: F16C available; `p` valid for 8 u16.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p as *const __m128i)) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: FMA available.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX available.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX available.
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX available.
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX available.
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: __m256, b: __m256) -> __m256 {
        // SAFETY: AVX available.
        unsafe { _mm256_max_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        // SAFETY: AVX available.
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
            _mm_cvtss_f32(s)
        }
    }
    #[inline(always)]
    unsafe fn hmax(v: __m256) -> f32 {
        // SAFETY: AVX available.
        unsafe {
            let s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_max_ss(s, _mm_shuffle_ps::<0b01>(s, s));
            _mm_cvtss_f32(s)
        }
    }
    #[inline(always)]
    unsafe fn exp(x: __m256) -> __m256 {
        // SAFETY: AVX2 + FMA available.
        unsafe {
            let under = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(expc::LO));
            let x = _mm256_min_ps(x, _mm256_set1_ps(expc::HI));
            let x = _mm256_max_ps(x, _mm256_set1_ps(expc::LO));
            let n = _mm256_round_ps::<0x08>(_mm256_mul_ps(x, _mm256_set1_ps(expc::LOG2E)));
            let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(expc::C1), x);
            let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(expc::C2), r);
            let mut p = _mm256_set1_ps(expc::P0);
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(expc::P1));
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(expc::P2));
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(expc::P3));
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(expc::P4));
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(expc::P5));
            let r2 = _mm256_mul_ps(r, r);
            p = _mm256_fmadd_ps(p, r2, _mm256_add_ps(r, _mm256_set1_ps(1.0)));
            let e = _mm256_slli_epi32::<23>(_mm256_add_epi32(
                _mm256_cvtps_epi32(n),
                _mm256_set1_epi32(127),
            ));
            let y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
            _mm256_andnot_ps(under, y)
        }
    }
}
