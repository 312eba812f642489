//! Fused multi-head attention: `softmax(Q Kᵀ + bias + mask) V` per head, with T5's
//! conventions (no `1/√d` scaling; the relative-position bias is added to the scores).
//!
//! Keys are processed in blocks of 64 with an online (streaming) softmax, so the scores of a
//! query row never exist beyond a 64-float stack buffer: nothing of size `q_len × kv_len`
//! is written to memory. Per (head, block of 64 query rows) task the key block is transposed
//! once into a `d × 64` tile so that a query row's 64 scores are `d` broadcast FMAs into
//! 64/LANES accumulators (no horizontal sums), and `P · V` is `64` broadcast FMAs over the
//! head dimension. Each (head, query row) is computed by one task in a fixed order, so
//! results do not depend on the thread count. The same kernel serves encoder
//! self-attention, decoder self-attention over a KV cache (`q_len = 1`, or causal prefill),
//! and cross-attention.

use alloc::vec;

use crate::isa::Isa;
use crate::simd::{Simd, load_partial};

/// Keys per block.
pub(crate) const BK: usize = 64;
/// Query rows per task.
const QB: usize = 64;

/// Position bias added to the scores.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum PositionBias<'a> {
    /// No bias.
    None,
    /// A bias that depends only on `j - i` (T5's relative attention buckets, expanded per
    /// distance): `bias(h, i, j) = table[h * stride + (j + q_len - 1 - i)]`, so each head's
    /// row needs `q_len + kv_len - 1` entries. For decode at absolute query position `t`
    /// over keys `0..kv_len`, the caller fills the table for distances `j - t`.
    Relative {
        /// `heads` rows of at least `q_len + kv_len - 1` values.
        table: &'a [f32],
        /// Distance between head rows (≥ `q_len + kv_len - 1`).
        stride: usize,
    },
    /// A full `[heads, q_len, kv_len]` tensor (what HF materialises).
    Full(&'a [f32]),
}

/// One attention call for one sequence (loop over the batch outside, or lay the batch out
/// as separate calls): shapes, strided views of Q, K, V and the bias and masks.
#[derive(Debug, Clone, Copy)]
pub struct Attention<'a> {
    /// Number of heads.
    pub heads: usize,
    /// Dimension per head (`d_kv`).
    pub d_head: usize,
    /// Query rows.
    pub q_len: usize,
    /// Key/value rows.
    pub kv_len: usize,
    /// Queries: row `i`, head `h` at `q[i * q_stride + h * d_head ..][..d_head]`.
    pub q: &'a [f32],
    /// Row stride of `q` (≥ `heads * d_head`).
    pub q_stride: usize,
    /// Keys: row `j`, head `h` at `k[j * k_stride + h * d_head ..][..d_head]`.
    pub k: &'a [f32],
    /// Row stride of `k`.
    pub k_stride: usize,
    /// Values, laid out like `k` with `v_stride`.
    pub v: &'a [f32],
    /// Row stride of `v`.
    pub v_stride: usize,
    /// Position bias.
    pub bias: PositionBias<'a>,
    /// Additive per-key mask (`kv_len` values, e.g. 0 or `f32::MIN` for padding).
    pub key_mask: Option<&'a [f32]>,
    /// Causal masking: query `i` sees keys `j <= i + offset` only (decoder prefill with
    /// `offset = kv_len - q_len`). Hidden keys are skipped, not added as `-inf`.
    pub causal_offset: Option<usize>,
}

fn span(rows: usize, stride: usize, width: usize) -> Option<usize> {
    if rows == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(stride)?.checked_add(width)
}

impl Attention<'_> {
    /// Checks every slice against the shapes; returns a description of the first problem.
    pub fn validate(&self) -> Result<(), &'static str> {
        let width = self
            .heads
            .checked_mul(self.d_head)
            .ok_or("heads * d_head overflows")?;
        let ok = |len: usize, rows: usize, stride: usize| {
            stride >= width && span(rows, stride, width).is_some_and(|s| s <= len)
        };
        if !ok(self.q.len(), self.q_len, self.q_stride) {
            return Err("q too short for q_len rows of q_stride");
        }
        if !ok(self.k.len(), self.kv_len, self.k_stride) {
            return Err("k too short for kv_len rows of k_stride");
        }
        if !ok(self.v.len(), self.kv_len, self.v_stride) {
            return Err("v too short for kv_len rows of v_stride");
        }
        if self.key_mask.is_some_and(|m| m.len() < self.kv_len) {
            return Err("key_mask shorter than kv_len");
        }
        match self.bias {
            PositionBias::None => {}
            PositionBias::Relative { table, stride } => {
                let w = (self.q_len + self.kv_len).saturating_sub(1);
                if self.q_len > 0 && self.kv_len > 0 {
                    if stride < w {
                        return Err("relative bias stride < q_len + kv_len - 1");
                    }
                    if span(self.heads, stride, w).is_none_or(|s| s > table.len()) {
                        return Err("relative bias table too short");
                    }
                }
            }
            PositionBias::Full(b) => {
                let n = self
                    .heads
                    .checked_mul(self.q_len)
                    .and_then(|x| x.checked_mul(self.kv_len))
                    .ok_or("bias size overflows")?;
                if b.len() < n {
                    return Err("full bias shorter than heads * q_len * kv_len");
                }
            }
        }
        Ok(())
    }
}

