//! A first timing of workloads W1 and W2 (see ../shared/docs/benchmarks.md) with the simple
//! f32 reference backend, on a random checkpoint of the base shape. The benchmarks crate
//! measures the fast backends properly; this shows where the reference stands.
//!
//! ```text
//! cargo run --release -p t0-core --example reference_workloads -- DIR [REPS]
//! ```
//! DIR receives a random base-shape checkpoint (1 GB, F32) on first use.

use std::path::Path;
use std::time::Instant;

use t0_core::backend::{Backend, CpuBackend};
use t0_core::config::T5Config;
use t0_core::loader::Checkpoint;
use t0_core::model::T5Model;
use t0_core::random::write_random_checkpoint;
use t0_core::score::ScoreOptions;
use t0_core::tensor::DType;

/// Token ids uniform in [100, 32000) from a fixed seed.
fn ids(n: usize, seed: &mut u64) -> Vec<u32> {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            100 + ((*seed >> 33) % 31_900) as u32
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: reference_workloads DIR [REPS]")?;
    let reps: usize = args.next().map_or(Ok(1), |s| s.parse())?;
    let dir = Path::new(&dir);
    let cfg = T5Config::t0_base();
    if !dir.join("model.safetensors").exists() {
        write_random_checkpoint(dir, &cfg, 7, DType::F32)?;
    }
    let t = Instant::now();
    let model = T5Model::from_checkpoint(CpuBackend::new(), &Checkpoint::open(dir)?)?;
    eprintln!("load {:.2} s", t.elapsed().as_secs_f64());
    let mut seed = 42u64;
    for _ in 0..reps {
        // W1: batch 1, 128 input tokens, exactly 32 greedy tokens (EOS banned).
        let input = ids(128, &mut seed);
        let t = Instant::now();
        let enc = model.encode(&[&input])?;
        let enc_ms = t.elapsed().as_secs_f64() * 1e3;
        let mut cache = model.new_cache(1, 32)?;
        let mut cur = vec![cfg.decoder_start_token_id];
        let t = Instant::now();
        for _ in 0..32 {
            let logits = model.decode_logits(&enc, &cur, 1, Some(&mut cache))?;
            cur = model.backend().argmax(&logits, Some(cfg.eos_token_id))?;
        }
        let dec_ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "W1 total {:.0} ms, encoder {enc_ms:.0} ms, decode {:.1} ms/token",
            enc_ms + dec_ms,
            dec_ms / 32.0
        );
        // W2: 1 input of 256 tokens, 4 choices of 4 tokens, summed log-likelihoods.
        let input = ids(256, &mut seed);
        let choices: Vec<Vec<u32>> = (0..4).map(|_| ids(4, &mut seed)).collect();
        let t = Instant::now();
        let scores = model.score(&input, &choices, &ScoreOptions::default())?;
        println!(
            "W2 {:.0} ms/example {scores:?}",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
