//! Relative position buckets and the bias they select (`relative_attention_bias`).
//!
//! T5 adds to every attention score a learned scalar per head chosen by the bucket of the
//! relative distance `key − query`. Only the first block of each stack owns the table
//! (`{encoder,decoder}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`,
//! `[num_buckets, heads]`); the bias is computed once per forward and shared by all layers
//! (modeling_t5.py 4.46, `T5Stack.forward`: `position_bias` is passed from layer to layer).

use alloc::vec::Vec;

/// The bucket of relative position `rel = key_pos − query_pos`, as HF computes it
/// (modeling_t5.py 4.46, `T5Attention._relative_position_bucket`).
///
/// Bidirectional (encoder): half the buckets for positive distances; causal (decoder):
/// only non-positive distances count, positive ones fall in bucket 0. Within a half, the
/// first `n/2` distances have their own bucket and the rest are log-spaced up to
/// `max_distance`. The log-spaced part is evaluated in f32 exactly as PyTorch does it
/// (`log(n / max_exact) / log(max_distance / max_exact) · (n − max_exact)`, truncated), so
/// boundary distances land in the same bucket; the fixture `buckets.json` (HF's own output)
/// pins this.
pub fn relative_position_bucket(
    rel: i64,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> usize {
    let mut nb = num_buckets as i64;
    let mut bucket = 0i64;
    let n = if bidirectional {
        nb /= 2;
        if rel > 0 {
            bucket += nb;
        }
        rel.saturating_abs()
    } else {
        rel.min(0).saturating_neg()
    };
    let max_exact = nb / 2;
    if n < max_exact {
        return (bucket + n) as usize;
    }
    // PyTorch: float32 tensor ops; the Python-float denominator enters as an f32 scalar.
    let num = libm::logf(n as f32 / max_exact as f32);
    let den = libm::log(max_distance as f64 / max_exact as f64) as f32;
    let large = max_exact + ((num / den) * (nb - max_exact) as f32) as i64;
    (bucket + large.min(nb - 1)) as usize
}

/// A stack's relative-attention bias table and bucket settings.
#[derive(Debug, Clone)]
pub struct RelativeBias {
    /// `[num_buckets, heads]`, row-major, f32.
    table: Vec<f32>,
    heads: usize,
    num_buckets: usize,
    max_distance: usize,
    bidirectional: bool,
}

impl RelativeBias {
    /// Wraps a `[num_buckets, heads]` table (length already checked by the loader).
    pub fn new(
        table: Vec<f32>,
        heads: usize,
        num_buckets: usize,
        max_distance: usize,
        bidirectional: bool,
    ) -> Self {
        RelativeBias {
            table,
            heads,
            num_buckets,
            max_distance,
            bidirectional,
        }
    }

    /// The bias for `q_len` queries at positions `q_offset ..` against keys `0 .. kv_len`,
    /// in the layout [`crate::backend::AttentionParams::bias`] wants:
    /// `[heads, q_len + kv_len − 1]`, where entry `d` is relative position
    /// `d − (q_len − 1) − q_offset`.
    pub fn values(&self, q_len: usize, kv_len: usize, q_offset: usize) -> Vec<f32> {
        let span = (q_len + kv_len).saturating_sub(1);
        let mut out = alloc::vec![0.0f32; self.heads * span];
        for d in 0..span {
            let rel = d as i64 - (q_len as i64 - 1) - q_offset as i64;
            let b = relative_position_bucket(
                rel,
                self.bidirectional,
                self.num_buckets,
                self.max_distance,
            );
            for h in 0..self.heads {
                out[h * span + d] = self.table[b * self.heads + h];
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_distances_are_exact() {
        // T0: 32 buckets, 128. Encoder: 16 per direction, 8 exact.
        for r in 0..8 {
            assert_eq!(relative_position_bucket(-r, true, 32, 128), r as usize);
            if r > 0 {
                assert_eq!(relative_position_bucket(r, true, 32, 128), 16 + r as usize);
            }
            assert_eq!(relative_position_bucket(-r, false, 32, 128), r as usize);
        }
        // Causal: the future is bucket 0.
        assert_eq!(relative_position_bucket(5, false, 32, 128), 0);
        // Far away saturates at the last bucket.
        assert_eq!(relative_position_bucket(-100_000, true, 32, 128), 15);
        assert_eq!(relative_position_bucket(100_000, true, 32, 128), 31);
        assert_eq!(relative_position_bucket(-100_000, false, 32, 128), 31);
        assert_eq!(relative_position_bucket(i64::MIN, true, 32, 128), 15);
    }

    #[test]
    fn values_index_relative_positions() {
        // 2 buckets' worth of distinct values per head, 2 heads.
        let table: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let rb = RelativeBias::new(table, 2, 4, 3, false);
        // one query at position 2 against 3 keys: rel = j - 2 for j = 0, 1, 2.
        let v = rb.values(1, 3, 2);
        let want: Vec<f32> = [-2i64, -1, 0]
            .iter()
            .map(|&r| (relative_position_bucket(r, false, 4, 3) * 2) as f32)
            .collect();
        assert_eq!(&v[..3], &want[..]);
    }
}
