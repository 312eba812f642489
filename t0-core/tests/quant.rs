//! Quantized models: accuracy against f32 on the fixture models, quantized checkpoint
//! save/load, and bad quantized files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use t0_core::backend::FastCpuBackend;
use t0_core::loader::{Checkpoint, MappedFile};
use t0_core::model::T5Model;
use t0_core::quant::accuracy::{self, ExampleSpec};
use t0_core::quant::file::{self, QuantCheckpoint, QuantFileError};
use t0_core::quant::{Islands, QuantCpuBackend, QuantScheme};
use t0_core::safetensors::serialize;
use t0_core::tensor::{DType, TensorSource};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

const SPEC: ExampleSpec = ExampleSpec {
    examples: 24,
    input_len: 12,
    choices: 4,
    choice_len: 3,
    seed: 7,
};

#[test]
fn quantized_fixture_models_stay_close_to_f32() {
    for name in [
        "v11_gelu_untied",
        "v11_gelu_untied_bf16",
        "v10_relu_tied",
        "gated_silu",
    ] {
        let ck = Checkpoint::open(&fixture(name)).unwrap();
        let f32m = T5Model::from_checkpoint(FastCpuBackend::new(), &ck).unwrap();
        let ex = accuracy::random_examples(&SPEC, ck.config().vocab_size);
        let want = accuracy::run(&f32m, &ex).unwrap();
        // Toy models (d_model 32: one q4 block per row) are far harsher on q4 than real shapes.
        for (scheme, max_err, min_agree) in
            [(QuantScheme::Int8, 0.05, 0.9), (QuantScheme::Q4, 0.35, 0.6)]
        {
            for islands in [Islands::default(), Islands::none()] {
                let be = QuantCpuBackend::quantize_at_load(
                    FastCpuBackend::new(),
                    scheme,
                    islands.clone(),
                );
                let m = T5Model::from_checkpoint(be, &ck).unwrap();
                let got = accuracy::run(&m, &ex).unwrap();
                let a = accuracy::compare(&want, &got);
                eprintln!(
                    "{name} {scheme:?} lm_head island {}: {a:?}",
                    islands.lm_head
                );
                assert!(
                    a.logits_rel_err > 0.0 && a.logits_rel_err < max_err,
                    "{name} {scheme:?}: {a:?}"
                );
                assert!(a.choice_agreement >= min_agree, "{name} {scheme:?}: {a:?}");
            }
        }
    }
}

#[test]
fn saved_quantized_checkpoint_loads_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let ck = Checkpoint::open(&fixture("v11_gelu_untied")).unwrap();
    let ex = accuracy::random_examples(&SPEC, ck.config().vocab_size);
    for scheme in [QuantScheme::Int8, QuantScheme::Q4] {
        let out = dir.path().join(scheme.as_str());
        let sum = file::quantize_dir(
            &fixture("v11_gelu_untied"),
            &out,
            scheme,
            &Islands::default(),
        )
        .unwrap();
        assert!(sum.quantized > 0 && sum.kept > 0);
        assert!(file::is_quantized(&out) && !file::is_quantized(&fixture("v11_gelu_untied")));
        let be =
            QuantCpuBackend::quantize_at_load(FastCpuBackend::new(), scheme, Islands::default());
        let at_load = accuracy::run(&T5Model::from_checkpoint(be, &ck).unwrap(), &ex).unwrap();
        let loaded = QuantCheckpoint::load_model(&out, FastCpuBackend::new()).unwrap();
        assert_eq!(accuracy::run(&loaded, &ex).unwrap(), at_load);
        let qc = QuantCheckpoint::open(&out).unwrap();
        assert_eq!(qc.scheme(), scheme);
        assert!((qc.file_bytes() as u64) < ck.data_bytes());
    }
}

type Tensors = Vec<(String, DType, Vec<usize>, Vec<u8>)>;
type Meta = BTreeMap<String, String>;

