//! Quantized weights: int8 per-output-channel and 4-bit blockwise linear layers, with
//! T5-aware precision islands.
//!
//! * [`QuantScheme`] picks the format (layouts in [`t0_kernels::quant`]).
//! * [`Islands`] lists what stays in the checkpoint's precision. Embeddings, RMS norm
//!   weights and the relative-position bias are never quantized (they are gathered or tiny,
//!   not streamed per token); `lm_head` and the FFN output projections `wo` are configurable.
//! * [`QuantCpuBackend`] wraps [`FastCpuBackend`]: it quantizes linear weights at load
//!   ([`QuantCpuBackend::quantize_at_load`]), or takes already-quantized ones from a
//!   quantized checkpoint (`file::QuantCheckpoint`, memory-mapped, zero-copy), and runs the
//!   int8 / q4 kernels; every other op is the fast backend's.
//! * `file` (std): writing a quantized safetensors checkpoint tensor by tensor, and
//!   opening one with its `__metadata__` checked.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use t0_kernels::PackedLinear;
use t0_kernels::quant::{Int8Linear, Q4Linear};

use crate::backend::fast::{FastTable, FastTensor};
use crate::backend::{
    Activation, AttentionParams, Backend, BackendError, FastCpuBackend, check_float_weight,
};
use crate::tensor::{DType, TensorView};

#[cfg(feature = "std")]
pub mod file;

pub mod accuracy;

/// From this many activation rows on, [`QuantCpuBackend::linear`] dequantizes a **q4**
/// weight into f32 panels and runs the f32 GEMM (the batch case is compute-bound and the q4
/// integer kernel's unpacking per activation row loses there: 3b encoder 9.4 → 7.6 s);
/// int8 keeps the VNNI kernel at every row count (measured: dequantizing int8 lost, 4.8 s
/// vs 9.5 s). Below, the integer kernels stream the quantized bytes (decode is
/// bandwidth-bound).
pub const GEMM_ROWS: usize = 16;

/// A quantization format for linear weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuantScheme {
    /// int8, one f32 scale per output channel.
    Int8,
    /// 4-bit, blocks of 32 weights with an f16 scale.
    Q4,
}

impl QuantScheme {
    /// `int8` or `q4`.
    pub fn as_str(self) -> &'static str {
        match self {
            QuantScheme::Int8 => "int8",
            QuantScheme::Q4 => "q4",
        }
    }
    /// Parses `int8` / `q4`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "int8" => Some(QuantScheme::Int8),
            "q4" => Some(QuantScheme::Q4),
            _ => None,
        }
    }
}

/// Which linear weights keep the checkpoint's precision.
///
/// Defaults (see the measurements in the crate's quantization notes): `lm_head` stays in
/// the checkpoint's precision (4 % of the decoder's bytes at the 3B shape; it decides every
/// choice's log-likelihood directly), `wo` is quantized (our compute is f32 throughout, so
/// the fp16 overflow that makes HF keep `wo` in fp32 does not arise; weights are scaled per
/// channel / block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Islands {
    /// Keep `lm_head.weight` (or the tied `shared.weight` head).
    pub lm_head: bool,
    /// Keep the FFN output projections `DenseReluDense.wo`.
    pub ffn_wo: bool,
    /// Keep every tensor whose name contains one of these.
    pub extra: Vec<String>,
}

impl Default for Islands {
    fn default() -> Self {
        Islands {
            lm_head: true,
            ffn_wo: false,
            extra: Vec::new(),
        }
    }
}

impl Islands {
    /// Nothing kept: every linear weight is quantized.
    pub fn none() -> Self {
        Islands {
            lm_head: false,
            ffn_wo: false,
            extra: Vec::new(),
        }
    }

    /// Whether the linear weight `name` stays in the checkpoint's precision.
    pub fn keeps(&self, name: &str) -> bool {
        (self.lm_head && (name == "lm_head.weight" || name == "shared.weight"))
            || (self.ffn_wo && name.contains("DenseReluDense.wo"))
            || self.extra.iter().any(|e| name.contains(e.as_str()))
    }
}

/// A prepared linear weight: dense (the fast backend's panels) or quantized.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum QLinear {
    /// F32 / BF16 / F16 panels.
    Dense(PackedLinear),
    /// int8 per output channel.
    Int8(Int8Linear),
    /// 4-bit blockwise.
    Q4(Q4Linear),
}

