//! The decoder stack (`decoder.block.{i}`, `decoder.final_layer_norm`) and its self-attention
//! KV cache. modeling_t5.py 4.46, `T5Stack.forward` with `is_decoder = True`: causal
//! self-attention with causal buckets (positions offset by the cache length,
//! `compute_bias(..., cache_position)`), then cross-attention over the encoder output
//! (no position bias, encoder padding masked), then the feed-forward block.

use alloc::vec::Vec;

use super::ModelError;
use super::attention::Attention;
use super::encoder::{CrossKv, EncoderOutput};
use super::ffn::FeedForward;
use super::position::RelativeBias;
use super::weights::{WeightLoader, block_name};
use crate::backend::{AttentionParams, Backend};
use crate::config::T5Config;
use crate::tensor::TensorSource;

/// `decoder.block.{i}`: `layer.0` self-attention, `layer.1` cross-attention
/// (`EncDecAttention`), `layer.2` feed-forward.
pub(crate) struct DecoderBlock<B: Backend> {
    ln_self: B::Vector,
    self_attn: Attention<B>,
    ln_cross: B::Vector,
    cross_attn: Attention<B>,
    ln_ff: B::Vector,
    ffn: FeedForward<B>,
}

/// The decoder stack.
pub(crate) struct Decoder<B: Backend> {
    blocks: Vec<DecoderBlock<B>>,
    final_norm: B::Vector,
    bias: RelativeBias,
}

/// Self-attention keys and values of every decoder layer, preallocated for `batch`
/// sequences of up to `capacity` positions and filled one step at a time.
pub struct DecoderCache<B: Backend> {
    k: Vec<B::Tensor>,
    v: Vec<B::Tensor>,
    batch: usize,
    capacity: usize,
    len: usize,
}

impl<B: Backend> DecoderCache<B> {
    /// Positions filled so far.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether no position is filled yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Positions available in total.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Sequences (rows of the batch) the cache holds.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Reorders the cached sequences in place (beam search): sequence `i` takes what
    /// sequence `idx[i]` held. Uses [`Backend::reorder_seqs`] on every layer's K and V; no
    /// cache is reallocated by a backend that overrides it.
    pub fn reorder(&mut self, be: &B, idx: &[usize]) -> Result<(), ModelError> {
        for t in self.k.iter_mut().chain(self.v.iter_mut()) {
            be.reorder_seqs(t, self.capacity, self.len, idx)?;
        }
        Ok(())
    }

    /// A smaller cache holding sequences `idx` (finished sequences leave the batch),
    /// through [`Backend::gather_seqs`].
    pub fn select(&self, be: &B, idx: &[usize]) -> Result<Self, ModelError> {
        let g = |ts: &[B::Tensor]| -> Result<Vec<B::Tensor>, ModelError> {
            ts.iter()
                .map(|t| Ok(be.gather_seqs(t, self.capacity, idx)?))
                .collect()
        };
        Ok(DecoderCache {
            k: g(&self.k)?,
            v: g(&self.v)?,
            batch: idx.len(),
            capacity: self.capacity,
            len: self.len,
        })
    }
}

impl<B: Backend> Decoder<B> {
    pub(crate) fn load<S: TensorSource + ?Sized>(
        w: &WeightLoader<'_, S, B>,
        cfg: &T5Config,
    ) -> Result<Self, ModelError> {
        let d = cfg.d_model;
        let mut blocks = Vec::with_capacity(cfg.num_decoder_layers);
        for i in 0..cfg.num_decoder_layers {
            blocks.push(DecoderBlock {
                ln_self: w.vector(&block_name("decoder", i, 0, "layer_norm.weight"), d)?,
                self_attn: Attention::load(w, cfg, &block_name("decoder", i, 0, "SelfAttention"))?,
                ln_cross: w.vector(&block_name("decoder", i, 1, "layer_norm.weight"), d)?,
                cross_attn: Attention::load(
                    w,
                    cfg,
                    &block_name("decoder", i, 1, "EncDecAttention"),
                )?,
                ln_ff: w.vector(&block_name("decoder", i, 2, "layer_norm.weight"), d)?,
                ffn: FeedForward::load(w, cfg, &block_name("decoder", i, 2, "DenseReluDense"))?,
            });
        }
        let table = w.host_f32(
            "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            cfg.relative_attention_num_buckets,
            cfg.num_heads,
        )?;
        Ok(Decoder {
            blocks,
            final_norm: w.vector("decoder.final_layer_norm.weight", d)?,
            bias: RelativeBias::new(
                table,
                cfg.num_heads,
                cfg.relative_attention_num_buckets,
                cfg.relative_attention_max_distance,
                false,
            ),
        })
    }

    /// The cross-attention K/V of every layer for an encoder output `[batch·len, d_model]`.
    pub(crate) fn cross_kv(&self, be: &B, hidden: &B::Tensor) -> Result<CrossKv<B>, ModelError> {
        self.blocks
            .iter()
            .map(|b| {
                Ok((
                    be.linear(hidden, &b.cross_attn.k)?,
                    be.linear(hidden, &b.cross_attn.v)?,
                ))
            })
            .collect()
    }

