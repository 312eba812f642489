//! GPU benchmarks G1–G4 (see shared/docs/benchmarks.md) on random-weight models of the real
//! shapes, generated on the device by a hash kernel (no checkpoint file), plus kernel
//! ceilings: device copy bandwidth, our GEMM vs cuBLAS, our GEMV bandwidth.
//!
//! Usage: `t0-cuda-bench [3b] [11b] [base] [--kernels] [--quick] [--generic] [--g1-only]
//! [--g3-only]` (default: kernels, 3b, 11b). `--g3-only`: G3 with and without the TMA-store
//! epilogue, alternating. `--generic` also times G1 through t0-core's generic model on the CUDA
//! backend (base and 3b shapes; random bf16 checkpoint built in host memory).
//! Token ids: uniform in [100, 32000) from a fixed seed, no padding; greedy decoding runs
//! exactly the requested number of tokens (EOS ignored), as the workloads specify.

use std::sync::Arc;
use std::time::Instant;

use t0_core::config::T5Config;
use t0_core::generate::GenerateOptions;
use t0_core::model::T5Model;
use t0_core::tensor::{DType, TensorSource, TensorView};
use t0_cuda::CudaBackend;
use t0_cuda::device::DevView;
use t0_cuda::engine::DecodeState;
use t0_cuda::ops::{
    self, Attention, EpiVariant, Epilogue, FlashKernel, GemmKernel, NormKernel, Strides,
};
use t0_cuda::reference::Rng;
use t0_cuda::{CudaDevice, CudaT5, Result};

fn cfg(name: &str) -> T5Config {
    let (d, f, h, l) = match name {
        "base" => (768, 2048, 12, 12),
        "3b" => (2048, 5120, 32, 24),
        _ => (4096, 10240, 64, 24),
    };
    T5Config::from_json(&format!(
        r#"{{"d_model": {d}, "d_ff": {f}, "d_kv": 64, "num_heads": {h}, "num_layers": {l},
        "vocab_size": 32128, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": false,
        "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
        "layer_norm_epsilon": 1e-6, "decoder_start_token_id": 0, "eos_token_id": 1,
        "pad_token_id": 0}}"#
    ))
    .expect("valid config")
}

fn ids(rng: &mut Rng, n: usize) -> Vec<u32> {
    (0..n).map(|_| 100 + rng.below(31900) as u32).collect()
}

/// Median wall time in ms of `reps` runs of `f` (device synchronized inside each run).
fn time_ms(dev: &CudaDevice, reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?; // warm-up
    dev.synchronize()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let s = Instant::now();
        f()?;
        dev.synchronize()?;
        t.push(s.elapsed().as_secs_f64() * 1e3);
    }
    t.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Ok(t[t.len() / 2])
}

