//! Workloads W1–W4 of `docs/benchmarks.md` on random-weight T0-shaped checkpoints made by our
//! own code, run on [`FastCpuBackend`], with floors from this machine's measured FMA peak and
//! read bandwidth.
//!
//! - **W1** generate: 1 × 128 input tokens, greedy, exactly 32 new tokens (EOS ignored):
//!   encoder ms, mean decode ms per token, total ms.
//! - **W2** rank classification: 1 input of 256 tokens, 4 choices of 4 tokens (summed
//!   log-likelihood): ms per example.
//! - **W3** encoder throughput: 8 × 256 tokens: tokens/s.
//! - **W4** batched generation: 8 × 128 input tokens, 32 new tokens each: generated tokens/s.
//!
//! Floors: a decode step must read the decoder's weights once (self-attention, cross-attention
//! q/o, feed-forward, lm_head; cross-attention K/V are computed once per input), so its floor
//! is `max(bytes / read bandwidth, FLOPs / FMA peak)`; encoder work is `FLOPs / FMA peak`
//! (projections + attention, and the decoder's cross K/V projections, which `encode` also
//! computes). Ratios are measured time / floor time (≥ 1; 1 is the hardware limit).

use std::path::Path;
use std::time::Instant;

use t0_core::T5Config;
use t0_core::backend::{Backend, FastCpuBackend};
use t0_core::loader::Checkpoint;
use t0_core::model::T5Model;
use t0_core::score::ScoreOptions;
use t0_core::tensor::DType;
use t0_kernels::WeightType;

use crate::{Gate, Stamp, token_ids};

/// Exactly this many new tokens in W1 and W4.
pub const NEW_TOKENS: usize = 32;

/// The machine's limits used for floors.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// FMA peak, GFLOP/s.
    pub gflops: f64,
    /// Streaming read bandwidth, GB/s.
    pub gbps: f64,
}

/// The work of a row, from which its floor follows for given [`Limits`]:
/// `enc_flops / peak + steps * max(step_bytes / bandwidth, step_flops / peak)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Work {
    /// Compute-bound FLOPs (encoder).
    pub enc_flops: f64,
    /// Decode steps.
    pub steps: f64,
    /// Weight bytes read per step.
    pub step_bytes: f64,
    /// FLOPs per step.
    pub step_flops: f64,
}

impl Work {
    /// Floor time in seconds.
    pub fn floor_secs(&self, lim: Limits) -> f64 {
        self.enc_flops / (lim.gflops * 1e9)
            + self.steps
                * (self.step_bytes / (lim.gbps * 1e9)).max(self.step_flops / (lim.gflops * 1e9))
    }
}

/// One line of the result table.
#[derive(Debug, Clone)]
pub struct Row {
    /// `W1 encoder`, `W3 tokens/s`…
    pub what: String,
    /// `f32` / `bf16`.
    pub precision: &'static str,
    /// Measured seconds (wall).
    pub secs: f64,
    /// Measured CPU-normalised seconds (CPU time of all threads / threads).
    pub cpu: f64,
    /// What the floor is made of.
    pub work: Work,
    /// Throughput rows: items per run (tokens); `None`: report milliseconds.
    pub items: Option<f64>,
    /// Kept / tried repetitions.
    pub reps: String,
}

impl Row {
    /// (measured wall, measured CPU-normalised, floor, unit, wall ratio, CPU ratio); ratios
    /// are measured time / floor time.
    pub fn show(&self, lim: Limits) -> (f64, f64, f64, &'static str, f64, f64) {
        let f = self.work.floor_secs(lim);
        let (rw, rc) = (self.secs / f, self.cpu / f);
        match self.items {
            Some(n) => (n / self.secs, n / self.cpu, n / f, "tok/s", rw, rc),
            None => (self.secs * 1e3, self.cpu * 1e3, f * 1e3, "ms", rw, rc),
        }
    }
}