/// Rewrites `src`'s quantized file into `dst` after `edit` changes its tensors/metadata.
fn rewrite(src: &Path, dst: &Path, edit: impl FnOnce(&mut Tensors, &mut Meta)) {
    let f = MappedFile::open(&src.join("model.safetensors")).unwrap();
    let mut meta = f.header().metadata.clone();
    let mut ts: Tensors = f
        .tensor_names()
        .into_iter()
        .map(|n| {
            let v = f.tensor(n).unwrap();
            (n.to_string(), v.dtype, v.shape.to_vec(), v.data.to_vec())
        })
        .collect();
    edit(&mut ts, &mut meta);
    let refs: Vec<(&str, DType, &[usize], &[u8])> = ts
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), *d, s.as_slice(), b.as_slice()))
        .collect();
    std::fs::create_dir_all(dst).unwrap();
    std::fs::write(dst.join("model.safetensors"), serialize(&refs, Some(&meta))).unwrap();
    std::fs::copy(src.join("config.json"), dst.join("config.json")).unwrap();
}

#[test]
fn bad_quantized_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let q4 = dir.path().join("q4");
    file::quantize_dir(
        &fixture("v11_gelu_untied"),
        &q4,
        QuantScheme::Q4,
        &Islands::default(),
    )
    .unwrap();
    let t = "decoder.block.0.layer.0.SelfAttention.q.weight";
    let key = format!("t0.quant.tensor.{t}");
    let case = |n: &str, edit: &dyn Fn(&mut Tensors, &mut Meta)| {
        let d = dir.path().join(n);
        rewrite(&q4, &d, |a, b| edit(a, b));
        let e = QuantCheckpoint::load_model(&d, FastCpuBackend::new())
            .err()
            .expect(n);
        eprintln!("{n}: {e}");
        e
    };
    let e = case("version", &|_, m| {
        m.insert("t0.quant.format".into(), "2".into());
    });
    assert!(matches!(e, QuantFileError::Version { ref found } if found == "2"));
    let e = case("block", &|_, m| {
        m.insert("t0.quant.block_size".into(), "64".into());
    });
    assert!(matches!(e, QuantFileError::BlockSize { block: 64, .. }));
    let e = case("tensor_block", &|_, m| {
        m.insert(key.clone(), "q4 16 32 32".into());
    });
    assert!(matches!(e, QuantFileError::BlockSize { block: 16, ref tensor } if tensor == t));
    let e = case("scale_shape", &|ts, _| {
        let s = ts
            .iter_mut()
            .find(|x| x.0 == format!("{t}.qscale"))
            .unwrap();
        s.2 = vec![16, 2];
    });
    assert!(
        matches!(e, QuantFileError::TensorShape { ref tensor, .. } if tensor.ends_with(".qscale")),
        "{e:?}"
    );
    let e = case("scale_missing", &|ts, _| {
        ts.retain(|x| x.0 != format!("{t}.qscale"))
    });
    assert!(matches!(e, QuantFileError::TensorShape { ref got, .. } if got == "nothing"));
    let e = case("shape_contradiction", &|_, m| {
        m.insert(key.clone(), "q4 32 32 64".into());
    });
    assert!(matches!(e, QuantFileError::TensorShape { ref tensor, .. } if tensor == t));
    let e = case("scheme_mix", &|_, m| {
        m.insert(key.clone(), "int8 32 32".into());
    });
    assert!(matches!(e, QuantFileError::Metadata { .. }));
    let e = case("undescribed", &|_, m| {
        m.remove(&key);
    });
    assert!(matches!(e, QuantFileError::Metadata { ref reason, .. } if reason.contains(t)));
    let e = case("malformed", &|_, m| {
        m.insert(key.clone(), "q4 32 x 32".into());
    });
    assert!(matches!(e, QuantFileError::Metadata { .. }));
    let e = case("plain", &|_, m| {
        m.clear();
    });
    assert!(matches!(e, QuantFileError::NotQuantized { .. }));
    // A float checkpoint opened as quantized, and a quantized one through the float loader.
    assert!(matches!(
        QuantCheckpoint::open(&fixture("v11_gelu_untied")),
        Err(QuantFileError::NotQuantized { .. })
    ));
    assert!(Checkpoint::open(&q4).is_err());
    let qc = QuantCheckpoint::open(&q4).unwrap();
    assert!(qc.tensor_names().iter().all(|n| !n.ends_with(".qscale")));
}