fn kernels(dev: &Arc<CudaDevice>, quick: bool) -> Result<()> {
    println!("## kernel ceilings on {}", dev.name());
    // Device copy: 4 GiB read + 4 GiB written.
    let n = 1usize << 32;
    let a = dev.alloc(n)?;
    let b = dev.alloc(n)?;
    dev.memset(&a, 0, n, 1)?;
    let ms = time_ms(dev, 5, || dev.copy(&b, 0, &a, 0, n))?;
    println!(
        "device copy: {:.0} GB/s (read + write)",
        2.0 * n as f64 / ms / 1e6
    );
    drop((a, b));
    attention_and_norm(dev)?;
    // GEMMs: ours vs cuBLAS.
    // SAFETY: only tries to dlopen libcublas.
    let blas = if unsafe { cudarc::cublas::sys::is_culib_present() } {
        cudarc::cublas::CudaBlas::new(dev.stream().clone()).ok()
    } else {
        None
    };
    let shapes: &[(usize, usize, usize)] = if quick {
        &[(4096, 4096, 4096)]
    } else {
        &[
            (8192, 8192, 8192),
            (16384, 12288, 4096),
            (16384, 20480, 4096),
            (16384, 4096, 10240),
            (8192, 8192, 4096),
            (512, 4096, 4096),
            (256, 12288, 4096),
            (128, 12288, 4096),
            (128, 4096, 4096),
            (64, 4096, 10240),
            (32, 20480, 4096),
            (32, 4096, 4096),
        ]
    };
    for &(m, nn, k) in shapes {
        let x = dev.alloc(m * k * 2)?;
        let w = dev.alloc(nn * k * 2)?;
        let c = dev.alloc(m * nn * 4)?;
        ops::init_uniform_bf16(dev, x.view(), m * k, 1, 1.0)?;
        ops::init_uniform_bf16(dev, w.view(), nn * k, 2, 0.02)?;
        let flops = 2.0 * (m * nn * k) as f64;
        let ours = time_ms(dev, 5, || {
            ops::gemm(
                dev,
                x.view(),
                k,
                w.view(),
                k,
                c.view(),
                nn,
                (m, nn, k),
                Epilogue::F32,
                GemmKernel::Auto,
            )
        })?;
        let mut variants = String::new();
        for kern in [
            GemmKernel::Small,
            GemmKernel::Large,
            GemmKernel::Wgmma,
            GemmKernel::WgmmaPipe,
            GemmKernel::Tma,
            GemmKernel::TmaPersistent,
        ] {
            let wg = matches!(
                kern,
                GemmKernel::Wgmma
                    | GemmKernel::WgmmaPipe
                    | GemmKernel::Tma
                    | GemmKernel::TmaPersistent
            );
            if (wg && !dev.has_wgmma()) || (kern == GemmKernel::Small && m > 512) {
                continue;
            }
            let r = time_ms(dev, 3, || {
                ops::gemm(
                    dev,
                    x.view(),
                    k,
                    w.view(),
                    k,
                    c.view(),
                    nn,
                    (m, nn, k),
                    Epilogue::F32,
                    kern,
                )
            });
            if let Ok(ms) = r {
                variants += &format!(" {kern:?} {:.0}", flops / ms / 1e9);
            }
        }
        let theirs = match &blas {
            Some(bl) => {
                use cudarc::cublas::sys::{
                    cublasComputeType_t, cublasGemmAlgo_t, cublasOperation_t, cudaDataType_t,
                };
                let (al, be) = (1.0f32, 0.0f32);
                time_ms(dev, 5, || {
                    // SAFETY: the three buffers are live allocations of the sizes this call
                    // reads and writes; alpha/beta outlive the call.
                    unsafe {
                        cudarc::cublas::result::gemm_ex(
                            *bl.handle(),
                            cublasOperation_t::CUBLAS_OP_T,
                            cublasOperation_t::CUBLAS_OP_N,
                            nn as i32,
                            m as i32,
                            k as i32,
                            (&al) as *const f32 as *const _,
                            w.ptr() as *const _,
                            cudaDataType_t::CUDA_R_16BF,
                            k as i32,
                            x.ptr() as *const _,
                            cudaDataType_t::CUDA_R_16BF,
                            k as i32,
                            (&be) as *const f32 as *const _,
                            c.ptr() as *mut _,
                            cudaDataType_t::CUDA_R_32F,
                            nn as i32,
                            cublasComputeType_t::CUBLAS_COMPUTE_32F,
                            cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                        )
                    }
                    .map_err(|e| t0_cuda::CudaError::Driver {
                        what: "cublas".into(),
                        error: format!("{e:?}"),
                    })
                })?
            }
            None => f64::NAN,
        };
        println!(
            "gemm {m}x{nn}x{k}: ours {ours:.3} ms = {:.0} TFLOP/s; cuBLAS {theirs:.3} ms = {:.0} TFLOP/s; by kernel (TFLOP/s):{variants}",
            flops / ours / 1e9,
            flops / theirs / 1e9
        );
    }
    // GEMV (decode) bandwidth on T0pp shapes.
    for &(nn, k) in &[
        (12288usize, 4096usize),
        (4096, 10240),
        (20480, 4096),
        (32128, 4096),
        (2048, 2048),
    ] {
        let x = dev.alloc(k * 2)?;
        let w = dev.alloc(nn * k * 2)?;
        let y = dev.alloc(nn * 4)?;
        ops::init_uniform_bf16(dev, x.view(), k, 3, 1.0)?;
        ops::init_uniform_bf16(dev, w.view(), nn * k, 4, 0.02)?;
        let reps = 20;
        let ms = time_ms(dev, 5, || {
            for _ in 0..reps {
                ops::gemm(
                    dev,
                    x.view(),
                    k,
                    w.view(),
                    k,
                    y.view(),
                    nn,
                    (1, nn, k),
                    Epilogue::F32,
                    GemmKernel::Gemv,
                )?;
            }
            Ok(())
        })? / reps as f64;
        println!(
            "gemv {nn}x{k}: {:.1} us = {:.0} GB/s",
            ms * 1e3,
            (nn * k * 2) as f64 / ms / 1e6
        );
    }
    // The T0pp encoder's GEMMs with the epilogues the engine uses (automatic kernel choice).
    if !quick {
        for &(m, nn, k, epi) in &[
            (16384usize, 12288usize, 4096usize, Epilogue::Bf16),
            (16384, 4096, 4096, Epilogue::AddF32),
            (16384, 20480, 4096, Epilogue::GeGlu),
            (16384, 4096, 10240, Epilogue::AddF32),
        ] {
            let x = dev.alloc(m * k * 2)?;
            let w = dev.alloc(nn * k * 2)?;
            let c = dev.alloc(m * epi.out_cols(nn) * epi.out_size())?;
            ops::init_uniform_bf16(dev, x.view(), m * k, 1, 1.0)?;
            ops::init_uniform_bf16(dev, w.view(), nn * k, 2, 0.02)?;
            dev.memset(&c, 0, m * epi.out_cols(nn) * epi.out_size(), 0)?;
            let ms = time_ms(dev, 5, || {
                ops::gemm(
                    dev,
                    x.view(),
                    k,
                    w.view(),
                    k,
                    c.view(),
                    epi.out_cols(nn),
                    (m, nn, k),
                    epi,
                    GemmKernel::Auto,
                )
            })?;
            println!(
                "gemm {m}x{nn}x{k} {epi:?} (engine epilogue): {ms:.3} ms = {:.0} TFLOP/s",
                2.0 * (m * nn * k) as f64 / ms / 1e9
            );
            // Old (General) vs the fast whole-tile epilogue variants, plain and persistent.
            if dev.has_wgmma() {
                let vars: Vec<EpiVariant> = std::iter::once(EpiVariant::General)
                    .chain(
                        EpiVariant::FAST
                            .into_iter()
                            .filter(|v| v.epilogues().contains(&epi)),
                    )
                    .collect();
                let mut kerns = vec![GemmKernel::Tma, GemmKernel::TmaPersistent];
                if ops::cluster_gemm_enabled() {
                    kerns.push(GemmKernel::TmaCluster);
                }
                for kern in kerns {
                    let mut line = format!("gemm {m}x{nn}x{k} {epi:?} {kern:?} epilogues TFLOP/s:");
                    for &var in &vars {
                        let ms = time_ms(dev, 5, || {
                            ops::gemm_with(
                                dev,
                                x.view(),
                                k,
                                w.view(),
                                k,
                                c.view(),
                                epi.out_cols(nn),
                                (m, nn, k),
                                epi,
                                kern,
                                var,
                            )
                        })?;
                        line += &format!(" {var:?} {:.0}", 2.0 * (m * nn * k) as f64 / ms / 1e9);
                    }
                    println!("{line}");
                }
            }
        }
    }
    Ok(())
}

