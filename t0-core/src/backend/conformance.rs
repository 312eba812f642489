//! A conformance suite any [`Backend`] can run: every op on shapes around common vector
//! and tile widths, against a self-contained f64 oracle (not against another backend, so a
//! CPU backend rewritten on SIMD kernels is still checked against first principles).
//!
//! ```
//! use t0_core::backend::CpuBackend;
//! use t0_core::backend::conformance::{check_all, Tolerance};
//! check_all(&CpuBackend::new(), Tolerance::F32).unwrap();
//! ```
//!
//! A backend that computes in lower precision (bf16 weights, say) passes a looser
//! [`Tolerance`]; weights are offered as F32, BF16 and F16 views and the oracle uses the
//! values those views hold.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use super::{Activation, AttentionParams, Backend, BackendError};
use crate::tensor::{DType, TensorView};

/// Allowed difference: `|got − want| ≤ abs + rel·|want|` element-wise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Absolute part.
    pub abs: f32,
    /// Relative part.
    pub rel: f32,
}

impl Tolerance {
    /// For f32 compute.
    pub const F32: Tolerance = Tolerance {
        abs: 1e-5,
        rel: 1e-4,
    };
}

/// The first check that failed: which op, on which case, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ConformanceFailure {
    /// The op.
    pub op: &'static str,
    /// The case (shapes, options).
    pub case: String,
    /// What differed, or the error returned.
    pub detail: String,
}

impl fmt::Display for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {}", self.op, self.case, self.detail)
    }
}

impl core::error::Error for ConformanceFailure {}

type Check = Result<(), ConformanceFailure>;

fn fail(op: &'static str, case: &str, detail: String) -> ConformanceFailure {
    ConformanceFailure {
        op,
        case: case.into(),
        detail,
    }
}

fn be_err(op: &'static str, case: &str, e: BackendError) -> ConformanceFailure {
    fail(op, case, format!("returned an error: {e}"))
}

/// Deterministic values in about [-1, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn close(op: &'static str, case: &str, got: &[f32], want: &[f64], tol: Tolerance) -> Check {
    if got.len() != want.len() {
        return Err(fail(
            op,
            case,
            format!("{} values, expected {}", got.len(), want.len()),
        ));
    }
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let lim = tol.abs as f64 + tol.rel as f64 * w.abs();
        if !g.is_finite() || (g as f64 - w).abs() > lim {
            return Err(fail(op, case, format!("element {i}: got {g}, want {w}")));
        }
    }
    Ok(())
}

/// Weight bytes in `dtype`, and the f32 values they hold.
fn weight_bytes(vals: &[f32], dtype: DType) -> (Vec<u8>, Vec<f32>) {
    match dtype {
        DType::BF16 => {
            let h: Vec<half::bf16> = vals.iter().map(|&v| half::bf16::from_f32(v)).collect();
            (
                h.iter().flat_map(|x| x.to_le_bytes()).collect(),
                h.iter().map(|x| x.to_f32()).collect(),
            )
        }
        DType::F16 => {
            let h: Vec<half::f16> = vals.iter().map(|&v| half::f16::from_f32(v)).collect();
            (
                h.iter().flat_map(|x| x.to_le_bytes()).collect(),
                h.iter().map(|x| x.to_f32()).collect(),
            )
        }
        _ => (
            vals.iter().flat_map(|x| x.to_le_bytes()).collect(),
            vals.to_vec(),
        ),
    }
}

/// Sizes around 4/8/16-wide vectors and 32/64 tiles, plus 1.
const DIMS: [usize; 9] = [1, 3, 7, 8, 9, 16, 17, 33, 64];