    /// A cache for `batch` sequences of up to `capacity` positions.
    pub(crate) fn new_cache(
        &self,
        be: &B,
        cfg: &T5Config,
        batch: usize,
        capacity: usize,
    ) -> Result<DecoderCache<B>, ModelError> {
        let rows = batch
            .checked_mul(capacity)
            .ok_or(ModelError::InvalidOption {
                option: "max_new_tokens",
                reason: "batch × length overflows".into(),
            })?;
        let mut k = Vec::with_capacity(self.blocks.len());
        let mut v = Vec::with_capacity(self.blocks.len());
        for _ in &self.blocks {
            k.push(be.zeros(rows, cfg.inner_dim())?);
            v.push(be.zeros(rows, cfg.inner_dim())?);
        }
        Ok(DecoderCache {
            k,
            v,
            batch,
            capacity,
            len: 0,
        })
    }

    /// Runs the stack over embedded decoder input `x` (`[batch·q_len, d_model]`) against
    /// `enc`, whose sequence `b / (batch / enc.batch)` each query sequence `b` reads.
    ///
    /// With a cache, the `q_len` new positions follow the `cache.len()` cached ones and are
    /// appended; without one, the input is a whole teacher-forced sequence (causal mask
    /// only: right padding never influences real positions). Returns the final-normed
    /// hidden states.
    // The stack's inputs are all distinct (backend, config, activations, batch geometry,
    // encoder output, cache); bundling them would only hide that.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward(
        &self,
        be: &B,
        cfg: &T5Config,
        mut x: B::Tensor,
        batch: usize,
        q_len: usize,
        enc: &EncoderOutput<B>,
        mut cache: Option<&mut DecoderCache<B>>,
    ) -> Result<B::Tensor, ModelError> {
        if enc.batch == 0 || !batch.is_multiple_of(enc.batch) {
            return Err(ModelError::InvalidOption {
                option: "batch",
                reason: alloc::format!(
                    "{batch} decoder sequences cannot share {} encoder outputs",
                    enc.batch
                ),
            });
        }
        let offset = match &cache {
            Some(c) => {
                if c.batch != batch || c.len + q_len > c.capacity {
                    return Err(ModelError::InvalidOption {
                        option: "cache",
                        reason: alloc::format!(
                            "cache for {} x {} holds {}; cannot add {batch} x {q_len}",
                            c.batch,
                            c.capacity,
                            c.len
                        ),
                    });
                }
                c.len
            }
            None => 0,
        };
        let kv_len = offset + q_len;
        // Causal buckets, queries at absolute positions offset.. (shared by all blocks).
        let bias = be.upload(
            cfg.num_heads,
            q_len + kv_len - 1,
            &self.bias.values(q_len, kv_len, offset),
        )?;
        let cap = cache.as_ref().map_or(q_len, |c| c.capacity);
        let self_params = AttentionParams {
            batch,
            heads: cfg.num_heads,
            d_kv: cfg.d_kv,
            q_len,
            kv_cap: cap,
            kv_len,
            kv_group: 1,
            key_lens: None,
            causal_offset: Some(offset),
            bias: Some(&bias),
        };
        let cross_params = AttentionParams {
            batch,
            heads: cfg.num_heads,
            d_kv: cfg.d_kv,
            q_len,
            kv_cap: enc.len,
            kv_len: enc.len,
            kv_group: batch / enc.batch,
            key_lens: Some(&enc.lens),
            causal_offset: None,
            bias: None,
        };
        let eps = cfg.layer_norm_epsilon;
        for (l, blk) in self.blocks.iter().enumerate() {
            let h = be.rms_norm(&x, &blk.ln_self, eps)?;
            let q = be.linear(&h, &blk.self_attn.q)?;
            let k = be.linear(&h, &blk.self_attn.k)?;
            let v = be.linear(&h, &blk.self_attn.v)?;
            let a = match cache.as_deref_mut() {
                Some(c) => {
                    be.write_rows(&mut c.k[l], &k, batch, c.capacity, offset)?;
                    be.write_rows(&mut c.v[l], &v, batch, c.capacity, offset)?;
                    be.attention(&q, &c.k[l], &c.v[l], &self_params)?
                }
                None => be.attention(&q, &k, &v, &self_params)?,
            };
            be.add_assign(&mut x, &be.linear(&a, &blk.self_attn.o)?)?;

            let h = be.rms_norm(&x, &blk.ln_cross, eps)?;
            let q = be.linear(&h, &blk.cross_attn.q)?;
            let (ck, cv) = &enc.cross[l];
            let a = be.attention(&q, ck, cv, &cross_params)?;
            be.add_assign(&mut x, &be.linear(&a, &blk.cross_attn.o)?)?;

            let h = be.rms_norm(&x, &blk.ln_ff, eps)?;
            be.add_assign(&mut x, &blk.ffn.forward(be, &h)?)?;
        }
        if let Some(c) = cache {
            c.len += q_len;
        }
        Ok(be.rms_norm(&x, &self.final_norm, eps)?)
    }
}