/// The T0pp G3 encoder's attention (32 x 512 tokens, 64 heads, d 64, fused QKV, bias table,
/// key lengths) and RMSNorm (16384 x 4096 f32 -> bf16): old vs new kernels in one run, with
/// the relative difference between their outputs.
fn attention_and_norm(dev: &Arc<CudaDevice>) -> Result<()> {
    println!(
        "self-check (flash_attn_d64_v2, rmsnorm_vec, flash_attn_d64_v3): {:?} (automatic choice uses a kernel only if true); flash kernel chosen by timing: {:?}",
        dev.fast_kernels_checked(),
        dev.flash_choice()
    );
    let (batch, heads, len) = (32usize, 64usize, 512usize);
    let inner = heads * 64;
    let qkv = dev.alloc(batch * len * 3 * inner * 2)?;
    ops::init_uniform_bf16(dev, qkv.view(), batch * len * 3 * inner, 7, 1.0)?;
    // The engine's table: distances clamped at +-max_distance (128 for T0).
    let (br, bw) = (128usize, 257usize);
    let mut rng = Rng::new(8);
    let tab: Vec<f32> = (0..heads * bw).map(|_| rng.uniform()).collect();
    let tb = dev.alloc(tab.len() * 4)?;
    dev.upload(&tb, 0, &tab)?;
    let lens = dev.alloc(batch * 4)?;
    dev.upload(&lens, 0, &vec![len as i32; batch])?;
    let kerns = [
        FlashKernel::Old,
        FlashKernel::V2,
        FlashKernel::V3,
        FlashKernel::V3Pipe,
        FlashKernel::V3Pipe64,
    ];
    let outs = [
        dev.alloc(batch * len * inner * 2)?,
        dev.alloc(batch * len * inner * 2)?,
        dev.alloc(batch * len * inner * 2)?,
        dev.alloc(batch * len * inner * 2)?,
        dev.alloc(batch * len * inner * 2)?,
    ];
    let st = Strides {
        batch: len * 3 * inner,
        row: 3 * inner,
    };
    let flops = 4.0 * (batch * heads * len * len * 64) as f64;
    let mut line =
        format!("attention G3 T0pp {batch}x{len}, {heads} heads, d 64 (bias, key_len, fused QKV):");
    for (o, kern) in outs.iter().zip(kerns) {
        let at = Attention {
            batch,
            heads,
            dh: 64,
            lq: len,
            lk: len,
            q: qkv.view(),
            q_st: st,
            k: qkv.view().from(inner * 2)?,
            v: qkv.view().from(inner * 4)?,
            kv_st: st,
            o: o.view(),
            o_st: Strides {
                batch: len * inner,
                row: inner,
            },
            key_len: lens.view(),
            bias: tb.view(),
            bias_r: br,
            bias_w: bw,
            bias_qpos: true,
            causal: false,
            q_offset: 0,
            kv_div: 1,
            pos: DevView::NULL,
            new_kv: None,
            force_rows: false,
        };
        let ms = time_ms(dev, 10, || ops::attention_with(dev, &at, kern))?;
        line += &format!(" {kern:?} {ms:.3} ms = {:.0} TFLOP/s;", flops / ms / 1e9);
    }
    let n = batch * len * inner;
    for (o, kern) in outs.iter().zip(kerns).skip(1) {
        let diff = rel_diff_bf16(dev, o, &outs[0], n)?;
        line += &format!(" {kern:?} vs old rel diff {diff:.2e};");
    }
    println!("{line}");
    drop((qkv, outs));

    let (rows, d) = (16384usize, 4096usize);
    let x = dev.alloc(rows * d * 4)?;
    let w = dev.alloc(d * 4)?;
    // f32 values from bf16 random bits: x as bf16 pairs read as f32 are finite and varied.
    ops::init_uniform_bf16(dev, x.view(), rows * d * 2, 9, 1.0)?;
    ops::init_uniform_bf16(dev, w.view(), d * 2, 10, 1.0)?;
    let ys = [dev.alloc(rows * d * 2)?, dev.alloc(rows * d * 2)?];
    let bytes = (rows * d * 6) as f64;
    let mut line = format!("rmsnorm {rows}x{d} f32 -> bf16:");
    for (y, kern) in ys.iter().zip([NormKernel::Old, NormKernel::Vec]) {
        let reps = 10;
        let ms = time_ms(dev, 5, || {
            for _ in 0..reps {
                ops::rmsnorm_with(
                    dev,
                    x.view(),
                    w.view(),
                    y.view(),
                    (rows, d),
                    1e-6,
                    true,
                    kern,
                )?;
            }
            Ok(())
        })? / reps as f64;
        line += &format!(" {kern:?} {ms:.3} ms = {:.0} GB/s;", bytes / ms / 1e6);
    }
    let diff = rel_diff_bf16(dev, &ys[1], &ys[0], rows * d)?;
    println!("{line} vec vs old rel diff {diff:.2e}");
    Ok(())
}