/// `linear` for F32, BF16 and F16 weights, `rows ∈ {1, 2, 5}`, in/out across [`DIMS`].
pub fn check_linear<B: Backend>(be: &B, tol: Tolerance) -> Check {
    let mut rng = Lcg(1);
    for dtype in [DType::F32, DType::BF16, DType::F16] {
        for &inp in &DIMS {
            for &out in &[1usize, 8, 17, 65] {
                for rows in [1usize, 2, 5] {
                    let case = format!("{} rows {rows} in {inp} out {out}", dtype.as_str());
                    let (bytes, w) = weight_bytes(&rng.vec(out * inp), dtype);
                    let shape = [out, inp];
                    let view = TensorView {
                        name: "w",
                        dtype,
                        shape: &shape,
                        data: &bytes,
                    };
                    let lw = be
                        .prepare_linear(&view)
                        .map_err(|e| be_err("prepare_linear", &case, e))?;
                    let x = rng.vec(rows * inp);
                    let xt = be
                        .upload(rows, inp, &x)
                        .map_err(|e| be_err("upload", &case, e))?;
                    let y = be
                        .linear(&xt, &lw)
                        .map_err(|e| be_err("linear", &case, e))?;
                    if be.shape(&y) != [rows, out] {
                        return Err(fail("linear", &case, format!("shape {:?}", be.shape(&y))));
                    }
                    let got = be.to_host(&y).map_err(|e| be_err("to_host", &case, e))?;
                    let mut want = vec![0.0f64; rows * out];
                    for r in 0..rows {
                        for o in 0..out {
                            want[r * out + o] = (0..inp)
                                .map(|i| x[r * inp + i] as f64 * w[o * inp + i] as f64)
                                .sum();
                        }
                    }
                    close("linear", &case, &got, &want, tol)?;
                }
            }
        }
    }
    Ok(())
}

/// `embed` (and its out-of-range error), `rms_norm`, `activation`, `add_assign`, `scale`.
pub fn check_elementwise<B: Backend>(be: &B, tol: Tolerance) -> Check {
    let mut rng = Lcg(2);
    for &d in &DIMS {
        let case = format!("dim {d}");
        let case = case.as_str();
        // embed
        let rows = 5;
        let (bytes, table) = weight_bytes(&rng.vec(rows * d), DType::F32);
        let shape = [rows, d];
        let view = TensorView {
            name: "emb",
            dtype: DType::F32,
            shape: &shape,
            data: &bytes,
        };
        let e = be
            .prepare_embedding(&view)
            .map_err(|e| be_err("prepare_embedding", case, e))?;
        let ids = [4u32, 0, 4, 2];
        let x = be.embed(&e, &ids).map_err(|e| be_err("embed", case, e))?;
        let want: Vec<f64> = ids
            .iter()
            .flat_map(|&i| {
                table[i as usize * d..(i as usize + 1) * d]
                    .iter()
                    .map(|&v| v as f64)
            })
            .collect();
        let got = be.to_host(&x).map_err(|e| be_err("to_host", case, e))?;
        close("embed", case, &got, &want, tol)?;
        if !matches!(
            be.embed(&e, &[1, 5]),
            Err(BackendError::IdOutOfRange { id: 5, rows: 5 })
        ) {
            return Err(fail(
                "embed",
                case,
                "id 5 of 5 rows was not rejected".into(),
            ));
        }
        // rms_norm
        let n = 3;
        let xs = rng.vec(n * d);
        let (wb, wv) = weight_bytes(&rng.vec(d), DType::F32);
        let wshape = [d];
        let wview = TensorView {
            name: "ln",
            dtype: DType::F32,
            shape: &wshape,
            data: &wb,
        };
        let w = be
            .prepare_vector(&wview)
            .map_err(|e| be_err("prepare_vector", case, e))?;
        let xt = be
            .upload(n, d, &xs)
            .map_err(|e| be_err("upload", case, e))?;
        let y = be
            .rms_norm(&xt, &w, 1e-6)
            .map_err(|e| be_err("rms_norm", case, e))?;
        let mut want = vec![0.0f64; n * d];
        for r in 0..n {
            let row = &xs[r * d..(r + 1) * d];
            let ms = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / d as f64;
            let inv = 1.0 / libm::sqrt(ms + 1e-6);
            for i in 0..d {
                want[r * d + i] = row[i] as f64 * inv * wv[i] as f64;
            }
        }
        let got = be.to_host(&y).map_err(|e| be_err("to_host", case, e))?;
        close("rms_norm", case, &got, &want, tol)?;
        // activations, gated and not
        let gate: Vec<f32> = rng.vec(n * d).iter().map(|v| v * 4.0).collect();
        let up = rng.vec(n * d);
        for act in [Activation::Relu, Activation::GeluNew, Activation::Silu] {
            for gated in [false, true] {
                let case = format!("dim {d} {act:?} gated {gated}");
                let mut g = be
                    .upload(n, d, &gate)
                    .map_err(|e| be_err("upload", &case, e))?;
                let u = be
                    .upload(n, d, &up)
                    .map_err(|e| be_err("upload", &case, e))?;
                be.activation(&mut g, gated.then_some(&u), act)
                    .map_err(|e| be_err("activation", &case, e))?;
                let want: Vec<f64> = gate
                    .iter()
                    .zip(&up)
                    .map(|(&x, &u)| {
                        let x = x as f64;
                        let a = match act {
                            Activation::Relu => x.max(0.0),
                            Activation::GeluNew => {
                                0.5 * x
                                    * (1.0
                                        + libm::tanh(
                                            libm::sqrt(2.0 / core::f64::consts::PI)
                                                * (x + 0.044715 * x * x * x),
                                        ))
                            }
                            Activation::Silu => x / (1.0 + libm::exp(-x)),
                        };
                        if gated { a * u as f64 } else { a }
                    })
                    .collect();
                let got = be.to_host(&g).map_err(|e| be_err("to_host", &case, e))?;
                close("activation", &case, &got, &want, tol)?;
            }
        }
        // add_assign, scale
        let a = rng.vec(n * d);
        let b = rng.vec(n * d);
        let mut at = be.upload(n, d, &a).map_err(|e| be_err("upload", case, e))?;
        let bt = be.upload(n, d, &b).map_err(|e| be_err("upload", case, e))?;
        be.add_assign(&mut at, &bt)
            .map_err(|e| be_err("add_assign", case, e))?;
        be.scale(&mut at, 0.5)
            .map_err(|e| be_err("scale", case, e))?;
        let want: Vec<f64> = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| (x as f64 + y as f64) * 0.5)
            .collect();
        let got = be.to_host(&at).map_err(|e| be_err("to_host", case, e))?;
        close("add_assign+scale", case, &got, &want, tol)?;
    }
    Ok(())
}

