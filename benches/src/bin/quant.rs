//! Quantized-weight memory/speed benchmark (issue 10): opens one model in one format per
//! process and reports peak RSS (VmHWM), W1 (1 × 128 in, 32 greedy tokens: encoder ms,
//! decode ms/token) and W2 (1 × 256, 4 choices × 4 tokens) beside the byte floor of the
//! format (decoder bytes read per token / measured DRAM read bandwidth). Timings are gated
//! by FMA probes as `docs/benchmarks.md` asks.
//!
//! ```text
//! quant write DIR base|3b f32|bf16         # random checkpoint (streamed)
//! quant run DIR f32|bf16|int8|q4 [REPS]    # DIR: float checkpoint, or a quantized one
//! quant accuracy DIR [EXAMPLES]            # accuracy table vs f32 (quantize at load)
//! ```

use std::path::Path;
use std::time::Instant;

use t0_benches::{Gate, Stamp, token_ids};
use t0_core::T5Config;
use t0_core::backend::{Backend, FastCpuBackend};
use t0_core::loader::Checkpoint;
use t0_core::model::T5Model;
use t0_core::quant::accuracy::{self, ExampleSpec};
use t0_core::quant::file::{QuantCheckpoint, is_quantized};
use t0_core::quant::{Islands, QuantCpuBackend, QuantScheme};
use t0_core::score::ScoreOptions;
use t0_core::tensor::DType;
use t0_kernels::WeightType;

fn vm_hwm_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn w1<B: Backend>(m: &T5Model<B>, inp: &[Vec<u32>]) -> [f64; 2] {
    let t = Stamp::now();
    let enc = m.encode(inp).unwrap();
    let e = t.elapsed().0;
    let t = Stamp::now();
    let mut cache = m.new_cache(1, 32).unwrap();
    let mut cur = vec![0u32];
    for _ in 0..32 {
        let l = m.decode_logits(&enc, &cur, 1, Some(&mut cache)).unwrap();
        cur = m.backend().argmax(&l, None).unwrap();
    }
    [e, t.elapsed().0 / 32.0]
}

fn bench<B: Backend>(m: &T5Model<B>, label: &str, dec_bytes: f64, reps: usize, load_s: f64) {
    let gate = Gate::calibrate(3, 30.0, 0.8);
    let mut buf = vec![1f32; 1 << 27]; // 512 MiB, far beyond L3
    buf[7] = 2.0;
    let gbps = t0_kernels::probe::read_gbps(&buf);
    drop(buf);
    let inp = vec![token_ids(1, 128)];
    w1(m, &inp);
    let (p, k, t) = gate.time_parts(reps, reps * 3, || w1(m, &inp));
    let input = token_ids(2, 256);
    let choices: Vec<Vec<u32>> = (0..4).map(|c| token_ids(10 + c, 4)).collect();
    let opts = ScoreOptions::t_zero();
    let (q, k2, t2) = gate.time_parts(reps, reps * 3, || {
        let s = Instant::now();
        m.score(&input, &choices, &opts).unwrap();
        [s.elapsed().as_secs_f64()]
    });
    let floor = dec_bytes / (gbps * 1e9);
    println!(
        "| {label} | {:.2} | {:.0} | {:.1} | {:.1} | {:.1} ({:.2}x) | {:.0} | {:.0} | {gbps:.1} | {:.0} | {k}/{t}, {k2}/{t2} |",
        dec_bytes / 1e9,
        vm_hwm_mb(),
        load_s,
        p[0] * 1e3,
        p[1] * 1e3,
        p[1] / floor,
        floor * 1e3,
        q[0] * 1e3,
        gate.peak_gflops()
    );
}

/// A checkpoint whose attention `q` weights are multiplied by `q_scale` (held in memory).
///
/// Our random generator draws every matrix with std `1/sqrt(fan_in)`; HF's
/// `T5PreTrainedModel._init_weights` draws `q` with std `(d_model · d_kv)^-1/2`, i.e.
/// `1/sqrt(d_kv)` smaller. Without that factor the unscaled T5 attention logits have std
/// ≈ `sqrt(d_kv)` = 8 and the random model is chaotic (bf16 rounding alone flips most
/// rank choices), which measures chaos rather than quantization.
struct HfQ<'a> {
    inner: &'a Checkpoint,
    q_scale: f32,
    scaled: std::collections::BTreeMap<String, (Vec<usize>, Vec<u8>)>,
}