/// ‖a − b‖ / ‖b‖ over `n` bf16 values of two device buffers (non-finite values give inf).
fn rel_diff_bf16(
    dev: &CudaDevice,
    a: &t0_cuda::DevBuf,
    b: &t0_cuda::DevBuf,
    n: usize,
) -> Result<f64> {
    let mut ha = vec![0u16; n];
    let mut hb = vec![0u16; n];
    dev.download(a, 0, &mut ha)?;
    dev.download(b, 0, &mut hb)?;
    let want: Vec<f64> = t0_cuda::reference::from_bf16_bits(&hb)
        .iter()
        .map(|&v| v as f64)
        .collect();
    Ok(t0_cuda::reference::rel_err(
        &t0_cuda::reference::from_bf16_bits(&ha),
        &want,
    ))
}

/// Random bf16 checkpoint in host memory with HF T5 names (for the generic-model path).
struct RandomSource {
    tensors: std::collections::HashMap<String, (Vec<usize>, Vec<u8>)>,
}

impl RandomSource {
    fn new(c: &T5Config, seed: u64) -> Self {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut tensors = std::collections::HashMap::new();
        // Fast fill: random sign and mantissa at a fixed exponent, |v| in [scale/2, scale);
        // scale 0 gives ones (norm weights).
        let mut add = |name: String, shape: Vec<usize>, scale: f32| {
            let n: usize = shape.iter().product();
            let mut bytes = vec![0u8; n * 2];
            let e = half::bf16::from_f32(if scale == 0.0 { 1.0 } else { scale / 2.0 }).to_bits()
                & 0x7f80;
            for c in bytes.chunks_exact_mut(8) {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                for (k, b) in c.chunks_exact_mut(2).enumerate() {
                    let r = (state >> (16 * k)) as u16;
                    let bits = if scale == 0.0 { e } else { e | (r & 0x807f) };
                    b.copy_from_slice(&bits.to_le_bytes());
                }
            }
            tensors.insert(name, (shape, bytes));
        };
        let (d, f, v, h) = (c.d_model, c.d_ff, c.vocab_size, c.num_heads);
        let inner = h * c.d_kv;
        let sd = (3.0 / d as f32).sqrt();
        add("shared.weight".into(), vec![v, d], 1.0);
        add("lm_head.weight".into(), vec![v, d], sd);
        for (stack, layers) in [("encoder", c.num_layers), ("decoder", c.num_decoder_layers)] {
            for i in 0..layers {
                let p = format!("{stack}.block.{i}.layer");
                for x in ["q", "k", "v"] {
                    add(
                        format!("{p}.0.SelfAttention.{x}.weight"),
                        vec![inner, d],
                        sd,
                    );
                }
                add(
                    format!("{p}.0.SelfAttention.o.weight"),
                    vec![d, inner],
                    (3.0 / inner as f32).sqrt(),
                );
                add(format!("{p}.0.layer_norm.weight"), vec![d], 0.0);
                if i == 0 {
                    add(
                        format!("{p}.0.SelfAttention.relative_attention_bias.weight"),
                        vec![c.relative_attention_num_buckets, h],
                        1.0,
                    );
                }
                let ff = if stack == "encoder" { 1 } else { 2 };
                if stack == "decoder" {
                    for x in ["q", "k", "v"] {
                        add(
                            format!("{p}.1.EncDecAttention.{x}.weight"),
                            vec![inner, d],
                            sd,
                        );
                    }
                    add(
                        format!("{p}.1.EncDecAttention.o.weight"),
                        vec![d, inner],
                        (3.0 / inner as f32).sqrt(),
                    );
                    add(format!("{p}.1.layer_norm.weight"), vec![d], 0.0);
                }
                add(
                    format!("{p}.{ff}.DenseReluDense.wi_0.weight"),
                    vec![f, d],
                    sd,
                );
                add(
                    format!("{p}.{ff}.DenseReluDense.wi_1.weight"),
                    vec![f, d],
                    sd,
                );
                add(
                    format!("{p}.{ff}.DenseReluDense.wo.weight"),
                    vec![d, f],
                    (3.0 / f as f32).sqrt(),
                );
                add(format!("{p}.{ff}.layer_norm.weight"), vec![d], 0.0);
            }
            add(format!("{stack}.final_layer_norm.weight"), vec![d], 0.0);
        }
        RandomSource { tensors }
    }
}

