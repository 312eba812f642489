//! The feed-forward block (`DenseReluDense`): `wo(relu(wi(x)))` for v1.0, and
//! `wo(act(wi_0(x)) · wi_1(x))` for the gated variants (modeling_t5.py 4.46,
//! `T5DenseActDense` / `T5DenseGatedActDense`; `gated-gelu` maps to `gelu_new`, the tanh
//! approximation, in `T5Config.__init__`).

use super::ModelError;
use super::weights::WeightLoader;
use crate::backend::{Activation, Backend};
use crate::config::{FeedForwardProj, T5Config};
use crate::tensor::TensorSource;

/// The weights of one feed-forward block.
pub(crate) struct FeedForward<B: Backend> {
    /// `wi` or `wi_0`: `[d_ff, d_model]`.
    wi: B::Linear,
    /// `wi_1` for the gated variants.
    wi_1: Option<B::Linear>,
    /// `wo`: `[d_model, d_ff]`.
    wo: B::Linear,
    act: Activation,
}

impl<B: Backend> FeedForward<B> {
    /// Loads `{prefix}.wi.weight` or `{prefix}.wi_0/wi_1.weight`, and `{prefix}.wo.weight`.
    pub(crate) fn load<S: TensorSource + ?Sized>(
        w: &WeightLoader<'_, S, B>,
        cfg: &T5Config,
        prefix: &str,
    ) -> Result<Self, ModelError> {
        let (d, ff) = (cfg.d_model, cfg.d_ff);
        let f = |n: &str| alloc::format!("{prefix}.{n}.weight");
        let (wi, wi_1) = if cfg.feed_forward_proj.is_gated() {
            (
                w.linear(&f("wi_0"), ff, d)?,
                Some(w.linear(&f("wi_1"), ff, d)?),
            )
        } else {
            (w.linear(&f("wi"), ff, d)?, None)
        };
        let act = match cfg.feed_forward_proj {
            FeedForwardProj::Relu => Activation::Relu,
            FeedForwardProj::GatedGelu => Activation::GeluNew,
            FeedForwardProj::GatedSilu => Activation::Silu,
        };
        Ok(FeedForward {
            wi,
            wi_1,
            wo: w.linear(&f("wo"), d, ff)?,
            act,
        })
    }

    /// `wo(act(wi_0 x) · wi_1 x)` (or `wo(relu(wi x))`) for normalised input `x`.
    pub(crate) fn forward(&self, be: &B, x: &B::Tensor) -> Result<B::Tensor, ModelError> {
        let mut h = be.linear(x, &self.wi)?;
        match &self.wi_1 {
            Some(w1) => {
                let up = be.linear(x, w1)?;
                be.activation(&mut h, Some(&up), self.act)?;
            }
            None => be.activation(&mut h, None, self.act)?,
        }
        Ok(be.linear(&h, &self.wo)?)
    }
}
