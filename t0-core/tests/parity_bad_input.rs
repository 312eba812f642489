//! Bad input gives typed errors, never panics: ids out of range, empty inputs, over-long
//! inputs (error, or truncation when asked), empty choice lists and choices, and
//! checkpoints whose tensors contradict their config.

use std::path::Path;

use t0_core::backend::{BackendError, CpuBackend};
use t0_core::config::T5Config;
use t0_core::generate::GenerateOptions;
use t0_core::model::{InputLimits, ModelError, T5Model};
use t0_core::safetensors::{SafeTensors, serialize};
use t0_core::score::ScoreOptions;
use t0_core::tensor::{DType, TensorSource};

fn dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

fn read(name: &str) -> (T5Config, Vec<u8>) {
    let d = dir(name);
    let cfg =
        T5Config::from_json(&std::fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
    (cfg, std::fs::read(d.join("model.safetensors")).unwrap())
}

fn load(cfg: &T5Config, bytes: &[u8]) -> Result<T5Model<CpuBackend>, ModelError> {
    let st = SafeTensors::parse(bytes).unwrap();
    T5Model::load(CpuBackend::new(), &st, cfg)
}

fn model() -> T5Model<CpuBackend> {
    let (cfg, bytes) = read("v11_gelu_untied");
    load(&cfg, &bytes).unwrap()
}

#[test]
fn token_ids_beyond_vocab() {
    let m = model();
    let v = m.config().vocab_size as u32;
    let want = ModelError::TokenOutOfRange {
        id: v,
        vocab_size: v as usize,
    };
    assert_eq!(m.encode(&[[5, v]]).err(), Some(want.clone()));
    assert_eq!(
        m.generate_greedy(&[[v]], &GenerateOptions::default()).err(),
        Some(want.clone())
    );
    assert_eq!(
        m.score(&[5], &[[v, 1]], &ScoreOptions::default()).err(),
        Some(want.clone())
    );
    assert_eq!(m.forward_logits(&[5], &[0, v]).err(), Some(want));
    assert!(
        m.encode(&[[u32::MAX]])
            .err()
            .unwrap()
            .to_string()
            .contains("4294967295")
    );
}

#[test]
fn empty_inputs() {
    let m = model();
    let none: [&[u32]; 0] = [];
    assert_eq!(m.encode(&none).err(), Some(ModelError::EmptyBatch));
    assert_eq!(
        m.encode(&[&[5u32][..], &[][..]]).err(),
        Some(ModelError::EmptyInput { index: 1 })
    );
    assert_eq!(
        m.score(&[], &[[7, 1]], &ScoreOptions::default()).err(),
        Some(ModelError::EmptyInput { index: 0 })
    );
    assert_eq!(
        m.forward_logits(&[5], &[]).err(),
        Some(ModelError::EmptyDecoderInput)
    );
}

#[test]
fn choices_empty_or_with_an_empty_choice() {
    let m = model();
    let none: [&[u32]; 0] = [];
    assert_eq!(
        m.score(&[5, 6], &none, &ScoreOptions::default()).err(),
        Some(ModelError::NoChoices)
    );
    assert_eq!(
        m.score(
            &[5, 6],
            &[&[7u32, 1][..], &[][..]],
            &ScoreOptions::default()
        )
        .err(),
        Some(ModelError::EmptyChoice { index: 1 })
    );
    let choices: [&[[u32; 2]]; 1] = [&[[7, 1]]];
    assert!(matches!(
        m.score_batch(&[[5u32], [6]], &choices, &ScoreOptions::default()),
        Err(ModelError::InvalidOption {
            option: "choices",
            ..
        })
    ));
    let none: [&[[u32; 2]]; 1] = [&[]];
    assert_eq!(
        m.score_batch(&[[5u32]], &none, &ScoreOptions::default())
            .err(),
        Some(ModelError::NoChoices)
    );
}

#[test]
fn overlong_input_is_an_error_or_truncated_when_asked() {
    let mut m = model();
    m.set_limits(InputLimits {
        max_input_tokens: 4,
        max_target_tokens: 3,
        truncate: false,
    });
    let long = [5u32, 6, 7, 8, 9];
    assert_eq!(
        m.encode(&[long]).err(),
        Some(ModelError::InputTooLong { len: 5, max: 4 })
    );
    assert_eq!(
        m.score(&[5], &[[7, 8, 9, 1]], &ScoreOptions::default())
            .err(),
        Some(ModelError::TargetTooLong { len: 4, max: 3 })
    );
    assert_eq!(
        m.forward_logits(&[5], &[0, 1, 2, 3]).err(),
        Some(ModelError::TargetTooLong { len: 4, max: 3 })
    );
    let opts = GenerateOptions {
        max_new_tokens: 4,
        min_new_tokens: 0,
    };
    assert_eq!(
        m.generate_greedy(&[[5]], &opts).err(),
        Some(ModelError::TargetTooLong { len: 4, max: 3 })
    );
    m.set_limits(InputLimits {
        max_input_tokens: 4,
        max_target_tokens: 3,
        truncate: true,
    });
    let a = m.backend_hidden(&long);
    let b = m.backend_hidden(&long[..4]);
    assert_eq!(a, b, "truncation keeps the first tokens");
    // A truncated choice keeps its final EOS (as HF tokenizers do).
    let eos = m.config().eos_token_id;
    let s = m
        .score(&[5], &[[7, 8, 9, eos]], &ScoreOptions::default())
        .unwrap();
    let t = m
        .score(&[5], &[[7, 8, eos]], &ScoreOptions::default())
        .unwrap();
    assert_eq!(s, t);
}

#[test]
fn t_zero_truncation_limits() {
    let m = model();
    let eos = m.config().eos_token_id;
    let input: Vec<u32> = (0..1100).map(|i| 3 + (i % 50)).collect();
    let mut choice: Vec<u32> = (0..300).map(|i| 3 + (i % 40)).collect();
    choice.push(eos);
    // Without truncation the default limits reject both.
    assert!(matches!(
        m.score(&input, &[&choice], &ScoreOptions::default()),
        Err(ModelError::InputTooLong { len: 1100, .. })
    ));
    let got = m
        .score(&input, &[&choice], &ScoreOptions::t_zero())
        .unwrap();
    let mut short = choice[..255].to_vec();
    short.push(eos);
    let want = m
        .score(&input[..1024], &[&short], &ScoreOptions::default())
        .unwrap();
    assert_eq!(got, want);
}

#[test]
fn bad_generate_options() {
    let m = model();
    let opts = GenerateOptions {
        max_new_tokens: 2,
        min_new_tokens: 3,
    };
    assert!(matches!(
        m.generate_greedy(&[[5]], &opts),
        Err(ModelError::InvalidOption {
            option: "min_new_tokens",
            ..
        })
    ));
    let zero = GenerateOptions {
        max_new_tokens: 0,
        min_new_tokens: 0,
    };
    assert_eq!(
        m.generate_greedy(&[[5]], &zero).unwrap(),
        vec![Vec::<u32>::new()]
    );
}

#[test]
fn checkpoint_contradicting_config() {
    let (cfg, bytes) = read("v11_gelu_untied");
    // A wrong dimension names the first tensor it breaks.
    let mut c = cfg.clone();
    c.d_ff += 1;
    match load(&c, &bytes).err() {
        Some(ModelError::TensorShape {
            name,
            expected,
            got,
        }) => {
            assert!(name.contains("DenseReluDense.wi_0"), "{name}");
            assert_eq!(expected, vec![cfg.d_ff + 1, cfg.d_model]);
            assert_eq!(got, vec![cfg.d_ff, cfg.d_model]);
        }
        other => panic!("{other:?}"),
    }
    // Fewer layers in the config than in the checkpoint.
    let mut c = cfg.clone();
    c.num_layers -= 1;
    assert!(matches!(
        load(&c, &bytes).err(),
        Some(ModelError::UnexpectedTensor { name }) if name.starts_with("encoder.block.1.")
    ));
    // More layers in the config than in the checkpoint.
    let mut c = cfg.clone();
    c.num_decoder_layers += 1;
    assert_eq!(
        load(&c, &bytes).err(),
        Some(ModelError::MissingTensor {
            name: "decoder.block.2.layer.0.layer_norm.weight".into()
        })
    );
    // Wrong activation family.
    let mut c = cfg.clone();
    c.feed_forward_proj = t0_core::FeedForwardProj::Relu;
    assert!(matches!(
        load(&c, &bytes).err(),
        Some(ModelError::MissingTensor { name }) if name.ends_with("DenseReluDense.wi.weight")
    ));
    // A tied checkpoint whose config says untied lacks lm_head.
    let (tied_cfg, tied) = read("v10_relu_tied");
    let mut c = tied_cfg.clone();
    c.tie_word_embeddings = false;
    let e = load(&c, &tied).err().unwrap();
    assert_eq!(
        e,
        ModelError::MissingTensor {
            name: "lm_head.weight".into()
        }
    );
    assert!(e.to_string().contains("lm_head.weight"));
    // A wrong vocabulary.
    let mut c = cfg.clone();
    c.vocab_size += 1;
    assert!(matches!(
        load(&c, &bytes).err(),
        Some(ModelError::TensorShape { name, .. }) if name == "shared.weight"
    ));
}

#[test]
fn integer_weight_is_rejected_by_name() {
    let (cfg, bytes) = read("v11_gelu_untied");
    let st = SafeTensors::parse(&bytes).unwrap();
    let target = "encoder.block.0.layer.0.SelfAttention.q.weight";
    let names = st.tensor_names();
    let mut owned: Vec<(String, DType, Vec<usize>, Vec<u8>)> = Vec::new();
    for n in names {
        let t = st.tensor(n).unwrap();
        if n == target {
            let numel = t.numel();
            owned.push((n.to_string(), DType::I8, t.shape.to_vec(), vec![1u8; numel]));
        } else {
            owned.push((n.to_string(), t.dtype, t.shape.to_vec(), t.data.to_vec()));
        }
    }
    let entries: Vec<(&str, DType, &[usize], &[u8])> = owned
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), *d, s.as_slice(), b.as_slice()))
        .collect();
    let file = serialize(&entries, None);
    assert_eq!(
        load(&cfg, &file).err(),
        Some(ModelError::Backend(BackendError::UnsupportedDtype {
            tensor: target.into(),
            dtype: DType::I8
        }))
    );
}

trait Hidden {
    fn backend_hidden(&self, ids: &[u32]) -> Vec<f32>;
}

impl Hidden for T5Model<CpuBackend> {
    fn backend_hidden(&self, ids: &[u32]) -> Vec<f32> {
        use t0_core::backend::Backend;
        let enc = self.encode(&[ids]).unwrap();
        self.backend().to_host(enc.hidden()).unwrap()
    }
}
