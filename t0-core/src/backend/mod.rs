//! The compute backend abstraction: what a device must do for the T5 model to run on it.
//!
//! # Who owns what
//!
//! * **A backend** ([`Backend`]) owns memory and arithmetic: the activation type
//!   ([`Backend::Tensor`], a row-major `[rows, cols]` f32 matrix living wherever the backend
//!   wants — host memory, a GPU), the prepared weight types ([`Backend::Linear`],
//!   [`Backend::Vector`], [`Backend::Embedding`]), and the ops below. It knows nothing about
//!   T5: no tensor names, no layer structure, no position buckets.
//! * **The model** (`crate::model`) owns the structure: which tensor feeds which op, the
//!   relative position bucket function (pure integer → integer math on the host), the
//!   padding and causal masks (expressed as lengths, never as materialised matrices), the
//!   KV caches (allocated through the backend, indexed by the model), and the loops of
//!   generation and scoring. The model is generic over `B: Backend` and is the only place
//!   that knows T5.
//!
//! # Weights are prepared once, at load
//!
//! The model walks the checkpoint ([`crate::tensor::TensorSource`]), checks every tensor's
//! name and shape against the config, and hands each one, as a borrowed
//! [`TensorView`] in F32, BF16 or F16, to [`Backend::prepare_linear`] (`[out, in]`
//! matrices), [`Backend::prepare_vector`] (norm weights) or [`Backend::prepare_embedding`]
//! (`[rows, dim]` tables gathered by id). The backend converts, packs, quantizes or uploads
//! as it likes and returns an opaque handle; the model never reads weights again. A CPU
//! backend may keep f32 rows; a CUDA backend uploads once and keeps everything on the
//! device.
//!
//! # Activations stay on the device
//!
//! No op in the hot path takes or returns a `Vec<f32>` of activations. Host data crosses
//! the boundary only where it is small: token ids going in ([`Backend::embed`]), the
//! relative-position bias table (`heads × (q_len + k_len − 1)` values, uploaded with
//! [`Backend::upload`]), per-sequence key lengths, and the output heads'
//! results — argmax ids ([`Backend::argmax`]) and gathered log-probabilities
//! ([`Backend::log_softmax_gather`]). Full logits reach the host only through
//! [`Backend::to_host`], which `t0 forward` and the parity tests use.
//!
//! # Batches and layouts
//!
//! A batch of `b` sequences of (padded) length `t` is one `[b·t, cols]` tensor, sequence
//! after sequence. Attention heads are interleaved along `cols` as HF stores them
//! (`head h` occupies columns `h·d_kv .. (h+1)·d_kv`). Padding is always on the right; a
//! padded position's output is computed (and ignored by the model) but must be finite.
//!
//! # Caches
//!
//! Decoder self-attention K/V are `[b·cap, inner]` tensors allocated once per generation
//! with [`Backend::zeros`] and filled one step at a time by [`Backend::write_rows`] (no
//! concatenation). Cross-attention K/V are computed once per encoded input by
//! [`Backend::linear`] and read by every step; with [`AttentionParams::kv_group`] several
//! query sequences (the answer choices of one example) share one K/V sequence without
//! copying it.
//!
//! ```
//! use t0_core::backend::{Backend, CpuBackend};
//! let be = CpuBackend::new();
//! let x = be.upload(1, 2, &[3.0, 4.0]).unwrap();
//! assert_eq!(be.shape(&x), [1, 2]);
//! assert_eq!(be.argmax(&x, None).unwrap(), vec![1]);
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::tensor::{DType, TensorView};

pub mod conformance;
pub mod cpu;

pub use cpu::CpuBackend;

/// The activation applied inside the feed-forward block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)` (T5 v1.0 `relu`).
    Relu,
    /// The tanh approximation of GELU, HF's `gelu_new`:
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (T5 v1.1 / T0 `gated-gelu`).
    GeluNew,
    /// `x·sigmoid(x)` (`gated-silu`).
    Silu,
}

