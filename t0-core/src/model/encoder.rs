//! The encoder stack (`encoder.block.{i}`, `encoder.final_layer_norm`) and its output.
//! modeling_t5.py 4.46, `T5Stack.forward` with `is_decoder = False`, `T5Block`,
//! `T5LayerSelfAttention`, `T5LayerFF`: pre-norm residual blocks, bidirectional bias.

use alloc::vec::Vec;

use super::ModelError;
use super::attention::Attention;
use super::ffn::FeedForward;
use super::position::RelativeBias;
use super::weights::{WeightLoader, block_name};
use crate::backend::{AttentionParams, Backend};
use crate::config::T5Config;
use crate::tensor::TensorSource;

/// `encoder.block.{i}`: `layer.0` self-attention, `layer.1` feed-forward.
pub(crate) struct EncoderBlock<B: Backend> {
    ln_attn: B::Vector,
    attn: Attention<B>,
    ln_ff: B::Vector,
    ffn: FeedForward<B>,
}

/// The encoder stack.
pub(crate) struct Encoder<B: Backend> {
    blocks: Vec<EncoderBlock<B>>,
    final_norm: B::Vector,
    bias: RelativeBias,
}

impl<B: Backend> Encoder<B> {
    pub(crate) fn load<S: TensorSource + ?Sized>(
        w: &WeightLoader<'_, S, B>,
        cfg: &T5Config,
    ) -> Result<Self, ModelError> {
        let d = cfg.d_model;
        let mut blocks = Vec::with_capacity(cfg.num_layers);
        for i in 0..cfg.num_layers {
            blocks.push(EncoderBlock {
                ln_attn: w.vector(&block_name("encoder", i, 0, "layer_norm.weight"), d)?,
                attn: Attention::load(w, cfg, &block_name("encoder", i, 0, "SelfAttention"))?,
                ln_ff: w.vector(&block_name("encoder", i, 1, "layer_norm.weight"), d)?,
                ffn: FeedForward::load(w, cfg, &block_name("encoder", i, 1, "DenseReluDense"))?,
            });
        }
        let table = w.host_f32(
            "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            cfg.relative_attention_num_buckets,
            cfg.num_heads,
        )?;
        Ok(Encoder {
            blocks,
            final_norm: w.vector("encoder.final_layer_norm.weight", d)?,
            bias: RelativeBias::new(
                table,
                cfg.num_heads,
                cfg.relative_attention_num_buckets,
                cfg.relative_attention_max_distance,
                true,
            ),
        })
    }

    /// Runs the stack over embedded, right-padded input `x` (`[batch·len, d_model]`) whose
    /// sequence `b` has `lens[b]` real tokens. Returns the final-normed hidden states.
    pub(crate) fn forward(
        &self,
        be: &B,
        cfg: &T5Config,
        mut x: B::Tensor,
        batch: usize,
        len: usize,
        lens: &[usize],
    ) -> Result<B::Tensor, ModelError> {
        // The bias is computed once (block 0's table) and shared by every block.
        let bias = be.upload(cfg.num_heads, 2 * len - 1, &self.bias.values(len, len, 0))?;
        let params = AttentionParams {
            batch,
            heads: cfg.num_heads,
            d_kv: cfg.d_kv,
            q_len: len,
            kv_cap: len,
            kv_len: len,
            kv_group: 1,
            key_lens: Some(lens),
            causal_offset: None,
            bias: Some(&bias),
        };
        let eps = cfg.layer_norm_epsilon;
        for blk in &self.blocks {
            let h = be.rms_norm(&x, &blk.ln_attn, eps)?;
            let q = be.linear(&h, &blk.attn.q)?;
            let k = be.linear(&h, &blk.attn.k)?;
            let v = be.linear(&h, &blk.attn.v)?;
            let a = be.attention(&q, &k, &v, &params)?;
            be.add_assign(&mut x, &be.linear(&a, &blk.attn.o)?)?;
            let h = be.rms_norm(&x, &blk.ln_ff, eps)?;
            be.add_assign(&mut x, &blk.ffn.forward(be, &h)?)?;
        }
        Ok(be.rms_norm(&x, &self.final_norm, eps)?)
    }
}

/// Cross-attention `(K, V)` of every decoder layer, each `[batch·len, heads·d_kv]`.
pub(crate) type CrossKv<B> = Vec<(<B as Backend>::Tensor, <B as Backend>::Tensor)>;

/// An encoded batch: the encoder's final hidden states and, for every decoder layer, the
/// cross-attention keys and values computed from them once (reused by every decoding step
/// and every answer choice).
pub struct EncoderOutput<B: Backend> {
    pub(crate) hidden: B::Tensor,
    /// Per decoder layer: `(K, V)`, each `[batch·len, heads·d_kv]`.
    pub(crate) cross: CrossKv<B>,
    pub(crate) batch: usize,
    pub(crate) len: usize,
    pub(crate) lens: Vec<usize>,
}

impl<B: Backend> EncoderOutput<B> {
    /// The final hidden states, `[batch·len, d_model]`, sequence after sequence, padded on
    /// the right to [`EncoderOutput::len`] (rows past a sequence's length are padding).
    pub fn hidden(&self) -> &B::Tensor {
        &self.hidden
    }
    /// Number of sequences.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Padded length (the longest sequence).
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the batch is empty (never, for an output of `encode`).
    pub fn is_empty(&self) -> bool {
        self.batch == 0
    }
    /// Real length of every sequence.
    pub fn lens(&self) -> &[usize] {
        &self.lens
    }
}
