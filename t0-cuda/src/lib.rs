//! t0-cuda: the CUDA backend for t0 (cudarc with dynamic loading, kernels compiled by NVRTC).
//!
//! Builds everywhere; on a machine without a driver, [`device_available`] says why.
//!
//! ```
//! // On a machine without CUDA this reports the reason instead of failing to build.
//! let _ = t0_cuda::device_available();
//! ```
#![deny(missing_docs)]

/// Whether a CUDA device can be used, or the reason it cannot.
pub fn device_available() -> Result<(), String> {
    Err("the CUDA backend is not built yet in this version of t0".to_string())
}
