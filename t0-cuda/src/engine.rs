//! [`CudaT5`]: the whole T5 forward owned on the device, for speed. Same kernels as
//! [`crate::CudaBackend`], but fused where the model allows: Q/K/V (and cross K/V) as one
//! matrix, the gated FFN's two input projections interleaved row by row so the GEMM
//! epilogue applies `gelu(gate)·up` directly, residual adds in the GEMM epilogues, bf16
//! activations between kernels, the relative-position bias as a per-head table indexed in
//! the attention kernels, and the greedy decode step (embedding → 24 layers → lm_head →
//! argmax → position += 1, reading the position from device memory) captured once as a CUDA
//! graph and replayed per token.
//!
//! It follows HF's T5 (modeling_t5.py 4.46) exactly as t0-core's generic model does; the
//! GPU parity tests check it against the CPU backend on the fixture models.

use std::sync::Arc;

use cudarc::driver::sys::{CUgraphInstantiate_flags, CUstreamCaptureMode};
use t0_core::config::{FeedForwardProj, T5Config};
use t0_core::model::position::relative_position_bucket;
use t0_core::tensor::{TensorSource, TensorView};

use crate::backend::CudaBackend;

static PROFILE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns on (or off) per-stage timing of [`CudaT5::encode`]: each stage is followed by a
/// synchronisation and the times per stage are printed to stderr (for benchmarks only).
pub fn set_profile(on: bool) {
    PROFILE.store(on, std::sync::atomic::Ordering::Relaxed);
}
use crate::device::{CudaDevice, DevBuf, DevView};
use crate::error::{CudaError, Result, drv};
use crate::ops::{self, Attention, Epilogue, GemmKernel, Strides};

struct EncLayer {
    ln1: DevBuf,
    qkv: DevBuf,
    o: DevBuf,
    ln2: DevBuf,
    wi: DevBuf,
    wo: DevBuf,
}

struct DecLayer {
    ln1: DevBuf,
    qkv: DevBuf,
    o: DevBuf,
    ln2: DevBuf,
    q_x: DevBuf,
    kv_x: DevBuf,
    o_x: DevBuf,
    ln3: DevBuf,
    wi: DevBuf,
    wo: DevBuf,
}

/// A T5 model resident on one device (bf16 weights).
pub struct CudaT5 {
    dev: Arc<CudaDevice>,
    cfg: T5Config,
    inner: usize,
    embed: DevBuf,
    lm_head: Option<DevBuf>,
    enc: Vec<EncLayer>,
    dec: Vec<DecLayer>,
    enc_norm: DevBuf,
    dec_norm: DevBuf,
    enc_bias: DevBuf,
    dec_bias: DevBuf,
    bias_r: usize,
}

/// Encoder output on the device: final hidden states and the decoder's cross-attention K/V.
pub struct Encoded {
    batch: usize,
    len: usize,
    lens: Vec<usize>,
    lens_dev: DevBuf,
    hidden: DevBuf,
    cross: Vec<DevBuf>,
}

impl Encoded {
    /// Sequences.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Padded length.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the padded length is zero (never, for a valid encode).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Unpadded lengths.
    pub fn lens(&self) -> &[usize] {
        &self.lens
    }
    /// Final encoder states, bf16 `[batch·len, d_model]`.
    pub fn hidden(&self) -> &DevBuf {
        &self.hidden
    }
}

fn werr(name: &str, why: &str) -> CudaError {
    CudaError::Weight(format!("{name}: {why}"))
}

fn f32_buf(dev: &Arc<CudaDevice>, v: &[f32]) -> Result<DevBuf> {
    let b = dev.alloc(v.len() * 4)?;
    dev.upload(&b, 0, v)?;
    Ok(b)
}

fn i32_buf(dev: &Arc<CudaDevice>, v: &[i32]) -> Result<DevBuf> {
    let b = dev.alloc_pooled(v.len() * 4)?;
    dev.upload(&b, 0, v)?;
    Ok(b)
}

/// `[heads][2R+1]` bias rows: entry `rel + R` is the bias of relative distance `rel`.
fn bias_lut(
    table: &[f32],
    heads: usize,
    cfg: &T5Config,
    bidirectional: bool,
    r: usize,
) -> Vec<f32> {
    let w = 2 * r + 1;
    let mut lut = vec![0f32; heads * w];
    for k in 0..w {
        let rel = k as i64 - r as i64;
        let b = relative_position_bucket(
            rel,
            bidirectional,
            cfg.relative_attention_num_buckets,
            cfg.relative_attention_max_distance,
        );
        for h in 0..heads {
            lut[h * w + k] = table[b * heads + h];
        }
    }
    lut
}

struct Loader<'a, S: TensorSource + ?Sized> {
    src: &'a S,
    up: CudaBackend,
    dev: Arc<CudaDevice>,
}