/// Writes a random f32 checkpoint of `cfg` (seed 0) into `dir` unless one is there.
pub fn ensure_checkpoint(dir: &Path, cfg: &T5Config) -> Result<(), String> {
    if dir.join("model.safetensors").exists() && dir.join("config.json").exists() {
        return Ok(());
    }
    eprintln!("writing random checkpoint to {} ...", dir.display());
    t0_core::random::write_random_checkpoint(dir, cfg, 0, DType::F32)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Loads the checkpoint in `dir` on the fast backend, linear weights stored as `wt`.
pub fn load(dir: &Path, wt: WeightType) -> Result<T5Model<FastCpuBackend>, String> {
    let ck = Checkpoint::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cfg = ck.config().clone();
    let be = FastCpuBackend::new().with_weight_type(Some(wt));
    T5Model::load(be, &ck, &cfg).map_err(|e| format!("{}: {e}", dir.display()))
}

fn nff(cfg: &T5Config) -> f64 {
    if cfg.feed_forward_proj.is_gated() {
        3.0
    } else {
        2.0
    }
}

/// FLOPs of `encode` for `batch` sequences of `len` tokens (encoder + cross K/V).
pub fn encode_flops(cfg: &T5Config, batch: usize, len: usize) -> f64 {
    let (d, inner, ff) = (
        cfg.d_model as f64,
        (cfg.num_heads * cfg.d_kv) as f64,
        cfg.d_ff as f64,
    );
    let tokens = (batch * len) as f64;
    let per_layer = 2.0 * (4.0 * d * inner + nff(cfg) * d * ff) + 4.0 * len as f64 * inner;
    tokens * (cfg.num_layers as f64 * per_layer + cfg.num_decoder_layers as f64 * 4.0 * d * inner)
}

/// Decoder parameters read per decode step (self-attention, cross q/o, FFN, lm_head).
pub fn decode_params(cfg: &T5Config) -> f64 {
    let (d, inner, ff) = (
        cfg.d_model as f64,
        (cfg.num_heads * cfg.d_kv) as f64,
        cfg.d_ff as f64,
    );
    cfg.num_decoder_layers as f64 * (6.0 * d * inner + nff(cfg) * d * ff)
        + (cfg.vocab_size as f64) * d
}

fn decode_work(cfg: &T5Config, rows: usize, bytes_per_w: f64, steps: f64) -> Work {
    let p = decode_params(cfg);
    Work {
        enc_flops: 0.0,
        steps,
        step_bytes: p * bytes_per_w,
        step_flops: 2.0 * p * rows as f64,
    }
}

/// [encoder wall, decode wall, encoder CPU-normalised, decode CPU-normalised] seconds.
fn greedy(model: &T5Model<FastCpuBackend>, inputs: &[Vec<u32>]) -> Result<[f64; 4], String> {
    let e = |x: t0_core::model::ModelError| x.to_string();
    let t0 = Stamp::now();
    let enc = model.encode(inputs).map_err(e)?;
    let (ew, ec) = t0.elapsed();
    let t1 = Stamp::now();
    let b = inputs.len();
    let mut cache = model.new_cache(b, NEW_TOKENS).map_err(e)?;
    let mut cur = vec![model.config().decoder_start_token_id; b];
    for _ in 0..NEW_TOKENS {
        let logits = model
            .decode_logits(&enc, &cur, b, Some(&mut cache))
            .map_err(e)?;
        cur = model
            .backend()
            .argmax(&logits, None)
            .map_err(|x| x.to_string())?;
    }
    let (dw, dc) = t1.elapsed();
    Ok([ew, dw, ec, dc])
}

/// Which workloads to run.
#[derive(Debug, Clone, Copy)]
pub struct Selection {
    /// W1.
    pub w1: bool,
    /// W2.
    pub w2: bool,
    /// W3.
    pub w3: bool,
    /// W4.
    pub w4: bool,
}

/// Runs the selected workloads on `model`; `precision` labels the rows.
pub fn run(
    model: &T5Model<FastCpuBackend>,
    precision: &'static str,
    sel: Selection,
    gate: &Gate,
    reps: usize,
) -> Result<Vec<Row>, String> {
    let cfg = model.config().clone();
    let bw = if precision == "f32" { 4.0 } else { 2.0 };
    let mut rows = Vec::new();
    let tries = reps * 3;
    let mut push = |what: &str, t: [f64; 2], work: Work, items: Option<f64>, reps: String| {
        let (secs, cpu) = (t[0], t[1]);
        rows.push(Row {
            what: what.into(),
            precision,
            secs,
            cpu,
            work,
            items,
            reps,
        });
    };
    let mut err = None;
    if sel.w1 {
        let inp = vec![token_ids(1, 128)];
        greedy(model, &inp)?; // warm-up
        let (p, k, t) = gate.time_parts(reps, tries, || {
            greedy(model, &inp).unwrap_or_else(|e| {
                err = Some(e);
                [f64::NAN; 4]
            })
        });
        let enc = Work {
            enc_flops: encode_flops(&cfg, 1, 128),
            ..Work::default()
        };
        let dec = decode_work(&cfg, 1, bw, 1.0);
        let total = Work {
            enc_flops: enc.enc_flops,
            steps: NEW_TOKENS as f64,
            ..dec
        };
        let r = format!("{k}/{t}");
        push("W1 encoder (128 tok)", [p[0], p[2]], enc, None, r.clone());
        push(
            "W1 decode per token",
            [p[1] / NEW_TOKENS as f64, p[3] / NEW_TOKENS as f64],
            dec,
            None,
            r.clone(),
        );
        push("W1 total", [p[0] + p[1], p[2] + p[3]], total, None, r);
    }
    if sel.w2 {
        let input = token_ids(2, 256);
        let choices: Vec<Vec<u32>> = (0..4).map(|c| token_ids(10 + c, 4)).collect();
        let opts = ScoreOptions::t_zero();
        let mut f = || {
            let t = Stamp::now();
            if let Err(e) = model.score(&input, &choices, &opts) {
                err = Some(e.to_string());
            }
            let (w, c) = t.elapsed();
            [w, c]
        };
        f();
        let (p, k, t) = gate.time_parts(reps, tries, f);
        let work = Work {
            enc_flops: encode_flops(&cfg, 1, 256),
            ..decode_work(&cfg, 20, bw, 1.0)
        };
        push("W2 rank 1x256, 4x4", p, work, None, format!("{k}/{t}"));
    }
    if sel.w3 {
        let inputs: Vec<Vec<u32>> = (0..8).map(|b| token_ids(20 + b, 256)).collect();
        let mut f = || {
            let t = Stamp::now();
            if let Err(e) = model.encode(&inputs) {
                err = Some(e.to_string());
            }
            let (w, c) = t.elapsed();
            [w, c]
        };
        f();
        let (p, k, t) = gate.time_parts(reps, tries, f);
        let work = Work {
            enc_flops: encode_flops(&cfg, 8, 256),
            ..Work::default()
        };
        push(
            "W3 encoder 8x256",
            p,
            work,
            Some(2048.0),
            format!("{k}/{t}"),
        );
    }
    if sel.w4 {
        let inputs: Vec<Vec<u32>> = (0..8).map(|b| token_ids(40 + b, 128)).collect();
        greedy(model, &inputs)?;
        let (p, k, t) = gate.time_parts(reps, tries, || {
            greedy(model, &inputs).unwrap_or_else(|e| {
                err = Some(e);
                [f64::NAN; 4]
            })
        });
        let work = Work {
            enc_flops: encode_flops(&cfg, 8, 128),
            ..decode_work(&cfg, 8, bw, NEW_TOKENS as f64)
        };
        let n = (8 * NEW_TOKENS) as f64;
        push(
            "W4 batch 8 generation",
            [p[0] + p[1], p[2] + p[3]],
            work,
            Some(n),
            format!("{k}/{t}"),
        );
    }
    match err {
        Some(e) => Err(e),
        None => Ok(rows),
    }
}

/// Prints rows as a table, floors from `lim`.
pub fn print_table(title: &str, rows: &[Row], lim: Limits) {
    println!("{title}");
    println!(
        "{:<22} {:>4} | {:>9} {:>9} {:>9} {:>5} | {:>7} {:>6} | {:>5}",
        "workload", "prec", "wall", "cpu-norm", "floor", "unit", "wall/fl", "cpu/fl", "reps"
    );
    for r in rows {
        let (w, c, f, unit, rw, rc) = r.show(lim);
        println!(
            "{:<22} {:>4} | {:>9.2} {:>9.2} {:>9.2} {:>5} | {:>6.2}x {:>5.2}x | {:>5}",
            r.what, r.precision, w, c, f, unit, rw, rc, r.reps
        );
    }
}

/// Usage of the workload driver (the `workloads` binary and `t0 bench`).
pub const USAGE: &str = "usage: workloads [--shape base|3b]... [--precision f32|bf16]... \
[--w 1,2,3,4] [--reps N] [--dir DIR]
  --shape      model shape (default: base); repeatable
  --precision  weight precision (default: f32 and bf16); repeatable
  --w          workloads to run (default: 1,2,3,4 for base, 1 for 3b)
  --reps       gated repetitions per workload (default 3)
  --dir        where random checkpoints live (default target/t0-bench-models); each shape
               gets DIR/<shape>, written once (3b f32: 11.4 GB)
  --prepare    only write the checkpoints";

/// Parses `args` (without the program name), measures the machine, runs and prints.
pub fn cli(args: &[String]) -> Result<(), String> {
    let mut shapes: Vec<String> = Vec::new();
    let mut precs: Vec<String> = Vec::new();
    let mut ws: Option<Vec<u32>> = None;
    let mut reps = 3usize;
    let mut dir = std::path::PathBuf::from("target/t0-bench-models");
    let mut prepare_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--shape" => shapes.push(val()?),
            "--precision" => precs.push(val()?),
            "--w" => {
                let v = val()?;
                let parsed: Result<Vec<u32>, _> = v.split(',').map(|s| s.trim().parse()).collect();
                ws = Some(parsed.map_err(|_| format!("bad --w {v}\n{USAGE}"))?);
            }
            "--reps" => reps = val()?.parse().map_err(|_| format!("bad --reps\n{USAGE}"))?,
            "--dir" => dir = val()?.into(),
            "--prepare" => prepare_only = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    if shapes.is_empty() {
        shapes.push("base".into());
    }
    if precs.is_empty() {
        precs = vec!["f32".into(), "bf16".into()];
    }
    if prepare_only {
        for shape in &shapes {
            let cfg = match shape.as_str() {
                "base" => T5Config::t0_base(),
                "3b" => T5Config::t0_3b(),
                s => return Err(format!("unknown shape {s} (base, 3b)")),
            };
            ensure_checkpoint(&dir.join(shape), &cfg)?;
        }
        return Ok(());
    }
    let threads = rayon::current_num_threads();
    println!(
        "t0 workloads on FastCpuBackend ({}), {threads} threads",
        t0_kernels::Isa::best().name()
    );
    let gate = Gate::calibrate(20, 30.0, 0.8);
    let gbps0 = crate::dram_read_gbps(512, 5);
    println!(
        "start (CPU-normalised): FMA probe {:.0} GFLOP/s, DRAM read {gbps0:.1} GB/s; reps kept when FMA probes \
         before and after read >= 80% of the 3rd-best probe so far",
        gate.peak_gflops()
    );
    let mut tables = Vec::new();
    for shape in &shapes {
        let cfg = match shape.as_str() {
            "base" => T5Config::t0_base(),
            "3b" => T5Config::t0_3b(),
            s => return Err(format!("unknown shape {s} (base, 3b)")),
        };
        let w = ws.clone().unwrap_or_else(|| {
            if shape == "base" {
                vec![1, 2, 3, 4]
            } else {
                vec![1]
            }
        });
        let sel = Selection {
            w1: w.contains(&1),
            w2: w.contains(&2),
            w3: w.contains(&3),
            w4: w.contains(&4),
        };
        let d = dir.join(shape);
        ensure_checkpoint(&d, &cfg)?;
        let mut rows = Vec::new();
        for p in &precs {
            let (wt, label) = match p.as_str() {
                "f32" => (WeightType::F32, "f32"),
                "bf16" => (WeightType::Bf16, "bf16"),
                "f16" => (WeightType::F16, "f16"),
                s => return Err(format!("unknown precision {s} (f32, bf16, f16)")),
            };
            let t = Instant::now();
            let model = load(&d, wt)?;
            eprintln!(
                "loaded {shape} as {label} in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            rows.extend(run(&model, label, sel, &gate, reps)?);
        }
        tables.push((format!("shape {shape} ({})", d.display()), rows));
    }
    let gbps1 = crate::dram_read_gbps(512, 5);
    let lim = Limits {
        gflops: gate.peak_gflops(),
        gbps: gbps0.max(gbps1),
    };
    println!(
        "floors use the run's CPU-normalised readings: FMA peak {:.0} GFLOP/s (3rd-best probe), \
         DRAM read {:.1} GB/s (best). wall = elapsed time; cpu-norm = CPU time of all threads / \
         threads (the wall time the process would see with both cores to itself)",
        lim.gflops, lim.gbps
    );
    for (title, rows) in &tables {
        println!();
        print_table(title, rows, lim);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_params_match_docs() {
        // docs/benchmarks.md: decoder weights per token incl. cross K/V: base 0.135 B, 3b
        // 1.63 B; ours exclude cross K/V (computed once per input).
        let b = T5Config::t0_base();
        let with_kv = decode_params(&b) + 12.0 * 2.0 * 768.0 * 768.0;
        assert!((with_kv / 1e9 - 0.138).abs() < 0.005, "{with_kv}");
        let c = T5Config::t0_3b();
        let with_kv = decode_params(&c) + 24.0 * 2.0 * 2048.0 * 2048.0;
        assert!((with_kv / 1e9 - 1.63).abs() < 0.02, "{with_kv}");
    }

    #[test]
    fn tiny_model_runs_every_workload() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = T5Config::t0_base();
        cfg.d_model = 64;
        cfg.d_ff = 128;
        cfg.num_heads = 4;
        cfg.d_kv = 16;
        cfg.num_layers = 2;
        cfg.num_decoder_layers = 2;
        ensure_checkpoint(dir.path(), &cfg).unwrap();
        let m = load(dir.path(), WeightType::Bf16).unwrap();
        let gate = Gate {
            probe_ms: 0.1,
            ..Gate::calibrate(1, 0.2, 0.0)
        };
        let lim = Limits {
            gflops: 100.0,
            gbps: 10.0,
        };
        let sel = Selection {
            w1: true,
            w2: true,
            w3: true,
            w4: true,
        };
        let rows = run(&m, "bf16", sel, &gate, 1).unwrap();
        assert_eq!(rows.len(), 6);
        for r in &rows {
            let (w, c, f, _, rw, rc) = r.show(lim);
            assert!(
                w > 0.0 && c > 0.0 && f > 0.0 && rw > 0.0 && rc > 0.0,
                "{r:?}"
            );
        }
        print_table("tiny", &rows, lim);
    }
}