/// Shape and masking of one attention call; see [`Backend::attention`].
///
/// `q` is `[batch·q_len, heads·d_kv]`; `k` and `v` are `[kv_batch·kv_cap, heads·d_kv]` with
/// `kv_batch = batch / kv_group`. Query sequence `b` attends to K/V sequence
/// `b / kv_group`, keys `0..kv_len`, minus masked keys.
#[derive(Debug)]
pub struct AttentionParams<'a, T> {
    /// Query sequences.
    pub batch: usize,
    /// Heads.
    pub heads: usize,
    /// Size of each head.
    pub d_kv: usize,
    /// Query rows per sequence.
    pub q_len: usize,
    /// Rows per K/V sequence in `k` and `v` (a cache's capacity, or the sequence length).
    pub kv_cap: usize,
    /// Keys in use per K/V sequence (`≤ kv_cap`); rows beyond are ignored.
    pub kv_len: usize,
    /// Consecutive query sequences sharing one K/V sequence (`≥ 1`, divides `batch`).
    pub kv_group: usize,
    /// Padding mask: for each K/V sequence, the number of valid keys (keys at or beyond
    /// it are masked). `None`: all `kv_len` keys are valid.
    pub key_lens: Option<&'a [usize]>,
    /// Causal mask: `Some(offset)` lets query row `i` see keys `j ≤ offset + i` only (the
    /// offset is the number of keys already in the cache). `None`: no causal mask.
    pub causal_offset: Option<usize>,
    /// Additive relative-position bias, a `[heads, q_len + kv_len − 1]` tensor: query row
    /// `i` and key `j` get `bias[h, j − i + q_len − 1]`. `None`: no bias.
    pub bias: Option<&'a T>,
}

// Manual impls: the derive would demand `T: Clone`, but only `&T` is held.
impl<T> Clone for AttentionParams<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for AttentionParams<'_, T> {}

/// Why a backend op failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BackendError {
    /// A weight's dtype cannot be prepared by this backend.
    UnsupportedDtype {
        /// Tensor name.
        tensor: String,
        /// Its dtype.
        dtype: DType,
    },
    /// A weight does not have the rank or byte length the op needs.
    BadWeight {
        /// Tensor name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// Operand shapes do not fit the op (a bug in the caller, reported instead of a panic).
    Shape {
        /// The op.
        op: &'static str,
        /// What did not fit.
        detail: String,
    },
    /// A token id is outside an embedding table.
    IdOutOfRange {
        /// The id.
        id: u32,
        /// Rows of the table.
        rows: usize,
    },
    /// The device failed (allocation, launch, copy…); the message is the device's.
    Device(String),
    /// This backend is compiled out or no device is present; the message says why.
    Unavailable(String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::UnsupportedDtype { tensor, dtype } => write!(
                f,
                "tensor `{tensor}` has dtype {}; this backend prepares F32, BF16 and F16 weights",
                dtype.as_str()
            ),
            BackendError::BadWeight { tensor, reason } => write!(f, "tensor `{tensor}`: {reason}"),
            BackendError::Shape { op, detail } => write!(f, "{op}: shape mismatch: {detail}"),
            BackendError::IdOutOfRange { id, rows } => {
                write!(
                    f,
                    "token id {id} is outside the embedding table ({rows} rows)"
                )
            }
            BackendError::Device(m) => write!(f, "device error: {m}"),
            BackendError::Unavailable(m) => write!(f, "backend unavailable: {m}"),
        }
    }
}

impl core::error::Error for BackendError {}

/// A compute device for the T5 model. See the [module docs](self) for the division of
/// labour between backend and model.
///
/// Every op takes `&self` (a backend that needs mutable state, such as a stream, keeps it
/// behind interior mutability) and returns `Result` so a device failure is an error, not a
/// panic. Shape mismatches are reported as [`BackendError::Shape`].
pub trait Backend {
    /// An activation matrix `[rows, cols]` of f32, row-major.
    type Tensor;
    /// A prepared `[out, in]` weight matrix for [`Backend::linear`].
    type Linear;
    /// A prepared 1-D weight (RMS norm scales).
    type Vector;
    /// A prepared `[rows, dim]` table gathered by id ([`Backend::embed`]).
    type Embedding;

    /// A short name for messages (`"cpu-ref"`, `"cuda:0"`…).
    fn name(&self) -> &str;

    // ---- weights, prepared once at load -------------------------------------------------

