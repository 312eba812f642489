//! aarch64 Advanced SIMD (NEON), 4 f32 lanes. bf16 and f16 weights are widened with
//! integer shifts (f16: shift + one power-of-two multiply, see `simd::f16_bits_to_f32`), so
//! no FP16 extension is required.

use core::arch::aarch64::*;

use crate::simd::{Simd, expc};

/// NEON, `float32x4_t`.
#[derive(Clone, Copy)]
pub(crate) struct Neon;

// SAFETY: only reached from `#[target_feature(enable = "neon")]` entry points called after
// detection (NEON is baseline on aarch64); pointer validity is the caller's contract.
unsafe impl Simd for Neon {
    const LANES: usize = 4;
    type V = float32x4_t;
    #[inline(always)]
    unsafe fn zero() -> float32x4_t {
        // SAFETY: NEON available.
        unsafe { vdupq_n_f32(0.0) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> float32x4_t {
        // SAFETY: NEON available.
        unsafe { vdupq_n_f32(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> float32x4_t {
        // SAFETY: NEON available; `p` valid for 4 floats.
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: float32x4_t) {
        // SAFETY: NEON available; `p` valid for 4 floats.
        unsafe { vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn load_bf16(p: *const u16) -> float32x4_t {
        // SAFETY: NEON available; `p` valid for 4 u16.
        unsafe { vreinterpretq_f32_u32(vshlq_n_u32::<16>(vmovl_u16(vld1_u16(p)))) }
    }
    #[inline(always)]
    unsafe fn load_f16(p: *const u16) -> float32x4_t {
        // SAFETY: NEON available; `p` valid for 4 u16.
        unsafe {
            let h = vmovl_u16(vld1_u16(p));
            let sign = vshlq_n_u32::<16>(vandq_u32(h, vdupq_n_u32(0x8000)));
            let em = vshlq_n_u32::<13>(vandq_u32(h, vdupq_n_u32(0x7fff)));
            let scaled = vreinterpretq_u32_f32(vmulq_f32(
                vreinterpretq_f32_u32(em),
                vdupq_n_f32(f32::from_bits(0x7780_0000)),
            ));
            let infnan = vceqq_u32(vandq_u32(h, vdupq_n_u32(0x7c00)), vdupq_n_u32(0x7c00));
            let special = vorrq_u32(em, vdupq_n_u32(0x7f80_0000));
            vreinterpretq_f32_u32(vorrq_u32(vbslq_u32(infnan, special, scaled), sign))
        }
    }
    #[inline(always)]
    unsafe fn fma(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
        // SAFETY: NEON available.
        unsafe { vfmaq_f32(c, a, b) }
    }
    #[inline(always)]
    unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON available.
        unsafe { vaddq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn sub(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON available.
        unsafe { vsubq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON available.
        unsafe { vmulq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn div(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON available.
        unsafe { vdivq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn max(a: float32x4_t, b: float32x4_t) -> float32x4_t {
        // SAFETY: NEON available.
        unsafe { vmaxq_f32(a, b) }
    }
    #[inline(always)]
    unsafe fn hsum(v: float32x4_t) -> f32 {
        // SAFETY: NEON available.
        unsafe { vaddvq_f32(v) }
    }
    #[inline(always)]
    unsafe fn hmax(v: float32x4_t) -> f32 {
        // SAFETY: NEON available.
        unsafe { vmaxvq_f32(v) }
    }
    #[inline(always)]
    unsafe fn exp(x: float32x4_t) -> float32x4_t {
        // SAFETY: NEON available.
        unsafe {
            let under = vcltq_f32(x, vdupq_n_f32(expc::LO));
            let x = vminq_f32(x, vdupq_n_f32(expc::HI));
            let x = vmaxq_f32(x, vdupq_n_f32(expc::LO));
            let n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(expc::LOG2E)));
            let r = vfmsq_f32(x, n, vdupq_n_f32(expc::C1));
            let r = vfmsq_f32(r, n, vdupq_n_f32(expc::C2));
            let mut p = vdupq_n_f32(expc::P0);
            p = vfmaq_f32(vdupq_n_f32(expc::P1), p, r);
            p = vfmaq_f32(vdupq_n_f32(expc::P2), p, r);
            p = vfmaq_f32(vdupq_n_f32(expc::P3), p, r);
            p = vfmaq_f32(vdupq_n_f32(expc::P4), p, r);
            p = vfmaq_f32(vdupq_n_f32(expc::P5), p, r);
            let r2 = vmulq_f32(r, r);
            p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0)), p, r2);
            let e = vshlq_n_s32::<23>(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)));
            let y = vmulq_f32(p, vreinterpretq_f32_s32(e));
            vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(y), under))
        }
    }
}
