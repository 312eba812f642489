//! The simple f32 CPU reference backend: plain loops, one thread, every weight converted to
//! f32 at load. It is the oracle the fast backends are tested against; the SIMD kernels in
//! `t0-kernels` replace its hot paths.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use super::{Activation, AttentionParams, Backend, BackendError, check_float_weight};
use crate::tensor::TensorView;

/// A row-major `[rows, cols]` f32 matrix in host memory.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuTensor {
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) data: Vec<f32>,
}

impl CpuTensor {
    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// Row `r`.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

/// A prepared weight matrix `[out, in]` in f32 (also used for embedding tables
/// `[rows, dim]` and, with one row, for vectors).
#[derive(Debug, Clone, PartialEq)]
pub struct CpuMatrix {
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) data: Vec<f32>,
}

impl CpuMatrix {
    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
    /// The f32 elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
}

/// The simple f32 CPU backend. Construct with [`CpuBackend::new`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuBackend {
    _private: (),
}

impl CpuBackend {
    /// The reference CPU backend.
    pub fn new() -> Self {
        CpuBackend { _private: () }
    }
}

pub(super) fn shape_err(op: &'static str, detail: alloc::string::String) -> BackendError {
    BackendError::Shape { op, detail }
}

pub(super) fn to_matrix(w: &TensorView<'_>, rank: usize) -> Result<CpuMatrix, BackendError> {
    let dims = check_float_weight(w, rank)?;
    let data = w
        .to_f32_vec()
        .ok_or_else(|| BackendError::UnsupportedDtype {
            tensor: w.name.into(),
            dtype: w.dtype,
        })?;
    let (rows, cols) = match dims {
        [n] => (1, *n),
        [r, c] => (*r, *c),
        _ => unreachable!("rank checked above"),
    };
    Ok(CpuMatrix { rows, cols, data })
}

/// A zero `[rows, cols]` host tensor (shared by the host backends).
pub(super) fn host_zeros(rows: usize, cols: usize) -> Result<CpuTensor, BackendError> {
    let n = rows
        .checked_mul(cols)
        .ok_or_else(|| shape_err("zeros", format!("{rows} x {cols} overflows")))?;
    Ok(CpuTensor {
        rows,
        cols,
        data: vec![0.0; n],
    })
}

/// A `[rows, cols]` host tensor holding a copy of `data`.
pub(super) fn host_upload(
    rows: usize,
    cols: usize,
    data: &[f32],
) -> Result<CpuTensor, BackendError> {
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(shape_err(
            "upload",
            format!("{} values for [{rows}, {cols}]", data.len()),
        ));
    }
    Ok(CpuTensor {
        rows,
        cols,
        data: data.to_vec(),
    })
}

/// `x += y` on host tensors (both CPU backends).
pub(super) fn host_add_assign(x: &mut CpuTensor, y: &CpuTensor) -> Result<(), BackendError> {
    if x.rows != y.rows || x.cols != y.cols {
        return Err(shape_err(
            "add_assign",
            format!("[{}, {}] += [{}, {}]", x.rows, x.cols, y.rows, y.cols),
        ));
    }
    for (a, &b) in x.data.iter_mut().zip(&y.data) {
        *a += b;
    }
    Ok(())
}

/// `x *= s` on a host tensor (both CPU backends).
pub(super) fn host_scale(x: &mut CpuTensor, s: f32) -> Result<(), BackendError> {
    x.data.iter_mut().for_each(|v| *v *= s);
    Ok(())
}

/// [`Backend::write_rows`] on host tensors (both CPU backends).
pub(super) fn host_write_rows(
    dst: &mut CpuTensor,
    src: &CpuTensor,
    batch: usize,
    cap: usize,
    at: usize,
) -> Result<(), BackendError> {
    let bad = || {
        shape_err(
            "write_rows",
            format!(
                "src [{}, {}] into dst [{}, {}] as {batch} x {cap} at {at}",
                src.rows, src.cols, dst.rows, dst.cols
            ),
        )
    };
    if batch == 0 || !src.rows.is_multiple_of(batch) || src.cols != dst.cols {
        return Err(bad());
    }
    let n = src.rows / batch;
    if Some(dst.rows) != batch.checked_mul(cap) || at.checked_add(n).is_none_or(|e| e > cap) {
        return Err(bad());
    }
    let c = src.cols;
    for b in 0..batch {
        let s = &src.data[b * n * c..(b + 1) * n * c];
        let d0 = (b * cap + at) * c;
        dst.data[d0..d0 + n * c].copy_from_slice(s);
    }
    Ok(())
}