impl QLinear {
    /// Bytes streamed per GEMV.
    pub fn stream_bytes(&self) -> usize {
        match self {
            QLinear::Dense(p) => p.stream_bytes(),
            QLinear::Int8(q) => q.stream_bytes(),
            QLinear::Q4(q) => q.stream_bytes(),
        }
    }
    fn out_features(&self) -> usize {
        match self {
            QLinear::Dense(p) => p.out_features(),
            QLinear::Int8(q) => q.out_features(),
            QLinear::Q4(q) => q.out_features(),
        }
    }
}

/// Resolves an already-quantized tensor (dtype I8/U8 in a view) into kernel weights.
pub trait QuantResolver: Send + Sync {
    /// The quantized weight for tensor `name`, or an error naming it.
    fn resolve(&self, name: &str) -> Result<QLinear, BackendError>;
}

/// The fast CPU backend with quantized linear layers. See the [module docs](self).
#[derive(Clone)]
pub struct QuantCpuBackend {
    inner: FastCpuBackend,
    plan: Option<(QuantScheme, Islands)>,
    source: Option<Arc<dyn QuantResolver>>,
    f32_act: bool,
}

impl core::fmt::Debug for QuantCpuBackend {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QuantCpuBackend")
            .field("inner", &self.inner)
            .field("plan", &self.plan)
            .field("source", &self.source.is_some())
            .finish()
    }
}

impl QuantCpuBackend {
    /// Quantizes float linear weights at load with `scheme`, keeping `islands`.
    pub fn quantize_at_load(inner: FastCpuBackend, scheme: QuantScheme, islands: Islands) -> Self {
        QuantCpuBackend {
            inner,
            plan: Some((scheme, islands)),
            source: None,
            f32_act: false,
        }
    }

    /// Takes quantized weights (I8/U8 views) from `source`; float weights stay as they are.
    pub fn with_source(inner: FastCpuBackend, source: Arc<dyn QuantResolver>) -> Self {
        QuantCpuBackend {
            inner,
            plan: None,
            source: Some(source),
            f32_act: false,
        }
    }

    /// int8 layers keep f32 activations (weights widened in registers, f32 FMA) instead
    /// of quantizing activations per row for the integer (VNNI) dot products.
    pub fn with_f32_activations(self, on: bool) -> Self {
        QuantCpuBackend {
            f32_act: on,
            ..self
        }
    }

    /// The wrapped fast backend.
    pub fn inner(&self) -> &FastCpuBackend {
        &self.inner
    }
}

fn bad(name: &str, e: impl core::fmt::Display) -> BackendError {
    BackendError::BadWeight {
        tensor: name.into(),
        reason: format!("{e}"),
    }
}

/// Quantizes a float `[out, in]` view with `scheme`.
pub fn quantize_view(w: &TensorView<'_>, scheme: QuantScheme) -> Result<QLinear, BackendError> {
    let dims = check_float_weight(w, 2)?;
    let f = w
        .to_f32_vec()
        .ok_or_else(|| BackendError::UnsupportedDtype {
            tensor: w.name.into(),
            dtype: w.dtype,
        })?;
    Ok(match scheme {
        QuantScheme::Int8 => {
            QLinear::Int8(Int8Linear::quantize(&f, dims[0], dims[1]).map_err(|e| bad(w.name, e))?)
        }
        QuantScheme::Q4 => {
            QLinear::Q4(Q4Linear::quantize(&f, dims[0], dims[1]).map_err(|e| bad(w.name, e))?)
        }
    })
}

impl Backend for QuantCpuBackend {
    type Tensor = FastTensor;
    type Linear = QLinear;
    type Vector = FastTable;
    type Embedding = FastTable;

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn prepare_linear(&self, w: &TensorView<'_>) -> Result<QLinear, BackendError> {
        if matches!(w.dtype, DType::I8 | DType::U8) {
            return match &self.source {
                Some(s) => s.resolve(w.name),
                None => Err(BackendError::UnsupportedDtype {
                    tensor: w.name.into(),
                    dtype: w.dtype,
                }),
            };
        }
        match &self.plan {
            Some((scheme, islands)) if !islands.keeps(w.name) => quantize_view(w, *scheme),
            _ => Ok(QLinear::Dense(self.inner.prepare_linear(w)?)),
        }
    }

    fn prepare_vector(&self, w: &TensorView<'_>) -> Result<FastTable, BackendError> {
        self.inner.prepare_vector(w)
    }

