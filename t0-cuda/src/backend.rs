//! [`CudaBackend`]: t0-core's [`Backend`] on our kernels. Weights are uploaded once in bf16
//! (f32/bf16 checkpoint bytes go straight from the (memory-mapped) view to a 64 MiB device
//! staging buffer and are converted there, chunk by chunk: no host copy of a tensor);
//! activations are f32 device tensors; matrix products and attention run on the tensor
//! cores with bf16 operands and f32 accumulation.

use std::sync::{Arc, Mutex};

use t0_core::backend::{Activation, AttentionParams, Backend, BackendError, check_float_weight};
use t0_core::tensor::{DType, TensorView};

use crate::device::{CudaDevice, DevBuf, DevView};
use crate::error::CudaError;
use crate::ops::{self, Act, Attention, Epilogue, GemmKernel, Strides};

const STAGING_BYTES: usize = 64 << 20;

/// The CUDA backend (one device, one stream).
pub struct CudaBackend {
    dev: Arc<CudaDevice>,
    name: String,
    staging: Mutex<Option<DevBuf>>,
}

impl std::fmt::Debug for CudaBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaBackend({})", self.name)
    }
}

/// An f32 `[rows, cols]` matrix on the device.
#[derive(Debug)]
pub struct CudaTensor {
    buf: DevBuf,
    rows: usize,
    cols: usize,
}

impl CudaTensor {
    /// Its device memory.
    pub fn view(&self) -> DevView {
        self.buf.view()
    }
}

/// A bf16 `[out, in]` weight on the device.
#[derive(Debug)]
pub struct CudaLinear {
    buf: DevBuf,
    out: usize,
    inp: usize,
}

/// An f32 vector on the device.
#[derive(Debug)]
pub struct CudaVector {
    buf: DevBuf,
    n: usize,
}

/// A bf16 `[rows, dim]` table on the device.
#[derive(Debug)]
pub struct CudaEmbedding {
    buf: DevBuf,
    rows: usize,
    dim: usize,
}

fn dev_err(e: CudaError) -> BackendError {
    match e {
        CudaError::BackendUnavailable(m) => BackendError::Unavailable(m),
        CudaError::Shape(detail) => BackendError::Shape { op: "cuda", detail },
        other => BackendError::Device(other.to_string()),
    }
}

fn shape_err(op: &'static str, detail: String) -> BackendError {
    BackendError::Shape { op, detail }
}

impl CudaBackend {
    /// Opens CUDA device `ordinal` (errors with `Unavailable` when there is none).
    pub fn new(ordinal: usize) -> Result<Self, BackendError> {
        let dev = CudaDevice::new(ordinal).map_err(dev_err)?;
        Ok(Self::on(dev))
    }

    /// A backend on an already opened device.
    pub fn on(dev: Arc<CudaDevice>) -> Self {
        let name = format!("cuda:{} ({})", 0, dev.name());
        CudaBackend {
            dev,
            name,
            staging: Mutex::new(None),
        }
    }