/// [`Backend::reorder_seqs`] in place on a host tensor (both CPU backends).
pub(super) fn host_reorder_seqs(
    x: &mut CpuTensor,
    rows_per_seq: usize,
    used: usize,
    idx: &[usize],
) -> Result<(), BackendError> {
    let n = idx.len();
    if used > rows_per_seq
        || rows_per_seq == 0
        || Some(x.rows) != n.checked_mul(rows_per_seq)
        || idx.iter().any(|&i| i >= n)
    {
        return Err(shape_err(
            "reorder_seqs",
            format!(
                "{} rows as {n} sequences of {rows_per_seq} ({used} used), {idx:?}",
                x.rows
            ),
        ));
    }
    // In place: sources that are overwritten before they are read are saved first
    // (only their `used` rows); everything else is a copy within `x.data`.
    let (seq, live) = (rows_per_seq * x.cols, used * x.cols);
    let mut saved: Vec<(usize, Vec<f32>)> = Vec::new();
    for (dst, &src) in idx.iter().enumerate() {
        if src != dst && idx[..dst].iter().all(|&s| s != src) && idx[src] != src {
            // `src` will be overwritten (it is itself a destination that moves).
            saved.push((src, x.data[src * seq..src * seq + live].to_vec()));
        }
    }
    for (dst, &src) in idx.iter().enumerate() {
        if src == dst {
            continue;
        }
        if let Some((_, v)) = saved.iter().find(|(s, _)| *s == src) {
            x.data[dst * seq..dst * seq + live].copy_from_slice(v);
        } else {
            x.data.copy_within(src * seq..src * seq + live, dst * seq);
        }
    }
    Ok(())
}

/// Gathers the rows of `table` named by `ids`.
pub(super) fn host_embed(table: &CpuMatrix, ids: &[u32]) -> Result<CpuTensor, BackendError> {
    let d = table.cols;
    let mut data = Vec::with_capacity(ids.len() * d);
    for &id in ids {
        let r = id as usize;
        if r >= table.rows {
            return Err(BackendError::IdOutOfRange {
                id,
                rows: table.rows,
            });
        }
        data.extend_from_slice(&table.data[r * d..(r + 1) * d]);
    }
    Ok(CpuTensor {
        rows: ids.len(),
        cols: d,
        data,
    })
}

/// Dot product with eight independent accumulators (lets the compiler vectorise).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// HF's `gelu_new`: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
#[inline]
pub fn gelu_new(x: f32) -> f32 {
    const C: f32 = 0.797_884_6; // sqrt(2/pi)
    0.5 * x * (1.0 + libm::tanhf(C * (x + 0.044_715 * x * x * x)))
}

/// `x·sigmoid(x)`.
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + libm::expf(-x))
}

impl Backend for CpuBackend {
    type Tensor = CpuTensor;
    type Linear = CpuMatrix;
    type Vector = CpuMatrix;
    type Embedding = CpuMatrix;

    fn name(&self) -> &str {
        "cpu-ref"
    }

    fn prepare_linear(&self, w: &TensorView<'_>) -> Result<CpuMatrix, BackendError> {
        to_matrix(w, 2)
    }

    fn prepare_vector(&self, w: &TensorView<'_>) -> Result<CpuMatrix, BackendError> {
        to_matrix(w, 1)
    }

    fn prepare_embedding(&self, w: &TensorView<'_>) -> Result<CpuMatrix, BackendError> {
        to_matrix(w, 2)
    }

    fn shape(&self, x: &CpuTensor) -> [usize; 2] {
        [x.rows, x.cols]
    }

