//! Hand-written compute kernels for t0.
//!
//! Every kernel has a scalar reference implementation that is always compiled and serves as
//! the oracle in tests; SIMD paths (AVX-512, AVX2+FMA, NEON) are added beside it and chosen
//! once at run time under `std`, at compile time without it.
//!
//! ```
//! let x = [3.0f32, 4.0];
//! let w = [1.0f32, 1.0];
//! let mut out = [0.0f32; 2];
//! t0_kernels::scalar::rms_norm(&x, &w, 0.0, &mut out);
//! assert!((out[0] - 3.0 / (12.5f32).sqrt()).abs() < 1e-6);
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

pub mod scalar;
