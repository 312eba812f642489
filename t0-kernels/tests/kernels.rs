//! Every kernel on every ISA path this CPU has, against the scalar references in
//! `t0_kernels::scalar`, over random shapes with tails (sizes that are not multiples of the
//! vector widths, 1 row, 1 column, zero-sized).
//!
//! Tolerances (abs + rel):
//! - linear: `|y - ref| <= 1e-5 + 1e-4 * Σ_k |x_k w_k|` (the reference accumulates in f32
//!   without FMA in another order);
//! - activations, RMSNorm: `<= 1e-6 + 1e-5 * |ref|`;
//! - log-softmax: `<= 1e-5 + 1e-6 * |ref|`;
//! - attention: `<= 1e-5 + 1e-4 * |ref|` (online vs two-pass softmax).

use proptest::prelude::*;
use t0_kernels::attention::{Attention, PositionBias, attention_with};
use t0_kernels::linear::linear_with;
use t0_kernels::ops::{self, Activation};
use t0_kernels::{Isa, PackedLinear, WeightType, scalar};

/// Deterministic values in [-1, 1).
fn rand_vec(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn isas() -> Vec<Isa> {
    let v: Vec<Isa> = Isa::available().collect();
    assert!(v.contains(&Isa::Scalar));
    v
}

fn check_linear(isa: Isa, rows: usize, out: usize, inp: usize, wt: WeightType, seed: u64) {
    let x = rand_vec(seed, rows * inp);
    let w = rand_vec(seed + 1, out * inp);
    let p = PackedLinear::from_f32(&w, out, inp, wt).unwrap();
    let wq = p.to_f32_rows();
    let mut y = vec![f32::NAN; rows * out];
    linear_with(isa, &x, rows, &p, &mut y);
    let mut r = vec![0.0; rows * out];
    scalar::linear(&x, rows, &wq, out, inp, &mut r);
    for i in 0..rows {
        for o in 0..out {
            let scale: f32 = (0..inp)
                .map(|k| (x[i * inp + k] * wq[o * inp + k]).abs())
                .sum();
            let (a, b) = (y[i * out + o], r[i * out + o]);
            assert!(
                (a - b).abs() <= 1e-5 + 1e-4 * scale,
                "{isa:?} {wt:?} rows={rows} out={out} in={inp}: y[{i},{o}] = {a} vs {b}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn linear_matches_reference(rows in 0usize..20, out in 0usize..100, inp in 0usize..300,
                                wt in 0usize..3, seed in any::<u64>()) {
        let wt = [WeightType::F32, WeightType::Bf16, WeightType::F16][wt];
        for isa in isas() {
            check_linear(isa, rows, out, inp, wt, seed);
        }
    }

    #[test]
    fn activations_match_reference(n in 0usize..100, seed in any::<u64>(), scale in 0.1f32..20.0) {
        let a0: Vec<f32> = rand_vec(seed, n).iter().map(|v| v * scale).collect();
        let b = rand_vec(seed + 7, n);
        for isa in isas() {
            for (act, f) in [(Activation::GeluNew, scalar::gelu_new as fn(f32) -> f32),
                             (Activation::Silu, scalar::silu), (Activation::Relu, scalar::relu)] {
                let mut a = a0.clone();
                ops::gated_act_with(isa, act, &mut a, &b);
                let mut c = a0.clone();
                ops::activate_with(isa, act, &mut c);
                for i in 0..n {
                    let r = f(a0[i]);
                    prop_assert!((c[i] - r).abs() <= 1e-6 + 1e-5 * r.abs(), "{isa:?} {act:?} {} -> {} vs {r}", a0[i], c[i]);
                    let rg = r * b[i];
                    prop_assert!((a[i] - rg).abs() <= 1e-6 + 1e-5 * rg.abs(), "{isa:?} {act:?} gated");
                }
            }
        }
    }

    #[test]
    fn rms_norm_matches_reference(rows in 0usize..4, d in 1usize..100, seed in any::<u64>()) {
        let x = rand_vec(seed, rows * d);
        let w = rand_vec(seed + 3, d);
        let mut r = vec![0.0; rows * d];
        for (xr, rr) in x.chunks(d).zip(r.chunks_mut(d)) {
            scalar::rms_norm(xr, &w, 1e-6, rr);
        }
        for isa in isas() {
            let mut o = vec![0.0; rows * d];
            ops::rms_norm_with(isa, &x, &w, 1e-6, &mut o);
            for i in 0..rows * d {
                prop_assert!((o[i] - r[i]).abs() <= 1e-6 + 1e-5 * r[i].abs(), "{isa:?}");
            }
        }
    }

    #[test]
    fn log_softmax_and_argmax_match_reference(rows in 0usize..3, cols in 1usize..300,
                                              seed in any::<u64>(), scale in 0.1f32..60.0) {
        let x: Vec<f32> = rand_vec(seed, rows * cols).iter().map(|v| v * scale).collect();
        let mut r = vec![0.0; rows * cols];
        for (xr, rr) in x.chunks(cols).zip(r.chunks_mut(cols)) {
            scalar::log_softmax(xr, rr);
        }
        for isa in isas() {
            let mut o = vec![0.0; rows * cols];
            ops::log_softmax_with(isa, &x, cols, &mut o);
            for i in 0..rows * cols {
                prop_assert!((o[i] - r[i]).abs() <= 1e-5 + 1e-6 * r[i].abs(), "{isa:?} {} vs {}", o[i], r[i]);
            }
            for xr in x.chunks(cols) {
                let want = xr.iter().enumerate().fold(0, |b, (i, &v)| if v > xr[b] { i } else { b });
                prop_assert_eq!(ops::argmax_with(isa, xr), Some(want));
            }
        }
    }

    #[test]
    fn attention_matches_reference(heads in 1usize..4, d in 1usize..70, q_len in 1usize..80,
                                   kv_len in 1usize..150, bias_kind in 0usize..3,
                                   masked in any::<bool>(), causal in any::<bool>(),
                                   seed in any::<u64>()) {
        check_attention(heads, d, q_len, kv_len, bias_kind, masked, causal, seed)?;
    }
}

#[allow(clippy::too_many_arguments)]
fn check_attention(
    heads: usize,
    d: usize,
    q_len: usize,
    kv_len: usize,
    bias_kind: usize,
    masked: bool,
    causal: bool,
    seed: u64,
) -> Result<(), TestCaseError> {
    let w = heads * d;
    // Strided rows: q/k/v padded by 3 extra columns per row.
    let (qs, ks) = (w + 3, w + 1);
    let q: Vec<f32> = rand_vec(seed, q_len * qs).iter().map(|v| v * 2.0).collect();
    let k: Vec<f32> = rand_vec(seed + 1, kv_len * ks)
        .iter()
        .map(|v| v * 2.0)
        .collect();
    let v = rand_vec(seed + 2, kv_len * ks);
    let tw = q_len + kv_len - 1;
    let table: Vec<f32> = rand_vec(seed + 3, heads * tw)
        .iter()
        .map(|v| v * 3.0)
        .collect();
    let full: Vec<f32> = rand_vec(seed + 4, heads * q_len * kv_len);
    let mask: Vec<f32> = (0..kv_len)
        .map(|j| {
            if (j * 7).wrapping_add(seed as usize).is_multiple_of(5) && j > 0 {
                f32::MIN
            } else {
                0.0
            }
        })
        .collect();
    let bias = match bias_kind {
        0 => PositionBias::None,
        1 => PositionBias::Relative {
            table: &table,
            stride: tw,
        },
        _ => PositionBias::Full(&full),
    };
    let causal_offset = causal.then(|| kv_len.saturating_sub(q_len));
    let a = Attention {
        heads,
        d_head: d,
        q_len,
        kv_len,
        q: &q,
        q_stride: qs,
        k: &k,
        k_stride: ks,
        v: &v,
        v_stride: ks,
        bias,
        key_mask: masked.then_some(&mask[..]),
        causal_offset,
    };
    // Reference per head.
    let mut want = vec![0.0f32; q_len * w];
    for h in 0..heads {
        let qh: Vec<f32> = (0..q_len)
            .flat_map(|i| q[i * qs + h * d..][..d].to_vec())
            .collect();
        let kh: Vec<f32> = (0..kv_len)
            .flat_map(|j| k[j * ks + h * d..][..d].to_vec())
            .collect();
        let vh: Vec<f32> = (0..kv_len)
            .flat_map(|j| v[j * ks + h * d..][..d].to_vec())
            .collect();
        let bh: Option<Vec<f32>> = match bias_kind {
            0 => None,
            1 => Some(
                (0..q_len)
                    .flat_map(|i| (0..kv_len).map(move |j| (i, j)))
                    .map(|(i, j)| table[h * tw + j + q_len - 1 - i])
                    .collect(),
            ),
            _ => Some(full[h * q_len * kv_len..][..q_len * kv_len].to_vec()),
        };
        let mut oh = vec![0.0f32; q_len * d];
        scalar::attention_head(
            &qh,
            &kh,
            &vh,
            d,
            bh.as_deref(),
            masked.then_some(&mask[..]),
            causal_offset,
            &mut oh,
        );
        for i in 0..q_len {
            want[i * w + h * d..][..d].copy_from_slice(&oh[i * d..][..d]);
        }
    }
    for isa in isas() {
        let os = w + 2;
        let mut out = vec![f32::NAN; q_len * os];
        attention_with(isa, &a, &mut out, os);
        for i in 0..q_len {
            for c in 0..w {
                let (x, r) = (out[i * os + c], want[i * w + c]);
                prop_assert!(
                    (x - r).abs() <= 1e-5 + 1e-4 * r.abs(),
                    "{isa:?} h={heads} d={d} q={q_len} kv={kv_len} bias={bias_kind} [{i},{c}] {x} vs {r}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn linear_edge_shapes_and_blocked_path() {
    for isa in isas() {
        for wt in [WeightType::F32, WeightType::Bf16, WeightType::F16] {
            for &(rows, out, inp) in &[
                (0, 5, 5),
                (3, 0, 5),
                (3, 5, 0),
                (1, 1, 1),
                (1, 33, 1),
                (9, 1, 17),
                (300, 40, 600), // several KC and MC blocks
            ] {
                check_linear(isa, rows, out, inp, wt, 42);
            }
        }
    }
}

/// A row's result does not depend on how many rows are computed with it (GEMV vs GEMM path
/// give bit-identical results, as every element uses the same FMA sequence).
#[test]
fn linear_rows_are_batch_invariant() {
    let (rows, out, inp) = (21, 70, 530);
    for wt in [WeightType::F32, WeightType::Bf16, WeightType::F16] {
        let x = rand_vec(5, rows * inp);
        let p = PackedLinear::from_f32(&rand_vec(6, out * inp), out, inp, wt).unwrap();
        for isa in isas() {
            let mut all = vec![0.0; rows * out];
            linear_with(isa, &x, rows, &p, &mut all);
            for r in 0..rows {
                let mut one = vec![0.0; out];
                linear_with(isa, &x[r * inp..][..inp], 1, &p, &mut one);
                assert_eq!(
                    one.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    all[r * out..][..out]
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>(),
                    "{isa:?} {wt:?} row {r}"
                );
            }
        }
    }
}

/// Bit-identical results for 1, 2 and 3 threads.
#[test]
fn results_identical_for_any_thread_count() {
    let run = |threads: usize| -> Vec<u32> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut bits = Vec::new();
            for isa in isas() {
                for (rows, wt) in [
                    (1, WeightType::Bf16),
                    (4, WeightType::F32),
                    (40, WeightType::F16),
                ] {
                    let (out, inp) = (300, 700);
                    let x = rand_vec(9, rows * inp);
                    let p = PackedLinear::from_f32(&rand_vec(10, out * inp), out, inp, wt).unwrap();
                    let mut y = vec![0.0; rows * out];
                    linear_with(isa, &x, rows, &p, &mut y);
                    bits.extend(y.iter().map(|v| v.to_bits()));
                }
                let (heads, d, n) = (4, 64, 150);
                let q = rand_vec(11, n * heads * d);
                let tw = 2 * n - 1;
                let table = rand_vec(12, heads * tw);
                let a = Attention {
                    heads,
                    d_head: d,
                    q_len: n,
                    kv_len: n,
                    q: &q,
                    q_stride: heads * d,
                    k: &q,
                    k_stride: heads * d,
                    v: &q,
                    v_stride: heads * d,
                    bias: PositionBias::Relative {
                        table: &table,
                        stride: tw,
                    },
                    key_mask: None,
                    causal_offset: None,
                };
                let mut out = vec![0.0; n * heads * d];
                attention_with(isa, &a, &mut out, heads * d);
                bits.extend(out.iter().map(|v| v.to_bits()));
            }
            bits
        })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
}

#[test]
fn extreme_values_stay_finite() {
    let x = [
        -1e30f32, -100.0, -88.0, -20.0, 0.0, 20.0, 88.0, 100.0, 1e30, -0.0,
    ];
    for isa in isas() {
        for act in [Activation::GeluNew, Activation::Silu, Activation::Relu] {
            let mut a = x;
            ops::activate_with(isa, act, &mut a);
            assert!(a.iter().all(|v| v.is_finite()), "{isa:?} {act:?} {a:?}");
        }
        let mut o = [0.0; 10];
        ops::log_softmax_with(isa, &x, 10, &mut o);
        assert!(o.iter().all(|v| !v.is_nan()), "{isa:?} {o:?}");
        assert_eq!(o[8], 0.0);
    }
}
