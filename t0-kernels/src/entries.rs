//! Per-ISA entry points: the generic kernel bodies instantiated inside
//! `#[target_feature]` functions, and the `match` that picks one.
//!
//! Every function here is `unsafe`: the caller must have checked `isa.is_available()`
//! (the public wrappers assert it) plus the kernel's own slice contract.

use crate::attention::Attention;
use crate::isa::Isa;
use crate::linear::LinearJob;
use crate::ops::Activation;

macro_rules! isa_entries {
    ($name:ident, $S:ty, $vn:literal, $mr:literal $(, #[$attr:meta])*) => {
        pub(crate) mod $name {
            use super::*;

            $(#[$attr])*
            pub(crate) unsafe fn linear_panels(job: &LinearJob<'_>, p0: usize, p1: usize) {
                // SAFETY: forwarded contract (ISA available, job validated).
                unsafe { crate::linear::panels_body::<$S, $vn, $mr>(job, p0, p1) }
            }

            $(#[$attr])*
            pub(crate) unsafe fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
                // SAFETY: forwarded contract.
                unsafe { crate::ops::rms_body::<$S>(x, w, eps, out) }
            }

            $(#[$attr])*
            pub(crate) unsafe fn act(act: Activation, a: &mut [f32], b: Option<&[f32]>) {
                // SAFETY: forwarded contract.
                unsafe { crate::ops::act_body::<$S>(act, a, b) }
            }

            $(#[$attr])*
            pub(crate) unsafe fn log_softmax(x: &[f32], out: &mut [f32]) {
                // SAFETY: forwarded contract.
                unsafe { crate::ops::log_softmax_body::<$S>(x, out) }
            }

            $(#[$attr])*
            pub(crate) unsafe fn max(x: &[f32]) -> f32 {
                // SAFETY: forwarded contract.
                unsafe { crate::ops::max_body::<$S>(x) }
            }

            $(#[$attr])*
            pub(crate) unsafe fn attention(
                a: &Attention<'_>,
                h: usize,
                i0: usize,
                i1: usize,
                out: *mut f32,
                out_stride: usize,
            ) {
                // SAFETY: forwarded contract.
                unsafe {
                    crate::attention::attn_body::<$S, { 2 * $vn }>(a, h, i0, i1, out, out_stride)
                }
            }
        }
    };
}

isa_entries!(scalar, crate::simd::Scalar, 32, 2);
#[cfg(target_arch = "x86_64")]
isa_entries!(avx512, crate::x86::Avx512, 2, 8, #[target_feature(enable = "avx512f")]);
#[cfg(target_arch = "x86_64")]
isa_entries!(avx2, crate::x86::Avx2, 4, 3, #[target_feature(enable = "avx2,fma,f16c")]);
#[cfg(target_arch = "aarch64")]
isa_entries!(neon, crate::neon::Neon, 8, 4, #[target_feature(enable = "neon")]);

/// Calls entry `$f` of the module for `$isa`.
macro_rules! dispatch {
    ($isa:expr, $f:ident ( $($arg:expr),* )) => {
        // SAFETY (for callers): the ISA must be available; each arm only calls the
        // target-feature function of that ISA.
        match $isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { avx512::$f($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { avx2::$f($($arg),*) },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => unsafe { neon::$f($($arg),*) },
            _ => unsafe { scalar::$f($($arg),*) },
        }
    };
}

/// # Safety
/// `isa` available; `job` validated; `p0 <= p1 <= panels`.
pub(crate) unsafe fn linear_panels(isa: Isa, job: &LinearJob<'_>, p0: usize, p1: usize) {
    dispatch!(isa, linear_panels(job, p0, p1))
}

/// # Safety
/// `isa` available; equal lengths.
pub(crate) unsafe fn rms_norm(isa: Isa, x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    dispatch!(isa, rms_norm(x, w, eps, out))
}

/// # Safety
/// `isa` available; `b` (if any) as long as `a`.
pub(crate) unsafe fn act(isa: Isa, act: Activation, a: &mut [f32], b: Option<&[f32]>) {
    dispatch!(isa, act(act, a, b))
}

/// # Safety
/// `isa` available; equal lengths.
pub(crate) unsafe fn log_softmax(isa: Isa, x: &[f32], out: &mut [f32]) {
    dispatch!(isa, log_softmax(x, out))
}

/// # Safety
/// `isa` available.
pub(crate) unsafe fn max(isa: Isa, x: &[f32]) -> f32 {
    dispatch!(isa, max(x))
}

/// # Safety
/// `isa` available; `a` validated; `out` valid for rows `i0..i1` of `out_stride`.
pub(crate) unsafe fn attention(
    isa: Isa,
    a: &Attention<'_>,
    h: usize,
    i0: usize,
    i1: usize,
    out: *mut f32,
    out_stride: usize,
) {
    dispatch!(isa, attention(a, h, i0, i1, out, out_stride))
}
