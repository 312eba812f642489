//! The crate's error type.

use core::fmt;

/// Any error the CUDA backend returns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CudaError {
    /// No usable CUDA: the driver library, NVRTC or a device is missing. The string says which.
    BackendUnavailable(String),
    /// A CUDA driver call failed.
    Driver {
        /// What we were doing.
        what: String,
        /// The driver's error.
        error: String,
    },
    /// NVRTC rejected one of our kernel modules; `log` is NVRTC's own log.
    Compile {
        /// The module's name.
        module: &'static str,
        /// The architecture it was compiled for (`sm_90`, ...).
        arch: String,
        /// NVRTC's compile log.
        log: String,
    },
    /// A device allocation does not fit in the device's free memory.
    OutOfMemory {
        /// Bytes asked for.
        requested: usize,
        /// Bytes free on the device when asked.
        free: usize,
    },
    /// Arguments of an operation do not fit together (shapes, lengths, alignment).
    Shape(String),
    /// A weight the model needs is missing from the checkpoint or has the wrong shape/dtype.
    Weight(String),
}

impl fmt::Display for CudaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CudaError::BackendUnavailable(why) => write!(f, "CUDA backend unavailable: {why}"),
            CudaError::Driver { what, error } => {
                write!(f, "CUDA driver error while {what}: {error}")
            }
            CudaError::Compile { module, arch, log } => {
                write!(
                    f,
                    "NVRTC failed to compile module `{module}` for {arch}:\n{log}"
                )
            }
            CudaError::OutOfMemory { requested, free } => write!(
                f,
                "out of device memory: {requested} bytes requested, {free} bytes free"
            ),
            CudaError::Shape(s) => write!(f, "bad shapes: {s}"),
            CudaError::Weight(s) => write!(f, "bad weight: {s}"),
        }
    }
}

impl std::error::Error for CudaError {}

/// Shorthand for results of this crate.
pub type Result<T> = core::result::Result<T, CudaError>;

/// Maps a cudarc driver error, naming what we were doing.
pub(crate) fn drv(what: &str) -> impl FnOnce(cudarc::driver::DriverError) -> CudaError + '_ {
    move |e| CudaError::Driver {
        what: what.to_string(),
        error: format!("{e:?}"),
    }
}