impl<S: TensorSource + ?Sized> Loader<'_, S> {
    fn view(&self, names: &[&str], shape: &[usize]) -> Result<TensorView<'_>> {
        for n in names {
            if let Some(v) = self.src.tensor(n) {
                if v.shape != shape {
                    return Err(werr(n, &format!("shape {:?}, expected {shape:?}", v.shape)));
                }
                if !v.dtype.is_float() || v.numel() * v.dtype.size() != v.data.len() {
                    return Err(werr(n, "not a float tensor of its shape"));
                }
                return Ok(v);
            }
        }
        Err(werr(names[0], "missing"))
    }

    /// Uploads the listed `[rows_i, cols]` tensors as bf16 into one matrix: tensor i starts
    /// at row `row0_i` with row stride `ld` elements.
    fn matrix(
        &self,
        parts: &[(&str, usize, usize)],
        cols: usize,
        total_rows: usize,
        ld: usize,
    ) -> Result<DevBuf> {
        let buf = self.dev.alloc(((total_rows - 1) * ld + cols) * 2)?;
        for &(name, rows, row0) in parts {
            let v = self.view(&[name], &[rows, cols])?;
            let dst = buf.view().from(row0 * cols * 2)?;
            self.up
                .upload_weight_rows(&v, rows, cols, dst, ld)
                .map_err(|e| CudaError::Weight(e.to_string()))?;
        }
        Ok(buf)
    }

    fn vector(&self, name: &str, n: usize, scale: f32) -> Result<DevBuf> {
        let v = self.view(&[name], &[n])?;
        let mut f = v.to_f32_vec().ok_or_else(|| werr(name, "not float"))?;
        f.iter_mut().for_each(|x| *x *= scale);
        f32_buf(&self.dev, &f)
    }

    fn ffn(&self, cfg: &T5Config, p: &str) -> Result<(DevBuf, DevBuf)> {
        let (d, f) = (cfg.d_model, cfg.d_ff);
        let wi = if cfg.feed_forward_proj.is_gated() {
            // Interleaved rows: 2i = wi_0[i] (gate), 2i + 1 = wi_1[i] (up).
            let buf = self.dev.alloc(2 * f * d * 2)?;
            for (k, name) in ["wi_0", "wi_1"].iter().enumerate() {
                let n = format!("{p}.DenseReluDense.{name}.weight");
                let v = self.view(&[&n], &[f, d])?;
                self.up
                    .upload_weight_rows(&v, f, d, buf.view().from(k * d * 2)?, 2 * d)
                    .map_err(|e| CudaError::Weight(e.to_string()))?;
            }
            buf
        } else {
            self.matrix(&[(&format!("{p}.DenseReluDense.wi.weight"), f, 0)], d, f, d)?
        };
        let wo = self.matrix(&[(&format!("{p}.DenseReluDense.wo.weight"), d, 0)], f, d, f)?;
        Ok((wi, wo))
    }

    fn attn(&self, cfg: &T5Config, p: &str, parts: &[&str]) -> Result<DevBuf> {
        let inner = cfg.num_heads * cfg.d_kv;
        let names: Vec<String> = parts.iter().map(|x| format!("{p}.{x}.weight")).collect();
        let specs: Vec<(&str, usize, usize)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), inner, i * inner))
            .collect();
        self.matrix(&specs, cfg.d_model, parts.len() * inner, cfg.d_model)
    }
}

