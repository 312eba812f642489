//! One attention module (`SelfAttention` or `EncDecAttention`): the q, k, v, o projections.
//! modeling_t5.py 4.46, `T5Attention`: no bias terms, no `1/sqrt(d_kv)` scaling (folded
//! into the initialisation by Mesh TensorFlow), heads concatenated before `o`.

use super::ModelError;
use super::weights::WeightLoader;
use crate::backend::Backend;
use crate::config::T5Config;
use crate::tensor::TensorSource;

/// The projections of one attention module.
pub(crate) struct Attention<B: Backend> {
    pub(crate) q: B::Linear,
    pub(crate) k: B::Linear,
    pub(crate) v: B::Linear,
    pub(crate) o: B::Linear,
}

impl<B: Backend> Attention<B> {
    /// Loads `{prefix}.{q,k,v,o}.weight` (`q/k/v: [heads·d_kv, d_model]`, `o: [d_model,
    /// heads·d_kv]`).
    pub(crate) fn load<S: TensorSource + ?Sized>(
        w: &WeightLoader<'_, S, B>,
        cfg: &T5Config,
        prefix: &str,
    ) -> Result<Self, ModelError> {
        let (d, inner) = (cfg.d_model, cfg.inner_dim());
        Ok(Attention {
            q: w.linear(&alloc::format!("{prefix}.q.weight"), inner, d)?,
            k: w.linear(&alloc::format!("{prefix}.k.weight"), inner, d)?,
            v: w.linear(&alloc::format!("{prefix}.v.weight"), inner, d)?,
            o: w.linear(&alloc::format!("{prefix}.o.weight"), d, inner)?,
        })
    }
}
