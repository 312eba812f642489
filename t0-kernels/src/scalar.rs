//! Scalar reference kernels: simple, portable, and the oracle for every SIMD path.

/// T5's RMS layer norm: `out[i] = x[i] / sqrt(mean(x²) + eps) * weight[i]` (no mean, no bias).
///
/// All three slices must have the same length.
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    assert_eq!(x.len(), weight.len(), "rms_norm: weight length");
    assert_eq!(x.len(), out.len(), "rms_norm: output length");
    if x.is_empty() {
        return;
    }
    let mut sum = 0.0f32;
    for &v in x {
        sum += v * v;
    }
    let inv = 1.0 / libm::sqrtf(sum / x.len() as f32 + eps);
    for ((o, &v), &w) in out.iter_mut().zip(x).zip(weight) {
        *o = v * inv * w;
    }
}

/// Reference linear layer: `y[r][o] = Σ_k x[r][k] · w[o][k]` with row-major `w[out, in]`.
pub fn linear(x: &[f32], rows: usize, w: &[f32], out: usize, inp: usize, y: &mut [f32]) {
    assert_eq!(x.len(), rows * inp, "linear: x length");
    assert_eq!(w.len(), out * inp, "linear: w length");
    assert_eq!(y.len(), rows * out, "linear: y length");
    for r in 0..rows {
        for o in 0..out {
            let mut acc = 0.0f32;
            for k in 0..inp {
                acc += x[r * inp + k] * w[o * inp + k];
            }
            y[r * out + o] = acc;
        }
    }
}

/// HF's `gelu_new`: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
pub fn gelu_new(x: f32) -> f32 {
    let c = 0.797_884_6f32;
    0.5 * x * (1.0 + libm::tanhf(c * (x + 0.044_715 * x * x * x)))
}

/// SiLU: `x / (1 + e^{-x})`.
pub fn silu(x: f32) -> f32 {
    x / (1.0 + libm::expf(-x))
}

/// ReLU: `max(x, 0)`.
pub fn relu(x: f32) -> f32 {
    if x > 0.0 { x } else { 0.0 }
}

/// Reference log-softmax of one row.
pub fn log_softmax(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "log_softmax: output length");
    if x.is_empty() {
        return;
    }
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let s: f64 = x.iter().map(|&v| libm::exp((v - m) as f64)).sum();
    let lse = m + libm::log(s) as f32;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v - lse;
    }
}

/// Reference attention for one head and one sequence, materialising the full score matrix:
/// `out[i] = Σ_j softmax_j(q_i·k_j + bias[i][j] + mask[j]) v_j`, keys `j > i + offset`
/// skipped when `causal_offset` is given. `q: [q_len, d]`, `k, v: [kv_len, d]`,
/// `bias: [q_len, kv_len]` (optional), `out: [q_len, d]`. A row with no visible key is 0.
#[allow(clippy::too_many_arguments)]
pub fn attention_head(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    d: usize,
    bias: Option<&[f32]>,
    mask: Option<&[f32]>,
    causal_offset: Option<usize>,
    out: &mut [f32],
) {
    let q_len = q.len().checked_div(d).unwrap_or(0);
    let kv_len = k.len().checked_div(d).unwrap_or(0);
    let mut scores = alloc::vec![0.0f32; kv_len];
    for i in 0..q_len {
        let lim = causal_offset.map_or(kv_len, |o| kv_len.min(i + o + 1));
        for j in 0..lim {
            let mut s = 0.0f32;
            for t in 0..d {
                s += q[i * d + t] * k[j * d + t];
            }
            if let Some(b) = bias {
                s += b[i * kv_len + j];
            }
            if let Some(m) = mask {
                s += m[j];
            }
            scores[j] = s;
        }
        let m = scores[..lim]
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        let o = &mut out[i * d..(i + 1) * d];
        o.fill(0.0);
        if lim == 0 || m == f32::NEG_INFINITY {
            continue;
        }
        let mut sum = 0.0f64;
        for sj in scores[..lim].iter_mut() {
            *sj = libm::expf(*sj - m);
            sum += *sj as f64;
        }
        for j in 0..lim {
            let p = scores[j] / sum as f32;
            for t in 0..d {
                o[t] += p * v[j * d + t];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rms_norm_matches_definition() {
        let x = [1.0f32, -2.0, 3.0];
        let w = [0.5f32, 1.0, 2.0];
        let mut out = [0.0f32; 3];
        rms_norm(&x, &w, 1e-6, &mut out);
        let rms = ((1.0 + 4.0 + 9.0) / 3.0f32 + 1e-6).sqrt();
        for i in 0..3 {
            assert!((out[i] - x[i] / rms * w[i]).abs() < 1e-6);
        }
    }

    #[test]
    fn rms_norm_empty_is_noop() {
        let mut out: [f32; 0] = [];
        rms_norm(&[], &[], 1e-6, &mut out);
    }
}
