//! Fetching checkpoint tensors by HF name, checking them against the config, and handing
//! them to the backend to prepare.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::ModelError;
use crate::backend::Backend;
use crate::tensor::{TensorSource, TensorView};

/// Borrowing helper over a checkpoint for one load.
pub(crate) struct WeightLoader<'a, S: ?Sized, B> {
    pub(crate) src: &'a S,
    pub(crate) backend: &'a B,
}

impl<'a, S: TensorSource + ?Sized, B: Backend> WeightLoader<'a, S, B> {
    /// The tensor `name`, checked to have exactly `shape`.
    pub(crate) fn view(&self, name: &str, shape: &[usize]) -> Result<TensorView<'a>, ModelError> {
        let v = self
            .src
            .tensor(name)
            .ok_or_else(|| ModelError::MissingTensor {
                name: name.to_string(),
            })?;
        if v.shape != shape {
            return Err(ModelError::TensorShape {
                name: name.to_string(),
                expected: shape.to_vec(),
                got: v.shape.to_vec(),
            });
        }
        Ok(v)
    }

    /// A `[out, in]` matrix prepared by the backend.
    pub(crate) fn linear(
        &self,
        name: &str,
        out: usize,
        inp: usize,
    ) -> Result<B::Linear, ModelError> {
        let v = self.view(name, &[out, inp])?;
        Ok(self.backend.prepare_linear(&v)?)
    }

    /// A `[n]` vector prepared by the backend.
    pub(crate) fn vector(&self, name: &str, n: usize) -> Result<B::Vector, ModelError> {
        let v = self.view(name, &[n])?;
        Ok(self.backend.prepare_vector(&v)?)
    }

    /// A `[rows, cols]` table converted to f32 on the host (the small bias tables).
    pub(crate) fn host_f32(
        &self,
        name: &str,
        rows: usize,
        cols: usize,
    ) -> Result<Vec<f32>, ModelError> {
        let v = self.view(name, &[rows, cols])?;
        v.to_f32_vec().ok_or_else(|| {
            ModelError::Backend(crate::backend::BackendError::UnsupportedDtype {
                tensor: name.to_string(),
                dtype: v.dtype,
            })
        })
    }

    /// Rejects tensors of blocks beyond the configured depth (a checkpoint deeper than its
    /// config would otherwise load silently with layers missing).
    pub(crate) fn reject_extra_blocks(
        &self,
        enc_layers: usize,
        dec_layers: usize,
    ) -> Result<(), ModelError> {
        for name in self.src.tensor_names() {
            for (prefix, n) in [
                ("encoder.block.", enc_layers),
                ("decoder.block.", dec_layers),
            ] {
                if let Some(rest) = name.strip_prefix(prefix) {
                    let idx = rest.split('.').next().and_then(|s| s.parse::<usize>().ok());
                    if idx.is_none_or(|i| i >= n) {
                        return Err(ModelError::UnexpectedTensor {
                            name: String::from(name),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// `"{prefix}.block.{i}.layer.{j}.{rest}"`, the HF module path of a tensor.
pub(crate) fn block_name(stack: &str, block: usize, layer: usize, rest: &str) -> String {
    format!("{stack}.block.{block}.layer.{layer}.{rest}")
}
