//! The fast CPU backend: the SIMD kernels of `t0-kernels` (AVX-512 / AVX2 / NEON / scalar,
//! chosen once at run time under `std`), threads on the current rayon pool under `std`.
//!
//! Weights are packed once at load into the kernels' panel layout ([`PackedLinear`]),
//! keeping the checkpoint's precision (F32, BF16 or F16; 16-bit weights are widened in
//! registers) unless [`FastCpuBackend::with_weight_type`] asks for another one. Decode
//! (`rows == 1`) reads every weight byte exactly once per token. Results are bit-identical
//! for any thread count. [`super::cpu::CpuBackend`] stays the simple reference.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use t0_kernels::attention::{Attention, PositionBias};
use t0_kernels::{Isa, PackedLinear, WeightType};

use super::cpu::{
    host_add_assign, host_embed, host_reorder_seqs, host_scale, host_upload, host_write_rows,
    host_zeros, shape_err, to_matrix,
};
use super::{Activation, AttentionParams, Backend, BackendError, check_float_weight};
use crate::tensor::{DType, TensorView};

/// The fast backend's activations: the same row-major host matrix as the reference backend's.
pub type FastTensor = super::cpu::CpuTensor;

/// A prepared f32 table `[rows, cols]` (embeddings; vectors have one row).
pub type FastTable = super::cpu::CpuMatrix;

/// The fast CPU backend. Construct with [`FastCpuBackend::new`].
#[derive(Debug, Clone, Copy)]
pub struct FastCpuBackend {
    isa: Isa,
    weights: Option<WeightType>,
}

impl Default for FastCpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl FastCpuBackend {
    /// The best ISA of this CPU; weights keep the checkpoint's precision.
    pub fn new() -> Self {
        FastCpuBackend {
            isa: Isa::best(),
            weights: None,
        }
    }

    /// A specific ISA path (tests, benchmarks); an error when this CPU lacks it.
    pub fn with_isa(isa: Isa) -> Result<Self, BackendError> {
        if !isa.is_available() {
            return Err(BackendError::Unavailable(format!(
                "ISA {} is not available on this CPU",
                isa.name()
            )));
        }
        Ok(FastCpuBackend { isa, weights: None })
    }

    /// Store linear weights as `wt` whatever the checkpoint holds (`None`: keep the
    /// checkpoint's dtype). F32 → BF16/F16 rounds to nearest even.
    pub fn with_weight_type(self, wt: Option<WeightType>) -> Self {
        FastCpuBackend {
            weights: wt,
            ..self
        }
    }

    /// The ISA path in use.
    pub fn isa(&self) -> Isa {
        self.isa
    }
}

fn kernel_act(a: Activation) -> t0_kernels::Activation {
    match a {
        Activation::Relu => t0_kernels::Activation::Relu,
        Activation::GeluNew => t0_kernels::Activation::GeluNew,
        Activation::Silu => t0_kernels::Activation::Silu,
    }
}

impl Backend for FastCpuBackend {
    type Tensor = FastTensor;
    type Linear = PackedLinear;
    type Vector = FastTable;
    type Embedding = FastTable;

    fn name(&self) -> &str {
        match self.isa {
            Isa::Avx512 => "cpu-avx512",
            Isa::Avx2 => "cpu-avx2",
            Isa::Neon => "cpu-neon",
            _ => "cpu-scalar",
        }
    }

    fn prepare_linear(&self, w: &TensorView<'_>) -> Result<PackedLinear, BackendError> {
        let dims = check_float_weight(w, 2)?;
        let src = match w.dtype {
            DType::F32 => WeightType::F32,
            DType::BF16 => WeightType::Bf16,
            DType::F16 => WeightType::F16,
            dtype => {
                return Err(BackendError::UnsupportedDtype {
                    tensor: w.name.into(),
                    dtype,
                });
            }
        };
        PackedLinear::from_le_bytes(w.data, src, dims[0], dims[1], self.weights.unwrap_or(src))
            .map_err(|e| BackendError::BadWeight {
                tensor: w.name.into(),
                reason: format!("{e}"),
            })
    }

    fn prepare_vector(&self, w: &TensorView<'_>) -> Result<FastTable, BackendError> {
        to_matrix(w, 1)
    }