    /// The device.
    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.dev
    }

    fn tensor(&self, rows: usize, cols: usize) -> Result<CudaTensor, BackendError> {
        let bytes = rows
            .checked_mul(cols)
            .and_then(|n| n.checked_mul(4))
            .ok_or_else(|| shape_err("alloc", format!("{rows} x {cols} overflows")))?;
        Ok(CudaTensor {
            buf: self.dev.alloc_pooled(bytes).map_err(dev_err)?,
            rows,
            cols,
        })
    }

    fn to_bf16(&self, x: &CudaTensor, rows: usize) -> Result<DevBuf, BackendError> {
        let n = rows * x.cols;
        let b = self.dev.alloc_pooled(n * 2).map_err(dev_err)?;
        ops::f32_to_bf16(&self.dev, x.view(), b.view(), n).map_err(dev_err)?;
        Ok(b)
    }

    fn upload_i32(&self, v: &[i32]) -> Result<DevBuf, BackendError> {
        let b = self.dev.alloc_pooled(v.len() * 4).map_err(dev_err)?;
        self.dev.upload(&b, 0, v).map_err(dev_err)?;
        Ok(b)
    }

    /// Uploads a float weight of `rows` x `cols` as bf16 rows into `dst` (row stride `ld`
    /// elements), through the staging buffer.
    pub fn upload_weight_rows(
        &self,
        w: &TensorView<'_>,
        rows: usize,
        cols: usize,
        dst: DevView,
        ld: usize,
    ) -> Result<(), BackendError> {
        if cols == 0 || rows == 0 {
            return Ok(());
        }
        let mut staging = self.staging.lock().unwrap_or_else(|e| e.into_inner());
        if staging.is_none() {
            *staging = Some(self.dev.alloc(STAGING_BYTES).map_err(dev_err)?);
        }
        let st = staging.as_ref().expect("allocated above");
        let esz = w.dtype.size();
        let staged_esz = if w.dtype == DType::BF16 { 2 } else { 4 };
        let rows_per_chunk = (STAGING_BYTES / (cols * staged_esz)).max(1);
        if cols * staged_esz > STAGING_BYTES {
            return Err(BackendError::BadWeight {
                tensor: w.name.into(),
                reason: "rows too long for the staging buffer".into(),
            });
        }
        let mut r0 = 0;
        while r0 < rows {
            let nr = rows_per_chunk.min(rows - r0);
            let src = &w.data[r0 * cols * esz..(r0 + nr) * cols * esz];
            match w.dtype {
                DType::F32 | DType::BF16 => {
                    self.dev.upload(st, 0, src).map_err(dev_err)?;
                }
                DType::F16 => {
                    let f: Vec<f32> = src
                        .chunks_exact(2)
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                        .collect();
                    self.dev.upload(st, 0, &f).map_err(dev_err)?;
                }
                other => {
                    return Err(BackendError::UnsupportedDtype {
                        tensor: w.name.into(),
                        dtype: other,
                    });
                }
            }
            let out = dst.from(r0 * ld * 2).map_err(dev_err)?;
            ops::convert_rows(
                &self.dev,
                st.view(),
                w.dtype == DType::BF16,
                out,
                (nr, cols, ld),
            )
            .map_err(dev_err)?;
            r0 += nr;
        }
        Ok(())
    }

    fn prepare_bf16_matrix(
        &self,
        w: &TensorView<'_>,
    ) -> Result<(DevBuf, usize, usize), BackendError> {
        let shape = check_float_weight(w, 2)?;
        let (r, c) = (shape[0], shape[1]);
        let buf = self.dev.alloc(r * c * 2).map_err(dev_err)?;
        self.upload_weight_rows(w, r, c, buf.view(), c)?;
        Ok((buf, r, c))
    }
}

impl Backend for CudaBackend {
    type Tensor = CudaTensor;
    type Linear = CudaLinear;
    type Vector = CudaVector;
    type Embedding = CudaEmbedding;

    fn name(&self) -> &str {
        &self.name
    }

    fn prepare_linear(&self, w: &TensorView<'_>) -> Result<CudaLinear, BackendError> {
        let (buf, out, inp) = self.prepare_bf16_matrix(w)?;
        Ok(CudaLinear { buf, out, inp })
    }

    fn prepare_vector(&self, w: &TensorView<'_>) -> Result<CudaVector, BackendError> {
        let shape = check_float_weight(w, 1)?;
        let v = w
            .to_f32_vec()
            .ok_or_else(|| BackendError::UnsupportedDtype {
                tensor: w.name.into(),
                dtype: w.dtype,
            })?;
        let buf = self.dev.alloc(v.len() * 4).map_err(dev_err)?;
        self.dev.upload(&buf, 0, &v).map_err(dev_err)?;
        Ok(CudaVector { buf, n: shape[0] })
    }

    fn prepare_embedding(&self, w: &TensorView<'_>) -> Result<CudaEmbedding, BackendError> {
        let (buf, rows, dim) = self.prepare_bf16_matrix(w)?;
        Ok(CudaEmbedding { buf, rows, dim })
    }

    fn shape(&self, x: &CudaTensor) -> [usize; 2] {
        [x.rows, x.cols]
    }

    fn zeros(&self, rows: usize, cols: usize) -> Result<CudaTensor, BackendError> {
        let t = self.tensor(rows, cols)?;
        self.dev
            .memset(&t.buf, 0, rows * cols * 4, 0)
            .map_err(dev_err)?;
        Ok(t)
    }

