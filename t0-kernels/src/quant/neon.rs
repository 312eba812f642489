//! NEON integer dot products (baseline Advanced SIMD: `smull` + `sadalp`), bit-identical to
//! the portable path.

use core::arch::aarch64::*;

use super::{Q4_BLOCK_BYTES, f16_to_f32};

/// `Σ x[k] · (w[k] as i8)` (wrapping i32), as `super::scalar::dot_u8_i8`.
pub(super) fn dot_u8_i8(x: &[u8], w: &[u8]) -> i32 {
    let n = x.len().min(w.len());
    let full = n / 16 * 16;
    // SAFETY: NEON is baseline on aarch64; every load reads 16 bytes at `k < full ≤ n` of
    // both slices.
    let (dot, wsum) = unsafe {
        let mut acc = vdupq_n_s32(0);
        let mut ws = vdupq_n_s32(0);
        let flip = vdupq_n_u8(0x80);
        let mut k = 0;
        while k < full {
            let xs = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(x.as_ptr().add(k)), flip));
            let wv = vreinterpretq_s8_u8(vld1q_u8(w.as_ptr().add(k)));
            acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(xs), vget_low_s8(wv)));
            acc = vpadalq_s16(acc, vmull_high_s8(xs, wv));
            ws = vpadalq_s16(ws, vpaddlq_s8(wv));
            k += 16;
        }
        (vaddvq_s32(acc), vaddvq_s32(ws))
    };
    // Σ (xq + 128)·w = Σ xq·w + 128·Σ w.
    let mut r = dot.wrapping_add(wsum.wrapping_mul(128));
    for k in full..n {
        r = r.wrapping_add(x[k] as i32 * (w[k] as i8) as i32);
    }
    r
}

/// One q4 row, as `super::scalar::q4_row` (same float operations in the same order).
pub(super) fn q4_row(w: &[u8], s: &[u16], lo: &[i8], hi: &[i8], sums: &[i32]) -> f32 {
    let nb = s.len().min(w.len() / Q4_BLOCK_BYTES);
    assert!(lo.len() >= nb * 16 && hi.len() >= nb * 16 && sums.len() >= nb);
    let mut acc = 0f32;
    for b in 0..nb {
        // SAFETY: NEON is baseline on aarch64; block `b` reads 16 bytes of `w` at `16b`
        // and 16 values of `lo`/`hi` at `16b`, within the lengths asserted above.
        let dot = unsafe {
            let wv = vld1q_u8(w.as_ptr().add(b * 16));
            let wl = vreinterpretq_s8_u8(vandq_u8(wv, vdupq_n_u8(0x0F)));
            let wh = vreinterpretq_s8_u8(vshrq_n_u8(wv, 4));
            let xl = vld1q_s8(lo.as_ptr().add(b * 16));
            let xh = vld1q_s8(hi.as_ptr().add(b * 16));
            let mut a = vpaddlq_s16(vmull_s8(vget_low_s8(wl), vget_low_s8(xl)));
            a = vpadalq_s16(a, vmull_high_s8(wl, xl));
            a = vpadalq_s16(a, vmull_s8(vget_low_s8(wh), vget_low_s8(xh)));
            a = vpadalq_s16(a, vmull_high_s8(wh, xh));
            vaddvq_s32(a)
        };
        acc += f16_to_f32(s[b]) * (dot - 8 * sums[b]) as f32;
    }
    acc
}