/// Computes heads `h`, query rows `i0..i1` into `out` (row stride `out_stride`).
///
/// # Safety
/// `a` validated; `out` valid for rows `i0..i1` of `out_stride` (≥ heads * d_head); the
/// ISA is available; `NV * S::LANES == BK`.
#[inline(always)]
pub(crate) unsafe fn attn_body<S: Simd, const NV: usize>(
    a: &Attention<'_>,
    h: usize,
    i0: usize,
    i1: usize,
    out: *mut f32,
    out_stride: usize,
) {
    let l = S::LANES;
    let d = a.d_head;
    let dp = d.div_ceil(16) * 16; // padded accumulator row
    let nq = i1 - i0;
    let mut acc = vec![0.0f32; nq * dp];
    let mut mrow = vec![f32::NEG_INFINITY; nq];
    let mut lrow = vec![0.0f32; nq];
    let mut kt = vec![0.0f32; d * BK];
    let mut s = [0.0f32; BK];
    let hd = h * d;
    let jend_all = match a.causal_offset {
        Some(off) => a.kv_len.min(i1 - 1 + off + 1),
        None => a.kv_len,
    };
    let mut j0 = 0;
    // SAFETY: all indices are within the validated slices: keys j < kv_len, rows
    // i < q_len, features < d; kt holds d*BK, acc nq*dp floats; s holds BK = NV*l floats.
    unsafe {
        while j0 < jend_all {
            let nb = BK.min(jend_all - j0);
            // Transpose the key block: kt[dd][jj] = K[j0+jj][hd+dd]; unused columns zero.
            for jj in 0..BK {
                if jj < nb {
                    let kr = a.k.as_ptr().add((j0 + jj) * a.k_stride + hd);
                    for dd in 0..d {
                        *kt.get_unchecked_mut(dd * BK + jj) = *kr.add(dd);
                    }
                } else {
                    for dd in 0..d {
                        *kt.get_unchecked_mut(dd * BK + jj) = 0.0;
                    }
                }
            }
            for qi in 0..nq {
                let i = i0 + qi;
                let jlim = match a.causal_offset {
                    Some(off) => a.kv_len.min(i + off + 1),
                    None => a.kv_len,
                };
                if jlim <= j0 {
                    continue;
                }
                let valid = nb.min(jlim - j0);
                // Scores for the block.
                let qr = a.q.as_ptr().add(i * a.q_stride + hd);
                let mut sv = [S::zero(); NV];
                for dd in 0..d {
                    let qv = S::splat(*qr.add(dd));
                    let kp = kt.as_ptr().add(dd * BK);
                    for (c, svc) in sv.iter_mut().enumerate() {
                        *svc = S::fma(qv, S::load(kp.add(c * l)), *svc);
                    }
                }
                let bias_ptr: Option<*const f32> = match a.bias {
                    PositionBias::None => None,
                    PositionBias::Relative { table, stride } => {
                        Some(table.as_ptr().add(h * stride + a.q_len - 1 - i + j0))
                    }
                    PositionBias::Full(b) => {
                        Some(b.as_ptr().add((h * a.q_len + i) * a.kv_len + j0))
                    }
                };
                let mut bmax = S::splat(f32::NEG_INFINITY);
                for (c, svc) in sv.iter_mut().enumerate() {
                    let st = c * l;
                    if st >= valid {
                        *svc = S::splat(f32::NEG_INFINITY);
                        continue;
                    }
                    let n = l.min(valid - st);
                    let mut v = *svc;
                    if let Some(bp) = bias_ptr {
                        let b = if n == l {
                            S::load(bp.add(st))
                        } else {
                            load_partial::<S>(bp.add(st), n, 0.0)
                        };
                        v = S::add(v, b);
                    }
                    if let Some(m) = a.key_mask {
                        let mp = m.as_ptr().add(j0 + st);
                        let b = if n == l {
                            S::load(mp)
                        } else {
                            load_partial::<S>(mp, n, 0.0)
                        };
                        v = S::add(v, b);
                    }
                    if n < l {
                        // Hide lanes past the valid keys.
                        S::store(s.as_mut_ptr(), v);
                        for x in s.iter_mut().take(l).skip(n) {
                            *x = f32::NEG_INFINITY;
                        }
                        v = S::load(s.as_ptr());
                    }
                    *svc = v;
                    bmax = S::max(v, bmax);
                }
                let bm = S::hmax(bmax);
                let m_old = mrow[qi];
                let m_new = if bm > m_old { bm } else { m_old };
                if m_new == f32::NEG_INFINITY {
                    continue;
                }
                let corr = if m_old == f32::NEG_INFINITY {
                    0.0
                } else {
                    libm::expf(m_old - m_new)
                };
                let mv = S::splat(m_new);
                let mut psum = S::zero();
                for (c, svc) in sv.iter().enumerate() {
                    let p = S::exp(S::sub(*svc, mv));
                    psum = S::add(psum, p);
                    S::store(s.as_mut_ptr().add(c * l), p);
                }
                lrow[qi] = lrow[qi] * corr + S::hsum(psum);
                mrow[qi] = m_new;
                // acc = acc * corr + Σ_j p_j V_j
                let ar = acc.as_mut_ptr().add(qi * dp);
                let cv = S::splat(corr);
                let mut dd = 0;
                while dd < d {
                    let n = l.min(d - dd);
                    let mut av = S::mul(S::load(ar.add(dd)), cv);
                    for (jj, &p) in s.iter().enumerate().take(valid) {
                        let vr = a.v.as_ptr().add((j0 + jj) * a.v_stride + hd + dd);
                        let vv = if n == l {
                            S::load(vr)
                        } else {
                            load_partial::<S>(vr, n, 0.0)
                        };
                        av = S::fma(S::splat(p), vv, av);
                    }
                    S::store(ar.add(dd), av);
                    dd += l;
                }
            }
            j0 += nb;
        }
        for qi in 0..nq {
            let o = out.add((i0 + qi) * out_stride + hd);
            let inv = if lrow[qi] > 0.0 { 1.0 / lrow[qi] } else { 0.0 };
            for dd in 0..d {
                *o.add(dd) = acc[qi * dp + dd] * inv;
            }
        }
    }
}

