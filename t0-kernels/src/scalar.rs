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