    fn zeros(&self, rows: usize, cols: usize) -> Result<CpuTensor, BackendError> {
        host_zeros(rows, cols)
    }

    fn upload(&self, rows: usize, cols: usize, data: &[f32]) -> Result<CpuTensor, BackendError> {
        host_upload(rows, cols, data)
    }

    fn to_host(&self, x: &CpuTensor) -> Result<Vec<f32>, BackendError> {
        Ok(x.data.clone())
    }

    fn embed(&self, table: &CpuMatrix, ids: &[u32]) -> Result<CpuTensor, BackendError> {
        host_embed(table, ids)
    }

    fn rms_norm(&self, x: &CpuTensor, w: &CpuMatrix, eps: f32) -> Result<CpuTensor, BackendError> {
        if w.rows != 1 || w.cols != x.cols {
            return Err(shape_err(
                "rms_norm",
                format!("x [{}, {}], weight {:?}", x.rows, x.cols, w.shape()),
            ));
        }
        let mut out = vec![0.0f32; x.data.len()];
        if x.cols > 0 {
            for (o, r) in out
                .chunks_exact_mut(x.cols)
                .zip(x.data.chunks_exact(x.cols))
            {
                t0_kernels::scalar::rms_norm(r, &w.data, eps, o);
            }
        }
        Ok(CpuTensor {
            rows: x.rows,
            cols: x.cols,
            data: out,
        })
    }

    fn linear(&self, x: &CpuTensor, w: &CpuMatrix) -> Result<CpuTensor, BackendError> {
        if w.cols != x.cols {
            return Err(shape_err(
                "linear",
                format!("x [{}, {}], weight {:?}", x.rows, x.cols, w.shape()),
            ));
        }
        let (rows, inp, out) = (x.rows, x.cols, w.rows);
        let mut y = vec![0.0f32; rows * out];
        if inp == 0 {
            return Ok(CpuTensor {
                rows,
                cols: out,
                data: y,
            });
        }
        // Blocks of weight rows stay in cache while every input row passes over them.
        const BLOCK: usize = 16;
        for o0 in (0..out).step_by(BLOCK) {
            let o1 = (o0 + BLOCK).min(out);
            for r in 0..rows {
                let xr = &x.data[r * inp..(r + 1) * inp];
                let yr = &mut y[r * out..(r + 1) * out];
                for (o, yo) in yr[o0..o1].iter_mut().enumerate() {
                    let wo = (o0 + o) * inp;
                    *yo = dot(xr, &w.data[wo..wo + inp]);
                }
            }
        }
        Ok(CpuTensor {
            rows,
            cols: out,
            data: y,
        })
    }