impl<'a> HfQ<'a> {
    fn new(inner: &'a Checkpoint, q_scale: f32) -> Self {
        use t0_core::tensor::TensorSource;
        let mut scaled = std::collections::BTreeMap::new();
        if q_scale != 1.0 {
            for n in inner.tensor_names() {
                if n.ends_with(".q.weight") {
                    let v = inner.tensor(n).unwrap();
                    let b: Vec<u8> = v
                        .to_f32_vec()
                        .unwrap()
                        .iter()
                        .flat_map(|x| (x * q_scale).to_le_bytes())
                        .collect();
                    scaled.insert(n.to_string(), (v.shape.to_vec(), b));
                }
            }
        }
        HfQ {
            inner,
            q_scale,
            scaled,
        }
    }
}

impl t0_core::tensor::TensorSource for HfQ<'_> {
    fn tensor(&self, name: &str) -> Option<t0_core::tensor::TensorView<'_>> {
        match self.scaled.get_key_value(name) {
            Some((k, (shape, data))) => Some(t0_core::tensor::TensorView {
                name: k,
                dtype: DType::F32,
                shape,
                data,
            }),
            None => self.inner.tensor(name),
        }
    }
    fn tensor_names(&self) -> Vec<&str> {
        self.inner.tensor_names()
    }
}

