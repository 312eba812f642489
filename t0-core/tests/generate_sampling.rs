//! Sampling properties (seeded determinism, top-k/top-p exclusions checked against the
//! processed distribution, temperature → 0 equals greedy, a chi-square test of sampled
//! frequencies against the softmax), streaming, and bad options — on the tiny fixture
//! models of `scripts/make_fixtures.py`.

use std::path::{Path, PathBuf};

use t0_core::backend::{Backend, CpuBackend};
use t0_core::config::T5Config;
use t0_core::generate::stream::TextStreamer;
use t0_core::generate::{EarlyStopping, GenerateError, GenerateOptions, Warpers};
use t0_core::model::{ModelError, T5Model};
use t0_core::safetensors::SafeTensors;
use t0_core::tensor::{TensorSource, TensorView};
use t0_core::tokenizer::Tokenizer;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

fn config(name: &str) -> T5Config {
    T5Config::from_json(&std::fs::read_to_string(dir(name).join("config.json")).unwrap()).unwrap()
}

fn model(name: &str) -> T5Model<CpuBackend> {
    let bytes = std::fs::read(dir(name).join("model.safetensors")).unwrap();
    let st = SafeTensors::parse(&bytes).unwrap();
    T5Model::load(CpuBackend::new(), &st, &config(name)).unwrap()
}

const A: [u32; 5] = [11, 42, 7, 99, 5];
const B: [u32; 3] = [64, 3, 20];
const C: [u32; 8] = [8, 9, 10, 11, 12, 13, 14, 15];

fn sampling(seed: u64) -> GenerateOptions {
    GenerateOptions {
        max_new_tokens: 12,
        do_sample: true,
        top_k: 0,
        seed,
        ..Default::default()
    }
}

fn tokens(out: &[Vec<t0_core::generate::Generation>]) -> Vec<Vec<u32>> {
    out.iter().flatten().map(|g| g.tokens.clone()).collect()
}

#[test]
fn same_seed_same_samples_whatever_the_rest_of_the_batch() {
    let m = model("v11_gelu_untied");
    let mut o = sampling(7);
    o.num_return_sequences = 3;
    let x = tokens(&m.generate(&[&A[..], &B[..]], &o).unwrap());
    let y = tokens(&m.generate(&[&A[..], &B[..]], &o).unwrap());
    assert_eq!(x, y, "same seed, same output");
    // Input 0's samples do not depend on what input 1 is (nor on when it finishes).
    let z = tokens(&m.generate(&[&A[..], &C[..]], &o).unwrap());
    assert_eq!(x[..3], z[..3]);
    // The three samples of one input differ from each other, and other seeds differ.
    assert!(x[0] != x[1] || x[1] != x[2]);
    let others: Vec<_> = (8..12)
        .map(|s| tokens(&m.generate(&[&A[..], &B[..]], &sampling(s)).unwrap()))
        .collect();
    assert!(others.iter().any(|o| o[0] != x[0]));
}

#[test]
fn temperature_near_zero_is_greedy() {
    let m = model("v11_gelu_untied");
    let inputs = [&A[..], &B[..], &C[..]];
    let greedy = m
        .generate(
            &inputs,
            &GenerateOptions {
                max_new_tokens: 12,
                ..Default::default()
            },
        )
        .unwrap();
    for seed in 0..3 {
        let o = GenerateOptions {
            temperature: 1e-5,
            ..sampling(seed)
        };
        assert_eq!(tokens(&m.generate(&inputs, &o).unwrap()), tokens(&greedy));
    }
}

