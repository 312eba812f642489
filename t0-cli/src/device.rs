//! `--device`: where the model runs — the SIMD CPU backend (default) or a CUDA GPU (the
//! generic T5 model on t0-cuda's backend, bf16 weights).

use std::path::Path;
use std::str::FromStr;

/// A device named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The SIMD CPU backend (t0-kernels).
    Cpu,
    /// CUDA device `n` (`cuda` is `cuda:0`).
    Cuda(usize),
}

impl FromStr for Device {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => Ok(Device::Cuda(n)),
                _ => Err(format!(
                    "unknown device {s:?}: use cpu, cuda or cuda:N (N a device index)"
                )),
            },
        }
    }
}

/// Loads `$a.model` where `$a.device` and `$a.dtype` say (CPU float or quantized, or a
/// CUDA device) and calls the generic `$run_on(model, $a)`; the shared body of the model
/// commands' `run`.
#[macro_export]
macro_rules! on_device {
    ($a:ident, $run_on:ident) => {{
        use $crate::device::{Device, load_cuda, no_quantized_on_gpu};
        match ($a.device, $a.dtype) {
            (Device::Cpu, Some(d)) => $run_on($crate::quantize::load_quantized(&$a.model, d)?, $a),
            (Device::Cpu, None) => $run_on($crate::model_io::load_model(&$a.model)?, $a),
            (Device::Cuda(_), Some(_)) => Err(no_quantized_on_gpu()),
            #[cfg(feature = "cuda")]
            (Device::Cuda(n), None) => $run_on(load_cuda(&$a.model, n)?, $a),
            #[cfg(not(feature = "cuda"))]
            (Device::Cuda(n), None) => match load_cuda(&$a.model, n)? {},
        }
    }};
}

/// Opens model directory `dir` on CUDA device `ordinal` (weights uploaded once as bf16).
#[cfg(feature = "cuda")]
pub fn load_cuda(
    dir: &Path,
    ordinal: usize,
) -> Result<t0_core::model::T5Model<t0_cuda::CudaBackend>, String> {
    let backend =
        t0_cuda::CudaBackend::new(ordinal).map_err(|e| format!("--device cuda:{ordinal}: {e}"))?;
    let ckpt = t0_core::loader::Checkpoint::open(dir).map_err(|e| e.to_string())?;
    t0_core::model::T5Model::from_checkpoint(backend, &ckpt)
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Without the `cuda` feature: the error `--device cuda` gets.
#[cfg(not(feature = "cuda"))]
pub fn load_cuda(dir: &Path, ordinal: usize) -> Result<std::convert::Infallible, String> {
    let _ = dir;
    Err(format!(
        "--device cuda:{ordinal}: this t0 was built without the `cuda` feature"
    ))
}

/// The error for `--dtype` (quantized weights) on a GPU.
pub fn no_quantized_on_gpu() -> String {
    "--dtype (int8 / 4-bit weights) runs on the CPU backend only; drop --dtype or use --device cpu"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""] {
            let e = bad.parse::<Device>().unwrap_err();
            assert!(e.contains("unknown device"), "{bad}: {e}");
        }
    }
}
