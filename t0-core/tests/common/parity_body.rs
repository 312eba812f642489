// The body of the HF parity tests, shared by `parity.rs` (reference backend) and
// `parity_fast.rs` (SIMD backend): each includes it after naming its `TestBackend`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use t0_core::backend::Backend;
use t0_core::config::T5Config;
use t0_core::generate::GenerateOptions;
use t0_core::model::T5Model;
use t0_core::safetensors::SafeTensors;
use t0_core::score::{Reduction, ScoreOptions};
use t0_core::tensor::TensorSource;

const TOL: f64 = 1e-4;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models")
}

fn model_dirs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.json").exists())
        .collect();
    v.sort();
    assert!(
        v.len() >= 8,
        "fixture models missing: run scripts/make_fixtures.py"
    );
    v
}

struct Fixture {
    name: String,
    cfg: T5Config,
    weights: Vec<u8>,
    reference: Value,
    arrays: Vec<u8>,
}

impl Fixture {
    fn open(dir: &Path) -> Self {
        let cfg = T5Config::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap())
            .unwrap();
        Fixture {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            cfg,
            weights: std::fs::read(dir.join("model.safetensors")).unwrap(),
            reference: serde_json::from_str(
                &std::fs::read_to_string(dir.join("reference.json")).unwrap(),
            )
            .unwrap(),
            arrays: std::fs::read(dir.join("reference.safetensors")).unwrap(),
        }
    }

    fn model(&self) -> T5Model<TestBackend> {
        let st = SafeTensors::parse(&self.weights).unwrap();
        T5Model::load(TestBackend::new(), &st, &self.cfg).unwrap()
    }

    fn array(&self, name: &str) -> Vec<f32> {
        let st = SafeTensors::parse(&self.arrays).unwrap();
        st.tensor(name).unwrap().to_f32_vec().unwrap()
    }

    fn ids(&self, key: &str) -> Vec<Vec<u32>> {
        ids_of(&self.reference[key])
    }
}

fn ids_of(v: &Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

/// ‖a − b‖ / ‖b‖.
fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| ((x - y) as f64).powi(2))
        .sum();
    let den: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum();
    (num / den.max(1e-30)).sqrt()
}

#[test]
fn encoder_states_and_logits_match_hf() {
    for dir in model_dirs() {
        let f = Fixture::open(&dir);
        let m = f.model();
        let inputs = f.ids("inputs");
        let decs = f.ids("decoder_ids");
        let (mut worst_enc, mut worst_logits) = (0.0f64, 0.0f64);
        for (i, ids) in inputs.iter().enumerate() {
            let enc = m.encode(&[ids]).unwrap();
            let got = m.backend().to_host(enc.hidden()).unwrap();
            let e = rel_err(&got, &f.array(&format!("enc.{i}")));
            assert!(
                e < TOL,
                "{}: encoder states of input {i}: rel err {e:e}",
                f.name
            );
            worst_enc = worst_enc.max(e);
            let logits = m.forward_logits(ids, &decs[i]).unwrap();
            assert_eq!(logits.len(), decs[i].len() * f.cfg.vocab_size);
            let e = rel_err(&logits, &f.array(&format!("logits.{i}")));
            assert!(e < TOL, "{}: logits of input {i}: rel err {e:e}", f.name);
            worst_logits = worst_logits.max(e);
        }
        eprintln!(
            "parity {:24} encoder max rel err {worst_enc:.2e}  logits max rel err {worst_logits:.2e}",
            f.name
        );
    }
}

#[test]
fn greedy_sequences_match_hf_batched_and_one_by_one() {
    for dir in model_dirs() {
        let f = Fixture::open(&dir);
        let m = f.model();
        let inputs = f.ids("inputs");
        let max_new = f.reference["max_new_tokens"].as_u64().unwrap() as usize;
        let min_new = f.reference["min_new_tokens"].as_u64().unwrap() as usize;
        for (key, min) in [("greedy", 0), ("greedy_min", min_new)] {
            let want = f.ids(key);
            let opts = GenerateOptions {
                max_new_tokens: max_new,
                min_new_tokens: min,
                ..Default::default()
            };
            // Padded batch of unequal lengths.
            let got = m.generate_greedy(&inputs, &opts).unwrap();
            assert_eq!(got, want, "{}: {key} (batched)", f.name);
            for (i, ids) in inputs.iter().enumerate() {
                let one = m.generate_greedy(&[ids], &opts).unwrap();
                assert_eq!(one[0], want[i], "{}: {key} input {i} alone", f.name);
            }
        }
    }
}

