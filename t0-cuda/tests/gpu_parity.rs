//! GPU parity: the same generic model code (`t0_core::model::T5Model`) on [`CudaBackend`] vs
//! on the f32 `CpuBackend`, on every fixture model of t0-core. Skips without a device.
//!
//! Tolerances (bf16 weights and bf16 GEMM/attention operands, f32 accumulation, f32
//! softmax/norms): encoder states and logits ‖gpu − cpu‖/‖cpu‖ ≤ 3e-2; choice scores
//! |gpu − cpu| ≤ 3e-2·max(1, |cpu|). Greedy sequences must be identical, except that a
//! divergence is accepted where the CPU's top-2 logit margin at that step is below 0.25
//! (bf16 rounding can flip such a near-tie); every divergence is printed.
//!
//! Fixtures: `$T0_FIXTURES` or `t0-core/tests/fixtures/models` beside this crate.

use t0_core::backend::Backend;
use t0_core::generate::GenerateOptions;
use t0_core::model::T5Model;
use t0_core::score::ScoreOptions;
use t0_cuda::CudaBackend;

mod common;
use common::{TOL, check_greedy, fixture_models, rel_err};

#[test]
fn cuda_backend_matches_cpu_backend_on_fixture_models() {
    let Some(dev) = common::device() else { return };
    let Some(fixtures) = fixture_models() else {
        return;
    };
    let (mut seqs, mut same, mut accepted) = (0usize, 0usize, 0usize);
    for fx in &fixtures {
        let (name, cfg, reference) = (&fx.name, &fx.cfg, &fx.reference);
        let st = fx.tensors();
        let cpu = fx.cpu_model();
        let gpu = T5Model::load(CudaBackend::on(dev.clone()), &st, cfg).unwrap();
        let inputs = fx.ids("inputs");
        let decs = fx.ids("decoder_ids");
        let (mut we, mut wl, mut ws) = (0f64, 0f64, 0f64);
        // Encoder states, padded batch.
        let ec = cpu.encode(&inputs).unwrap();
        let eg = gpu.encode(&inputs).unwrap();
        let hc = cpu.backend().to_host(ec.hidden()).unwrap();
        let hg = gpu.backend().to_host(eg.hidden()).unwrap();
        // Only the unpadded rows matter.
        let dm = cfg.d_model;
        for (i, ids) in inputs.iter().enumerate() {
            let s = i * ec.len() * dm;
            let e = rel_err(&hg[s..s + ids.len() * dm], &hc[s..s + ids.len() * dm]);
            assert!(e <= TOL, "{name}: encoder input {i}: rel err {e:e}");
            we = we.max(e);
        }
        assert!(
            hg.iter().all(|v| v.is_finite()),
            "{name}: non-finite encoder state (padding?)"
        );
        for (i, ids) in inputs.iter().enumerate() {
            let lc = cpu.forward_logits(ids, &decs[i]).unwrap();
            let lg = gpu.forward_logits(ids, &decs[i]).unwrap();
            let e = rel_err(&lg, &lc);
            assert!(e <= TOL, "{name}: logits of input {i}: rel err {e:e}");
            wl = wl.max(e);
            let choices = common::ids_of(&reference["choices"][i]);
            let sc = cpu.score(ids, &choices, &ScoreOptions::default()).unwrap();
            let sg = gpu.score(ids, &choices, &ScoreOptions::default()).unwrap();
            for (c, (&g, &w)) in sg.iter().zip(&sc).enumerate() {
                let e = ((g - w) as f64).abs() / (w as f64).abs().max(1.0);
                assert!(e <= TOL, "{name}: input {i} choice {c}: gpu {g} cpu {w}");
                ws = ws.max(e);
            }
        }
        let opts = GenerateOptions {
            max_new_tokens: reference["max_new_tokens"].as_u64().unwrap() as usize,
            min_new_tokens: 0,
            ..Default::default()
        };
        let gc = cpu.generate_greedy(&inputs, &opts).unwrap();
        let gg = gpu.generate_greedy(&inputs, &opts).unwrap();
        for (i, (a, b)) in gg.iter().zip(&gc).enumerate() {
            seqs += 1;
            if check_greedy(&cpu, &format!("{name}: input {i}"), &inputs[i], a, b) {
                accepted += 1;
            } else {
                same += 1;
            }
        }
        eprintln!("parity-gpu {name:24} encoder {we:.2e} logits {wl:.2e} scores {ws:.2e}");
    }
    eprintln!(
        "greedy: {same}/{seqs} sequences identical, {accepted} near-tie divergences accepted"
    );
}

/// t0-core's backend conformance suite (f64 oracle, odd shapes, F32/BF16/F16 weights) on the
/// CUDA backend. Tolerance for bf16 weights and operands: |got − want| ≤ 5e-2 + 2e-2·|want|.
#[test]
fn cuda_backend_passes_the_conformance_suite() {
    let Some(dev) = common::device() else { return };
    let be = CudaBackend::on(dev);
    let tol = t0_core::backend::conformance::Tolerance {
        abs: 5e-2,
        rel: 2e-2,
    };
    if let Err(f) = t0_core::backend::conformance::check_all(&be, tol) {
        panic!("conformance: {f}");
    }
}