/// Every sampled token is inside the top-k / top-p set of the distribution it was drawn
/// from, recomputed by teacher forcing. (Teacher-forced logits can differ from the cached
/// ones in the last bits, so the check allows 1e-4 at the boundary.)
#[test]
fn top_k_and_top_p_never_emit_an_excluded_token() {
    let m = model("t5style_4k");
    let vocab = m.config().vocab_size;
    for (top_k, top_p, temperature) in [(5, 1.0, 1.0), (0, 0.6, 1.0), (20, 0.9, 2.0), (3, 0.5, 0.7)]
    {
        let mut kept_sizes = Vec::new();
        for seed in 0..4 {
            let o = GenerateOptions {
                max_new_tokens: 10,
                do_sample: true,
                top_k,
                top_p,
                temperature,
                seed,
                num_return_sequences: 2,
                ..Default::default()
            };
            for g in m.generate(&[&A[..]], &o).unwrap().into_iter().flatten() {
                let mut dec = vec![0u32];
                dec.extend_from_slice(&g.tokens);
                let logits = m.forward_logits(&A, &dec[..g.tokens.len()]).unwrap();
                for (i, &t) in g.tokens.iter().enumerate() {
                    let mut row = logits[i * vocab..(i + 1) * vocab].to_vec();
                    // Slightly looser warpers (a superset of the true kept set).
                    let w = Warpers {
                        temperature,
                        top_k: 0,
                        top_p: (top_p + 1e-4).min(1.0),
                    };
                    row.iter_mut().for_each(|x| *x /= temperature);
                    if top_k > 0 {
                        let mut sorted = row.clone();
                        sorted.sort_by(|a, b| b.total_cmp(a));
                        let thr = sorted[top_k - 1] - 1e-4;
                        row.iter_mut()
                            .filter(|x| **x < thr)
                            .for_each(|x| *x = f32::NEG_INFINITY);
                    }
                    let w = Warpers {
                        temperature: 1.0,
                        ..w
                    };
                    w.apply(&mut row, &mut Vec::new());
                    assert!(
                        row[t as usize].is_finite(),
                        "top_k {top_k} top_p {top_p}: step {i} emitted excluded token {t}"
                    );
                    kept_sizes.push(row.iter().filter(|x| x.is_finite()).count());
                }
            }
        }
        // The check has teeth: most of the vocabulary was excluded.
        assert!(kept_sizes.iter().all(|&k| k < vocab / 2), "{kept_sizes:?}");
    }
}

/// Chi-square goodness of fit of 4000 first tokens (one seed, so deterministic) against
/// the softmax of the top-8 logits: below the 0.999 quantile of χ²(7), 24.32; tokens
/// outside the top 8 never appear.
#[test]
fn sampled_frequencies_follow_the_softmax() {
    let m = model("v11_gelu_untied");
    let n = 4000;
    let o = GenerateOptions {
        max_new_tokens: 1,
        do_sample: true,
        top_k: 8,
        temperature: 3.0,
        seed: 2024,
        num_return_sequences: n,
        ..Default::default()
    };
    let out = m.generate(&[&A[..]], &o).unwrap();
    let mut row = m.forward_logits(&A, &[0]).unwrap();
    Warpers {
        temperature: 3.0,
        top_k: 8,
        top_p: 1.0,
    }
    .apply(&mut row, &mut Vec::new());
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let z: f64 = row.iter().map(|&x| ((x - max) as f64).exp()).sum();
    let mut counts = vec![0usize; row.len()];
    for g in &out[0] {
        counts[g.tokens[0] as usize] += 1;
    }
    let mut chi2 = 0.0;
    let mut bins = 0;
    for (t, &x) in row.iter().enumerate() {
        if x.is_finite() {
            let e = ((x - max) as f64).exp() / z * n as f64;
            chi2 += (counts[t] as f64 - e).powi(2) / e;
            bins += 1;
        } else {
            assert_eq!(counts[t], 0, "token {t} is outside the top 8");
        }
    }
    assert_eq!(bins, 8);
    assert!(chi2 < 24.32, "chi2 {chi2} over 8 bins");
}

