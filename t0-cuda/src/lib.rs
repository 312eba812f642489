//! t0-cuda: the CUDA backend for t0, on cudarc with dynamic loading. Every kernel is ours,
//! written in CUDA C without headers and compiled at run time by NVRTC for the device's
//! architecture (see [`kernels`]).
//!
//! Builds everywhere; on a machine without a driver, NVRTC or a device, [`device_available`]
//! and [`CudaDevice::new`] return [`CudaError::BackendUnavailable`] instead of failing.
//!
//! ```
//! // On a machine without CUDA this reports the reason instead of failing to build.
//! match t0_cuda::device_available() {
//!     Ok(()) => println!("CUDA device present"),
//!     Err(e) => println!("{e}"),
//! }
//! ```
#![deny(missing_docs)]

pub mod backend;
pub mod device;
pub mod engine;
pub mod error;
pub mod kernels;
pub mod ops;
pub mod reference;

pub use backend::CudaBackend;
pub use device::{CudaDevice, DevBuf, DevView, device_available};
pub use engine::CudaT5;
pub use error::{CudaError, Result};
