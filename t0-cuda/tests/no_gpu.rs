//! Checks that run without a GPU: the error path without a driver, and (where libnvrtc is
//! present, even without a driver) that every kernel module compiles with NVRTC.

use t0_cuda::kernels::Module;
use t0_cuda::{CudaDevice, CudaError};

#[test]
fn init_without_driver_is_an_error_not_a_panic() {
    match CudaDevice::new(0) {
        Ok(dev) => eprintln!(
            "a CUDA device is present here ({}); nothing to check",
            dev.name()
        ),
        Err(CudaError::BackendUnavailable(why)) => {
            assert!(!why.is_empty());
            eprintln!("as expected without CUDA: {why}");
        }
        Err(other) => panic!("expected BackendUnavailable, got {other}"),
    }
    // Same answer from the cheap probe.
    if let Err(e) = t0_cuda::device_available() {
        assert!(matches!(e, CudaError::BackendUnavailable(_)), "{e}");
    }
}

#[test]
fn device_index_out_of_range_is_unavailable() {
    match CudaDevice::new(1 << 20) {
        Err(CudaError::BackendUnavailable(_)) => {}
        Err(e) => panic!("expected BackendUnavailable, got {e}"),
        Ok(_) => panic!("device 2^20 cannot exist"),
    }
}

#[test]
fn kernels_compile_with_nvrtc_when_present() {
    // SAFETY: only tries to dlopen libnvrtc by its usual names.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        eprintln!("skipped: libnvrtc not found (set LD_LIBRARY_PATH to a CUDA 13 lib dir)");
        return;
    }
    for m in Module::ALL {
        for arch in ["compute_80", "compute_90", "compute_90a"] {
            if m == Module::GemmSm90 && arch != "compute_90a" {
                continue;
            }
            if let Err(e) = t0_cuda::device::compile_module(m, arch) {
                panic!("{e}");
            }
        }
    }
}

#[test]
fn compile_errors_keep_nvrtc_log() {
    // SAFETY: as above.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        eprintln!("skipped: libnvrtc not found");
        return;
    }
    let src = "extern \"C\" __global__ void k() { undefined_thing(); }";
    match t0_cuda::device::compile_source("bad", src, "compute_90") {
        Err(CudaError::Compile { module, arch, log }) => {
            assert_eq!(module, "bad");
            assert_eq!(arch, "compute_90");
            assert!(log.contains("undefined_thing"), "log: {log}");
            let shown = CudaError::Compile { module, arch, log }.to_string();
            assert!(shown.contains("bad") && shown.contains("undefined_thing"));
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}