#[test]
fn streaming_text_equals_the_decoded_output() {
    let tok = Tokenizer::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer/t5style-4k.model"),
    )
    .unwrap();
    let m = model("t5style_4k");
    let input = tok.encode("A question about streaming?", true);
    for o in [
        GenerateOptions {
            max_new_tokens: 16,
            ..Default::default()
        },
        GenerateOptions {
            max_new_tokens: 16,
            num_return_sequences: 2,
            ..sampling(3)
        },
    ] {
        let n = o.num_return_sequences;
        let mut s = TextStreamer::new(&tok, 1, n);
        let mut pieces: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut ids: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut cb = |i: usize, r: usize, id: u32| {
            assert_eq!(i, 0);
            ids[r].push(id);
            pieces[r].push(s.push(i, r, id));
        };
        let out = m.generate_with(&[&input], &o, Some(&mut cb)).unwrap();
        for r in 0..n {
            pieces[r].push(s.finish(0, r));
            assert_eq!(
                ids[r], out[0][r].tokens,
                "callback saw every token in order"
            );
            let text: String = pieces[r].concat();
            assert_eq!(text, tok.decode(&out[0][r].tokens));
            let first = pieces[r].iter().find(|p| !p.is_empty());
            assert!(first.is_none_or(|p| !p.starts_with(char::is_whitespace)));
        }
    }
    let beam = GenerateOptions {
        num_beams: 2,
        ..Default::default()
    };
    let mut cb = |_: usize, _: usize, _: u32| {};
    assert!(matches!(
        m.generate_with(&[&input], &beam, Some(&mut cb)),
        Err(GenerateError::InvalidOption {
            option: "stream",
            ..
        })
    ));
}

fn bad(m: &T5Model<CpuBackend>, o: GenerateOptions) -> GenerateError {
    m.generate(&[&A[..]], &o).unwrap_err()
}

#[test]
fn bad_options_are_typed_errors() {
    let m = model("v11_gelu_untied");
    let opt = |e: GenerateError| match e {
        GenerateError::InvalidOption { option, .. } => option,
        e => panic!("unexpected {e:?}"),
    };
    let d = GenerateOptions::default;
    assert_eq!(
        opt(bad(
            &m,
            GenerateOptions {
                num_beams: 0,
                ..d()
            }
        )),
        "num_beams"
    );
    for p in [0.0, -0.5, 1.5, f32::NAN] {
        assert_eq!(opt(bad(&m, GenerateOptions { top_p: p, ..d() })), "top_p");
    }
    for t in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let o = GenerateOptions {
            temperature: t,
            ..sampling(0)
        };
        assert_eq!(opt(bad(&m, o)), "temperature");
    }
    // Temperature is ignored without sampling (as HF does).
    assert!(
        m.generate(
            &[&A[..]],
            &GenerateOptions {
                temperature: 0.0,
                max_new_tokens: 2,
                ..d()
            }
        )
        .is_ok()
    );
    let o = GenerateOptions {
        min_new_tokens: 9,
        max_new_tokens: 8,
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "min_new_tokens");
    let o = GenerateOptions {
        num_beams: 2,
        num_return_sequences: 3,
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "num_return_sequences");
    let o = GenerateOptions {
        num_return_sequences: 2,
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "num_return_sequences");
    let o = GenerateOptions {
        num_return_sequences: 0,
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "num_return_sequences");
    let o = GenerateOptions {
        repetition_penalty: 0.0,
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "repetition_penalty");
    let o = GenerateOptions {
        length_penalty: f64::NAN,
        num_beams: 2,
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "length_penalty");
    let o = GenerateOptions {
        bad_words_ids: vec![vec![]],
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "bad_words_ids");
    let o = GenerateOptions {
        bad_words_ids: vec![vec![100_000]],
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "bad_words_ids");
    assert_eq!(
        bad(
            &m,
            GenerateOptions {
                constraints: Some(vec![]),
                ..d()
            }
        ),
        GenerateError::EmptyConstraints
    );
    assert_eq!(
        bad(
            &m,
            GenerateOptions {
                constraints: Some(vec![vec![5], vec![]]),
                ..d()
            }
        ),
        GenerateError::EmptyConstraint { index: 1 }
    );
    let o = GenerateOptions {
        constraints: Some(vec![vec![100_000]]),
        ..d()
    };
    assert_eq!(opt(bad(&m, o)), "constraints");
    // Limits and ids are the model's errors.
    let o = GenerateOptions {
        max_new_tokens: 100_000,
        ..d()
    };
    assert!(matches!(
        bad(&m, o),
        GenerateError::Model(ModelError::TargetTooLong { .. })
    ));
    assert!(matches!(
        m.generate(&[[100_000u32]], &d()),
        Err(GenerateError::Model(ModelError::TokenOutOfRange { .. }))
    ));
    // Constraints that only allow EOS while min_new_tokens bans it: no token is left.
    let eos = m.config().eos_token_id;
    let o = GenerateOptions {
        constraints: Some(vec![vec![eos]]),
        min_new_tokens: 1,
        ..d()
    };
    assert!(matches!(
        bad(&m, o),
        GenerateError::NoAllowedToken { step: 0, input: 0 }
    ));
    // Errors display their option.
    let e = bad(&m, GenerateOptions { top_p: 2.0, ..d() });
    assert!(e.to_string().contains("top_p"));
}

