//! Element-wise and row kernels: RMSNorm, (gated) activations, log-softmax, argmax.

use crate::isa::Isa;
use crate::simd::{Simd, load_partial, store_partial};

/// Feed-forward activation functions of the T5 family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Activation {
    /// `max(x, 0)` (T5 v1.0).
    Relu,
    /// HF's `gelu_new`: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))` (T5 v1.1 / T0
    /// "gated-gelu"). Computed as the identical `x · σ(2√(2/π)(x + 0.044715 x³))`.
    GeluNew,
    /// SiLU / swish: `x · σ(x)` ("gated-silu").
    Silu,
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;

/// # Safety
/// ISA available.
#[inline(always)]
unsafe fn act_v<S: Simd>(act: Activation, x: S::V) -> S::V {
    // SAFETY: ISA available (caller).
    unsafe {
        match act {
            Activation::Relu => S::relu(x),
            Activation::Silu => {
                let e = S::exp(S::sub(S::zero(), x));
                S::div(x, S::add(S::splat(1.0), e))
            }
            Activation::GeluNew => {
                let x3 = S::mul(S::mul(x, x), x);
                let inner = S::fma(S::splat(0.044_715), x3, x);
                let z = S::mul(S::splat(-2.0 * SQRT_2_OVER_PI), inner);
                S::div(x, S::add(S::splat(1.0), S::exp(z)))
            }
        }
    }
}

/// `a[i] = act(a[i]) * b[i]` (or `act(a[i])` when `b` is `None`).
///
/// # Safety
/// ISA available; `b`, when given, has `a.len()` elements.
#[inline(always)]
pub(crate) unsafe fn act_body<S: Simd>(act: Activation, a: &mut [f32], b: Option<&[f32]>) {
    let n = a.len();
    let l = S::LANES;
    let mut i = 0;
    // SAFETY: i + l <= n for full vectors, partial accesses cover n - i < l elements.
    unsafe {
        while i + l <= n {
            let mut v = act_v::<S>(act, S::load(a.as_ptr().add(i)));
            if let Some(b) = b {
                v = S::mul(v, S::load(b.as_ptr().add(i)));
            }
            S::store(a.as_mut_ptr().add(i), v);
            i += l;
        }
        if i < n {
            let mut v = act_v::<S>(act, load_partial::<S>(a.as_ptr().add(i), n - i, 0.0));
            if let Some(b) = b {
                v = S::mul(v, load_partial::<S>(b.as_ptr().add(i), n - i, 0.0));
            }
            store_partial::<S>(a.as_mut_ptr().add(i), n - i, v);
        }
    }
}

/// One row of RMSNorm.
///
/// # Safety
/// ISA available; `w` and `out` have `x.len()` elements.
#[inline(always)]
pub(crate) unsafe fn rms_body<S: Simd>(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let l = S::LANES;
    // SAFETY: bounds as in act_body.
    unsafe {
        let mut acc = S::zero();
        let mut i = 0;
        while i + l <= n {
            let v = S::load(x.as_ptr().add(i));
            acc = S::fma(v, v, acc);
            i += l;
        }
        if i < n {
            let v = load_partial::<S>(x.as_ptr().add(i), n - i, 0.0);
            acc = S::fma(v, v, acc);
        }
        let inv = 1.0 / libm::sqrtf(S::hsum(acc) / n as f32 + eps);
        let iv = S::splat(inv);
        let mut i = 0;
        while i + l <= n {
            let v = S::mul(
                S::mul(S::load(x.as_ptr().add(i)), iv),
                S::load(w.as_ptr().add(i)),
            );
            S::store(out.as_mut_ptr().add(i), v);
            i += l;
        }
        if i < n {
            let v = S::mul(
                S::mul(load_partial::<S>(x.as_ptr().add(i), n - i, 0.0), iv),
                load_partial::<S>(w.as_ptr().add(i), n - i, 0.0),
            );
            store_partial::<S>(out.as_mut_ptr().add(i), n - i, v);
        }
    }
}

/// Maximum of a non-empty slice (`-inf` for an empty one).
///
/// # Safety
/// ISA available.
#[inline(always)]
pub(crate) unsafe fn max_body<S: Simd>(x: &[f32]) -> f32 {
    let n = x.len();
    let l = S::LANES;
    // SAFETY: bounds as in act_body.
    unsafe {
        let mut m = S::splat(f32::NEG_INFINITY);
        let mut i = 0;
        while i + l <= n {
            m = S::max(S::load(x.as_ptr().add(i)), m);
            i += l;
        }
        if i < n {
            m = S::max(
                load_partial::<S>(x.as_ptr().add(i), n - i, f32::NEG_INFINITY),
                m,
            );
        }
        S::hmax(m)
    }
}

