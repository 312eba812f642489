//! AVX-512 VNNI integer dot products (`vpdpbusd`: 64 u8×i8 multiply-adds per instruction).

use core::arch::x86_64::*;

use super::Q4_BLOCK_BYTES;

/// `Σ x[k] · (w[k] as i8)` over equal-length slices.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW and AVX-512VNNI; `x.len() == w.len()`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn dot_u8_i8(x: &[u8], w: &[u8]) -> i32 {
    let n = x.len().min(w.len());
    let (xp, wp) = (x.as_ptr(), w.as_ptr());
    let mut a0 = _mm512_setzero_si512();
    let mut a1 = _mm512_setzero_si512();
    let mut k = 0;
    // SAFETY: every load reads `k .. k + 64 ≤ n` bytes of both slices (or a masked tail
    // whose mask covers only `k .. n`).
    unsafe {
        while k + 128 <= n {
            let x0 = _mm512_loadu_si512(xp.add(k) as *const _);
            let w0 = _mm512_loadu_si512(wp.add(k) as *const _);
            let x1 = _mm512_loadu_si512(xp.add(k + 64) as *const _);
            let w1 = _mm512_loadu_si512(wp.add(k + 64) as *const _);
            a0 = _mm512_dpbusd_epi32(a0, x0, w0);
            a1 = _mm512_dpbusd_epi32(a1, x1, w1);
            k += 128;
        }
        while k < n {
            let left = n - k;
            let m: __mmask64 = if left >= 64 { !0 } else { (1u64 << left) - 1 };
            let x0 = _mm512_maskz_loadu_epi8(m, xp.add(k) as *const i8);
            let w0 = _mm512_maskz_loadu_epi8(m, wp.add(k) as *const i8);
            a0 = _mm512_dpbusd_epi32(a0, x0, w0);
            k += 64;
        }
    }
    _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a1))
}

/// One q4 row (see `super::scalar::q4_row`), 4 blocks (128 weights) per step.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW and AVX-512VNNI; `w.len() == 16 · s.len()`;
/// `lo`, `hi` hold `64 · ceil(s.len() / 4)` values and `corr` a quarter of that.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn q4_row(w: &[u8], s: &[u16], lo: &[i8], hi: &[i8], corr: &[i32]) -> f32 {
    let nb = s.len();
    let groups = nb.div_ceil(4);
    debug_assert!(w.len() == nb * Q4_BLOCK_BYTES && lo.len() >= groups * 64);
    debug_assert!(hi.len() >= groups * 64 && corr.len() >= groups * 16);
    let m4 = _mm512_set1_epi8(0x0F);
    let idx = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    let mut f0 = _mm512_setzero_ps();
    let mut f1 = _mm512_setzero_ps();
    // SAFETY: group `g` reads bytes `64g .. 64g + 64` of `w` (masked to `w.len()` in the
    // last group), 64 values of `lo`/`hi` and 16 of `corr` at `64g`/`16g` (within the
    // lengths the caller guarantees), and 4 scales (copied through a local in the tail).
    unsafe {
        for g in 0..groups {
            let blocks = (nb - 4 * g).min(4);
            let (wv, sv) = if blocks == 4 {
                (
                    _mm512_loadu_si512(w.as_ptr().add(64 * g) as *const _),
                    _mm_loadl_epi64(s.as_ptr().add(4 * g) as *const __m128i),
                )
            } else {
                let m: __mmask64 = (1u64 << (16 * blocks)) - 1;
                let mut t = [0u16; 4];
                t[..blocks].copy_from_slice(&s[4 * g..4 * g + blocks]);
                (
                    _mm512_maskz_loadu_epi8(m, w.as_ptr().add(64 * g) as *const i8),
                    _mm_loadl_epi64(t.as_ptr() as *const __m128i),
                )
            };
            let sc = _mm512_cvtph_ps(_mm256_castsi128_si256(sv));
            let sc = _mm512_permutexvar_ps(idx, sc);
            let wl = _mm512_and_si512(wv, m4);
            let wh = _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4);
            let xl = _mm512_loadu_si512(lo.as_ptr().add(64 * g) as *const _);
            let xh = _mm512_loadu_si512(hi.as_ptr().add(64 * g) as *const _);
            let c = _mm512_loadu_si512(corr.as_ptr().add(16 * g) as *const _);
            let acc = _mm512_dpbusd_epi32(c, wl, xl);
            let acc = _mm512_dpbusd_epi32(acc, wh, xh);
            if g % 2 == 0 {
                f0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), sc, f0);
            } else {
                f1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), sc, f1);
            }
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(f0, f1))
}

/// `Σ x[k] · (w[k] as i8)` in f32 (weight-only dequantization in registers, f32 FMA).
///
/// # Safety
/// The CPU must support AVX-512F; `x.len() == w.len()`.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dot_f32_i8(x: &[f32], w: &[u8]) -> f32 {
    let n = x.len().min(w.len());
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut k = 0;
    // SAFETY: each step reads 16 bytes of `w` and 16 f32 of `x` at `k + 16j < n`.
    unsafe {
        while k + 64 <= n {
            for (j, a) in acc.iter_mut().enumerate() {
                let wb = _mm_loadu_si128(w.as_ptr().add(k + 16 * j) as *const __m128i);
                let wf = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(wb));
                *a = _mm512_fmadd_ps(_mm512_loadu_ps(x.as_ptr().add(k + 16 * j)), wf, *a);
            }
            k += 64;
        }
    }
    let mut s = _mm512_reduce_add_ps(_mm512_add_ps(
        _mm512_add_ps(acc[0], acc[1]),
        _mm512_add_ps(acc[2], acc[3]),
    ));
    for i in k..n {
        s += x[i] * (w[i] as i8) as f32;
    }
    s
}
