//! Plain f64 CPU references for every kernel, used by the GPU tests (inputs are the exact
//! bf16 values the device sees, so differences are the device's rounding only).

/// Rounds to the nearest bf16 value (as f32).
pub fn round_bf16(x: f32) -> f32 {
    half::bf16::from_f32(x).to_f32()
}

/// bf16 bit patterns of `xs`.
pub fn to_bf16_bits(xs: &[f32]) -> Vec<u16> {
    xs.iter()
        .map(|&x| half::bf16::from_f32(x).to_bits())
        .collect()
}

/// f32 values of bf16 bit patterns.
pub fn from_bf16_bits(xs: &[u16]) -> Vec<f32> {
    xs.iter()
        .map(|&x| half::bf16::from_bits(x).to_f32())
        .collect()
}

/// `‖got − want‖₂ / ‖want‖₂`; infinite if any value of `got` is not finite.
pub fn rel_err(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len());
    let mut num = 0.0f64;
    let mut den = 0.0f64;
    for (&g, &w) in got.iter().zip(want) {
        if !g.is_finite() {
            return f64::INFINITY;
        }
        num += (g as f64 - w).powi(2);
        den += w * w;
    }
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// HF's tanh GELU ("gelu_new").
pub fn gelu_tanh(x: f64) -> f64 {
    0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
}

/// SiLU.
pub fn silu(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

/// `c[m, n] = Σ_k a[m, k] w[n, k]` (row-major, dense).
pub fn matmul_nt(a: &[f32], w: &[f32], m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                s += a[i * k + p] as f64 * w[j * k + p] as f64;
            }
            c[i * n + j] = s;
        }
    }
    c
}

/// T5 RMS norm of rows of `d`.
pub fn rmsnorm(x: &[f32], w: &[f32], d: usize, eps: f64) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for (r, row) in x.chunks(d).enumerate() {
        let ms = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / d as f64;
        let inv = 1.0 / (ms + eps).sqrt();
        for j in 0..d {
            y[r * d + j] = w[j] as f64 * row[j] as f64 * inv;
        }
    }
    y
}

/// Attention over dense `[batch][len][heads][dh]` tensors (keys/values with `kv_batches`
/// batches, query batch b using key batch b / kv_div), T5 style (no scaling), with an
/// optional bias `(table [heads][w], r, w, qpos)`: key j of query row i adds
/// `table[h][clamp(j - qref + r, 0, w - 1)]` with qref = q_offset + i when `qpos`, else i;
/// key lengths and causal mask. Fully masked rows give 0.
#[allow(clippy::too_many_arguments)]
pub fn attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    (batch, heads, dh, lq, lk): (usize, usize, usize, usize, usize),
    key_len: Option<&[i32]>,
    bias: Option<(&[f32], usize, usize, bool)>,
    causal: bool,
    q_offset: usize,
    kv_div: usize,
) -> Vec<f64> {
    let mut o = vec![0.0f64; batch * lq * heads * dh];
    for b in 0..batch {
        let kb = b / kv_div;
        let klen = key_len.map_or(lk, |l| (l[kb].max(0) as usize).min(lk));
        for h in 0..heads {
            for i in 0..lq {
                let qp = q_offset + i;
                let mut s = vec![f64::NEG_INFINITY; lk];
                for (j, sj) in s.iter_mut().enumerate() {
                    if j >= klen || (causal && j > qp) {
                        continue;
                    }
                    let mut acc = 0.0;
                    for d in 0..dh {
                        acc += q[((b * lq + i) * heads + h) * dh + d] as f64
                            * k[((kb * lk + j) * heads + h) * dh + d] as f64;
                    }
                    if let Some((tab, r, w, qpos)) = bias {
                        let qref = if qpos { qp } else { i } as i64;
                        let bi = (j as i64 - qref + r as i64).clamp(0, w as i64 - 1);
                        acc += tab[h * w + bi as usize] as f64;
                    }
                    *sj = acc;
                }
                let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                if mx == f64::NEG_INFINITY {
                    continue;
                }
                let p: Vec<f64> = s.iter().map(|&x| (x - mx).exp()).collect();
                let sum: f64 = p.iter().sum();
                for d in 0..dh {
                    let mut acc = 0.0;
                    for j in 0..lk {
                        if p[j] > 0.0 {
                            acc += p[j] * v[((kb * lk + j) * heads + h) * dh + d] as f64;
                        }
                    }
                    o[((b * lq + i) * heads + h) * dh + d] = acc / sum;
                }
            }
        }
    }
    o
}

/// `log_softmax(row)[target]` per row.
pub fn log_softmax_gather(logits: &[f32], vocab: usize, target: &[i32]) -> Vec<f64> {
    logits
        .chunks(vocab)
        .zip(target)
        .map(|(row, &t)| {
            let mx = row
                .iter()
                .map(|&x| x as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            let lse = mx + row.iter().map(|&x| (x as f64 - mx).exp()).sum::<f64>().ln();
            if t < 0 {
                0.0
            } else {
                row[t as usize] as f64 - lse
            }
        })
        .collect()
}

/// Index of the largest value (lowest index on ties).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

/// A small deterministic generator for test data (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    /// `n` bf16-representable values uniform in [-scale, scale).
    pub fn bf16_vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| round_bf16(self.uniform() * scale)).collect()
    }
    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_of_one_key_is_its_value() {
        let q = [1.0f32, 2.0];
        let k = [0.5f32, 0.5];
        let v = [3.0f32, -4.0];
        let o = attention(&q, &k, &v, (1, 1, 2, 1, 1), None, None, false, 0, 1);
        assert_eq!(o, vec![3.0, -4.0]);
    }

    #[test]
    fn fully_masked_rows_are_zero() {
        let o = attention(
            &[1.0, 1.0],
            &[1.0, 1.0],
            &[5.0, 5.0],
            (1, 1, 2, 1, 1),
            Some(&[0]),
            None,
            false,
            0,
            1,
        );
        assert_eq!(o, vec![0.0, 0.0]);
    }

    #[test]
    fn log_softmax_of_uniform_row() {
        let r = log_softmax_gather(&[0.0; 4], 4, &[2]);
        assert!((r[0] + 4f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn rel_err_flags_nan() {
        assert!(rel_err(&[f32::NAN], &[1.0]).is_infinite());
        assert_eq!(rel_err(&[1.0], &[1.0]), 0.0);
    }
}