#[test]
fn per_sequence_eos_stop_is_exercised() {
    // v11_gelu_untied's EOS was chosen so that input 0 stops early while others run on.
    let f = Fixture::open(&fixtures().join("v11_gelu_untied"));
    let g = f.ids("greedy");
    let max_new = f.reference["max_new_tokens"].as_u64().unwrap() as usize;
    assert_eq!(*g[0].last().unwrap(), f.cfg.eos_token_id);
    assert!(g[0].len() < max_new);
    assert!(g.iter().any(|s| s.len() == max_new));
    // min_new_tokens kept EOS out of the first tokens.
    let gm = f.ids("greedy_min");
    assert!(!gm[0][..min_len(&f)].contains(&f.cfg.eos_token_id));
}

fn min_len(f: &Fixture) -> usize {
    f.reference["min_new_tokens"].as_u64().unwrap() as usize
}

#[test]
fn choice_scores_match_hf() {
    for dir in model_dirs() {
        let f = Fixture::open(&dir);
        let m = f.model();
        let inputs = f.ids("inputs");
        let mut worst = 0.0f64;
        for (i, ids) in inputs.iter().enumerate() {
            let choices = ids_of(&f.reference["choices"][i]);
            let want: Vec<f64> = f.reference["scores"][i]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let got = m.score(ids, &choices, &ScoreOptions::default()).unwrap();
            for (c, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let e = (g as f64 - w).abs() / w.abs().max(1.0);
                assert!(e < TOL, "{}: input {i} choice {c}: {g} vs HF {w}", f.name);
                worst = worst.max(e);
            }
            // Mean = sum / length.
            let mean = m
                .score(
                    ids,
                    &choices,
                    &ScoreOptions {
                        reduction: Reduction::Mean,
                        ..Default::default()
                    },
                )
                .unwrap();
            for (c, choice) in choices.iter().enumerate() {
                let w = want[c] / choice.len() as f64;
                assert!((mean[c] as f64 - w).abs() < TOL * w.abs().max(1.0));
            }
            // One decoder batch over all choices = each choice alone.
            for (c, choice) in choices.iter().enumerate() {
                let alone = m.score(ids, &[choice], &ScoreOptions::default()).unwrap();
                assert!((alone[0] - got[c]).abs() <= 1e-5 * got[c].abs().max(1.0));
            }
        }
        eprintln!("parity {:24} scores max rel err {worst:.2e}", f.name);
    }
}

#[test]
fn padded_batch_equals_one_by_one() {
    for dir in model_dirs() {
        let f = Fixture::open(&dir);
        let m = f.model();
        let inputs = f.ids("inputs");
        let batch = m.encode(&inputs).unwrap();
        let all = m.backend().to_host(batch.hidden()).unwrap();
        let d = f.cfg.d_model;
        for (i, ids) in inputs.iter().enumerate() {
            let one = m.encode(&[ids]).unwrap();
            let one = m.backend().to_host(one.hidden()).unwrap();
            let start = i * batch.len() * d;
            let rows = &all[start..start + ids.len() * d];
            assert!(rel_err(rows, &one) < 1e-6, "{}: input {i}", f.name);
            assert!(
                all.iter().all(|v| v.is_finite()),
                "{}: padding leaked NaN",
                f.name
            );
        }
    }
}

