//! Hand-written compute kernels for t0.
//!
//! - [`linear`]: `y = x · Wᵀ` (GEMM and GEMV) with f32 activations and f32 / bf16 / f16
//!   weights packed once by [`PackedLinear`] (layout documented in [`pack`]).
//! - [`ops`]: RMSNorm, (gated) GELU-new / SiLU / ReLU, log-softmax, argmax.
//! - [`attention`]: fused blocked attention with T5's relative position bias and masks.
//!
//! Every kernel exists for each [`Isa`] path — AVX-512F, AVX2+FMA+F16C, NEON and portable
//! scalar — chosen once at run time under `std` (cached CPU detection), at compile time
//! without it; `*_with(isa, ..)` forces a path. [`scalar`] holds simple reference
//! implementations that serve as the oracle in tests. Under `std`, the heavy kernels split
//! their work over the current rayon pool; every output element is computed in the same
//! order whatever the split, so results are bit-identical for any thread count.
//!
//! ```
//! use t0_kernels::{PackedLinear, WeightType, linear};
//! let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // [out = 2, in = 3]
//! let p = PackedLinear::from_f32(&w, 2, 3, WeightType::Bf16).unwrap();
//! let x = [1.0f32, 0.0, -1.0];
//! let mut y = [0.0f32; 2];
//! linear::linear(&x, 1, &p, &mut y);
//! assert_eq!(y, [-2.0, -2.0]);
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod attention;
mod entries;
pub mod isa;
pub mod linear;
#[cfg(target_arch = "aarch64")]
mod neon;
pub mod ops;
pub mod pack;
mod par;
#[cfg(feature = "std")]
pub mod probe;
pub mod quant;
pub mod scalar;
mod simd;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use attention::{Attention, PositionBias};
pub use isa::Isa;
pub use ops::Activation;
pub use pack::{PackError, PackedLinear, WeightType};