impl TensorSource for RandomSource {
    fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        self.tensors
            .get_key_value(name)
            .map(|(k, (shape, data))| TensorView {
                name: k.as_str(),
                dtype: DType::BF16,
                shape,
                data,
            })
    }
    fn tensor_names(&self) -> Vec<&str> {
        self.tensors.keys().map(|k| k.as_str()).collect()
    }
}

/// G1 through t0-core's generic model on the CUDA backend (op by op, no graph).
fn generic(dev: &Arc<CudaDevice>, name: &str) -> Result<Vec<Row>> {
    let c = cfg(name);
    let t = Instant::now();
    let src = RandomSource::new(&c, 5);
    let m = T5Model::load(CudaBackend::on(dev.clone()), &src, &c)
        .map_err(|e| t0_cuda::CudaError::Weight(e.to_string()))?;
    drop(src);
    eprintln!(
        "[{name} generic] random checkpoint made and loaded in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut rng = Rng::new(11);
    let inp = vec![ids(&mut rng, 128)];
    let me = |e: t0_core::model::ModelError| t0_cuda::CudaError::Shape(e.to_string());
    let enc_ms = time_ms(dev, 3, || m.encode(&inp).map(|_| ()).map_err(me))?;
    let opts = GenerateOptions {
        max_new_tokens: 64,
        min_new_tokens: 0,
        ..Default::default()
    };
    let mut ntok = 0;
    let total = time_ms(dev, 2, || {
        let g = m.generate_greedy(&inp, &opts).map_err(me)?;
        ntok = g[0].len();
        Ok(())
    })?;
    let per = (total - enc_ms) / ntok.max(1) as f64;
    Ok(vec![
        Row {
            what: "G1 encoder 1x128, generic model (ms)",
            ours: format!("{enc_ms:.2}"),
            hf: "15.9",
            floor: "-",
        },
        Row {
            what: "G1 decode per token, generic model (ms)",
            ours: format!("{per:.3} ({ntok} tokens)"),
            hf: if name == "3b" { "24.2" } else { "-" },
            floor: "-",
        },
    ])
}

struct Row {
    what: &'static str,
    ours: String,
    hf: &'static str,
    floor: &'static str,
}

fn model(dev: &Arc<CudaDevice>, name: &str, quick: bool) -> Result<Vec<Row>> {
    let c = cfg(name);
    let t = Instant::now();
    let m = CudaT5::random(dev, &c, 7)?;
    eprintln!(
        "[{name}] random weights on device in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut rng = Rng::new(11);
    let big = name == "11b";
    let hf = |a: &'static str, b: &'static str| if big { b } else { a };
    let mut rows = Vec::new();
    if G3_ONLY.load(std::sync::atomic::Ordering::Relaxed) {
        g3_ab(dev, &m, name, &mut rng)?;
        return Ok(rows);
    }
    // G1: 1 x 128 in, 64 new tokens.
    let inp = vec![ids(&mut rng, 128)];
    let enc_ms = time_ms(dev, 5, || m.encode(&inp, true).map(|_| ()))?;
    let enc = m.encode(&inp, true)?;
    let new = 64;
    // Decode only: state allocated and graph captured once (the warm-up run), then
    // reset + 64 replays per timed run.
    let mut st = DecodeState::new(&m, &enc, new, false)?;
    let gen_ms = time_ms(dev, 3, || {
        st.reset(&m)?;
        st.run(&m, &enc, new, true)
    })?;
    let nograph_ms = time_ms(dev, 1, || {
        st.reset(&m)?;
        st.run(&m, &enc, new, false)
    })?;
    let (pdl0, fused0) = st.options();
    // The decode step with each of its options, graph replay, same run (default above).
    let mut variants = Vec::new();
    for (pdl, fused) in [(false, false), (true, false), (false, true), (true, true)] {
        st.set_pdl(dev, pdl);
        st.set_fused_norm(fused);
        let ms = time_ms(dev, 3, || {
            st.reset(&m)?;
            st.run(&m, &enc, new, true)
        })?;
        variants.push(format!(
            "PDL {} folded-norm {}: {:.3}",
            st.options().0 as u8,
            st.options().1 as u8,
            ms / new as f64
        ));
    }
    // PDL flags (bit 0 early trigger, bit 1 GEMV weight loads before the wait), folded norm.
    if dev.pdl_supported() {
        st.set_fused_norm(true);
        st.set_pdl(dev, true);
        // run() sets the flags it prefers; time each by replaying the captured graph directly.
        st.reset(&m)?;
        st.run(&m, &enc, 1, true)?;
        for flags in [0, 1, 2, 3] {
            dev.set_pdl_flags(flags)?;
            let ms = time_ms(dev, 3, || {
                st.reset(&m)?;
                st.replay(&m, new)
            })?;
            variants.push(format!("PDL flags {flags}: {:.3}", ms / new as f64));
        }
        dev.set_pdl_flags(t0_cuda::device::PDL_FLAGS_DEFAULT)?;
        // The general row-wise attention kernel instead of attn_dec_d64.
        st.set_fused_attn(false);
        ops::set_rows_d64(false);
        let ms = time_ms(dev, 3, || {
            st.reset(&m)?;
            st.run(&m, &enc, new, true)
        })?;
        ops::set_rows_d64(true);
        variants.push(format!(
            "PDL flags default, attn_rows instead of attn_dec_d64 (attention in GEMV off): {:.3}",
            ms / new as f64
        ));
        st.set_fused_attn(false);
        let ms = time_ms(dev, 3, || {
            st.reset(&m)?;
            st.run(&m, &enc, new, true)
        })?;
        st.set_fused_attn(true);
        variants.push(format!(
            "PDL, folded norm, attention in GEMV off: {:.3}",
            ms / new as f64
        ));
        st.set_prefetch(true);
        let ms = time_ms(dev, 3, || {
            st.reset(&m)?;
            st.run(&m, &enc, new, true)
        })?;
        st.set_prefetch(false);
        variants.push(format!(
            "default plus L2 prefetch of the next weights: {:.3}",
            ms / new as f64
        ));
    }
    st.set_pdl(dev, pdl0);
    st.set_fused_norm(fused0);
    // Kernel timeline of 4 plain-launched decode steps (event after every kernel).
    st.reset(&m)?;
    st.run(&m, &enc, 1, false)?;
    dev.trace_start()?;
    st.run(&m, &enc, 4, false)?;
    let tr = dev.trace_finish()?;
    let mut by: Vec<(&str, usize, f64)> = Vec::new();
    for (k, ms) in &tr {
        match by.iter_mut().find(|e| e.0 == *k) {
            Some(e) => {
                e.1 += 1;
                e.2 += ms;
            }
            None => by.push((k, 1, *ms)),
        }
    }
    by.sort_by(|a, b| b.2.partial_cmp(&a.2).unwrap());
    let total: f64 = tr.iter().map(|e| e.1).sum::<f64>() / 4.0;
    eprintln!(
        "[{name}] decode step timeline (plain launches, events between kernels): {:.3} ms/step, {} kernels/step; {}",
        total,
        tr.len() / 4,
        by.iter()
            .map(|(k, n, ms)| format!(
                "{k} x{} {:.1} us each {:.3} ms",
                n / 4,
                ms * 1e3 / *n as f64,
                ms / 4.0
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    eprintln!(
        "[{name}] G1 decode ms/token by option (default PDL {} folded-norm {}): {}",
        pdl0 as u8,
        fused0 as u8,
        variants.join(", ")
    );
    drop(st);
    eprintln!(
        "[{name}] G1 encoder {enc_ms:.2} ms, decode {:.3} ms/token (graph), {:.3} (no graph)",
        gen_ms / new as f64,
        nograph_ms / new as f64
    );
    rows.push(Row {
        what: "G1 encoder 1x128 (ms)",
        ours: format!("{enc_ms:.2}"),
        hf: "15.9",
        floor: "-",
    });
    rows.push(Row {
        what: "G1 decode per token (ms)",
        ours: format!("{:.3}", gen_ms / new as f64),
        hf: hf("24.2", "24.9"),
        floor: hf("1.09", "4.26"),
    });
    rows.push(Row {
        what: "G1 decode per token, no graph (ms)",
        ours: format!("{:.3}", nograph_ms / new as f64),
        hf: "-",
        floor: "-",
    });
    if G1_ONLY.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(rows);
    }
    // G2: rank classification 1 x 256, 4 choices x 4 tokens; and 32 examples.
    let one = vec![ids(&mut rng, 256)];
    let ch1 = vec![(0..4).map(|_| ids(&mut rng, 4)).collect::<Vec<_>>()];
    let r1 = time_ms(dev, 5, || m.score(&one, &ch1).map(|_| ()))?;
    rows.push(Row {
        what: "G2 rank 1x256, 4x4 (ms)",
        ours: format!("{r1:.2}"),
        hf: hf("48.2", "49.1"),
        floor: "-",
    });
    let many: Vec<Vec<u32>> = (0..32).map(|_| ids(&mut rng, 256)).collect();
    let chm: Vec<Vec<Vec<u32>>> = (0..32)
        .map(|_| (0..4).map(|_| ids(&mut rng, 4)).collect())
        .collect();
    let r32 = time_ms(dev, 3, || m.score(&many, &chm).map(|_| ()))?;
    let e32 = time_ms(dev, 3, || m.encode(&many, true).map(|_| ()))?;
    println!("[{name}] G2-32 split: encoder 32x256 + cross K/V {e32:.1} ms of {r32:.1} ms");
    rows.push(Row {
        what: "G2 rank 32 examples (ex/s)",
        ours: format!("{:.1}", 32.0 / (r32 / 1e3)),
        hf: hf("207", "80.9"),
        floor: "-",
    });
    // G3: encoder 32 x 512.
    if !quick {
        let b32: Vec<Vec<u32>> = (0..32).map(|_| ids(&mut rng, 512)).collect();
        let e32 = time_ms(dev, 3, || m.encode(&b32, false).map(|_| ()))?;
        // One more encode with per-stage synchronisation and timing.
        t0_cuda::engine::set_profile(true);
        let _ = m.encode(&b32, false);
        t0_cuda::engine::set_profile(false);
        rows.push(Row {
            what: "G3 encoder 32x512 (k tok/s)",
            ours: format!("{:.1} ({e32:.0} ms)", 32.0 * 512.0 / e32),
            hf: hf("62.8", "23.3 (703 ms)"),
            floor: hf("-", "194 ms"),
        });
    }
    // G4: batch 32 x 128 in, 64 new tokens (encoder included).
    let b4: Vec<Vec<u32>> = (0..32).map(|_| ids(&mut rng, 128)).collect();
    let g4 = time_ms(dev, 2, || {
        let e = m.encode(&b4, true)?;
        m.generate(&e, 64, false, true).map(|_| ())
    })?;
    rows.push(Row {
        what: "G4 batch 32 generation (tok/s)",
        ours: format!("{:.0}", 32.0 * 64.0 / (g4 / 1e3)),
        hf: hf("1193", "1159"),
        floor: "-",
    });
    Ok(rows)
}

/// `--g3-only`: G3 per model, with and without the TMA-store epilogue, alternating.
static G3_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// G3 (encoder 32 x 512) with automatic choice allowed the TMA-store epilogue and not, in
/// alternating rounds of 3 timed encodes each (every time printed), then a per-stage profile
/// of each setting.
fn g3_ab(dev: &Arc<CudaDevice>, m: &CudaT5, name: &str, rng: &mut Rng) -> Result<()> {
    let b32: Vec<Vec<u32>> = (0..32).map(|_| ids(rng, 512)).collect();
    m.encode(&b32, false)?;
    dev.synchronize()?;
    let mut all = [Vec::new(), Vec::new()];
    for round in 0..3 {
        for (i, on) in [true, false].into_iter().enumerate() {
            ops::set_tma_store(on);
            m.encode(&b32, false)?;
            dev.synchronize()?;
            let mut ts = Vec::new();
            for _ in 0..3 {
                let s = Instant::now();
                m.encode(&b32, false)?;
                dev.synchronize()?;
                ts.push(s.elapsed().as_secs_f64() * 1e3);
            }
            println!(
                "[{name}] G3 round {round} TMA store {}: {}",
                on as u8,
                ts.iter()
                    .map(|t| format!("{t:.1}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            all[i].extend(ts);
        }
    }
    for (i, v) in all.iter_mut().enumerate() {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "[{name}] G3 32x512 TMA store {}: min {:.1} ms, median {:.1} ms ({} encodes)",
            (i == 0) as u8,
            v[0],
            v[v.len() / 2],
            v.len()
        );
    }
    for on in [true, false] {
        ops::set_tma_store(on);
        eprintln!("[{name}] per-stage profile, TMA store {}:", on as u8);
        t0_cuda::engine::set_profile(true);
        let r = m.encode(&b32, false);
        t0_cuda::engine::set_profile(false);
        r?;
    }
    ops::set_tma_store(true);
    Ok(())
}

/// `--g1-only`: only G1 per model (for profilers).
static G1_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    G1_ONLY.store(
        args.iter().any(|a| a == "--g1-only"),
        std::sync::atomic::Ordering::Relaxed,
    );
    G3_ONLY.store(
        args.iter().any(|a| a == "--g3-only"),
        std::sync::atomic::Ordering::Relaxed,
    );
    let mut models: Vec<&str> = args
        .iter()
        .map(|s| s.as_str())
        .filter(|a| ["base", "3b", "11b"].contains(a))
        .collect();
    let want_kernels = args.iter().any(|a| a == "--kernels") || models.is_empty();
    let want_generic = args.iter().any(|a| a == "--generic");
    if models.is_empty() {
        models = vec!["3b", "11b"];
    }
    let dev = match CudaDevice::new(0) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("t0-cuda-bench: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "device: {} (cc {:?}, {} SMs, arch {})",
        dev.name(),
        dev.compute_capability(),
        dev.sm_count(),
        dev.arch()
    );
    let t = Instant::now();
    if let Err(e) = dev.warm_up() {
        eprintln!("kernel compilation failed: {e}");
        std::process::exit(1);
    }
    println!(
        "NVRTC compile of all modules: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "wgmma self-check (basic, pipelined, tma, persistent tma): {:?}; persistent faster for epilogues (bit = f32, add, bf16, geglu, swiglu, relu): {:?}",
        dev.wgmma_checked(),
        dev.persistent_faster_mask().map(|m| format!("{m:06b}"))
    );
    println!(
        "TMA epilogue variant chosen at the self-check [plain, persistent, cluster][f32, add, bf16, geglu, swiglu, relu] (0 general, 1 pairs, 2 swap, 3 scalar, 4 TMA store): {:?}; without the TMA store: {:?}",
        dev.fast_epilogue_choice(),
        dev.fast_epilogue_choice_without_store()
    );
    if ops::cluster_gemm_enabled() {
        println!(
            "cluster TMA GEMM (T0_CUDA_GEMM_CLUSTER=1) faster for epilogues: {:?}",
            dev.cluster_faster_mask().map(|m| format!("{m:06b}"))
        );
    }
    if want_kernels && let Err(e) = kernels(&dev, quick) {
        println!("kernel ceilings failed: {e}");
    }
    let mut all = Vec::new();
    if want_generic {
        for name in ["base", "3b"] {
            match generic(&dev, name) {
                Ok(rows) => all.push((name, rows)),
                Err(e) => println!("generic {name} failed: {e}"),
            }
            dev.release_pool();
        }
    }
    for name in models {
        match model(&dev, name, quick) {
            Ok(rows) => all.push((name, rows)),
            Err(e) => println!("model {name} failed: {e}"),
        }
        dev.release_pool();
    }
    println!(
        "\n## t0-cuda benchmarks on {} (bf16, random weights; HF = transformers 5.17 bf16 eager on an H100, benchmarks.md)",
        dev.name()
    );
    println!("| model | workload | t0-cuda | HF | floor |");
    println!("|---|---|---|---|---|");
    for (name, rows) in &all {
        for r in rows {
            println!(
                "| {name} | {} | {} | {} | {} |",
                r.what, r.ours, r.hf, r.floor
            );
        }
    }
}
