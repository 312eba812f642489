//! Generation on a backend that keeps the trait's *default* `gather_seqs` /
//! `reorder_seqs` (what a new device backend starts with) and counts the decoder rows it
//! is asked to compute: results equal the CPU backend's (which reorders in place), the
//! defaults pass the conformance check, and finished sequences cost no more decoder work.

use std::cell::Cell;
use std::path::Path;

use t0_core::backend::conformance::{Tolerance, check_all};
use t0_core::backend::{Activation, AttentionParams, Backend, BackendError, CpuBackend};
use t0_core::config::T5Config;
use t0_core::generate::{EarlyStopping, GenerateOptions};
use t0_core::model::T5Model;
use t0_core::safetensors::SafeTensors;
use t0_core::tensor::TensorView;

type T = <CpuBackend as Backend>::Tensor;

/// CPU ops, default sequence moves, and a count of logits rows brought to the host.
struct Plain {
    cpu: CpuBackend,
    vocab: usize,
    logits_rows: Cell<usize>,
}

impl Backend for Plain {
    type Tensor = T;
    type Linear = <CpuBackend as Backend>::Linear;
    type Vector = <CpuBackend as Backend>::Vector;
    type Embedding = <CpuBackend as Backend>::Embedding;
    fn name(&self) -> &str {
        "plain"
    }
    fn prepare_linear(&self, w: &TensorView<'_>) -> Result<Self::Linear, BackendError> {
        self.cpu.prepare_linear(w)
    }
    fn prepare_vector(&self, w: &TensorView<'_>) -> Result<Self::Vector, BackendError> {
        self.cpu.prepare_vector(w)
    }
    fn prepare_embedding(&self, w: &TensorView<'_>) -> Result<Self::Embedding, BackendError> {
        self.cpu.prepare_embedding(w)
    }
    fn shape(&self, x: &T) -> [usize; 2] {
        self.cpu.shape(x)
    }
    fn zeros(&self, rows: usize, cols: usize) -> Result<T, BackendError> {
        self.cpu.zeros(rows, cols)
    }
    fn upload(&self, rows: usize, cols: usize, data: &[f32]) -> Result<T, BackendError> {
        self.cpu.upload(rows, cols, data)
    }
    fn to_host(&self, x: &T) -> Result<Vec<f32>, BackendError> {
        let [r, c] = self.cpu.shape(x);
        if c == self.vocab {
            self.logits_rows.set(self.logits_rows.get() + r);
        }
        self.cpu.to_host(x)
    }
    fn embed(&self, t: &Self::Embedding, ids: &[u32]) -> Result<T, BackendError> {
        self.cpu.embed(t, ids)
    }
    fn rms_norm(&self, x: &T, w: &Self::Vector, eps: f32) -> Result<T, BackendError> {
        self.cpu.rms_norm(x, w, eps)
    }
    fn linear(&self, x: &T, w: &Self::Linear) -> Result<T, BackendError> {
        self.cpu.linear(x, w)
    }
    fn activation(&self, g: &mut T, up: Option<&T>, a: Activation) -> Result<(), BackendError> {
        self.cpu.activation(g, up, a)
    }
    fn add_assign(&self, x: &mut T, y: &T) -> Result<(), BackendError> {
        self.cpu.add_assign(x, y)
    }
    fn scale(&self, x: &mut T, s: f32) -> Result<(), BackendError> {
        self.cpu.scale(x, s)
    }
    fn write_rows(
        &self,
        dst: &mut T,
        src: &T,
        batch: usize,
        cap: usize,
        at: usize,
    ) -> Result<(), BackendError> {
        self.cpu.write_rows(dst, src, batch, cap, at)
    }
    fn attention(
        &self,
        q: &T,
        k: &T,
        v: &T,
        p: &AttentionParams<'_, T>,
    ) -> Result<T, BackendError> {
        self.cpu.attention(q, k, v, p)
    }
    fn argmax(&self, logits: &T, suppress: Option<u32>) -> Result<Vec<u32>, BackendError> {
        self.cpu.argmax(logits, suppress)
    }
    fn log_softmax_gather(&self, logits: &T, targets: &[u32]) -> Result<Vec<f32>, BackendError> {
        self.cpu.log_softmax_gather(logits, targets)
    }
}

fn load<B: Backend>(be: B) -> T5Model<B> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/enc3_dec2");
    let mut cfg =
        T5Config::from_json(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    // The EOS the HF generate fixtures use for this model (a token it emits often).
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("../../generate/enc3_dec2.json")).unwrap(),
    )
    .unwrap();
    cfg.eos_token_id = r["eos"].as_u64().unwrap() as u32;
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    T5Model::load(be, &SafeTensors::parse(&bytes).unwrap(), &cfg).unwrap()
}

fn plain() -> Plain {
    Plain {
        cpu: CpuBackend::new(),
        vocab: 128,
        logits_rows: Cell::new(0),
    }
}

const INPUTS: [&[u32]; 4] = [
    &[11, 42, 7, 99, 5],
    &[64, 3, 20],
    &[8, 9, 10, 11, 12, 13],
    &[77],
];

#[test]
fn default_sequence_moves_conform_and_give_the_same_beams() {
    check_all(&plain(), Tolerance::F32).unwrap();
    let a = load(CpuBackend::new());
    let b = load(plain());
    for (beams, es) in [
        (2, EarlyStopping::Heuristic),
        (4, EarlyStopping::OnceComplete),
        (3, EarlyStopping::Never),
    ] {
        let o = GenerateOptions {
            max_new_tokens: 10,
            num_beams: beams,
            num_return_sequences: beams,
            early_stopping: es,
            ..Default::default()
        };
        assert_eq!(
            a.generate(&INPUTS, &o).unwrap(),
            b.generate(&INPUTS, &o).unwrap()
        );
    }
}

/// Greedy decoding with a host-side processor: the logits rows computed are exactly one
/// per generated token (a finished sequence leaves the batch at once), and every input
/// gives what it gives alone.
#[test]
fn finished_sequences_leave_the_batch() {
    let m = load(plain());
    let o = GenerateOptions {
        max_new_tokens: 12,
        repetition_penalty: 1.1,
        ..Default::default()
    };
    let out = m.generate(&INPUTS, &o).unwrap();
    let lens: Vec<usize> = out.iter().map(|g| g[0].tokens.len()).collect();
    assert!(
        lens.iter().any(|&l| l < 12) && lens.contains(&12),
        "fixture should mix early and late stops: {lens:?}"
    );
    assert_eq!(m.backend().logits_rows.get(), lens.iter().sum::<usize>());
    for (i, inp) in INPUTS.iter().enumerate() {
        assert_eq!(m.generate(&[inp], &o).unwrap()[0], out[i]);
    }
}
