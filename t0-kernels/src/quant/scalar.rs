//! Portable integer dot products for the quantized kernels (the oracle of the SIMD paths).

use super::{Q4_BLOCK_BYTES, f16_to_f32};

/// `Σ x[k] · w[k]` with `x` unsigned and `w` the bytes of `i8` weights (wrapping i32).
pub fn dot_u8_i8(x: &[u8], w: &[u8]) -> i32 {
    x.iter().zip(w).fold(0i32, |a, (&x, &w)| {
        a.wrapping_add(x as i32 * (w as i8) as i32)
    })
}

/// One q4 row: `Σ_b d_b · Σ_i x_i · (q_i − 8)`, with the activations split as the
/// nibbles unpack (`lo`/`hi`: 16 per block) and their per-block sums.
pub fn q4_row(w: &[u8], s: &[u16], lo: &[i8], hi: &[i8], sums: &[i32]) -> f32 {
    let mut acc = 0f32;
    for (b, &sc) in s.iter().enumerate() {
        let blk = &w[b * Q4_BLOCK_BYTES..(b + 1) * Q4_BLOCK_BYTES];
        let mut dot = 0i32;
        for j in 0..16 {
            dot += (blk[j] & 15) as i32 * lo[b * 16 + j] as i32;
            dot += (blk[j] >> 4) as i32 * hi[b * 16 + j] as i32;
        }
        acc += f16_to_f32(sc) * (dot - 8 * sums[b]) as f32;
    }
    acc
}