    fn prepare_embedding(&self, w: &TensorView<'_>) -> Result<FastTable, BackendError> {
        to_matrix(w, 2)
    }

    fn shape(&self, x: &FastTensor) -> [usize; 2] {
        [x.rows, x.cols]
    }

    fn zeros(&self, rows: usize, cols: usize) -> Result<FastTensor, BackendError> {
        host_zeros(rows, cols)
    }

    fn upload(&self, rows: usize, cols: usize, data: &[f32]) -> Result<FastTensor, BackendError> {
        host_upload(rows, cols, data)
    }

    fn to_host(&self, x: &FastTensor) -> Result<Vec<f32>, BackendError> {
        Ok(x.data.clone())
    }

    fn embed(&self, table: &FastTable, ids: &[u32]) -> Result<FastTensor, BackendError> {
        host_embed(table, ids)
    }

    fn rms_norm(
        &self,
        x: &FastTensor,
        w: &FastTable,
        eps: f32,
    ) -> Result<FastTensor, BackendError> {
        if w.rows != 1 || w.cols != x.cols {
            return Err(shape_err(
                "rms_norm",
                format!(
                    "x [{}, {}], weight [{}, {}]",
                    x.rows, x.cols, w.rows, w.cols
                ),
            ));
        }
        let mut out = vec![0.0f32; x.data.len()];
        t0_kernels::ops::rms_norm_with(self.isa, &x.data, &w.data, eps, &mut out);
        Ok(FastTensor {
            rows: x.rows,
            cols: x.cols,
            data: out,
        })
    }

    fn linear(&self, x: &FastTensor, w: &PackedLinear) -> Result<FastTensor, BackendError> {
        if w.in_features() != x.cols {
            return Err(shape_err(
                "linear",
                format!(
                    "x [{}, {}], weight [{}, {}]",
                    x.rows,
                    x.cols,
                    w.out_features(),
                    w.in_features()
                ),
            ));
        }
        let out = w.out_features();
        let n = x
            .rows
            .checked_mul(out)
            .ok_or_else(|| shape_err("linear", "overflow".into()))?;
        let mut y = vec![0.0f32; n];
        t0_kernels::linear::linear_with(self.isa, &x.data, x.rows, w, &mut y);
        Ok(FastTensor {
            rows: x.rows,
            cols: out,
            data: y,
        })
    }

    fn activation(
        &self,
        gate: &mut FastTensor,
        up: Option<&FastTensor>,
        act: Activation,
    ) -> Result<(), BackendError> {
        let act = kernel_act(act);
        match up {
            Some(u) => {
                if u.rows != gate.rows || u.cols != gate.cols {
                    return Err(shape_err(
                        "activation",
                        format!(
                            "gate [{}, {}], up [{}, {}]",
                            gate.rows, gate.cols, u.rows, u.cols
                        ),
                    ));
                }
                t0_kernels::ops::gated_act_with(self.isa, act, &mut gate.data, &u.data);
            }
            None => t0_kernels::ops::activate_with(self.isa, act, &mut gate.data),
        }
        Ok(())
    }

    fn add_assign(&self, x: &mut FastTensor, y: &FastTensor) -> Result<(), BackendError> {
        host_add_assign(x, y)
    }

    fn scale(&self, x: &mut FastTensor, s: f32) -> Result<(), BackendError> {
        host_scale(x, s)
    }

    fn write_rows(
        &self,
        dst: &mut FastTensor,
        src: &FastTensor,
        batch: usize,
        cap: usize,
        at: usize,
    ) -> Result<(), BackendError> {
        host_write_rows(dst, src, batch, cap, at)
    }

    fn reorder_seqs(
        &self,
        x: &mut FastTensor,
        rows_per_seq: usize,
        used: usize,
        idx: &[usize],
    ) -> Result<(), BackendError> {
        host_reorder_seqs(x, rows_per_seq, used, idx)
    }