    /// Prepares a 2-D `[out, in]` matrix (F32, BF16 or F16).
    fn prepare_linear(&self, w: &TensorView<'_>) -> Result<Self::Linear, BackendError>;
    /// Prepares a 1-D vector (F32, BF16 or F16).
    fn prepare_vector(&self, w: &TensorView<'_>) -> Result<Self::Vector, BackendError>;
    /// Prepares a 2-D `[rows, dim]` table (F32, BF16 or F16).
    fn prepare_embedding(&self, w: &TensorView<'_>) -> Result<Self::Embedding, BackendError>;

    // ---- activations ----------------------------------------------------------------------

    /// `[rows, cols]` of a tensor.
    fn shape(&self, x: &Self::Tensor) -> [usize; 2];
    /// A new zero-filled `[rows, cols]` tensor (caches, scratch).
    fn zeros(&self, rows: usize, cols: usize) -> Result<Self::Tensor, BackendError>;
    /// A new `[rows, cols]` tensor from host data (`data.len() == rows·cols`).
    fn upload(&self, rows: usize, cols: usize, data: &[f32]) -> Result<Self::Tensor, BackendError>;
    /// Copies a tensor to the host, row-major. Not for the hot path.
    fn to_host(&self, x: &Self::Tensor) -> Result<Vec<f32>, BackendError>;

    // ---- ops ------------------------------------------------------------------------------

    /// Gathers rows of `table` by id: `[ids.len(), dim]`. Ids outside the table are an error.
    fn embed(&self, table: &Self::Embedding, ids: &[u32]) -> Result<Self::Tensor, BackendError>;
    /// T5's RMS norm of every row: `x / sqrt(mean(x²) + eps) · w` (no mean subtraction, no
    /// bias), computed in f32.
    fn rms_norm(
        &self,
        x: &Self::Tensor,
        w: &Self::Vector,
        eps: f32,
    ) -> Result<Self::Tensor, BackendError>;
    /// `x[rows, in] · Wᵀ → [rows, out]` for a prepared `W[out, in]`. `rows == 1` is the
    /// decode (GEMV) case.
    fn linear(&self, x: &Self::Tensor, w: &Self::Linear) -> Result<Self::Tensor, BackendError>;
    /// The feed-forward activation, in place on `gate`: `gate = act(gate) · up` when `up` is
    /// given (the gated variants), else `gate = act(gate)`.
    fn activation(
        &self,
        gate: &mut Self::Tensor,
        up: Option<&Self::Tensor>,
        act: Activation,
    ) -> Result<(), BackendError>;
    /// Residual add: `x += y` (same shape).
    fn add_assign(&self, x: &mut Self::Tensor, y: &Self::Tensor) -> Result<(), BackendError>;
    /// `x *= s` (the tied head's `d_model^-0.5`).
    fn scale(&self, x: &mut Self::Tensor, s: f32) -> Result<(), BackendError>;
    /// Copies `src` (`[batch·n, cols]`) into rows `at .. at + n` of each of the `batch`
    /// sequences of `dst` (`[batch·cap, cols]`): how a KV cache is filled per step.
    fn write_rows(
        &self,
        dst: &mut Self::Tensor,
        src: &Self::Tensor,
        batch: usize,
        cap: usize,
        at: usize,
    ) -> Result<(), BackendError>;
    /// Multi-head attention `softmax(q·kᵀ + bias + mask)·v` **without** `1/sqrt(d_kv)`
    /// scaling (T5), softmax in f32, returning `[batch·q_len, heads·d_kv]`. A query row whose
    /// keys are all masked yields zeros (never NaN).
    fn attention(
        &self,
        q: &Self::Tensor,
        k: &Self::Tensor,
        v: &Self::Tensor,
        p: &AttentionParams<'_, Self::Tensor>,
    ) -> Result<Self::Tensor, BackendError>;

    // ---- output heads: small host results -------------------------------------------------

    /// The index of the largest value of every row (first on ties, as `torch.argmax`), with
    /// column `suppress` excluded when given (minimum-length generation bans EOS).
    fn argmax(
        &self,
        logits: &Self::Tensor,
        suppress: Option<u32>,
    ) -> Result<Vec<u32>, BackendError>;
    /// `log_softmax(row)[targets[row]]` for every row. A target outside the row (such as
    /// `u32::MAX` for a padded position) yields `0.0`.
    fn log_softmax_gather(
        &self,
        logits: &Self::Tensor,
        targets: &[u32],
    ) -> Result<Vec<f32>, BackendError>;
}

/// Checks that a weight is a float tensor of rank `rank`; returns its dims.
pub fn check_float_weight<'a>(
    w: &TensorView<'a>,
    rank: usize,
) -> Result<&'a [usize], BackendError> {
    if !w.dtype.is_float() {
        return Err(BackendError::UnsupportedDtype {
            tensor: w.name.into(),
            dtype: w.dtype,
        });
    }
    if w.shape.len() != rank {
        return Err(BackendError::BadWeight {
            tensor: w.name.into(),
            reason: alloc::format!("expected rank {rank}, got shape {:?}", w.shape),
        });
    }
    let numel = w
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| BackendError::BadWeight {
            tensor: w.name.into(),
            reason: "element count overflows".into(),
        })?;
    if numel.checked_mul(w.dtype.size()) != Some(w.data.len()) {
        return Err(BackendError::BadWeight {
            tensor: w.name.into(),
            reason: alloc::format!(
                "{} bytes do not hold shape {:?} of {}",
                w.data.len(),
                w.shape,
                w.dtype.as_str()
            ),
        });
    }
    Ok(w.shape)
}