/// Decoder bytes per token of a loaded model (weights read by one decode step).
fn decode_bytes(cfg: &T5Config, per_weight: f64, lm_head_bytes: f64) -> f64 {
    let (d, inner, ff) = (
        cfg.d_model as f64,
        (cfg.num_heads * cfg.d_kv) as f64,
        cfg.d_ff as f64,
    );
    let nff = if cfg.feed_forward_proj.is_gated() {
        3.0
    } else {
        2.0
    };
    cfg.num_decoder_layers as f64 * (6.0 * d * inner + nff * d * ff) * per_weight
        + cfg.vocab_size as f64 * d * lm_head_bytes
}

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let get = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    match get(0) {
        "write" => {
            let cfg = if get(2) == "3b" {
                T5Config::t0_3b()
            } else {
                T5Config::t0_base()
            };
            let dt = if get(3) == "f32" {
                DType::F32
            } else {
                DType::BF16
            };
            let t = Instant::now();
            t0_core::random::write_random_checkpoint(Path::new(get(1)), &cfg, 0, dt).unwrap();
            eprintln!("written in {:.1} s", t.elapsed().as_secs_f64());
        }
        "run" => {
            let dir = Path::new(get(1));
            let reps: usize = get(3).parse().unwrap_or(3);
            let t = Instant::now();
            if is_quantized(dir) {
                let f32act = std::env::var_os("QUANT_F32ACT").is_some();
                let ck = QuantCheckpoint::open(dir).unwrap();
                let be = ck
                    .backend(FastCpuBackend::new())
                    .with_f32_activations(f32act);
                let m = T5Model::load(be, &*ck, ck.config()).unwrap();
                let load = t.elapsed().as_secs_f64();
                let cfg = m.config().clone();
                let pw = match ck.scheme() {
                    QuantScheme::Int8 => 1.0,
                    _ => 0.5 + 2.0 / 32.0,
                };
                // lm_head island in the source dtype (bf16 here).
                let label = format!(
                    "{}{} (lm_head bf16), file {:.2} GB",
                    ck.scheme().as_str(),
                    if f32act { " f32-act" } else { "" },
                    ck.file_bytes() as f64 / 1e9
                );
                drop(ck);
                bench(&m, &label, decode_bytes(&cfg, pw, 2.0), reps, load);
            } else {
                let ck = Checkpoint::open(dir).unwrap();
                let (wt, b) = match get(2) {
                    "f32" => (WeightType::F32, 4.0),
                    _ => (WeightType::Bf16, 2.0),
                };
                let m = T5Model::load(
                    FastCpuBackend::new().with_weight_type(Some(wt)),
                    &ck,
                    ck.config(),
                )
                .unwrap();
                let load = t.elapsed().as_secs_f64();
                let cfg = m.config().clone();
                drop(ck);
                bench(&m, get(2), decode_bytes(&cfg, b, b), reps, load);
            }
        }
        "accuracy" => {
            let raw = Checkpoint::open(Path::new(get(1))).unwrap();
            // `hf-q`: attention q scaled by d_kv^-1/2, HF's T5 initialisation (see HfQ).
            let hf = get(3) == "hf-q";
            let ck = HfQ::new(
                &raw,
                if hf {
                    1.0 / (raw.config().d_kv as f32).sqrt()
                } else {
                    1.0
                },
            );
            println!(
                "model {} ({}), q scale {}",
                get(1),
                if hf { "HF-init q" } else { "generator init" },
                ck.q_scale
            );
            let n: usize = get(2).parse().unwrap_or(200);
            let spec = ExampleSpec {
                examples: n,
                input_len: 32,
                choices: 4,
                choice_len: 4,
                seed: 1,
            };
            let ex = accuracy::random_examples(&spec, raw.config().vocab_size);
            let only_f32act = get(4) == "f32act";
            let f32m = T5Model::load(
                FastCpuBackend::new().with_weight_type(Some(WeightType::F32)),
                &ck,
                raw.config(),
            )
            .unwrap();
            let want = accuracy::run(&f32m, &ex).unwrap();
            drop(f32m);
            if only_f32act {
                for (name, islands) in [("none", Islands::none()), ("lm_head", Islands::default())]
                {
                    let be = QuantCpuBackend::quantize_at_load(
                        FastCpuBackend::new(),
                        QuantScheme::Int8,
                        islands,
                    )
                    .with_f32_activations(true);
                    let m = T5Model::load(be, &ck, raw.config()).unwrap();
                    let r = accuracy::compare(&want, &accuracy::run(&m, &ex).unwrap());
                    println!(
                        "| int8, f32 activations | {name} | {:.4} | {:.4} | {:.1}% |",
                        r.logits_rel_err,
                        r.logits_rel_err_max,
                        r.choice_agreement * 100.0
                    );
                }
                return;
            }
            let bf = T5Model::load(
                FastCpuBackend::new().with_weight_type(Some(WeightType::Bf16)),
                &ck,
                raw.config(),
            )
            .unwrap();
            let r = accuracy::compare(&want, &accuracy::run(&bf, &ex).unwrap());
            println!(
                "| bf16 (all linear) | — | {:.4} | {:.4} | {:.1}% |",
                r.logits_rel_err,
                r.logits_rel_err_max,
                r.choice_agreement * 100.0
            );
            drop(bf);
            let isl_all = [
                ("none", Islands::none()),
                ("lm_head", Islands::default()),
                (
                    "lm_head + wo",
                    Islands {
                        ffn_wo: true,
                        ..Islands::default()
                    },
                ),
            ];
            // `default`: only the default islands (lm_head).
            let isl = if get(4) == "default" {
                &isl_all[1..2]
            } else {
                &isl_all[..]
            };
            for scheme in [QuantScheme::Int8, QuantScheme::Q4] {
                for (name, islands) in isl {
                    let be = QuantCpuBackend::quantize_at_load(
                        FastCpuBackend::new(),
                        scheme,
                        islands.clone(),
                    );
                    let m = T5Model::load(be, &ck, raw.config()).unwrap();
                    let r = accuracy::compare(&want, &accuracy::run(&m, &ex).unwrap());
                    println!(
                        "| {} | {name} | {:.4} | {:.4} | {:.1}% |",
                        scheme.as_str(),
                        r.logits_rel_err,
                        r.logits_rel_err_max,
                        r.choice_agreement * 100.0
                    );
                }
            }
            println!(
                "({} examples, {} input tokens, {} choices x {} tokens)",
                n, spec.input_len, spec.choices, spec.choice_len
            );
        }
        _ => eprintln!(
            "usage: quant write DIR base|3b f32|bf16 | run DIR f32|bf16|int8|q4 [REPS] | accuracy DIR [N]"
        ),
    }
}