#[test]
fn bf16_checkpoint_matches_f32_of_bf16_reference() {
    let f = Fixture::open(&fixtures().join("v11_gelu_untied_bf16"));
    let st = SafeTensors::parse(&f.weights).unwrap();
    assert_eq!(
        st.tensor("lm_head.weight").unwrap().dtype,
        t0_core::tensor::DType::BF16
    );
    let m = f.model();
    let ids = &f.ids("inputs")[0];
    let logits = m.forward_logits(ids, &f.ids("decoder_ids")[0]).unwrap();
    assert!(rel_err(&logits, &f.array("logits.0")) < TOL);
}

#[test]
fn untied_fixtures_carry_their_own_lm_head() {
    for dir in model_dirs() {
        let f = Fixture::open(&dir);
        let st = SafeTensors::parse(&f.weights).unwrap();
        assert_eq!(
            st.tensor("lm_head.weight").is_some(),
            !f.cfg.tie_word_embeddings,
            "{}",
            f.name
        );
    }
}

#[test]
fn relative_position_buckets_match_hf() {
    let text = std::fs::read_to_string(fixtures().join("buckets.json")).unwrap();
    let tables: Value = serde_json::from_str(&text).unwrap();
    for t in tables.as_array().unwrap() {
        let nb = t["num_buckets"].as_u64().unwrap() as usize;
        let md = t["max_distance"].as_u64().unwrap() as usize;
        let bidir = t["bidirectional"].as_bool().unwrap();
        let from = t["relative_from"].as_i64().unwrap();
        for (k, b) in t["buckets"].as_array().unwrap().iter().enumerate() {
            let rel = from + k as i64;
            let got = t0_core::model::position::relative_position_bucket(rel, bidir, nb, md);
            assert_eq!(
                got as u64,
                b.as_u64().unwrap(),
                "rel {rel} bidirectional {bidir} buckets {nb} max {md}"
            );
        }
    }
}

mod batching {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

        /// Any batch of unequal lengths gives each sequence exactly what it gets alone:
        /// encoder states, greedy outputs and choice scores.
        #[test]
        fn batched_equals_alone(
            inputs in prop::collection::vec(prop::collection::vec(2u32..128, 1..24), 1..4),
            choices in prop::collection::vec(prop::collection::vec(2u32..128, 1..6), 1..4),
        ) {
            let f = Fixture::open(&fixtures().join("heads_x_dkv_ne_dmodel"));
            let m = f.model();
            let opts = GenerateOptions {
                max_new_tokens: 5,
                min_new_tokens: 0,
                ..Default::default()
            };
            let batched = m.generate_greedy(&inputs, &opts).unwrap();
            let enc = m.encode(&inputs).unwrap();
            let all = m.backend().to_host(enc.hidden()).unwrap();
            prop_assert!(all.iter().all(|v| v.is_finite()));
            let d = f.cfg.d_model;
            for (i, ids) in inputs.iter().enumerate() {
                let alone = m.generate_greedy(&[ids], &opts).unwrap();
                prop_assert_eq!(&alone[0], &batched[i]);
                let one = m.encode(&[ids]).unwrap();
                let one = m.backend().to_host(one.hidden()).unwrap();
                let start = i * enc.len() * d;
                prop_assert!(rel_err(&all[start..start + ids.len() * d], &one) < 1e-6);
            }
            let s = m.score(&inputs[0], &choices, &ScoreOptions::default()).unwrap();
            for (c, choice) in choices.iter().enumerate() {
                let alone = m.score(&inputs[0], &[choice], &ScoreOptions::default()).unwrap();
                prop_assert!((alone[0] - s[c]).abs() <= 1e-5 * s[c].abs().max(1.0));
            }
        }
    }
}