    fn activation(
        &self,
        gate: &mut CpuTensor,
        up: Option<&CpuTensor>,
        act: Activation,
    ) -> Result<(), BackendError> {
        let f: fn(f32) -> f32 = match act {
            Activation::Relu => |x| if x > 0.0 { x } else { 0.0 },
            Activation::GeluNew => gelu_new,
            Activation::Silu => silu,
        };
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
                for (g, &v) in gate.data.iter_mut().zip(&u.data) {
                    *g = f(*g) * v;
                }
            }
            None => gate.data.iter_mut().for_each(|g| *g = f(*g)),
        }
        Ok(())
    }

    fn add_assign(&self, x: &mut CpuTensor, y: &CpuTensor) -> Result<(), BackendError> {
        host_add_assign(x, y)
    }

    fn scale(&self, x: &mut CpuTensor, s: f32) -> Result<(), BackendError> {
        host_scale(x, s)
    }

    fn write_rows(
        &self,
        dst: &mut CpuTensor,
        src: &CpuTensor,
        batch: usize,
        cap: usize,
        at: usize,
    ) -> Result<(), BackendError> {
        host_write_rows(dst, src, batch, cap, at)
    }

    fn reorder_seqs(
        &self,
        x: &mut CpuTensor,
        rows_per_seq: usize,
        used: usize,
        idx: &[usize],
    ) -> Result<(), BackendError> {
        host_reorder_seqs(x, rows_per_seq, used, idx)
    }

    fn attention(
        &self,
        q: &CpuTensor,
        k: &CpuTensor,
        v: &CpuTensor,
        p: &AttentionParams<'_, CpuTensor>,
    ) -> Result<CpuTensor, BackendError> {
        let inner = p.heads * p.d_kv;
        let bad = |what: &str| shape_err("attention", format!("{what} ({p:?})"));
        if p.kv_group == 0 || !p.batch.is_multiple_of(p.kv_group) {
            return Err(bad("kv_group must divide batch"));
        }
        let kv_batch = p.batch / p.kv_group;
        if q.cols != inner || q.rows != p.batch * p.q_len {
            return Err(bad("q shape"));
        }
        if k.cols != inner || v.cols != inner || k.rows != kv_batch * p.kv_cap || v.rows != k.rows {
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
        let mut scores = vec![0.0f32; p.kv_len];
        for b in 0..p.batch {
            let kb = b / p.kv_group;
            let valid = p.key_lens.map_or(p.kv_len, |l| l[kb].min(p.kv_len));
            for i in 0..p.q_len {
                let visible = match p.causal_offset {
                    Some(off) => valid.min(off + i + 1),
                    None => valid,
                };
                let qrow = &q.data[(b * p.q_len + i) * inner..(b * p.q_len + i + 1) * inner];
                let orow_start = (b * p.q_len + i) * inner;
                for h in 0..p.heads {
                    if visible == 0 {
                        continue; // all keys masked: the output stays zero
                    }
                    let qh = &qrow[h * p.d_kv..(h + 1) * p.d_kv];
                    let mut max = f32::NEG_INFINITY;
                    for (j, s) in scores[..visible].iter_mut().enumerate() {
                        let kr = (kb * p.kv_cap + j) * inner + h * p.d_kv;
                        let mut x = dot(qh, &k.data[kr..kr + p.d_kv]);
                        if let Some(bias) = p.bias {
                            x += bias.data[h * span + j + p.q_len - 1 - i];
                        }
                        *s = x;
                        if x > max {
                            max = x;
                        }
                    }
                    let mut sum = 0.0f32;
                    for s in scores[..visible].iter_mut() {
                        *s = libm::expf(*s - max);
                        sum += *s;
                    }
                    let inv = 1.0 / sum;
                    let o = &mut out[orow_start + h * p.d_kv..orow_start + (h + 1) * p.d_kv];
                    for (j, &s) in scores[..visible].iter().enumerate() {
                        let w = s * inv;
                        let vr = (kb * p.kv_cap + j) * inner + h * p.d_kv;
                        for (od, &vd) in o.iter_mut().zip(&v.data[vr..vr + p.d_kv]) {
                            *od += w * vd;
                        }
                    }
                }
            }
        }
        Ok(CpuTensor {
            rows: p.batch * p.q_len,
            cols: inner,
            data: out,
        })
    }

    fn argmax(&self, logits: &CpuTensor, suppress: Option<u32>) -> Result<Vec<u32>, BackendError> {
        let mut ids = Vec::with_capacity(logits.rows);
        for r in 0..logits.rows {
            let row = logits.row(r);
            let mut best = None::<(usize, f32)>;
            for (j, &x) in row.iter().enumerate() {
                if Some(j as u32) == suppress {
                    continue;
                }
                // NaN never wins; the first maximum wins ties.
                if best.is_none_or(|(_, b)| x > b) {
                    best = Some((j, x));
                }
            }
            ids.push(best.map_or(0, |(j, _)| j as u32));
        }
        Ok(ids)
    }

    fn log_softmax_gather(
        &self,
        logits: &CpuTensor,
        targets: &[u32],
    ) -> Result<Vec<f32>, BackendError> {
        if targets.len() != logits.rows {
            return Err(shape_err(
                "log_softmax_gather",
                format!("{} targets for {} rows", targets.len(), logits.rows),
            ));
        }
        let mut out = Vec::with_capacity(logits.rows);
        for (r, &t) in targets.iter().enumerate() {
            let row = logits.row(r);
            let Some(&x) = row.get(t as usize) else {
                out.push(0.0);
                continue;
            };
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = row.iter().map(|&v| libm::expf(v - max)).sum();
            out.push(x - max - libm::logf(sum));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    fn t(be: &CpuBackend, rows: usize, cols: usize, d: &[f32]) -> CpuTensor {
        be.upload(rows, cols, d).unwrap()
    }

    #[test]
    fn linear_matches_naive_product() {
        let be = CpuBackend::new();
        let (rows, inp, out) = (3, 11, 19);
        let x: Vec<f32> = (0..rows * inp).map(|i| (i as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..out * inp).map(|i| (i as f32 * 0.11).cos()).collect();
        let wb: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
        let shape = [out, inp];
        let view = TensorView {
            name: "w",
            dtype: DType::F32,
            shape: &shape,
            data: &wb,
        };
        let lw = be.prepare_linear(&view).unwrap();
        let y = be.linear(&t(&be, rows, inp, &x), &lw).unwrap();
        for r in 0..rows {
            for o in 0..out {
                let want: f32 = (0..inp).map(|i| x[r * inp + i] * w[o * inp + i]).sum();
                assert!((y.row(r)[o] - want).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn prepare_rejects_integer_and_wrong_rank() {
        let be = CpuBackend::new();
        let shape = [2usize, 2];
        let data = [0u8; 4];
        let v = TensorView {
            name: "x",
            dtype: DType::I8,
            shape: &shape,
            data: &data,
        };
        assert!(matches!(
            be.prepare_linear(&v),
            Err(BackendError::UnsupportedDtype { .. })
        ));
        let s1 = [1usize];
        let v = TensorView {
            name: "x",
            dtype: DType::F32,
            shape: &s1,
            data: &data,
        };
        assert!(matches!(
            be.prepare_linear(&v),
            Err(BackendError::BadWeight { .. })
        ));
    }

    #[test]
    fn attention_masks_causal_padding_and_empty_rows() {
        let be = CpuBackend::new();
        // One head of size 1, two keys with values 10 and 20.
        let q = t(&be, 2, 1, &[0.0, 0.0]);
        let k = t(&be, 2, 1, &[0.0, 0.0]);
        let v = t(&be, 2, 1, &[10.0, 20.0]);
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
        // bias favouring key 1 for query 0: index j - i + q_len - 1.
        let bias = t(&be, 1, 3, &[0.0, 0.0, 1000.0]);
        p.key_lens = None;
        p.bias = Some(&bias);
        let o = be.attention(&q, &k, &v, &p).unwrap();
        assert_eq!(o.data()[0], 20.0);
    }

    #[test]
    fn heads_and_gathers() {
        let be = CpuBackend::new();
        let l = t(&be, 2, 3, &[1.0, 3.0, 3.0, 5.0, 0.0, 1.0]);
        assert_eq!(be.argmax(&l, None).unwrap(), vec![1, 0]);
        assert_eq!(be.argmax(&l, Some(1)).unwrap(), vec![2, 0]);
        let g = be.log_softmax_gather(&l, &[0, u32::MAX]).unwrap();
        let want = 1.0 - (1.0f32.exp() + 2.0 * 3.0f32.exp()).ln();
        assert!((g[0] - want).abs() < 1e-6);
        assert_eq!(g[1], 0.0);
    }

    #[test]
    fn write_rows_fills_cache_slots() {
        let be = CpuBackend::new();
        let mut cache = be.zeros(4, 1).unwrap();
        let step = t(&be, 2, 1, &[7.0, 8.0]);
        be.write_rows(&mut cache, &step, 2, 2, 1).unwrap();
        assert_eq!(cache.data(), &[0.0, 7.0, 0.0, 8.0]);
        assert!(be.write_rows(&mut cache, &step, 2, 2, 2).is_err());
    }

    #[test]
    fn activations() {
        assert!((gelu_new(1.0) - 0.841_192).abs() < 1e-5);
        assert!((silu(1.0) - 0.731_058_6).abs() < 1e-6);
    }
}