    fn attention(
        &self,
        q: &FastTensor,
        k: &FastTensor,
        v: &FastTensor,
        p: &AttentionParams<'_, FastTensor>,
    ) -> Result<FastTensor, BackendError> {
        let inner = p.heads * p.d_kv;
        let bad = |what: &str| shape_err("attention", format!("{what} ({p:?})"));
        if p.kv_group == 0 || !p.batch.is_multiple_of(p.kv_group) {
            return Err(bad("kv_group must divide batch"));
        }
        let kv_batch = p.batch / p.kv_group;
        if q.cols != inner || Some(q.rows) != p.batch.checked_mul(p.q_len) {
            return Err(bad("q shape"));
        }
        if k.cols != inner
            || v.cols != inner
            || Some(k.rows) != kv_batch.checked_mul(p.kv_cap)
            || v.rows != k.rows
        {
            return Err(bad("k/v shape"));
        }
        if p.kv_len > p.kv_cap {
            return Err(bad("kv_len > kv_cap"));
        }
        if let Some(l) = p.key_lens
            && l.len() != kv_batch
        {
            return Err(bad("key_lens length"));
        }
        let span = (p.q_len + p.kv_len).saturating_sub(1);
        if let Some(b) = p.bias
            && (b.rows != p.heads || b.cols != span)
        {
            return Err(bad("bias shape"));
        }
        let mut out = vec![0.0f32; p.batch * p.q_len * inner];
        if inner == 0 || p.q_len == 0 {
            return Ok(FastTensor {
                rows: p.batch * p.q_len,
                cols: inner,
                data: out,
            });
        }
        for b in 0..p.batch {
            let kb = b / p.kv_group;
            let valid = p.key_lens.map_or(p.kv_len, |l| l[kb].min(p.kv_len));
            let kv0 = kb * p.kv_cap * inner;
            let kv1 = kv0 + p.kv_cap * inner;
            let q0 = b * p.q_len * inner;
            let a = Attention {
                heads: p.heads,
                d_head: p.d_kv,
                q_len: p.q_len,
                kv_len: valid,
                q: &q.data[q0..q0 + p.q_len * inner],
                q_stride: inner,
                k: &k.data[kv0..kv1],
                k_stride: inner,
                v: &v.data[kv0..kv1],
                v_stride: inner,
                bias: match p.bias {
                    Some(t) => PositionBias::Relative {
                        table: &t.data,
                        stride: span,
                    },
                    None => PositionBias::None,
                },
                key_mask: None,
                causal_offset: p.causal_offset,
            };
            a.validate().map_err(bad)?;
            t0_kernels::attention::attention_with(
                self.isa,
                &a,
                &mut out[q0..q0 + p.q_len * inner],
                inner,
            );
        }
        Ok(FastTensor {
            rows: p.batch * p.q_len,
            cols: inner,
            data: out,
        })
    }

    fn argmax(&self, logits: &FastTensor, suppress: Option<u32>) -> Result<Vec<u32>, BackendError> {
        let mut ids = Vec::with_capacity(logits.rows);
        let mut scratch = Vec::new();
        for r in 0..logits.rows {
            let row = logits.row(r);
            let s = suppress.map(|s| s as usize).filter(|&s| s < row.len());
            let best = match s {
                None => first_max(self.isa, row),
                Some(s) => {
                    // Replace the suppressed column by -inf in a scratch copy.
                    scratch.clear();
                    scratch.extend_from_slice(row);
                    scratch[s] = f32::NEG_INFINITY;
                    first_max(self.isa, &scratch).filter(|&j| j != s)
                }
            };
            ids.push(best.map_or(0, |j| j as u32));
        }
        Ok(ids)
    }

    fn log_softmax_gather(
        &self,
        logits: &FastTensor,
        targets: &[u32],
    ) -> Result<Vec<f32>, BackendError> {
        if targets.len() != logits.rows {
            return Err(shape_err(
                "log_softmax_gather",
                format!("{} targets for {} rows", targets.len(), logits.rows),
            ));
        }
        let mut out = Vec::with_capacity(logits.rows);
        let mut scratch = vec![0.0f32; logits.cols];
        for (r, &t) in targets.iter().enumerate() {
            let row = logits.row(r);
            if (t as usize) >= row.len() {
                out.push(0.0);
                continue;
            }
            t0_kernels::ops::log_softmax_with(self.isa, row, row.len(), &mut scratch);
            out.push(scratch[t as usize]);
        }
        Ok(out)
    }
}