/// One row of log-softmax.
///
/// # Safety
/// ISA available; `out.len() == x.len()`.
#[inline(always)]
pub(crate) unsafe fn log_softmax_body<S: Simd>(x: &[f32], out: &mut [f32]) {
    let n = x.len();
    if n == 0 {
        return;
    }
    let l = S::LANES;
    // SAFETY: bounds as in act_body.
    unsafe {
        let mx = max_body::<S>(x);
        let mv = S::splat(mx);
        let mut acc = S::zero();
        let mut i = 0;
        while i + l <= n {
            acc = S::add(acc, S::exp(S::sub(S::load(x.as_ptr().add(i)), mv)));
            i += l;
        }
        if i < n {
            let v = load_partial::<S>(x.as_ptr().add(i), n - i, f32::NEG_INFINITY);
            acc = S::add(acc, S::exp(S::sub(v, mv)));
        }
        let lse = S::splat(mx + libm::logf(S::hsum(acc)));
        let mut i = 0;
        while i + l <= n {
            S::store(
                out.as_mut_ptr().add(i),
                S::sub(S::load(x.as_ptr().add(i)), lse),
            );
            i += l;
        }
        if i < n {
            let v = S::sub(load_partial::<S>(x.as_ptr().add(i), n - i, 0.0), lse);
            store_partial::<S>(out.as_mut_ptr().add(i), n - i, v);
        }
    }
}

/// RMSNorm over `rows` rows of `w.len()` features: `out = x / sqrt(mean(x²) + eps) * w`
/// (T5's layer norm: no mean subtraction, no bias).
///
/// # Panics
/// If the ISA is unavailable or `x.len()`/`out.len()` are not `rows * w.len()`.
pub fn rms_norm_with(isa: Isa, x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    assert!(
        isa.is_available(),
        "rms_norm: ISA {} not available",
        isa.name()
    );
    assert_eq!(x.len(), out.len(), "rms_norm: output length");
    let d = w.len();
    if d == 0 {
        assert!(
            x.is_empty(),
            "rms_norm: x not a multiple of the weight length"
        );
        return;
    }
    assert_eq!(
        x.len() % d,
        0,
        "rms_norm: x not a multiple of the weight length"
    );
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        // SAFETY: ISA checked; row lengths equal.
        unsafe { crate::entries::rms_norm(isa, xr, w, eps, or) }
    }
}

/// [`rms_norm_with`] on the best ISA.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    rms_norm_with(Isa::best(), x, w, eps, out)
}

/// `a[i] = act(a[i]) * b[i]` — the gated feed-forward combination.
///
/// # Panics
/// If the ISA is unavailable or the lengths differ.
pub fn gated_act_with(isa: Isa, act: Activation, a: &mut [f32], b: &[f32]) {
    assert!(
        isa.is_available(),
        "gated_act: ISA {} not available",
        isa.name()
    );
    assert_eq!(a.len(), b.len(), "gated_act: lengths differ");
    // SAFETY: ISA checked; lengths equal.
    unsafe { crate::entries::act(isa, act, a, Some(b)) }
}

/// [`gated_act_with`] on the best ISA.
pub fn gated_act(act: Activation, a: &mut [f32], b: &[f32]) {
    gated_act_with(Isa::best(), act, a, b)
}

/// `a[i] = act(a[i])` in place.
///
/// # Panics
/// If the ISA is unavailable.
pub fn activate_with(isa: Isa, act: Activation, a: &mut [f32]) {
    assert!(
        isa.is_available(),
        "activate: ISA {} not available",
        isa.name()
    );
    // SAFETY: ISA checked.
    unsafe { crate::entries::act(isa, act, a, None) }
}

/// [`activate_with`] on the best ISA.
pub fn activate(act: Activation, a: &mut [f32]) {
    activate_with(Isa::best(), act, a)
}

/// Log-softmax of each row of `cols` values: `out = x - max - ln Σ exp(x - max)`.
///
/// # Panics
/// If the ISA is unavailable, `out.len() != x.len()` or `x.len()` is not a multiple of
/// `cols` (`cols == 0` requires empty slices).
pub fn log_softmax_with(isa: Isa, x: &[f32], cols: usize, out: &mut [f32]) {
    assert!(
        isa.is_available(),
        "log_softmax: ISA {} not available",
        isa.name()
    );
    assert_eq!(x.len(), out.len(), "log_softmax: output length");
    if cols == 0 {
        assert!(x.is_empty(), "log_softmax: cols == 0 with data");
        return;
    }
    assert_eq!(x.len() % cols, 0, "log_softmax: x not a multiple of cols");
    for (xr, or) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        // SAFETY: ISA checked; row lengths equal.
        unsafe { crate::entries::log_softmax(isa, xr, or) }
    }
}

/// [`log_softmax_with`] on the best ISA.
pub fn log_softmax(x: &[f32], cols: usize, out: &mut [f32]) {
    log_softmax_with(Isa::best(), x, cols, out)
}

/// Index of the first maximum of `x` (`None` when empty). With NaNs in `x` the result is
/// unspecified (an index or `None`), never a panic.
pub fn argmax_with(isa: Isa, x: &[f32]) -> Option<usize> {
    assert!(
        isa.is_available(),
        "argmax: ISA {} not available",
        isa.name()
    );
    if x.is_empty() {
        return None;
    }
    // SAFETY: ISA checked.
    let m = unsafe { crate::entries::max(isa, x) };
    x.iter().position(|&v| v == m)
}

/// [`argmax_with`] on the best ISA.
pub fn argmax(x: &[f32]) -> Option<usize> {
    argmax_with(Isa::best(), x)
}
