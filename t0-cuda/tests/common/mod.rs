//! Helpers shared by the GPU tests that compare a CUDA path with the f32 CPU backend on
//! t0-core's fixture models (`$T0_FIXTURES` or `t0-core/tests/fixtures/models`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use t0_core::backend::CpuBackend;
use t0_core::config::T5Config;
use t0_core::model::T5Model;
use t0_core::safetensors::SafeTensors;
use t0_cuda::CudaDevice;

/// Relative tolerance for bf16 weights and operands (encoder states, logits, scores).
pub const TOL: f64 = 3e-2;
/// A greedy divergence is accepted where the CPU's top-2 logit margin is below this.
pub const MARGIN: f32 = 0.25;

/// Device 0, or `None` (skip reason printed) where there is none.
pub fn device() -> Option<Arc<CudaDevice>> {
    match CudaDevice::new(0) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// One fixture model: its name, config, HF reference numbers and safetensors bytes.
pub struct Fixture {
    /// Directory name.
    pub name: String,
    /// `config.json`.
    pub cfg: T5Config,
    /// `reference.json` (inputs, decoder ids, choices, HF results).
    pub reference: Value,
    bytes: Vec<u8>,
}

impl Fixture {
    /// The weights.
    pub fn tensors(&self) -> SafeTensors<'_> {
        SafeTensors::parse(&self.bytes).unwrap()
    }

    /// The model on the f32 reference CPU backend.
    pub fn cpu_model(&self) -> T5Model<CpuBackend> {
        T5Model::load(CpuBackend::new(), &self.tensors(), &self.cfg).unwrap()
    }

    /// `reference[key]` as lists of token ids.
    pub fn ids(&self, key: &str) -> Vec<Vec<u32>> {
        ids_of(&self.reference[key])
    }
}

/// Every fixture model, sorted by name (at least one), or `None` (skip reason printed)
/// where the fixture directory is missing.
pub fn fixture_models() -> Option<Vec<Fixture>> {
    let dir = std::env::var_os("T0_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../t0-core/tests/fixtures/models"
            ))
        });
    if !dir.is_dir() {
        eprintln!("skipped: fixture models not found at {}", dir.display());
        return None;
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.json").exists())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no fixture models in {}", dir.display());
    let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
    Some(
        dirs.into_iter()
            .map(|d| Fixture {
                name: d.file_name().unwrap().to_string_lossy().into_owned(),
                cfg: T5Config::from_json(&read(d.join("config.json"))).unwrap(),
                reference: serde_json::from_str(&read(d.join("reference.json"))).unwrap(),
                bytes: std::fs::read(d.join("model.safetensors")).unwrap(),
            })
            .collect(),
    )
}

/// A JSON list of token-id lists.
pub fn ids_of(v: &Value) -> Vec<Vec<u32>> {
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

/// ‖a − b‖ / ‖b‖ (infinite when `a` has a non-finite value).
pub fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    if a.iter().any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    let num: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| ((x - y) as f64).powi(2))
        .sum();
    let den: f64 = b.iter().map(|&y| (y as f64).powi(2)).sum();
    (num / den.max(1e-30)).sqrt()
}

/// The CPU's top-2 logit margin for the token after decoder `prefix`.
pub fn margin_at(m: &T5Model<CpuBackend>, input: &[u32], prefix: &[u32]) -> f32 {
    let vocab = m.config().vocab_size;
    let mut dec = vec![m.config().decoder_start_token_id];
    dec.extend_from_slice(prefix);
    let logits = m.forward_logits(input, &dec).unwrap();
    let mut last = logits[(dec.len() - 1) * vocab..dec.len() * vocab].to_vec();
    last.sort_by(|a, b| b.partial_cmp(a).unwrap());
    last[0] - last[1]
}

/// Asserts a GPU greedy sequence `got` equals the CPU's `want`, or diverges from it only at
/// a near-tie (CPU top-2 margin below [`MARGIN`] at the first differing step; printed).
/// Returns whether the sequences differ.
pub fn check_greedy(
    cpu: &T5Model<CpuBackend>,
    what: &str,
    input: &[u32],
    got: &[u32],
    want: &[u32],
) -> bool {
    if got == want {
        return false;
    }
    let p = got.iter().zip(want).take_while(|(x, y)| x == y).count();
    let m = margin_at(cpu, input, &want[..p]);
    eprintln!("{what}: greedy diverges at step {p}: gpu {got:?} cpu {want:?}; cpu margin {m:.4}");
    assert!(m < MARGIN, "{what}: divergence at a clear margin {m}");
    true
}