    fn prepare_embedding(&self, w: &TensorView<'_>) -> Result<FastTable, BackendError> {
        self.inner.prepare_embedding(w)
    }

    fn shape(&self, x: &FastTensor) -> [usize; 2] {
        self.inner.shape(x)
    }

    fn zeros(&self, rows: usize, cols: usize) -> Result<FastTensor, BackendError> {
        self.inner.zeros(rows, cols)
    }

    fn upload(&self, rows: usize, cols: usize, data: &[f32]) -> Result<FastTensor, BackendError> {
        self.inner.upload(rows, cols, data)
    }

    fn to_host(&self, x: &FastTensor) -> Result<Vec<f32>, BackendError> {
        self.inner.to_host(x)
    }

    fn embed(&self, table: &FastTable, ids: &[u32]) -> Result<FastTensor, BackendError> {
        self.inner.embed(table, ids)
    }

    fn rms_norm(
        &self,
        x: &FastTensor,
        w: &FastTable,
        eps: f32,
    ) -> Result<FastTensor, BackendError> {
        self.inner.rms_norm(x, w, eps)
    }

    fn linear(&self, x: &FastTensor, w: &QLinear) -> Result<FastTensor, BackendError> {
        let (rows, cols) = (x.rows(), x.cols());
        let (inp, out) = match w {
            QLinear::Dense(p) => return self.inner.linear(x, p),
            QLinear::Int8(q) => (q.in_features(), w.out_features()),
            QLinear::Q4(q) => (q.in_features(), w.out_features()),
        };
        if cols != inp {
            return Err(BackendError::Shape {
                op: "linear",
                detail: format!("x [{rows}, {cols}], weight [{out}, {inp}]"),
            });
        }
        if rows >= GEMM_ROWS && matches!(w, QLinear::Q4(_)) {
            // Batch (encoder, scoring): dequantize once into f32 panels and run the fast
            // f32 GEMM; f32 activations, compute-bound work at the f32 GEMM's speed.
            let f = match w {
                QLinear::Int8(q) => q.to_f32_rows(),
                QLinear::Q4(q) => q.dequantize(),
                QLinear::Dense(_) => Vec::new(),
            };
            let p = PackedLinear::from_f32(&f, out, inp, t0_kernels::WeightType::F32)
                .map_err(|e| bad("quantized weight", e))?;
            drop(f);
            return self.inner.linear(x, &p);
        }
        let mut y = vec![0f32; rows * out];
        let isa = self.inner.isa();
        match w {
            QLinear::Int8(q) if self.f32_act => {
                t0_kernels::quant::int8_linear_f32act_with(isa, x.data(), rows, q, &mut y)
            }
            QLinear::Int8(q) => t0_kernels::quant::int8_linear_with(isa, x.data(), rows, q, &mut y),
            QLinear::Q4(q) => t0_kernels::quant::q4_linear_with(isa, x.data(), rows, q, &mut y),
            QLinear::Dense(_) => {}
        }
        self.inner.upload(rows, out, &y)
    }

    fn activation(
        &self,
        gate: &mut FastTensor,
        up: Option<&FastTensor>,
        act: Activation,
    ) -> Result<(), BackendError> {
        self.inner.activation(gate, up, act)
    }

    fn add_assign(&self, x: &mut FastTensor, y: &FastTensor) -> Result<(), BackendError> {
        self.inner.add_assign(x, y)
    }

    fn scale(&self, x: &mut FastTensor, s: f32) -> Result<(), BackendError> {
        self.inner.scale(x, s)
    }

    fn write_rows(
        &self,
        dst: &mut FastTensor,
        src: &FastTensor,
        batch: usize,
        cap: usize,
        at: usize,
    ) -> Result<(), BackendError> {
        self.inner.write_rows(dst, src, batch, cap, at)
    }

    fn attention(
        &self,
        q: &FastTensor,
        k: &FastTensor,
        v: &FastTensor,
        p: &AttentionParams<'_, FastTensor>,
    ) -> Result<FastTensor, BackendError> {
        self.inner.attention(q, k, v, p)
    }

    fn argmax(&self, logits: &FastTensor, suppress: Option<u32>) -> Result<Vec<u32>, BackendError> {
        self.inner.argmax(logits, suppress)
    }

    fn log_softmax_gather(
        &self,
        logits: &FastTensor,
        targets: &[u32],
    ) -> Result<Vec<f32>, BackendError> {
        self.inner.log_softmax_gather(logits, targets)
    }
}

#[cfg(test)]
mod tests;