    fn upload(&self, rows: usize, cols: usize, data: &[f32]) -> Result<CudaTensor, BackendError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(shape_err(
                "upload",
                format!("{} values for {rows} x {cols}", data.len()),
            ));
        }
        let t = self.tensor(rows, cols)?;
        self.dev.upload(&t.buf, 0, data).map_err(dev_err)?;
        Ok(t)
    }

    fn to_host(&self, x: &CudaTensor) -> Result<Vec<f32>, BackendError> {
        let mut v = vec![0.0f32; x.rows * x.cols];
        self.dev.download(&x.buf, 0, &mut v).map_err(dev_err)?;
        Ok(v)
    }

    fn embed(&self, table: &CudaEmbedding, ids: &[u32]) -> Result<CudaTensor, BackendError> {
        if let Some(&id) = ids.iter().find(|&&id| id as usize >= table.rows) {
            return Err(BackendError::IdOutOfRange {
                id,
                rows: table.rows,
            });
        }
        let ids_i: Vec<i32> = ids.iter().map(|&i| i as i32).collect();
        let idb = self.upload_i32(&ids_i)?;
        let out = self.tensor(ids.len(), table.dim)?;
        ops::embed(
            &self.dev,
            idb.view(),
            table.buf.view(),
            out.view(),
            (ids.len(), table.dim, table.rows),
        )
        .map_err(dev_err)?;
        Ok(out)
    }

    fn rms_norm(
        &self,
        x: &CudaTensor,
        w: &CudaVector,
        eps: f32,
    ) -> Result<CudaTensor, BackendError> {
        if w.n != x.cols {
            return Err(shape_err(
                "rms_norm",
                format!("{} weights for {} cols", w.n, x.cols),
            ));
        }
        let out = self.tensor(x.rows, x.cols)?;
        ops::rmsnorm(
            &self.dev,
            x.view(),
            w.buf.view(),
            out.view(),
            (x.rows, x.cols),
            eps,
            false,
        )
        .map_err(dev_err)?;
        Ok(out)
    }

    fn linear(&self, x: &CudaTensor, w: &CudaLinear) -> Result<CudaTensor, BackendError> {
        if x.cols != w.inp {
            return Err(shape_err(
                "linear",
                format!("x has {} cols, weight is [{}, {}]", x.cols, w.out, w.inp),
            ));
        }
        let xb = self.to_bf16(x, x.rows)?;
        let out = self.tensor(x.rows, w.out)?;
        ops::gemm(
            &self.dev,
            xb.view(),
            w.inp,
            w.buf.view(),
            w.inp,
            out.view(),
            w.out,
            (x.rows, w.out, w.inp),
            Epilogue::F32,
            GemmKernel::Auto,
        )
        .map_err(dev_err)?;
        Ok(out)
    }

    fn activation(
        &self,
        gate: &mut CudaTensor,
        up: Option<&CudaTensor>,
        act: Activation,
    ) -> Result<(), BackendError> {
        if let Some(u) = up
            && (u.rows, u.cols) != (gate.rows, gate.cols)
        {
            return Err(shape_err("activation", "gate and up differ".into()));
        }
        let a = match act {
            Activation::Relu => Act::Relu,
            Activation::GeluNew => Act::GeluTanh,
            Activation::Silu => Act::Silu,
        };
        ops::act(
            &self.dev,
            gate.view(),
            up.map(|u| u.view()),
            gate.rows * gate.cols,
            a,
        )
        .map_err(dev_err)
    }

    fn add_assign(&self, x: &mut CudaTensor, y: &CudaTensor) -> Result<(), BackendError> {
        if (x.rows, x.cols) != (y.rows, y.cols) {
            return Err(shape_err("add_assign", "shapes differ".into()));
        }
        ops::add(&self.dev, x.view(), y.view(), x.rows * x.cols).map_err(dev_err)
    }

    fn scale(&self, x: &mut CudaTensor, s: f32) -> Result<(), BackendError> {
        ops::scale(&self.dev, x.view(), x.rows * x.cols, s).map_err(dev_err)
    }

    fn write_rows(
        &self,
        dst: &mut CudaTensor,
        src: &CudaTensor,
        batch: usize,
        cap: usize,
        at: usize,
    ) -> Result<(), BackendError> {
        if batch == 0 || !src.rows.is_multiple_of(batch) {
            return Err(shape_err(
                "write_rows",
                format!("{} rows for batch {batch}", src.rows),
            ));
        }
        let n = src.rows / batch;
        if src.cols != dst.cols || dst.rows != batch * cap || at + n > cap {
            return Err(shape_err(
                "write_rows",
                format!(
                    "src [{}, {}] into dst [{}, {}] at {at} (cap {cap})",
                    src.rows, src.cols, dst.rows, dst.cols
                ),
            ));
        }
        let row = src.cols * 4;
        for b in 0..batch {
            self.dev
                .copy(
                    &dst.buf,
                    (b * cap + at) * row,
                    &src.buf,
                    b * n * row,
                    n * row,
                )
                .map_err(dev_err)?;
        }
        Ok(())
    }

    fn attention(
        &self,
        q: &CudaTensor,
        k: &CudaTensor,
        v: &CudaTensor,
        p: &AttentionParams<'_, CudaTensor>,
    ) -> Result<CudaTensor, BackendError> {
        let inner = p.heads * p.d_kv;
        if p.kv_group == 0 || !p.batch.is_multiple_of(p.kv_group) {
            return Err(shape_err("attention", format!("kv_group {}", p.kv_group)));
        }
        let kvb = p.batch / p.kv_group;
        if q.cols != inner
            || k.cols != inner
            || v.cols != inner
            || q.rows != p.batch * p.q_len
            || k.rows != kvb * p.kv_cap
            || v.rows != k.rows
            || p.kv_len > p.kv_cap
        {
            return Err(shape_err(
                "attention",
                format!(
                    "q [{}, {}], k [{}, {}], v [{}, {}] for batch {} heads {} d_kv {} q_len {} kv_cap {} kv_len {}",
                    q.rows,
                    q.cols,
                    k.rows,
                    k.cols,
                    v.rows,
                    v.cols,
                    p.batch,
                    p.heads,
                    p.d_kv,
                    p.q_len,
                    p.kv_cap,
                    p.kv_len
                ),
            ));
        }
        let out = self.tensor(q.rows, inner)?;
        if q.rows == 0 || inner == 0 {
            return Ok(out);
        }
        let qb = self.to_bf16(q, q.rows)?;
        let kb = self.to_bf16(k, k.rows)?;
        let vb = self.to_bf16(v, v.rows)?;
        let ob = self.dev.alloc_pooled(q.rows * inner * 2).map_err(dev_err)?;
        let key_len = match p.key_lens {
            Some(l) => {
                if l.len() != kvb {
                    return Err(shape_err(
                        "attention",
                        format!("{} key lengths for {kvb}", l.len()),
                    ));
                }
                let li: Vec<i32> = l.iter().map(|&x| x.min(i32::MAX as usize) as i32).collect();
                Some(self.upload_i32(&li)?)
            }
            None => None,
        };
        let (bias, bias_r, bias_w) = match p.bias {
            Some(b) => {
                let w = p.q_len + p.kv_len - 1;
                if b.rows != p.heads || b.cols != w {
                    return Err(shape_err(
                        "attention",
                        format!("bias [{}, {}], want [{}, {w}]", b.rows, b.cols, p.heads),
                    ));
                }
                (b.view(), p.q_len - 1, w)
            }
            None => (DevView::NULL, 0, 1),
        };
        let at = Attention {
            batch: p.batch,
            heads: p.heads,
            dh: p.d_kv,
            lq: p.q_len,
            lk: p.kv_len,
            q: qb.view(),
            q_st: Strides {
                batch: p.q_len * inner,
                row: inner,
            },
            k: kb.view(),
            v: vb.view(),
            kv_st: Strides {
                batch: p.kv_cap * inner,
                row: inner,
            },
            o: ob.view(),
            o_st: Strides {
                batch: p.q_len * inner,
                row: inner,
            },
            key_len: key_len.as_ref().map_or(DevView::NULL, |b| b.view()),
            bias,
            bias_r,
            bias_w,
            bias_qpos: false,
            causal: p.causal_offset.is_some(),
            q_offset: p.causal_offset.unwrap_or(0),
            kv_div: p.kv_group,
            pos: DevView::NULL,
            new_kv: None,
            force_rows: false,
        };
        ops::attention(&self.dev, &at).map_err(dev_err)?;
        ops::bf16_to_f32(&self.dev, ob.view(), out.view(), q.rows * inner).map_err(dev_err)?;
        Ok(out)
    }

    fn argmax(&self, logits: &CudaTensor, suppress: Option<u32>) -> Result<Vec<u32>, BackendError> {
        let next = self.dev.alloc_pooled(logits.rows * 4).map_err(dev_err)?;
        ops::argmax_step(
            &self.dev,
            logits.view(),
            (logits.rows, logits.cols),
            next.view(),
            None,
            DevView::NULL,
            0,
            0,
            suppress,
        )
        .map_err(dev_err)?;
        let mut ids = vec![0i32; logits.rows];
        self.dev.download(&next, 0, &mut ids).map_err(dev_err)?;
        Ok(ids.into_iter().map(|i| i as u32).collect())
    }

    fn log_softmax_gather(
        &self,
        logits: &CudaTensor,
        targets: &[u32],
    ) -> Result<Vec<f32>, BackendError> {
        if targets.len() != logits.rows {
            return Err(shape_err(
                "log_softmax_gather",
                format!("{} targets for {} rows", targets.len(), logits.rows),
            ));
        }
        let t: Vec<i32> = targets
            .iter()
            .map(|&x| {
                if (x as usize) < logits.cols {
                    x as i32
                } else {
                    -1
                }
            })
            .collect();
        let tb = self.upload_i32(&t)?;
        let ob = self.dev.alloc_pooled(targets.len() * 4).map_err(dev_err)?;
        ops::log_softmax_gather(
            &self.dev,
            logits.view(),
            tb.view(),
            ob.view(),
            (logits.rows, logits.cols),
        )
        .map_err(dev_err)?;
        let mut out = vec![0.0f32; targets.len()];
        self.dev.download(&ob, 0, &mut out).map_err(dev_err)?;
        Ok(out)
    }
}