impl CudaT5 {
    /// Loads a checkpoint (F32, BF16 or F16 tensors, HF T5 names) onto the device in bf16.
    pub fn load<S: TensorSource + ?Sized>(
        dev: &Arc<CudaDevice>,
        src: &S,
        cfg: &T5Config,
    ) -> Result<Self> {
        let l = Loader {
            src,
            up: CudaBackend::on(dev.clone()),
            dev: dev.clone(),
        };
        let (d, v, h) = (cfg.d_model, cfg.vocab_size, cfg.num_heads);
        let inner = h * cfg.d_kv;
        let shared = [
            "shared.weight",
            "encoder.embed_tokens.weight",
            "decoder.embed_tokens.weight",
        ];
        let sv = l.view(&shared, &[v, d])?;
        let embed = dev.alloc(v * d * 2)?;
        l.up.upload_weight_rows(&sv, v, d, embed.view(), d)
            .map_err(|e| CudaError::Weight(e.to_string()))?;
        let lm_head = if cfg.tie_word_embeddings {
            None
        } else {
            Some(l.matrix(&[("lm_head.weight", v, 0)], d, v, d)?)
        };
        let mut enc = Vec::with_capacity(cfg.num_layers);
        for i in 0..cfg.num_layers {
            let p = format!("encoder.block.{i}.layer");
            let (wi, wo) = l.ffn(cfg, &format!("{p}.1"))?;
            enc.push(EncLayer {
                ln1: l.vector(&format!("{p}.0.layer_norm.weight"), d, 1.0)?,
                qkv: l.attn(cfg, &format!("{p}.0.SelfAttention"), &["q", "k", "v"])?,
                o: l.matrix(
                    &[(&format!("{p}.0.SelfAttention.o.weight"), d, 0)],
                    inner,
                    d,
                    inner,
                )?,
                ln2: l.vector(&format!("{p}.1.layer_norm.weight"), d, 1.0)?,
                wi,
                wo,
            });
        }
        let mut dec = Vec::with_capacity(cfg.num_decoder_layers);
        for i in 0..cfg.num_decoder_layers {
            let p = format!("decoder.block.{i}.layer");
            let (wi, wo) = l.ffn(cfg, &format!("{p}.2"))?;
            dec.push(DecLayer {
                ln1: l.vector(&format!("{p}.0.layer_norm.weight"), d, 1.0)?,
                qkv: l.attn(cfg, &format!("{p}.0.SelfAttention"), &["q", "k", "v"])?,
                o: l.matrix(
                    &[(&format!("{p}.0.SelfAttention.o.weight"), d, 0)],
                    inner,
                    d,
                    inner,
                )?,
                ln2: l.vector(&format!("{p}.1.layer_norm.weight"), d, 1.0)?,
                q_x: l.attn(cfg, &format!("{p}.1.EncDecAttention"), &["q"])?,
                kv_x: l.attn(cfg, &format!("{p}.1.EncDecAttention"), &["k", "v"])?,
                o_x: l.matrix(
                    &[(&format!("{p}.1.EncDecAttention.o.weight"), d, 0)],
                    inner,
                    d,
                    inner,
                )?,
                ln3: l.vector(&format!("{p}.2.layer_norm.weight"), d, 1.0)?,
                wi,
                wo,
            });
        }
        let enc_norm = l.vector("encoder.final_layer_norm.weight", d, 1.0)?;
        // A tied head scales the decoder output by d_model^-0.5 before lm_head: folded into
        // the final norm's weights (the norm is linear in them).
        let head_scale = if cfg.tie_word_embeddings {
            1.0 / (d as f32).sqrt()
        } else {
            1.0
        };
        let dec_norm = l.vector("decoder.final_layer_norm.weight", d, head_scale)?;
        let nb = cfg.relative_attention_num_buckets;
        let r = cfg.relative_attention_max_distance.max(nb).max(1);
        let bias = |stack: &str, bidir: bool| -> Result<DevBuf> {
            let name =
                format!("{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
            let t = l.view(&[&name], &[nb, h])?;
            let tab = t.to_f32_vec().ok_or_else(|| werr(&name, "not float"))?;
            f32_buf(dev, &bias_lut(&tab, h, cfg, bidir, r))
        };
        let enc_bias = bias("encoder", true)?;
        let dec_bias = bias("decoder", false)?;
        dev.synchronize()?;
        Ok(CudaT5 {
            dev: dev.clone(),
            cfg: cfg.clone(),
            inner,
            embed,
            lm_head,
            enc,
            dec,
            enc_norm,
            dec_norm,
            enc_bias,
            dec_bias,
            bias_r: r,
        })
    }

    /// A model of `cfg`'s shapes with random bf16 weights generated on the device by a hash
    /// kernel (uniform, variance 1/fan_in for projections; norms 1; bias tables random):
    /// for benchmarks of the real shapes without a multi-gigabyte file.
    pub fn random(dev: &Arc<CudaDevice>, cfg: &T5Config, seed: u32) -> Result<Self> {
        let (d, f, v, h) = (cfg.d_model, cfg.d_ff, cfg.vocab_size, cfg.num_heads);
        let inner = h * cfg.d_kv;
        let mut s = seed;
        let mut mat = |rows: usize, cols: usize| -> Result<DevBuf> {
            let b = dev.alloc(rows * cols * 2)?;
            s = s.wrapping_add(0x9e37_79b9);
            ops::init_uniform_bf16(dev, b.view(), rows * cols, s, (3.0 / cols as f32).sqrt())?;
            Ok(b)
        };
        let ones = vec![1f32; d];
        let gated = cfg.feed_forward_proj.is_gated();
        let fi = if gated { 2 * f } else { f };
        let embed = mat(v, d)?;
        let lm_head = if cfg.tie_word_embeddings {
            None
        } else {
            Some(mat(v, d)?)
        };
        let mut enc = Vec::new();
        for _ in 0..cfg.num_layers {
            enc.push(EncLayer {
                ln1: f32_buf(dev, &ones)?,
                qkv: mat(3 * inner, d)?,
                o: mat(d, inner)?,
                ln2: f32_buf(dev, &ones)?,
                wi: mat(fi, d)?,
                wo: mat(d, f)?,
            });
        }
        let mut dec = Vec::new();
        for _ in 0..cfg.num_decoder_layers {
            dec.push(DecLayer {
                ln1: f32_buf(dev, &ones)?,
                qkv: mat(3 * inner, d)?,
                o: mat(d, inner)?,
                ln2: f32_buf(dev, &ones)?,
                q_x: mat(inner, d)?,
                kv_x: mat(2 * inner, d)?,
                o_x: mat(d, inner)?,
                ln3: f32_buf(dev, &ones)?,
                wi: mat(fi, d)?,
                wo: mat(d, f)?,
            });
        }
        let nb = cfg.relative_attention_num_buckets;
        let r = cfg.relative_attention_max_distance.max(nb).max(1);
        let mut rng = crate::reference::Rng::new(seed as u64);
        let tab: Vec<f32> = (0..nb * h).map(|_| rng.uniform()).collect();
        let enc_bias = f32_buf(dev, &bias_lut(&tab, h, cfg, true, r))?;
        let dec_bias = f32_buf(dev, &bias_lut(&tab, h, cfg, false, r))?;
        dev.synchronize()?;
        Ok(CudaT5 {
            dev: dev.clone(),
            cfg: cfg.clone(),
            inner,
            embed,
            lm_head,
            enc,
            dec,
            enc_norm: f32_buf(dev, &ones)?,
            dec_norm: f32_buf(dev, &ones)?,
            enc_bias,
            dec_bias,
            bias_r: r,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &T5Config {
        &self.cfg
    }

    /// The device.
    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.dev
    }

    fn ffn_epi(&self) -> (Epilogue, usize) {
        match self.cfg.feed_forward_proj {
            FeedForwardProj::GatedGelu => (Epilogue::GeGlu, 2 * self.cfg.d_ff),
            FeedForwardProj::GatedSilu => (Epilogue::SwiGlu, 2 * self.cfg.d_ff),
            _ => (Epilogue::Relu, self.cfg.d_ff),
        }
    }

    fn gemm(
        &self,
        a: DevView,
        w: &DevBuf,
        out: DevView,
        (m, n, k): (usize, usize, usize),
        epi: Epilogue,
    ) -> Result<()> {
        let ldc = epi.out_cols(n);
        ops::gemm(
            &self.dev,
            a,
            k,
            w.view(),
            k,
            out,
            ldc,
            (m, n, k),
            epi,
            GemmKernel::Auto,
        )
    }

    fn check_ids(&self, ids: &[u32]) -> Result<()> {
        match ids.iter().find(|&&i| i as usize >= self.cfg.vocab_size) {
            Some(i) => Err(CudaError::Shape(format!(
                "token id {i} outside the vocabulary"
            ))),
            None => Ok(()),
        }
    }

    /// Runs the encoder over `inputs` (padded on the right, masked). With `cross` the
    /// decoder's cross-attention K/V are computed too (needed by generation and scoring).
    pub fn encode<S: AsRef<[u32]>>(&self, inputs: &[S], cross: bool) -> Result<Encoded> {
        let batch = inputs.len();
        let len = inputs.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
        if batch == 0 || len == 0 || inputs.iter().any(|s| s.as_ref().is_empty()) {
            return Err(CudaError::Shape("empty batch or empty input".into()));
        }
        let mut ids = Vec::with_capacity(batch * len);
        for s in inputs {
            let s = s.as_ref();
            self.check_ids(s)?;
            ids.extend(s.iter().map(|&x| x as i32));
            ids.resize(ids.len() + len - s.len(), self.cfg.pad_token_id as i32);
        }
        let lens: Vec<usize> = inputs.iter().map(|s| s.as_ref().len()).collect();
        let lens_i: Vec<i32> = lens.iter().map(|&x| x as i32).collect();
        let dev = &self.dev;
        let (d, inner) = (self.cfg.d_model, self.inner);
        let bl = batch * len;
        let lens_dev = i32_buf(dev, &lens_i)?;
        let ids_dev = i32_buf(dev, &ids)?;
        let x = dev.alloc_pooled(bl * d * 4)?;
        let h = dev.alloc_pooled(bl * d * 2)?;
        let qkv = dev.alloc_pooled(bl * 3 * inner * 2)?;
        let att = dev.alloc_pooled(bl * inner * 2)?;
        let ff = dev.alloc_pooled(bl * self.cfg.d_ff * 2)?;
        ops::embed(
            dev,
            ids_dev.view(),
            self.embed.view(),
            x.view(),
            (bl, d, self.cfg.vocab_size),
        )?;
        let eps = self.cfg.layer_norm_epsilon;
        let (fepi, fn_) = self.ffn_epi();
        // Opt-in per-stage timing ([`set_profile`]): synchronizes after every stage.
        let profile = PROFILE.load(std::sync::atomic::Ordering::Relaxed);
        let mut prof = [0f64; 6];
        let mut t = std::time::Instant::now();
        let mut mark = |i: usize| -> Result<()> {
            if profile {
                dev.synchronize()?;
                prof[i] += t.elapsed().as_secs_f64() * 1e3;
                t = std::time::Instant::now();
            }
            Ok(())
        };
        for ly in &self.enc {
            ops::rmsnorm(dev, x.view(), ly.ln1.view(), h.view(), (bl, d), eps, true)?;
            mark(0)?;
            self.gemm(
                h.view(),
                &ly.qkv,
                qkv.view(),
                (bl, 3 * inner, d),
                Epilogue::Bf16,
            )?;
            mark(1)?;
            self.self_attention(&qkv, &att, batch, len, &lens_dev, &self.enc_bias, false)?;
            mark(2)?;
            self.gemm(
                att.view(),
                &ly.o,
                x.view(),
                (bl, d, inner),
                Epilogue::AddF32,
            )?;
            mark(3)?;
            ops::rmsnorm(dev, x.view(), ly.ln2.view(), h.view(), (bl, d), eps, true)?;
            mark(0)?;
            self.gemm(h.view(), &ly.wi, ff.view(), (bl, fn_, d), fepi)?;
            mark(4)?;
            self.gemm(
                ff.view(),
                &ly.wo,
                x.view(),
                (bl, d, self.cfg.d_ff),
                Epilogue::AddF32,
            )?;
            mark(5)?;
        }
        if profile {
            eprintln!(
                "t0-cuda profile: encoder {batch}x{len}: norms {:.1} ms, qkv {:.1}, attention {:.1}, out-proj {:.1}, ffn-in {:.1}, ffn-out {:.1}",
                prof[0], prof[1], prof[2], prof[3], prof[4], prof[5]
            );
        }
        let hidden = dev.alloc_pooled(bl * d * 2)?;
        ops::rmsnorm(
            dev,
            x.view(),
            self.enc_norm.view(),
            hidden.view(),
            (bl, d),
            eps,
            true,
        )?;
        let mut cr = Vec::new();
        if cross {
            for ly in &self.dec {
                let kv = dev.alloc_pooled(bl * 2 * inner * 2)?;
                self.gemm(
                    hidden.view(),
                    &ly.kv_x,
                    kv.view(),
                    (bl, 2 * inner, d),
                    Epilogue::Bf16,
                )?;
                cr.push(kv);
            }
        }
        Ok(Encoded {
            batch,
            len,
            lens,
            lens_dev,
            hidden,
            cross: cr,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn self_attention(
        &self,
        qkv: &DevBuf,
        out: &DevBuf,
        batch: usize,
        len: usize,
        key_len: &DevBuf,
        bias: &DevBuf,
        causal: bool,
    ) -> Result<()> {
        let inner = self.inner;
        let at = Attention {
            batch,
            heads: self.cfg.num_heads,
            dh: self.cfg.d_kv,
            lq: len,
            lk: len,
            q: qkv.view(),
            q_st: Strides {
                batch: len * 3 * inner,
                row: 3 * inner,
            },
            k: qkv.view().from(inner * 2)?,
            v: qkv.view().from(inner * 4)?,
            kv_st: Strides {
                batch: len * 3 * inner,
                row: 3 * inner,
            },
            o: out.view(),
            o_st: Strides {
                batch: len * inner,
                row: inner,
            },
            key_len: if causal {
                DevView::NULL
            } else {
                key_len.view()
            },
            bias: bias.view(),
            bias_r: self.bias_r,
            bias_w: 2 * self.bias_r + 1,
            bias_qpos: true,
            causal,
            q_offset: 0,
            kv_div: 1,
            pos: DevView::NULL,
            new_kv: None,
            force_rows: false,
        };
        ops::attention(&self.dev, &at)
    }

    /// Teacher-forced decoder over `batch` sequences of `t` ids (`batch` a multiple of
    /// `enc.batch()`: consecutive groups share one input), returning f32 logits
    /// `[batch·t, vocab]` on the device.
    pub fn decode_teacher_forced(
        &self,
        enc: &Encoded,
        ids: &[u32],
        batch: usize,
    ) -> Result<DevBuf> {
        if batch == 0
            || ids.is_empty()
            || !ids.len().is_multiple_of(batch)
            || !batch.is_multiple_of(enc.batch)
            || enc.cross.len() != self.dec.len()
        {
            return Err(CudaError::Shape(
                "decoder batch does not fit the encoded inputs".into(),
            ));
        }
        self.check_ids(ids)?;
        let dev = &self.dev;
        let t = ids.len() / batch;
        let (d, inner, v) = (self.cfg.d_model, self.inner, self.cfg.vocab_size);
        let rows = batch * t;
        let ids_i: Vec<i32> = ids.iter().map(|&x| x as i32).collect();
        let ids_dev = i32_buf(dev, &ids_i)?;
        let x = dev.alloc_pooled(rows * d * 4)?;
        let h = dev.alloc_pooled(rows * d * 2)?;
        let qkv = dev.alloc_pooled(rows * 3 * inner * 2)?;
        let att = dev.alloc_pooled(rows * inner * 2)?;
        let q = dev.alloc_pooled(rows * inner * 2)?;
        let ff = dev.alloc_pooled(rows * self.cfg.d_ff * 2)?;
        ops::embed(
            dev,
            ids_dev.view(),
            self.embed.view(),
            x.view(),
            (rows, d, v),
        )?;
        let eps = self.cfg.layer_norm_epsilon;
        let (fepi, fn_) = self.ffn_epi();
        let kv_div = batch / enc.batch;
        for (ly, kv) in self.dec.iter().zip(&enc.cross) {
            ops::rmsnorm(dev, x.view(), ly.ln1.view(), h.view(), (rows, d), eps, true)?;
            self.gemm(
                h.view(),
                &ly.qkv,
                qkv.view(),
                (rows, 3 * inner, d),
                Epilogue::Bf16,
            )?;
            self.self_attention(&qkv, &att, batch, t, &enc.lens_dev, &self.dec_bias, true)?;
            self.gemm(
                att.view(),
                &ly.o,
                x.view(),
                (rows, d, inner),
                Epilogue::AddF32,
            )?;
            ops::rmsnorm(dev, x.view(), ly.ln2.view(), h.view(), (rows, d), eps, true)?;
            self.gemm(
                h.view(),
                &ly.q_x,
                q.view(),
                (rows, inner, d),
                Epilogue::Bf16,
            )?;
            self.cross_attention(q.view(), kv, &att, enc, batch, t, kv_div)?;
            self.gemm(
                att.view(),
                &ly.o_x,
                x.view(),
                (rows, d, inner),
                Epilogue::AddF32,
            )?;
            ops::rmsnorm(dev, x.view(), ly.ln3.view(), h.view(), (rows, d), eps, true)?;
            self.gemm(h.view(), &ly.wi, ff.view(), (rows, fn_, d), fepi)?;
            self.gemm(
                ff.view(),
                &ly.wo,
                x.view(),
                (rows, d, self.cfg.d_ff),
                Epilogue::AddF32,
            )?;
        }
        ops::rmsnorm(
            dev,
            x.view(),
            self.dec_norm.view(),
            h.view(),
            (rows, d),
            eps,
            true,
        )?;
        let logits = dev.alloc_pooled(rows * v * 4)?;
        let head = self.lm_head.as_ref().unwrap_or(&self.embed);
        self.gemm(h.view(), head, logits.view(), (rows, v, d), Epilogue::F32)?;
        Ok(logits)
    }

    #[allow(clippy::too_many_arguments)]
    fn cross_attention(
        &self,
        q: DevView,
        kv: &DevBuf,
        out: &DevBuf,
        enc: &Encoded,
        batch: usize,
        t: usize,
        kv_div: usize,
    ) -> Result<()> {
        let inner = self.inner;
        let at = Attention {
            batch,
            heads: self.cfg.num_heads,
            dh: self.cfg.d_kv,
            lq: t,
            lk: enc.len,
            q,
            q_st: Strides {
                batch: t * inner,
                row: inner,
            },
            k: kv.view(),
            v: kv.view().from(inner * 2)?,
            kv_st: Strides {
                batch: enc.len * 2 * inner,
                row: 2 * inner,
            },
            o: out.view(),
            o_st: Strides {
                batch: t * inner,
                row: inner,
            },
            key_len: enc.lens_dev.view(),
            bias: DevView::NULL,
            bias_r: 0,
            bias_w: 1,
            bias_qpos: false,
            causal: false,
            q_offset: 0,
            kv_div,
            pos: DevView::NULL,
            new_kv: None,
            force_rows: false,
        };
        ops::attention(&self.dev, &at)
    }

    /// Rank classification: for input `i` and each of its choices (token ids, EOS included
    /// by the caller), the sum of the choice tokens' log-probabilities under teacher forcing.
    /// Every input must have the same number of choices (they share its encoder output).
    pub fn score<S: AsRef<[u32]>, C: AsRef<[u32]>>(
        &self,
        inputs: &[S],
        choices: &[Vec<C>],
    ) -> Result<Vec<Vec<f32>>> {
        if inputs.len() != choices.len() || choices.is_empty() {
            return Err(CudaError::Shape("one list of choices per input".into()));
        }
        let nc = choices[0].len();
        if nc == 0 || choices.iter().any(|c| c.len() != nc) {
            return Err(CudaError::Shape(
                "every input needs the same, non-zero number of choices".into(),
            ));
        }
        let t = choices
            .iter()
            .flatten()
            .map(|c| c.as_ref().len())
            .max()
            .unwrap_or(0);
        if t == 0 || choices.iter().flatten().any(|c| c.as_ref().is_empty()) {
            return Err(CudaError::Shape("empty choice".into()));
        }
        let enc = self.encode(inputs, true)?;
        let batch = inputs.len() * nc;
        let mut ids = Vec::with_capacity(batch * t);
        let mut targets = Vec::with_capacity(batch * t);
        for c in choices.iter().flatten() {
            let c = c.as_ref();
            ids.push(self.cfg.decoder_start_token_id);
            ids.extend_from_slice(&c[..c.len() - 1]);
            ids.resize(ids.len() + t - c.len(), self.cfg.pad_token_id);
            targets.extend(c.iter().map(|&x| x as i32));
            targets.resize(targets.len() + t - c.len(), -1);
        }
        let logits = self.decode_teacher_forced(&enc, &ids, batch)?;
        let tg = i32_buf(&self.dev, &targets)?;
        let lp = self.dev.alloc_pooled(batch * t * 4)?;
        ops::log_softmax_gather(
            &self.dev,
            logits.view(),
            tg.view(),
            lp.view(),
            (batch * t, self.cfg.vocab_size),
        )?;
        let mut host = vec![0f32; batch * t];
        self.dev.download(&lp, 0, &mut host)?;
        Ok(host
            .chunks(t * nc)
            .map(|ex| ex.chunks(t).map(|c| c.iter().sum()).collect())
            .collect())
    }

    /// Greedy generation of up to `max_new` tokens per input (HF `generate`, greedy: a
    /// finished sequence is fed padding). With `stop_at_eos` false, exactly `max_new`
    /// tokens are produced for every sequence (EOS ignored: the benchmark workloads). With
    /// `graph`, the decode step is captured once as a CUDA graph and replayed.
    pub fn generate(
        &self,
        enc: &Encoded,
        max_new: usize,
        stop_at_eos: bool,
        graph: bool,
    ) -> Result<Vec<Vec<u32>>> {
        let mut st = DecodeState::new(self, enc, max_new, stop_at_eos)?;
        st.run(self, enc, max_new, graph)?;
        st.tokens(self, stop_at_eos)
    }
}

/// Bytes of the next weight matrix a decode GEMV prefetches into L2 (about what one wave of
/// the next GEMV reads first; the H100's L2 is 50 MB).
pub const PREFETCH_BYTES: usize = 8 << 20;

/// Device buffers of one greedy generation (fixed for the life of a captured graph).
pub struct DecodeState {
    batch: usize,
    cap: usize,
    tok: DevBuf,
    pos: DevBuf,
    hist: DevBuf,
    done: Option<DevBuf>,
    kc: Vec<DevBuf>,
    vc: Vec<DevBuf>,
    x: DevBuf,
    h: DevBuf,
    qkv: DevBuf,
    att: DevBuf,
    q: DevBuf,
    ff: DevBuf,
    logits: DevBuf,
    graph: Option<cudarc::driver::CudaGraph>,
    /// Queue the step's kernels with programmatic dependent launch.
    pdl: bool,
    /// Fold each RMS norm into the batch-1 GEMV that follows it.
    fused_norm: bool,
    /// Run each attention inside the GEMV that makes its q (k, v) ([`ops::gemv_rms_attn`]).
    fused_attn: bool,
    /// Per layer, self then cross: `heads` completion counters of the fused kernel.
    counters: DevBuf,
    /// Each batch-1 GEMV prefetches the start of the next one's weights into L2.
    prefetch: bool,
}

impl DecodeState {
    /// Allocates and initialises (decoder start token, position 0) the state.
    pub fn new(m: &CudaT5, enc: &Encoded, cap: usize, stop_at_eos: bool) -> Result<Self> {
        let dev = &m.dev;
        let b = enc.batch;
        let (d, inner, v) = (m.cfg.d_model, m.inner, m.cfg.vocab_size);
        let cap = cap.max(1);
        let tok = dev.alloc(b * 4)?;
        let pos = dev.alloc(4)?;
        let hist = dev.alloc(b * cap * 4)?;
        let done = if stop_at_eos {
            Some(dev.alloc(b * 4)?)
        } else {
            None
        };
        let mut kc = Vec::new();
        let mut vc = Vec::new();
        for _ in &m.dec {
            kc.push(dev.alloc(b * cap * inner * 2)?);
            vc.push(dev.alloc(b * cap * inner * 2)?);
        }
        Ok(DecodeState {
            batch: b,
            cap,
            tok,
            pos,
            hist,
            done,
            kc,
            vc,
            x: dev.alloc(b * d * 4)?,
            h: dev.alloc(b * d * 2)?,
            qkv: dev.alloc(b * 3 * inner * 2)?,
            att: dev.alloc(b * inner * 2)?,
            q: dev.alloc(b * inner * 2)?,
            ff: dev.alloc(b * m.cfg.d_ff * 2)?,
            logits: dev.alloc(b * v * 4)?,
            graph: None,
            pdl: dev.pdl_supported(),
            fused_norm: b == 1 && !std::env::var("T0_CUDA_GEMV_RMS").is_ok_and(|v| v == "0"),
            fused_attn: b == 1
                && m.cfg.d_kv == 64
                && !std::env::var("T0_CUDA_GEMV_ATTN").is_ok_and(|v| v == "0"),
            counters: {
                let c = dev.alloc(m.dec.len().max(1) * 2 * m.cfg.num_heads * 4)?;
                dev.memset(&c, 0, c.bytes(), 0)?;
                c
            },
            // Off by default: measured 7 % slower on the H100 (run 13: 3B 1.724 vs 1.610
            // ms/token, T0pp 4.467 vs 4.304) — the prefetched lines compete with the running
            // GEMV's own stream. `T0_CUDA_PREFETCH=1` turns it on.
            prefetch: b == 1 && std::env::var("T0_CUDA_PREFETCH").is_ok_and(|v| v == "1"),
        })
        .and_then(|st| {
            st.reset(m)?;
            Ok(st)
        })
    }

    /// Whether the step's kernels are queued with programmatic dependent launch (default:
    /// where the device supports it, [`CudaDevice::pdl_supported`]). Changing it drops a
    /// captured graph.
    pub fn set_pdl(&mut self, dev: &CudaDevice, on: bool) {
        let on = on && dev.pdl_supported();
        if on != self.pdl {
            self.graph = None;
        }
        self.pdl = on;
    }

    /// Whether each RMS norm is folded into the batch-1 GEMV after it ([`ops::gemv_rms`];
    /// default for batch 1 unless `T0_CUDA_GEMV_RMS=0`). Batches above 1 always run the norm
    /// kernel. Changing it drops a captured graph.
    pub fn set_fused_norm(&mut self, on: bool) {
        let on = on && self.batch == 1;
        if on != self.fused_norm {
            self.graph = None;
        }
        self.fused_norm = on;
    }

    /// Whether each attention runs inside the GEMV that makes its query
    /// ([`ops::gemv_rms_attn`]; default for batch 1 and head size 64 unless
    /// `T0_CUDA_GEMV_ATTN=0`; needs the folded norm). Changing it drops a captured graph.
    pub fn set_fused_attn(&mut self, on: bool) {
        if on != self.fused_attn {
            self.graph = None;
        }
        self.fused_attn = on && self.batch == 1;
    }

    /// (PDL, fused norm) as this state runs them.
    pub fn options(&self) -> (bool, bool) {
        (self.pdl, self.fused_norm)
    }

    /// Whether each batch-1 GEMV of the step prefetches the first [`PREFETCH_BYTES`] of the
    /// next one's weights into L2 (off unless `T0_CUDA_PREFETCH=1`: measured slower).
    /// Changing it drops a captured graph.
    pub fn set_prefetch(&mut self, on: bool) {
        if on != self.prefetch {
            self.graph = None;
        }
        self.prefetch = on;
    }

    /// The L2 prefetch hint for the product queued next (see [`DecodeState::set_prefetch`]).
    fn hint(&self, dev: &CudaDevice, next: &DevBuf) {
        if self.prefetch {
            dev.set_next_prefetch(next.ptr(), next.bytes().min(PREFETCH_BYTES));
        }
    }

    /// Whether the attention-in-GEMV path is on (see [`DecodeState::set_fused_attn`]).
    pub fn fused_attn(&self) -> bool {
        self.fused_attn && self.fused_norm
    }

    /// The fused GEMV + attention when on and the shapes allow; `Ok(false)` when the caller
    /// must run the two-kernel path.
    #[allow(clippy::too_many_arguments)]
    fn try_fused_attn(
        &self,
        m: &CudaT5,
        l: usize,
        g: &DevBuf,
        w: &DevBuf,
        out: DevView,
        self_attn: bool,
        enc: &Encoded,
    ) -> Result<bool> {
        if !self.fused_attn() || m.cfg.d_kv != 64 {
            return Ok(false);
        }
        let (heads, inner) = (m.cfg.num_heads, m.inner);
        let d = m.cfg.d_model;
        if !ops::gemv_rms_fits(self.x.view(), g.view(), w.view(), d, d) {
            return Ok(false);
        }
        let slot = (2 * l + usize::from(!self_attn)) * heads * 4;
        let at = if self_attn {
            ops::HeadAttention {
                self_attn: true,
                k: self.kc[l].view(),
                v: self.vc[l].view(),
                kv_row: inner,
                lk: self.cap,
                pos: self.pos.view(),
                key_len: DevView::NULL,
                bias: m.dec_bias.view(),
                bias_r: m.bias_r,
                bias_w: 2 * m.bias_r + 1,
                counters: self.counters.slice(slot, heads * 4)?,
                att: self.att.view(),
            }
        } else {
            let kv = &enc.cross[l];
            ops::HeadAttention {
                self_attn: false,
                k: kv.view(),
                v: kv.view().from(inner * 2)?,
                kv_row: 2 * inner,
                lk: enc.len,
                pos: DevView::NULL,
                key_len: enc.lens_dev.view(),
                bias: DevView::NULL,
                bias_r: 0,
                bias_w: 1,
                counters: self.counters.slice(slot, heads * 4)?,
                att: self.att.view(),
            }
        };
        match ops::gemv_rms_attn(
            &m.dev,
            self.x.view(),
            g.view(),
            w.view(),
            out,
            (heads, d),
            m.cfg.layer_norm_epsilon,
            &at,
        ) {
            Ok(()) => Ok(true),
            Err(CudaError::Shape(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `out = W · rmsnorm(x)`: one kernel where [`DecodeState::set_fused_norm`] allows and
    /// the shape fits, else the norm kernel into `h` and the GEMM.
    fn normed_gemm(
        &self,
        m: &CudaT5,
        g: &DevBuf,
        w: &DevBuf,
        out: DevView,
        (n, k): (usize, usize),
        epi: Epilogue,
    ) -> Result<()> {
        let dev = &m.dev;
        let eps = m.cfg.layer_norm_epsilon;
        if self.fused_norm && ops::gemv_rms_fits(self.x.view(), g.view(), w.view(), k, k) {
            return ops::gemv_rms(
                dev,
                self.x.view(),
                g.view(),
                w.view(),
                k,
                out,
                (n, k),
                eps,
                epi,
            );
        }
        ops::rmsnorm(
            dev,
            self.x.view(),
            g.view(),
            self.h.view(),
            (self.batch, k),
            eps,
            true,
        )?;
        m.gemm(self.h.view(), w, out, (self.batch, n, k), epi)
    }

    /// Back to the start of a generation (decoder start token at position 0); the caches
    /// and a captured graph are kept.
    pub fn reset(&self, m: &CudaT5) -> Result<()> {
        let dev = &m.dev;
        dev.upload(
            &self.tok,
            0,
            &vec![m.cfg.decoder_start_token_id as i32; self.batch],
        )?;
        dev.upload(&self.pos, 0, &[0i32])?;
        dev.memset(&self.hist, 0, self.hist.bytes(), 0)?;
        if let Some(dn) = &self.done {
            dev.memset(dn, 0, dn.bytes(), 0)?;
        }
        dev.synchronize()
    }

    /// Queues one decode step (all positions read from device memory).
    pub fn step(&self, m: &CudaT5, enc: &Encoded) -> Result<()> {
        let dev = &m.dev;
        let b = self.batch;
        let (d, inner, v) = (m.cfg.d_model, m.inner, m.cfg.vocab_size);
        let (fepi, fn_) = m.ffn_epi();
        ops::embed(
            dev,
            self.tok.view(),
            m.embed.view(),
            self.x.view(),
            (b, d, v),
        )?;
        let head = m.lm_head.as_ref().unwrap_or(&m.embed);
        for (l, ly) in m.dec.iter().enumerate() {
            let next = m.dec.get(l + 1).map_or(head, |n| &n.qkv);
            self.hint(dev, &ly.o);
            if !self.try_fused_attn(m, l, &ly.ln1, &ly.qkv, self.qkv.view(), true, enc)? {
                self.self_attention_two_kernels(m, l, ly)?;
            }
            self.hint(dev, &ly.q_x);
            m.gemm(
                self.att.view(),
                &ly.o,
                self.x.view(),
                (b, d, inner),
                Epilogue::AddF32,
            )?;
            self.hint(dev, &ly.o_x);
            if !self.try_fused_attn(m, l, &ly.ln2, &ly.q_x, self.q.view(), false, enc)? {
                self.normed_gemm(
                    m,
                    &ly.ln2,
                    &ly.q_x,
                    self.q.view(),
                    (inner, d),
                    Epilogue::Bf16,
                )?;
                m.cross_attention(self.q.view(), &enc.cross[l], &self.att, enc, b, 1, 1)?;
            }
            self.hint(dev, &ly.wi);
            m.gemm(
                self.att.view(),
                &ly.o_x,
                self.x.view(),
                (b, d, inner),
                Epilogue::AddF32,
            )?;
            self.hint(dev, &ly.wo);
            self.normed_gemm(m, &ly.ln3, &ly.wi, self.ff.view(), (fn_, d), fepi)?;
            self.hint(dev, next);
            m.gemm(
                self.ff.view(),
                &ly.wo,
                self.x.view(),
                (b, d, m.cfg.d_ff),
                Epilogue::AddF32,
            )?;
        }
        if let Some(first) = m.dec.first() {
            self.hint(dev, &first.qkv);
        }
        self.normed_gemm(
            m,
            &m.dec_norm,
            head,
            self.logits.view(),
            (v, d),
            Epilogue::F32,
        )?;
        ops::argmax_step(
            dev,
            self.logits.view(),
            (b, v),
            self.tok.view(),
            Some((self.hist.view(), self.cap, self.pos.view())),
            self.done.as_ref().map_or(DevView::NULL, |x| x.view()),
            m.cfg.eos_token_id,
            m.cfg.pad_token_id,
            None,
        )?;
        ops::advance_pos(dev, self.pos.view())
    }

    /// The self-attention block's first half as two kernels: the (normed) qkv GEMM, then
    /// attention over the cache with the new key and value appended.
    fn self_attention_two_kernels(&self, m: &CudaT5, l: usize, ly: &DecLayer) -> Result<()> {
        let dev = &m.dev;
        let b = self.batch;
        let (d, inner, heads, dh) = (m.cfg.d_model, m.inner, m.cfg.num_heads, m.cfg.d_kv);
        {
            self.normed_gemm(
                m,
                &ly.ln1,
                &ly.qkv,
                self.qkv.view(),
                (3 * inner, d),
                Epilogue::Bf16,
            )?;
            let qkv = self.qkv.view();
            let at = Attention {
                batch: b,
                heads,
                dh,
                lq: 1,
                lk: self.cap,
                q: qkv,
                q_st: Strides {
                    batch: 3 * inner,
                    row: 3 * inner,
                },
                k: self.kc[l].view(),
                v: self.vc[l].view(),
                kv_st: Strides {
                    batch: self.cap * inner,
                    row: inner,
                },
                o: self.att.view(),
                o_st: Strides {
                    batch: inner,
                    row: inner,
                },
                key_len: DevView::NULL,
                bias: m.dec_bias.view(),
                bias_r: m.bias_r,
                bias_w: 2 * m.bias_r + 1,
                bias_qpos: true,
                causal: true,
                q_offset: 0,
                kv_div: 1,
                pos: self.pos.view(),
                new_kv: Some((qkv.from(inner * 2)?, qkv.from(inner * 4)?, 3 * inner)),
                force_rows: false,
            };
            ops::attention(dev, &at)?;
        }
        Ok(())
    }

    /// Runs `steps` decode steps (graph replays when `graph`), stopping early once every
    /// sequence has finished when EOS stops are on.
    pub fn run(&mut self, m: &CudaT5, enc: &Encoded, steps: usize, graph: bool) -> Result<()> {
        let steps = steps.min(self.cap);
        let dev = &m.dev;
        if self.pdl {
            // Measured on the H100 (run 12): with the attention inside the GEMVs, letting
            // each kernel trigger its successor right after its wait is 6 % faster; with
            // separate attention kernels it is 2.5 % slower. The flags are read when the
            // kernels run, so they are set here, before launches or replays.
            dev.ensure_pdl_flags(if self.fused_attn() { 1 } else { 0 })?;
        }
        let check_every = 8;
        if graph && steps > 0 {
            if self.graph.is_none() {
                // Every module must be loaded before capture (no compilation inside a capture).
                dev.warm_up()?;
                let g = match self.capture(m, enc) {
                    Ok(g) => g,
                    Err(e) if self.pdl => {
                        // A driver that cannot capture programmatic edges: capture plainly.
                        eprintln!("t0-cuda: decode graph with PDL failed ({e}); without PDL");
                        self.pdl = false;
                        self.capture(m, enc)?
                    }
                    Err(e) => return Err(e),
                };
                self.graph = Some(g);
            }
            let g = self.graph.as_ref().expect("captured above");
            for s in 0..steps {
                g.launch().map_err(drv("launching the decode graph"))?;
                if self.done.is_some() && (s + 1) % check_every == 0 && self.all_done(dev)? {
                    break;
                }
            }
        } else {
            let prev = dev.set_pdl(self.pdl);
            let mut r = Ok(());
            for s in 0..steps {
                r = self.step(m, enc);
                if r.is_err() {
                    break;
                }
                if self.done.is_some() && (s + 1) % check_every == 0 {
                    match self.all_done(dev) {
                        Ok(true) => break,
                        Ok(false) => {}
                        Err(e) => {
                            r = Err(e);
                            break;
                        }
                    }
                }
            }
            dev.set_pdl(prev);
            r?;
        }
        dev.synchronize()
    }

    /// Replays the captured decode graph `steps` times as it is — no capture, no change of
    /// the PDL flags, no EOS check (for benchmarks comparing flags). An error when no graph
    /// has been captured yet ([`DecodeState::run`] with `graph` captures one).
    pub fn replay(&self, m: &CudaT5, steps: usize) -> Result<()> {
        let g = self.graph.as_ref().ok_or_else(|| CudaError::Driver {
            what: "replaying the decode graph".into(),
            error: "no graph captured yet".into(),
        })?;
        for _ in 0..steps.min(self.cap) {
            g.launch().map_err(drv("launching the decode graph"))?;
        }
        m.dev.synchronize()
    }

    /// Captures one step as a graph (kernels queued with PDL when `self.pdl`).
    fn capture(&self, m: &CudaT5, enc: &Encoded) -> Result<cudarc::driver::CudaGraph> {
        let dev = &m.dev;
        let stream = dev.stream();
        stream
            .begin_capture(CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_RELAXED)
            .map_err(drv("beginning graph capture"))?;
        let prev = dev.set_pdl(self.pdl);
        let r = self.step(m, enc);
        dev.set_pdl(prev);
        let g = stream
            .end_capture(CUgraphInstantiate_flags(0))
            .map_err(drv("ending graph capture"))?;
        r?;
        g.ok_or_else(|| CudaError::Driver {
            what: "capturing the decode step".into(),
            error: "empty graph".into(),
        })
    }

    fn all_done(&self, dev: &Arc<CudaDevice>) -> Result<bool> {
        let Some(dn) = &self.done else {
            return Ok(false);
        };
        let mut v = vec![0i32; self.batch];
        dev.download(dn, 0, &mut v)?;
        Ok(v.iter().all(|&x| x != 0))
    }

    /// The f32 logits of the last step, `[batch][vocab]`.
    pub fn logits(&self, m: &CudaT5) -> Result<Vec<f32>> {
        let mut v = vec![0f32; self.batch * m.cfg.vocab_size];
        m.dev.download(&self.logits, 0, &mut v)?;
        Ok(v)
    }

    /// The generated tokens (up to and including EOS when `stop_at_eos`).
    pub fn tokens(&self, m: &CudaT5, stop_at_eos: bool) -> Result<Vec<Vec<u32>>> {
        let mut pos = [0i32];
        m.dev.download(&self.pos, 0, &mut pos)?;
        let n = (pos[0].max(0) as usize).min(self.cap);
        let mut h = vec![0i32; self.batch * self.cap];
        m.dev.download(&self.hist, 0, &mut h)?;
        Ok(h.chunks(self.cap)
            .map(|row| {
                let mut out = Vec::new();
                for &t in &row[..n] {
                    out.push(t as u32);
                    if stop_at_eos && t as u32 == m.cfg.eos_token_id {
                        break;
                    }
                }
                out
            })
            .collect())
    }
}