/// `write_rows` into a cache, `zeros`, and the rejection of an out-of-capacity write.
pub fn check_cache<B: Backend>(be: &B) -> Check {
    let case = "batch 3 cap 4 cols 5";
    let mut cache = be.zeros(12, 5).map_err(|e| be_err("zeros", case, e))?;
    let step: Vec<f32> = (0..3 * 2 * 5).map(|i| i as f32 + 1.0).collect();
    let st = be
        .upload(6, 5, &step)
        .map_err(|e| be_err("upload", case, e))?;
    be.write_rows(&mut cache, &st, 3, 4, 1)
        .map_err(|e| be_err("write_rows", case, e))?;
    let got = be.to_host(&cache).map_err(|e| be_err("to_host", case, e))?;
    let mut want = vec![0.0f64; 60];
    for b in 0..3 {
        for r in 0..2 {
            for c in 0..5 {
                want[((b * 4) + 1 + r) * 5 + c] = step[(b * 2 + r) * 5 + c] as f64;
            }
        }
    }
    close(
        "write_rows",
        case,
        &got,
        &want,
        Tolerance { abs: 0.0, rel: 0.0 },
    )?;
    if be.write_rows(&mut cache, &st, 3, 4, 3).is_ok() {
        return Err(fail(
            "write_rows",
            case,
            "a write past the capacity was accepted".into(),
        ));
    }
    Ok(())
}

