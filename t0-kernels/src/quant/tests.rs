use super::*;
use proptest::prelude::*;

fn lcg(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Dequantize-then-f32 reference with activations quantized the same way.
fn reference(x: &[f32], rows: usize, inp: usize, w: &[f32], out: usize) -> Vec<f32> {
    let mut y = vec![0f32; rows * out];
    for r in 0..rows {
        let xr = &x[r * inp..(r + 1) * inp];
        let mut q = vec![0i8; inp];
        let s = quantize_row(xr, &mut q);
        for o in 0..out {
            let mut acc = 0f64;
            for k in 0..inp {
                acc += q[k] as f64 * s as f64 * w[o * inp + k] as f64;
            }
            y[r * out + o] = acc as f32;
        }
    }
    y
}

fn f32_ref(x: &[f32], rows: usize, inp: usize, w: &[f32], out: usize) -> Vec<f32> {
    let mut y = vec![0f32; rows * out];
    crate::scalar::linear(x, rows, w, out, inp, &mut y);
    y
}

fn close(a: &[f32], b: &[f32], tol: f32) -> Result<(), TestCaseError> {
    let scale = b.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        prop_assert!(
            (x - y).abs() <= tol * scale,
            "{i}: {x} vs {y} (scale {scale})"
        );
    }
    Ok(())
}

fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    let num: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f32 = b.iter().map(|y| y * y).sum();
    (num / den.max(1e-30)).sqrt()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn int8_matches_reference_on_every_path(
        out in 1usize..70, inp in 1usize..300, rows in 1usize..5, seed in 0u64..1000
    ) {
        let w = lcg(seed, out * inp);
        let x = lcg(seed + 7, rows * inp);
        let q = Int8Linear::quantize(&w, out, inp).unwrap();
        let want = reference(&x, rows, inp, &q.to_f32_rows(), out);
        let mut first: Option<Vec<f32>> = None;
        for isa in Isa::ALL {
            let mut y = vec![0f32; rows * out];
            int8_linear_with(isa, &x, rows, &q, &mut y);
            close(&y, &want, 1e-5)?;
            // Integer dots: every path gives the same bits.
            if let Some(f) = &first { prop_assert_eq!(f, &y); } else { first = Some(y); }
        }
    }

    #[test]
    fn int8_f32_activations_match_dequantized_f32(
        out in 1usize..40, inp in 1usize..300, rows in 1usize..4, seed in 0u64..1000
    ) {
        let w = lcg(seed, out * inp);
        let x = lcg(seed + 5, rows * inp);
        let q = Int8Linear::quantize(&w, out, inp).unwrap();
        let want = f32_ref(&x, rows, inp, &q.to_f32_rows(), out);
        for isa in Isa::ALL {
            let mut y = vec![0f32; rows * out];
            int8_linear_f32act_with(isa, &x, rows, &q, &mut y);
            close(&y, &want, 1e-5)?;
        }
    }

    #[test]
    fn q4_matches_reference_on_every_path(
        out in 1usize..70, inp in 1usize..400, rows in 1usize..5, seed in 0u64..1000
    ) {
        let w = lcg(seed, out * inp);
        let x = lcg(seed + 3, rows * inp);
        let q = Q4Linear::quantize(&w, out, inp).unwrap();
        prop_assert_eq!(q.dequantize(), q.to_f32_rows());
        let want = reference(&x, rows, inp, &q.to_f32_rows(), out);
        for isa in Isa::ALL {
            let mut y = vec![0f32; rows * out];
            q4_linear_with(isa, &x, rows, &q, &mut y);
            close(&y, &want, 1e-5)?;
        }
    }
}

#[test]
fn quantization_error_is_small_against_f32() {
    let (out, inp, rows) = (64, 512, 3);
    let w = lcg(1, out * inp);
    let x = lcg(2, rows * inp);
    let exact = f32_ref(&x, rows, inp, &w, out);
    let mut y = vec![0f32; rows * out];
    int8_linear(
        &x,
        rows,
        &Int8Linear::quantize(&w, out, inp).unwrap(),
        &mut y,
    );
    let e8 = rel_err(&y, &exact);
    q4_linear(&x, rows, &Q4Linear::quantize(&w, out, inp).unwrap(), &mut y);
    let e4 = rel_err(&y, &exact);
    assert!(e8 < 0.02, "int8 relative error {e8}");
    assert!(e4 < 0.12 && e4 > e8, "q4 relative error {e4} (int8 {e8})");
}

#[test]
fn q4_layout_is_documented_nibble_order() {
    // Weights 0..32 of one block: k < 16 in low nibbles, k ≥ 16 in high nibbles.
    // Integers −8..=7 twice: the best scale is exactly 1 (m = −8 → d = −8 / −8).
    let w: Vec<f32> = (0..32).map(|k| (k % 16) as f32 - 8.0).collect();
    let (q, s) = Q4Linear::quantize_parts(&w, 1, 32).unwrap();
    assert_eq!(q.len(), 16);
    assert_eq!(f16_to_f32(s[0]), 1.0);
    for j in 0..16 {
        let lo = (q[j] & 15) as f32 - 8.0;
        let hi = (q[j] >> 4) as f32 - 8.0;
        assert_eq!(lo, w[j]);
        assert_eq!(hi, w[j + 16]);
    }
}

#[test]
fn bad_parts_are_typed_errors() {
    let e = Q4Linear::from_parts(2, 64, 64, WeightBytes::Owned(vec![0; 64]), vec![0; 4]);
    assert_eq!(e.unwrap_err(), QuantError::BlockSize { got: 64 });
    let e = Q4Linear::from_parts(2, 64, 32, WeightBytes::Owned(vec![0; 64]), vec![0; 3]);
    assert!(matches!(
        e.unwrap_err(),
        QuantError::Length { what: "scales", .. }
    ));
    let e = Q4Linear::from_parts(2, 64, 32, WeightBytes::Owned(vec![0; 63]), vec![0; 4]);
    assert!(matches!(
        e.unwrap_err(),
        QuantError::Length {
            what: "weights",
            ..
        }
    ));
    let e = Int8Linear::from_parts(2, 3, WeightBytes::Owned(vec![0; 6]), vec![1.0]);
    assert!(matches!(
        e.unwrap_err(),
        QuantError::Length { what: "scales", .. }
    ));
    let e = Int8Linear::from_parts(2, 3, WeightBytes::Owned(vec![0; 6]), vec![1.0, f32::NAN]);
    assert_eq!(e.unwrap_err(), QuantError::BadScale { index: 1 });
    let e = Q4Linear::from_parts(1, 32, 32, WeightBytes::Owned(vec![0; 16]), vec![0x7C00]);
    assert_eq!(e.unwrap_err(), QuantError::BadScale { index: 0 });
    let e = Int8Linear::from_parts(1, MAX_IN + 1, WeightBytes::Owned(vec![]), vec![1.0]);
    assert_eq!(e.unwrap_err(), QuantError::TooLarge);
}

#[test]
fn zero_rows_and_zero_activations_are_finite() {
    let q = Q4Linear::quantize(&[0.0; 64], 2, 32).unwrap();
    let mut y = [1f32; 2];
    q4_linear(&[0.0; 32], 1, &q, &mut y);
    assert_eq!(y, [0.0, 0.0]);
    let q = Int8Linear::quantize(&[0.0; 64], 2, 32).unwrap();
    int8_linear(&[1.0; 32], 1, &q, &mut y);
    assert_eq!(y, [0.0, 0.0]);
}
