//! Parity with HF transformers 4.46.3 (PyTorch, f32) on the tiny random models made by
//! `scripts/make_fixtures.py`: encoder states, decoder logits, greedy sequences and choice
//! scores, for every variant (v1.0 relu tied, v1.1 gated-gelu untied, gated-silu,
//! heads × d_kv ≠ d_model, unequal depths both ways, distances beyond
//! `relative_attention_max_distance`, a bf16 checkpoint, a 4128-token vocabulary).

use t0_core::backend::CpuBackend as TestBackend;

include!("common/parity_body.rs");