/// Fused attention on a chosen ISA; writes `out[i * out_stride + h * d_head ..][..d_head]`
/// for every query row `i` and head `h`. Runs on the current rayon pool under `std`
/// (tasks: head × 64 query rows; bit-identical for any thread count).
///
/// # Panics
/// If the ISA is unavailable, [`Attention::validate`] fails, or `out` is too short for
/// `q_len` rows of `out_stride` (≥ `heads * d_head`).
pub fn attention_with(isa: Isa, a: &Attention<'_>, out: &mut [f32], out_stride: usize) {
    assert!(
        isa.is_available(),
        "attention: ISA {} not available",
        isa.name()
    );
    if let Err(e) = a.validate() {
        panic!("attention: {e}");
    }
    let width = a.heads * a.d_head;
    assert!(
        out_stride >= width && span(a.q_len, out_stride, width).is_some_and(|s| s <= out.len()),
        "attention: out too short"
    );
    if a.q_len == 0 || width == 0 {
        return;
    }
    let qblocks = a.q_len.div_ceil(QB);
    let tasks = a.heads * qblocks;
    let outp = crate::linear::OutPtr(out.as_mut_ptr());
    let work = a.heads * a.q_len * a.kv_len * a.d_head * 2;
    crate::par::for_ranges(tasks, work, &|t0, t1| {
        for t in t0..t1 {
            let (h, qb) = (t / qblocks, t % qblocks);
            let i0 = qb * QB;
            let i1 = a.q_len.min(i0 + QB);
            // SAFETY: ISA checked; `a` validated; tasks write disjoint (row, head) blocks of
            // `out`, which was checked to hold q_len rows of out_stride.
            unsafe { crate::entries::attention(isa, a, h, i0, i1, outp.get(), out_stride) }
        }
    });
}

/// [`attention_with`] on the best ISA.
pub fn attention(a: &Attention<'_>, out: &mut [f32], out_stride: usize) {
    attention_with(Isa::best(), a, out, out_stride)
}