#[test]
fn score_batch_over_examples_matches_hf() {
    for name in ["v11_gelu_untied", "enc1_dec3", "long_distance"] {
        let f = Fixture::open(&fixtures().join(name));
        let m = f.model();
        let inputs = f.ids("inputs");
        let mut all: Vec<Vec<Vec<u32>>> = (0..inputs.len())
            .map(|i| ids_of(&f.reference["choices"][i]))
            .collect();
        // Unequal choice counts across examples.
        all[1].truncate(1);
        let refs: Vec<&[Vec<u32>]> = all.iter().map(Vec::as_slice).collect();
        let got = m
            .score_batch(&inputs, &refs, &ScoreOptions::default())
            .unwrap();
        for (i, scores) in got.iter().enumerate() {
            assert_eq!(scores.len(), all[i].len());
            for (c, &g) in scores.iter().enumerate() {
                let w = f.reference["scores"][i][c].as_f64().unwrap();
                assert!(
                    (g as f64 - w).abs() < TOL * w.abs().max(1.0),
                    "{name}: example {i} choice {c}: {g} vs HF {w}"
                );
            }
        }
    }
}

/// An F16 checkpoint computes exactly what the F32 checkpoint of the same (f16-rounded)
/// values computes: conversion at load is exact, compute is f32.
#[test]
fn f16_checkpoint_equals_f32_of_f16() {
    use t0_core::safetensors::serialize;
    use t0_core::tensor::DType;
    let f = Fixture::open(&fixtures().join("gated_silu"));
    let st = SafeTensors::parse(&f.weights).unwrap();
    let mut f16s = Vec::new();
    let mut f32s = Vec::new();
    for n in st.tensor_names() {
        let t = st.tensor(n).unwrap();
        let v = t.to_f32_vec().unwrap();
        let h: Vec<half::f16> = v.iter().map(|&x| half::f16::from_f32(x)).collect();
        f16s.push((
            n.to_string(),
            DType::F16,
            t.shape.to_vec(),
            h.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
        ));
        f32s.push((
            n.to_string(),
            DType::F32,
            t.shape.to_vec(),
            h.iter()
                .flat_map(|x| x.to_f32().to_le_bytes())
                .collect::<Vec<u8>>(),
        ));
    }
    let file = |v: &Vec<(String, DType, Vec<usize>, Vec<u8>)>| {
        let e: Vec<(&str, DType, &[usize], &[u8])> = v
            .iter()
            .map(|(n, d, s, b)| (n.as_str(), *d, s.as_slice(), b.as_slice()))
            .collect();
        serialize(&e, None)
    };
    let (a, b) = (file(&f16s), file(&f32s));
    let load = |bytes: &[u8]| {
        T5Model::load(
            TestBackend::new(),
            &SafeTensors::parse(bytes).unwrap(),
            &f.cfg,
        )
        .unwrap()
    };
    let (ma, mb) = (load(&a), load(&b));
    let ids = &f.ids("inputs")[0];
    let dec = &f.ids("decoder_ids")[0];
    let la = ma.forward_logits(ids, dec).unwrap();
    assert_eq!(la, mb.forward_logits(ids, dec).unwrap());
    // And it stays close to the f32 model's HF logits.
    assert!(rel_err(&la, &f.array("logits.0")) < 1e-2);
}

/// Splitting scoring into several decoder passes (a small logits budget) changes nothing.
#[test]
fn score_split_into_passes_matches_one_pass() {
    let f = Fixture::open(&fixtures().join("v11_gelu_untied"));
    let m = f.model();
    let inputs = f.ids("inputs");
    let all: Vec<Vec<Vec<u32>>> = (0..inputs.len())
        .map(|i| ids_of(&f.reference["choices"][i]))
        .collect();
    let refs: Vec<&[Vec<u32>]> = all.iter().map(Vec::as_slice).collect();
    let one = m
        .score_batch(&inputs, &refs, &ScoreOptions::default())
        .unwrap();
    let row = f.cfg.vocab_size * 4;
    // 1 row per pass (each choice alone), 7 rows (pairs of choices), 10 (one example).
    for rows in [1, 7, 10] {
        let opts = ScoreOptions {
            max_logits_bytes: rows * row,
            ..Default::default()
        };
        let split = m.score_batch(&inputs, &refs, &opts).unwrap();
        for (a, b) in split.iter().flatten().zip(one.iter().flatten()) {
            assert!(
                (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                "{rows}: {a} vs {b}"
            );
        }
        assert_eq!(split.iter().map(Vec::len).sum::<usize>(), 9);
    }
}