/// f64 attention oracle with the semantics documented on [`Backend::attention`].
fn attention_oracle(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    bias: Option<&[f32]>,
    p: &AttnCase,
) -> Vec<f64> {
    let inner = p.heads * p.d_kv;
    let span = p.q_len + p.kv_len - 1;
    let mut out = vec![0.0f64; p.batch * p.q_len * inner];
    for b in 0..p.batch {
        let kb = b / p.kv_group;
        let valid = p
            .key_lens
            .as_ref()
            .map_or(p.kv_len, |l| l[kb].min(p.kv_len));
        for i in 0..p.q_len {
            let vis = match p.causal {
                Some(off) => valid.min(off + i + 1),
                None => valid,
            };
            for h in 0..p.heads {
                if vis == 0 {
                    continue;
                }
                let qo = (b * p.q_len + i) * inner + h * p.d_kv;
                let mut s = vec![0.0f64; vis];
                for (j, sj) in s.iter_mut().enumerate() {
                    let ko = (kb * p.kv_cap + j) * inner + h * p.d_kv;
                    *sj = (0..p.d_kv)
                        .map(|t| q[qo + t] as f64 * k[ko + t] as f64)
                        .sum::<f64>()
                        + bias.map_or(0.0, |bb| bb[h * span + j + p.q_len - 1 - i] as f64);
                }
                let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = s.iter().map(|x| libm::exp(x - m)).sum();
                for (j, sj) in s.iter().enumerate() {
                    let w = libm::exp(sj - m) / z;
                    let vo = (kb * p.kv_cap + j) * inner + h * p.d_kv;
                    for t in 0..p.d_kv {
                        out[qo + t] += w * v[vo + t] as f64;
                    }
                }
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
struct AttnCase {
    batch: usize,
    heads: usize,
    d_kv: usize,
    q_len: usize,
    kv_cap: usize,
    kv_len: usize,
    kv_group: usize,
    key_lens: Option<Vec<usize>>,
    causal: Option<usize>,
    bias: bool,
}

/// `attention`: encoder-style (padding mask + bias), teacher-forced causal, cached decode
/// steps (`q_len = 1`, partial cache, offsets), cross-attention shared by `kv_group`
/// sequences, a fully masked row (must give zeros), head sizes around vector widths.
pub fn check_attention<B: Backend>(be: &B, tol: Tolerance) -> Check {
    let mut cases = Vec::new();
    for &d_kv in &[1usize, 8, 17, 64] {
        // encoder self-attention with padding and bias
        cases.push(AttnCase {
            batch: 3,
            heads: 2,
            d_kv,
            q_len: 6,
            kv_cap: 6,
            kv_len: 6,
            kv_group: 1,
            key_lens: Some(vec![6, 2, 0]),
            causal: None,
            bias: true,
        });
        // teacher-forced decoder
        cases.push(AttnCase {
            batch: 2,
            heads: 3,
            d_kv,
            q_len: 5,
            kv_cap: 5,
            kv_len: 5,
            kv_group: 1,
            key_lens: None,
            causal: Some(0),
            bias: true,
        });
        // cached decode step at position 3 of a capacity-7 cache
        cases.push(AttnCase {
            batch: 2,
            heads: 2,
            d_kv,
            q_len: 1,
            kv_cap: 7,
            kv_len: 4,
            kv_group: 1,
            key_lens: None,
            causal: Some(3),
            bias: true,
        });
        // cross-attention: 4 choices share each of 2 encoder outputs
        cases.push(AttnCase {
            batch: 8,
            heads: 2,
            d_kv,
            q_len: 3,
            kv_cap: 9,
            kv_len: 9,
            kv_group: 4,
            key_lens: Some(vec![9, 4]),
            causal: None,
            bias: false,
        });
    }
    let mut rng = Lcg(3);
    for c in cases {
        let case = format!("{c:?}");
        let inner = c.heads * c.d_kv;
        let kvb = c.batch / c.kv_group;
        let q: Vec<f32> = rng
            .vec(c.batch * c.q_len * inner)
            .iter()
            .map(|x| x * 2.0)
            .collect();
        let k: Vec<f32> = rng
            .vec(kvb * c.kv_cap * inner)
            .iter()
            .map(|x| x * 2.0)
            .collect();
        let v = rng.vec(kvb * c.kv_cap * inner);
        let span = c.q_len + c.kv_len - 1;
        let bias: Vec<f32> = rng.vec(c.heads * span).iter().map(|x| x * 3.0).collect();
        let up = |rows, data: &[f32]| {
            be.upload(rows, inner, data)
                .map_err(|e| be_err("upload", &case, e))
        };
        let (qt, kt, vt) = (
            up(c.batch * c.q_len, &q)?,
            up(kvb * c.kv_cap, &k)?,
            up(kvb * c.kv_cap, &v)?,
        );
        let bt = be
            .upload(c.heads, span, &bias)
            .map_err(|e| be_err("upload", &case, e))?;
        let p = AttentionParams {
            batch: c.batch,
            heads: c.heads,
            d_kv: c.d_kv,
            q_len: c.q_len,
            kv_cap: c.kv_cap,
            kv_len: c.kv_len,
            kv_group: c.kv_group,
            key_lens: c.key_lens.as_deref(),
            causal_offset: c.causal,
            bias: c.bias.then_some(&bt),
        };
        let o = be
            .attention(&qt, &kt, &vt, &p)
            .map_err(|e| be_err("attention", &case, e))?;
        let got = be.to_host(&o).map_err(|e| be_err("to_host", &case, e))?;
        let want = attention_oracle(&q, &k, &v, c.bias.then_some(&bias[..]), &c);
        close("attention", &case, &got, &want, tol)?;
    }
    Ok(())
}

/// `argmax` (first maximum on ties, `suppress`) and `log_softmax_gather` (padding target
/// gives 0).
pub fn check_heads<B: Backend>(be: &B, tol: Tolerance) -> Check {
    let mut rng = Lcg(4);
    for &vocab in &[2usize, 9, 33, 1000] {
        let case = format!("vocab {vocab}");
        let rows = 4;
        let mut x: Vec<f32> = rng.vec(rows * vocab).iter().map(|v| v * 8.0).collect();
        // Row 0: a tie between the last and first column, both maximal.
        x[0] = 100.0;
        x[vocab - 1] = 100.0;
        let t = be
            .upload(rows, vocab, &x)
            .map_err(|e| be_err("upload", &case, e))?;
        let want_arg: Vec<u32> = (0..rows)
            .map(|r| {
                let row = &x[r * vocab..(r + 1) * vocab];
                let mut best = 0;
                for (j, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = j;
                    }
                }
                best as u32
            })
            .collect();
        let got = be
            .argmax(&t, None)
            .map_err(|e| be_err("argmax", &case, e))?;
        if got != want_arg {
            return Err(fail(
                "argmax",
                &case,
                format!("got {got:?}, want {want_arg:?}"),
            ));
        }
        let sup = be
            .argmax(&t, Some(0))
            .map_err(|e| be_err("argmax", &case, e))?;
        if vocab > 1 && sup[0] != (vocab - 1) as u32 {
            return Err(fail(
                "argmax",
                &case,
                format!("suppressing column 0 gave {}", sup[0]),
            ));
        }
        let targets = [0u32, (vocab - 1) as u32, u32::MAX, (vocab / 2) as u32];
        let got = be
            .log_softmax_gather(&t, &targets)
            .map_err(|e| be_err("log_softmax_gather", &case, e))?;
        let want: Vec<f64> = (0..rows)
            .map(|r| {
                let row = &x[r * vocab..(r + 1) * vocab];
                let Some(&xt) = row.get(targets[r] as usize) else {
                    return 0.0;
                };
                let m = row
                    .iter()
                    .map(|&v| v as f64)
                    .fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = row.iter().map(|&v| libm::exp(v as f64 - m)).sum();
                xt as f64 - m - libm::log(z)
            })
            .collect();
        close("log_softmax_gather", &case, &got, &want, tol)?;
    }
    Ok(())
}

/// Every check above.
pub fn check_all<B: Backend>(be: &B, tol: Tolerance) -> Check {
    check_linear(be, tol)?;
    check_elementwise(be, tol)?;
    check_cache(be)?;
    check_attention(be, tol)?;
    check_heads(be, tol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend;

    #[test]
    fn cpu_reference_backend_conforms() {
        check_all(&CpuBackend::new(), Tolerance::F32).unwrap();
    }
}
