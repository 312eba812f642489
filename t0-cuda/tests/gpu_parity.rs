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

use std::path::PathBuf;

use serde_json::Value;
use t0_core::backend::{Backend, CpuBackend};
use t0_core::config::T5Config;
use t0_core::generate::GenerateOptions;
use t0_core::model::T5Model;
use t0_core::safetensors::SafeTensors;
use t0_core::score::ScoreOptions;
use t0_cuda::CudaBackend;

const TOL: f64 = 3e-2;
const MARGIN: f32 = 0.25;

fn fixtures() -> Option<PathBuf> {
    let p = std::env::var_os("T0_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../t0-core/tests/fixtures/models"
            ))
        });
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: fixture models not found at {}", p.display());
        None
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

fn rel_err(a: &[f32], b: &[f32]) -> f64 {
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

fn margin_at(m: &T5Model<CpuBackend>, input: &[u32], prefix: &[u32], vocab: usize) -> f32 {
    let mut dec = vec![m.config().decoder_start_token_id];
    dec.extend_from_slice(prefix);
    let logits = m.forward_logits(input, &dec).unwrap();
    let last = &logits[(dec.len() - 1) * vocab..dec.len() * vocab];
    let mut s = last.to_vec();
    s.sort_by(|a, b| b.partial_cmp(a).unwrap());
    s[0] - s[1]
}

#[test]
fn cuda_backend_matches_cpu_backend_on_fixture_models() {
    let dev = match t0_cuda::CudaDevice::new(0) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let Some(dir) = fixtures() else { return };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.json").exists())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty());
    let (mut seqs, mut same, mut accepted) = (0usize, 0usize, 0usize);
    for d in dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        let cfg =
            T5Config::from_json(&std::fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
        let bytes = std::fs::read(d.join("model.safetensors")).unwrap();
        let reference: Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("reference.json")).unwrap())
                .unwrap();
        let st = SafeTensors::parse(&bytes).unwrap();
        let cpu = T5Model::load(CpuBackend::new(), &st, &cfg).unwrap();
        let gpu = T5Model::load(CudaBackend::on(dev.clone()), &st, &cfg).unwrap();
        let inputs = ids_of(&reference["inputs"]);
        let decs = ids_of(&reference["decoder_ids"]);
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
            let choices = ids_of(&reference["choices"][i]);
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
            if a == b {
                same += 1;
                continue;
            }
            let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
            let m = margin_at(&cpu, &inputs[i], &b[..p], cfg.vocab_size);
            eprintln!(
                "{name}: greedy input {i} diverges at step {p}: gpu {a:?} cpu {b:?}; cpu top-2 margin there {m:.4}"
            );
            assert!(
                m < MARGIN,
                "{name}: input {i}: divergence at a clear margin {m}"
            );
            accepted += 1;
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
    let dev = match t0_cuda::CudaDevice::new(0) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    let be = CudaBackend::on(dev);
    let tol = t0_core::backend::conformance::Tolerance {
        abs: 5e-2,
        rel: 2e-2,
    };
    if let Err(f) = t0_core::backend::conformance::check_all(&be, tol) {
        panic!("conformance: {f}");
    }
}