/// First index of the maximum; rows with NaNs follow the reference backend's rule exactly.
fn first_max(isa: Isa, row: &[f32]) -> Option<usize> {
    if row.iter().any(|v| v.is_nan()) {
        let mut best = None::<(usize, f32)>;
        for (j, &x) in row.iter().enumerate() {
            if best.is_none_or(|(_, b)| x > b) {
                best = Some((j, x));
            }
        }
        return best.map(|(j, _)| j);
    }
    t0_kernels::ops::argmax_with(isa, row)
}

#[cfg(test)]
mod tests {
    use super::super::CpuBackend;
    use super::*;

    #[test]
    fn matches_reference_backend_ops_on_every_isa() {
        let shape = [37usize, 29];
        let w: Vec<f32> = (0..37 * 29)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let wb: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = TensorView {
            name: "w",
            dtype: DType::F32,
            shape: &shape,
            data: &wb,
        };
        let x: Vec<f32> = (0..3 * 29)
            .map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0)
            .collect();
        let rb = CpuBackend::new();
        let rw = rb.prepare_linear(&view).unwrap();
        let ry = rb.linear(&rb.upload(3, 29, &x).unwrap(), &rw).unwrap();
        for isa in Isa::available() {
            let fb = FastCpuBackend::with_isa(isa).unwrap();
            let fw = fb.prepare_linear(&view).unwrap();
            let fy = fb.linear(&fb.upload(3, 29, &x).unwrap(), &fw).unwrap();
            for (a, b) in fy.data().iter().zip(ry.data()) {
                assert!((a - b).abs() < 1e-5 + 1e-5 * b.abs(), "{isa:?}: {a} vs {b}");
            }
            let l = fb.upload(2, 3, &[1.0, 3.0, 3.0, 5.0, 0.0, 1.0]).unwrap();
            assert_eq!(fb.argmax(&l, None).unwrap(), vec![1, 0]);
            assert_eq!(fb.argmax(&l, Some(1)).unwrap(), vec![2, 0]);
            let g = fb.log_softmax_gather(&l, &[0, u32::MAX]).unwrap();
            let want = 1.0 - (1.0f32.exp() + 2.0 * 3.0f32.exp()).ln();
            assert!((g[0] - want).abs() < 1e-6);
            assert_eq!(g[1], 0.0);
            for row in [[f32::NAN, 1.0, 0.5], [0.5, f32::NAN, 1.0]] {
                let want = rb.argmax(&rb.upload(1, 3, &row).unwrap(), None).unwrap();
                assert_eq!(
                    fb.argmax(&fb.upload(1, 3, &row).unwrap(), None).unwrap(),
                    want
                );
            }
        }
    }

    #[test]
    fn attention_masks_causal_padding_and_empty_rows() {
        let be = FastCpuBackend::new();
        let q = be.upload(2, 1, &[0.0, 0.0]).unwrap();
        let k = be.upload(2, 1, &[0.0, 0.0]).unwrap();
        let v = be.upload(2, 1, &[10.0, 20.0]).unwrap();
        let mut p = AttentionParams {
            batch: 1,
            heads: 1,
            d_kv: 1,
            q_len: 2,
            kv_cap: 2,
            kv_len: 2,
            kv_group: 1,
            key_lens: None,
            causal_offset: Some(0),
            bias: None,
        };
        let o = be.attention(&q, &k, &v, &p).unwrap();
        assert_eq!(o.data(), &[10.0, 15.0]);
        p.causal_offset = None;
        let lens = [0usize];
        p.key_lens = Some(&lens);
        let o = be.attention(&q, &k, &v, &p).unwrap();
        assert_eq!(o.data(), &[0.0, 0.0]);
        let bias = be.upload(1, 3, &[0.0, 0.0, 1000.0]).unwrap();
        p.key_lens = None;
        p.bias = Some(&bias);
        let o = be.attention(&q, &k, &v, &p).unwrap();
        assert_eq!(o.data()[0], 20.0);
        assert!(
            be.with_weight_type(Some(WeightType::Bf16))
                .name()
                .starts_with("cpu-")
        );
    }
}