/// A checkpoint whose `lm_head` is NaN.
struct NanHead<'a> {
    st: &'a SafeTensors<'a>,
    nan: Vec<u8>,
}

impl TensorSource for NanHead<'_> {
    fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        let mut v = self.st.tensor(name)?;
        if name == "lm_head.weight" {
            v.data = &self.nan[..v.data.len()];
        }
        Some(v)
    }
    fn tensor_names(&self) -> Vec<&str> {
        self.st.tensor_names()
    }
}

#[test]
fn nan_logits_are_an_error_not_a_token() {
    let bytes = std::fs::read(dir("v11_gelu_untied").join("model.safetensors")).unwrap();
    let st = SafeTensors::parse(&bytes).unwrap();
    let n = st.tensor("lm_head.weight").unwrap().data.len();
    let nan: Vec<u8> = f32::NAN.to_le_bytes().into_iter().cycle().take(n).collect();
    let src = NanHead { st: &st, nan };
    let m = T5Model::load(CpuBackend::new(), &src, &config("v11_gelu_untied")).unwrap();
    let logits = m.forward_logits(&A, &[0]).unwrap();
    assert!(logits.iter().all(|x| x.is_nan()));
    for o in [
        GenerateOptions {
            num_beams: 2,
            ..Default::default()
        },
        sampling(0),
        GenerateOptions {
            repetition_penalty: 1.2,
            ..Default::default()
        },
        // Plain greedy: arg-max on the backend, NaN found through log_softmax_gather.
        GenerateOptions::default(),
    ] {
        assert!(matches!(
            m.generate(&[&A[..], &B[..]], &o),
            Err(GenerateError::NonFiniteLogits { step: 0, input: 0 })
        ));
    }
    let _ = m.backend().name();
}

/// Beam sampling (HF `do_sample` with `num_beams > 1`): reproducible by seed, independent
/// of the rest of the batch, and at temperature → 0 it is beam search (the candidates
/// drawn without replacement are then the best ones, in order).
#[test]
fn beam_sampling_is_seeded_and_tends_to_beam_search() {
    let m = model("t5style_4k");
    let inputs = [&A[..], &B[..], &C[..]];
    let o = GenerateOptions {
        max_new_tokens: 10,
        do_sample: true,
        num_beams: 3,
        num_return_sequences: 2,
        top_k: 0,
        seed: 11,
        ..Default::default()
    };
    let x = m.generate(&inputs, &o).unwrap();
    assert_eq!(x, m.generate(&inputs, &o).unwrap());
    let y = m.generate(&[&A[..], &C[..]], &o).unwrap();
    assert_eq!(x[0], y[0]);
    for g in x.iter().flatten() {
        assert!(g.score.unwrap().is_finite());
    }
    let seeds: Vec<_> = (0..4)
        .map(|s| {
            tokens(
                &m.generate(
                    &inputs,
                    &GenerateOptions {
                        seed: s,
                        ..o.clone()
                    },
                )
                .unwrap(),
            )
        })
        .collect();
    assert!(seeds.iter().any(|t| *t != tokens(&x)));
    for es in [EarlyStopping::Heuristic, EarlyStopping::Never] {
        let beam = GenerateOptions {
            do_sample: false,
            early_stopping: es,
            ..o.clone()
        };
        let cold = GenerateOptions {
            temperature: 1e-5,
            early_stopping: es,
            ..o.clone()
        };
        assert_eq!(
            tokens(&m.generate(&inputs, &cold).unwrap()),
            tokens(&m.generate(&inputs, &beam).unwrap())
        );
    }
}
