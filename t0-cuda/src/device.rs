//! One CUDA device: context, stream, lazily compiled kernel modules, raw device buffers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cudarc::driver::sys::{CUdevice_attribute, CUfunction_attribute, CUresult};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaStream, LaunchConfig, PushKernelArg,
};
use cudarc::nvrtc::{CompileError, CompileOptions};

use crate::error::{CudaError, Result, drv};
use crate::kernels::{Kernel, Module};

/// Default of [`CudaDevice::set_pdl_flags`] (the value compiled into the kernels).
pub const PDL_FLAGS_DEFAULT: i32 = 0;

/// Compute capability needed by our kernels (bf16 mma.sync, ldmatrix, cp.async).
pub const MIN_COMPUTE_CAPABILITY: (i32, i32) = (8, 0);

/// A CUDA device with our kernels: compiled by NVRTC for its architecture on first use and
/// cached for the life of this value.
pub struct CudaDevice {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    arch: &'static str,
    cc: (i32, i32),
    name: String,
    sm_count: i32,
    modules: Mutex<[Option<Arc<CudaModule>>; 4]>,
    funcs: Mutex<HashMap<Kernel, CudaFunction>>,
    /// Freed pooled allocations by size, reused without a driver call (all work is on one
    /// stream, so stream order makes reuse safe).
    pool: Mutex<HashMap<usize, Vec<u64>>>,
    wgmma_verified: std::sync::OnceLock<(bool, bool, bool, bool)>,
    persistent_faster: std::sync::OnceLock<u8>,
    fast_epi: std::sync::OnceLock<[[u8; 6]; 3]>,
    fast_epi_ns: std::sync::OnceLock<[[u8; 6]; 3]>,
    cluster_faster: std::sync::OnceLock<u8>,
    /// Kernels are queued with programmatic dependent launch while this is set
    /// ([`CudaDevice::set_pdl`]).
    pdl: std::sync::atomic::AtomicBool,
    /// `t0_pdl_flags` of every module ([`CudaDevice::set_pdl_flags`]).
    pdl_flags: std::sync::atomic::AtomicI32,
    /// Weights the next GEMV launch prefetches into L2 ([`CudaDevice::set_next_prefetch`]).
    next_prefetch: Mutex<(u64, usize)>,
    /// A hint is waiting in `next_prefetch` (checked without the lock on every product).
    prefetch_pending: std::sync::atomic::AtomicBool,
    /// Kernel timeline being recorded ([`CudaDevice::trace_start`]).
    trace: Mutex<Option<Vec<(&'static str, cudarc::driver::CudaEvent)>>>,
    /// A trace is being recorded (checked without the lock on every launch).
    tracing: std::sync::atomic::AtomicBool,
    fast_verified: std::sync::OnceLock<(bool, bool, bool)>,
    /// The flash kernel automatic choice takes ([`CudaDevice::flash_choice`]).
    flash_choice: std::sync::OnceLock<crate::ops::FlashKernel>,
    me: std::sync::OnceLock<std::sync::Weak<CudaDevice>>,
}

impl Drop for CudaDevice {
    fn drop(&mut self) {
        self.release_pool();
    }
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaDevice")
            .field("name", &self.name)
            .field("cc", &self.cc)
            .field("arch", &self.arch)
            .finish()
    }
}

/// Why CUDA cannot be used here, or `Ok` when device 0 is usable.
pub fn device_available() -> Result<()> {
    probe_libraries()?;
    let n = guarded(|| {
        cudarc::driver::result::init().map_err(unavailable("cuInit"))?;
        cudarc::driver::result::device::get_count().map_err(unavailable("counting devices"))
    })?;
    if n < 1 {
        return Err(CudaError::BackendUnavailable("no CUDA device found".into()));
    }
    Ok(())
}

fn unavailable(what: &str) -> impl FnOnce(cudarc::driver::DriverError) -> CudaError + '_ {
    move |e| CudaError::BackendUnavailable(format!("{what} failed: {e:?}"))
}

/// Checks that the driver library and NVRTC can be loaded, without calling into them.
fn probe_libraries() -> Result<()> {
    // SAFETY: `is_culib_present` only tries `dlopen` on the library's usual names and drops
    // the handle; no symbol of the library is called.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(CudaError::BackendUnavailable(
            "the CUDA driver library (libcuda.so) was not found".into(),
        ));
    }
    // SAFETY: as above, for libnvrtc.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(CudaError::BackendUnavailable(
            "NVRTC (libnvrtc.so) was not found; install the CUDA toolkit or put it on LD_LIBRARY_PATH"
                .into(),
        ));
    }
    Ok(())
}

/// Runs `f`, turning a panic inside cudarc's dynamic loader (a symbol missing from an old
/// driver) into `BackendUnavailable`.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(CudaError::BackendUnavailable(format!(
                "the CUDA libraries could not be used: {msg}"
            )))
        }
    }
}

/// The NVRTC virtual architecture we compile for, given the device's compute capability.
pub fn arch_for(cc: (i32, i32)) -> Option<&'static str> {
    let v = cc.0 * 10 + cc.1;
    const ARCHS: [(i32, &str); 9] = [
        (120, "compute_120"),
        (100, "compute_100"),
        (90, "compute_90"),
        (89, "compute_89"),
        (87, "compute_87"),
        (86, "compute_86"),
        (80, "compute_80"),
        (0, ""),
        (0, ""),
    ];
    ARCHS
        .iter()
        .find(|(a, s)| *a <= v && !s.is_empty())
        .map(|(_, s)| *s)
}

/// Compiles one module's source with NVRTC for `arch`, keeping NVRTC's log on failure.
pub fn compile_module(module: Module, arch: &'static str) -> Result<cudarc::nvrtc::Ptx> {
    compile_source(module.name(), &module.source(), arch)
}

/// Compiles CUDA C `src` with NVRTC for `arch` (`compute_90`, ...). A rejected source gives
/// [`CudaError::Compile`] with NVRTC's log; a missing libnvrtc gives `BackendUnavailable`.
pub fn compile_source(
    name: &'static str,
    src: &str,
    arch: &'static str,
) -> Result<cudarc::nvrtc::Ptx> {
    // SAFETY: only tries to dlopen libnvrtc by its usual names.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(CudaError::BackendUnavailable(
            "NVRTC (libnvrtc.so) was not found".into(),
        ));
    }
    let opts = CompileOptions {
        arch: Some(arch),
        options: vec!["--std=c++17".into()],
        name: Some(format!("t0_{name}.cu")),
        ..Default::default()
    };
    guarded(|| {
        cudarc::nvrtc::compile_ptx_with_opts(src, opts).map_err(|e| match e {
            CompileError::CompileError { log, .. } => CudaError::Compile {
                module: name,
                arch: arch.to_string(),
                log: log.to_string_lossy().into_owned(),
            },
            other => CudaError::Compile {
                module: name,
                arch: arch.to_string(),
                log: format!("{other:?}"),
            },
        })
    })
}

impl CudaDevice {
    /// Opens device `ordinal`. Without a driver, NVRTC or a device of compute capability 8.0+
    /// this returns [`CudaError::BackendUnavailable`] (never panics).
    pub fn new(ordinal: usize) -> Result<Arc<Self>> {
        probe_libraries()?;
        let dev = guarded(|| Self::open(ordinal))?;
        let _ = dev.me.set(Arc::downgrade(&dev));
        Ok(dev)
    }

    fn open(ordinal: usize) -> Result<Arc<Self>> {
        cudarc::driver::result::init().map_err(unavailable("cuInit"))?;
        let n =
            cudarc::driver::result::device::get_count().map_err(unavailable("cuDeviceGetCount"))?;
        if ordinal as i64 >= n as i64 {
            return Err(CudaError::BackendUnavailable(format!(
                "CUDA device {ordinal} requested, {n} present"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(unavailable("creating the context"))?;
        let cc = ctx
            .compute_capability()
            .map_err(drv("reading compute capability"))?;
        if cc < MIN_COMPUTE_CAPABILITY {
            return Err(CudaError::BackendUnavailable(format!(
                "device {ordinal} has compute capability {}.{}; t0-cuda needs 8.0 or newer",
                cc.0, cc.1
            )));
        }
        let arch = arch_for(cc).ok_or_else(|| {
            CudaError::BackendUnavailable(format!("no NVRTC target for {}.{}", cc.0, cc.1))
        })?;
        let name = ctx.name().unwrap_or_else(|_| "unknown".into());
        let sm_count = ctx
            .attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(drv("reading the multiprocessor count"))?;
        let stream = ctx.new_stream().map_err(drv("creating a stream"))?;
        Ok(Arc::new(CudaDevice {
            ctx,
            stream,
            arch,
            cc,
            name,
            sm_count,
            modules: Mutex::new([None, None, None, None]),
            funcs: Mutex::new(HashMap::new()),
            pool: Mutex::new(HashMap::new()),
            wgmma_verified: std::sync::OnceLock::new(),
            persistent_faster: std::sync::OnceLock::new(),
            fast_epi: std::sync::OnceLock::new(),
            fast_epi_ns: std::sync::OnceLock::new(),
            cluster_faster: std::sync::OnceLock::new(),
            pdl: std::sync::atomic::AtomicBool::new(false),
            pdl_flags: std::sync::atomic::AtomicI32::new(PDL_FLAGS_DEFAULT),
            next_prefetch: Mutex::new((0, 0)),
            prefetch_pending: std::sync::atomic::AtomicBool::new(false),
            trace: Mutex::new(None),
            tracing: std::sync::atomic::AtomicBool::new(false),
            fast_verified: std::sync::OnceLock::new(),
            flash_choice: std::sync::OnceLock::new(),
            me: std::sync::OnceLock::new(),
        }))
    }

    /// The device's name as the driver reports it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Compute capability (major, minor).
    pub fn compute_capability(&self) -> (i32, i32) {
        self.cc
    }

    /// The NVRTC architecture our kernels are compiled for.
    pub fn arch(&self) -> &'static str {
        self.arch
    }

    /// Number of multiprocessors.
    pub fn sm_count(&self) -> i32 {
        self.sm_count
    }

    /// The stream every operation of this device is queued on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// The context.
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }

    /// (free, total) device memory in bytes.
    pub fn mem_info(&self) -> Result<(usize, usize)> {
        self.ctx.mem_get_info().map_err(drv("reading free memory"))
    }

    /// Waits for all queued work; surfaces asynchronous kernel faults.
    pub fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(drv("synchronizing the stream"))
    }

    /// The module, compiled on first use.
    pub fn module(&self, m: Module) -> Result<Arc<CudaModule>> {
        let mut mods = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(md) = &mods[m.index()] {
            return Ok(md.clone());
        }
        let arch = if m == Module::GemmSm90 {
            if self.cc != (9, 0) {
                return Err(CudaError::BackendUnavailable(
                    "the wgmma GEMM needs compute capability 9.0".into(),
                ));
            }
            "compute_90a"
        } else {
            self.arch
        };
        let ptx = compile_module(m, arch)?;
        let md = self
            .ctx
            .load_module(ptx)
            .map_err(drv(&format!("loading module {}", m.name())))?;
        let flags = self.pdl_flags.load(std::sync::atomic::Ordering::Relaxed);
        if flags != PDL_FLAGS_DEFAULT {
            self.write_pdl_flags(&md, flags)?;
        }
        mods[m.index()] = Some(md.clone());
        Ok(md)
    }

    fn write_pdl_flags(&self, md: &Arc<CudaModule>, flags: i32) -> Result<()> {
        let mut g = md
            .get_global("t0_pdl_flags", &self.stream)
            .map_err(drv("finding t0_pdl_flags"))?;
        self.stream
            .memcpy_htod(&flags.to_le_bytes(), &mut g)
            .map_err(drv("writing t0_pdl_flags"))?;
        self.synchronize()
    }

    /// How our kernels use programmatic dependent launch (the `t0_pdl_flags` constant of
    /// every module; set for modules loaded later too): bit 0 — a kernel lets the next one
    /// launch right after its own wait (else when it exits); bit 1 — the GEMVs load their
    /// first weight chunks before the wait. Default [`PDL_FLAGS_DEFAULT`]. Only matters for
    /// kernels queued with PDL ([`CudaDevice::set_pdl`]).
    pub fn pdl_flags(&self) -> i32 {
        self.pdl_flags.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`CudaDevice::set_pdl_flags`] unless they already have that value.
    pub fn ensure_pdl_flags(&self, flags: i32) -> Result<()> {
        if self.pdl_flags() == flags {
            return Ok(());
        }
        self.set_pdl_flags(flags)
    }

    /// Sets the PDL flags (see [`CudaDevice::pdl_flags`]).
    pub fn set_pdl_flags(&self, flags: i32) -> Result<()> {
        let mods = self.modules.lock().unwrap_or_else(|e| e.into_inner());
        self.pdl_flags
            .store(flags, std::sync::atomic::Ordering::Relaxed);
        for md in mods.iter().flatten() {
            self.write_pdl_flags(md, flags)?;
        }
        Ok(())
    }

    /// Compiles every module this device can use now (instead of on first use).
    pub fn warm_up(&self) -> Result<()> {
        let _ = self.wgmma_checked();
        let _ = self.fast_kernels_checked();
        let _ = self.flash_choice();
        for k in Kernel::ALL {
            if k.module() == Module::GemmSm90 && !self.has_wgmma() {
                continue;
            }
            self.function(k)?;
        }
        Ok(())
    }

    /// Whether the Hopper wgmma GEMM may be tried: compute capability 9.0 and not disabled by
    /// `T0_CUDA_WGMMA=0`. It is checked once against the mma.sync GEMM on random products
    /// ([`CudaDevice::wgmma_checked`]); automatic kernel choice uses it only if that passed.
    pub fn has_wgmma(&self) -> bool {
        self.cc == (9, 0) && !std::env::var("T0_CUDA_WGMMA").is_ok_and(|v| v == "0")
    }

    /// Outcome of the wgmma self-check, (basic kernel, pipelined kernel, warp-specialised TMA
    /// kernel, persistent TMA kernel), run on first call
    /// (not inside a graph capture: [`CudaDevice::warm_up`] runs it); `None` where wgmma
    /// is not available (not a Hopper device, or disabled by `T0_CUDA_WGMMA=0`).
    pub fn wgmma_checked(&self) -> Option<(bool, bool, bool, bool)> {
        if !self.has_wgmma() {
            return None;
        }
        if let Some(v) = self.wgmma_verified.get() {
            return Some(*v);
        }
        let me = self.me.get().and_then(|w| w.upgrade())?;
        let ok = crate::ops::wgmma_self_check(&me).unwrap_or_else(|e| {
            eprintln!("t0-cuda: wgmma self-check error: {e}");
            (false, false, false, false)
        });
        self.set_wgmma_checked(ok);
        Some(ok)
    }

    /// The flash-attention kernel automatic choice uses: the fastest of those that passed
    /// their checks, timed once on this device ([`crate::ops::flash_timing_choice`]; not
    /// inside a graph capture: [`CudaDevice::warm_up`] runs it). If the timing itself fails:
    /// v3, v2 or the old kernel, by the self-check.
    pub fn flash_choice(&self) -> crate::ops::FlashKernel {
        use crate::ops::FlashKernel;
        if let Some(k) = self.flash_choice.get() {
            return *k;
        }
        let fallback = match self.fast_kernels_checked() {
            (_, _, true) => FlashKernel::V3,
            (true, _, _) => FlashKernel::V2,
            _ => FlashKernel::Old,
        };
        let Some(me) = self.me.get().and_then(|w| w.upgrade()) else {
            return fallback;
        };
        let k = crate::ops::flash_timing_choice(&me).unwrap_or_else(|e| {
            eprintln!("t0-cuda: flash attention timing failed ({e}); using {fallback:?}");
            fallback
        });
        let _ = self.flash_choice.set(k);
        *self.flash_choice.get().unwrap_or(&k)
    }

    /// Outcome of the self-check of (`flash_attn_d64_v2`, `rmsnorm_vec`, `flash_attn_d64_v3`)
    /// against the older kernels (`flash_attn_d64`, `rmsnorm`, `flash_attn_d64`) on small
    /// random inputs
    /// ([`crate::ops::fast_kernels_self_check`]), run on first call (not inside a graph
    /// capture: [`CudaDevice::warm_up`] runs it). Automatic choice uses a new kernel only where
    /// it passed; an error counts as a failure.
    pub fn fast_kernels_checked(&self) -> (bool, bool, bool) {
        if let Some(v) = self.fast_verified.get() {
            return *v;
        }
        let Some(me) = self.me.get().and_then(|w| w.upgrade()) else {
            return (false, false, false);
        };
        let ok = crate::ops::fast_kernels_self_check(&me).unwrap_or_else(|e| {
            eprintln!("t0-cuda: flash v2 / rmsnorm_vec / flash v3 self-check error: {e}");
            (false, false, false)
        });
        if !ok.0 || !ok.1 || !ok.2 {
            eprintln!(
                "t0-cuda: self-check (flash_attn_d64_v2, rmsnorm_vec, flash_attn_d64_v3) = {ok:?}; the older kernels run instead of failing ones"
            );
        }
        let _ = self.fast_verified.set(ok);
        *self.fast_verified.get().unwrap_or(&ok)
    }

    /// For which GEMM epilogues the persistent TMA GEMM was timed faster than the plain TMA
    /// GEMM at the self-check (one 8192x4096x4096 product per epilogue): bit `i` is set for
    /// the epilogue with code `i` (f32 0, f32 add 1, bf16 2, gated GELU 3, gated SiLU 4,
    /// ReLU 5). Automatic choice takes the faster kernel per epilogue.
    pub fn persistent_faster_mask(&self) -> Option<u8> {
        self.persistent_faster.get().copied()
    }

    pub(crate) fn set_persistent_faster_mask(&self, mask: u8) {
        let _ = self.persistent_faster.set(mask);
    }

    /// The TMA GEMM epilogue variant chosen at the self-check, `[plain, persistent,
    /// cluster][epilogue code]` as [`crate::ops::EpiVariant`] codes (0 general, 1 pairs, 2 swap,
    /// 3 scalar, 4 TMA store): per kernel and epilogue the fastest variant that matched the
    /// reference (timed on 8192x4096x4096; ReLU follows bf16 and SiLU-gated follows
    /// GELU-gated where they passed that variant; the gated epilogues have only 0 and 4; the
    /// cluster row has no 4 and is all 0 unless `T0_CUDA_GEMM_CLUSTER=1`). `None` before the
    /// self-check, without the TMA kernels, or with `T0_CUDA_FAST_EPI=0`.
    pub fn fast_epilogue_choice(&self) -> Option<[[u8; 6]; 3]> {
        self.fast_epi.get().copied()
    }

    /// As [`CudaDevice::fast_epilogue_choice`], the fastest variant other than the TMA store
    /// (what automatic choice takes after `ops::set_tma_store(false)`).
    pub fn fast_epilogue_choice_without_store(&self) -> Option<[[u8; 6]; 3]> {
        self.fast_epi_ns.get().copied()
    }

    pub(crate) fn set_fast_epilogue_choice(
        &self,
        choice: [[u8; 6]; 3],
        without_store: [[u8; 6]; 3],
    ) {
        let _ = self.fast_epi.set(choice);
        let _ = self.fast_epi_ns.set(without_store);
    }

    /// For which GEMM epilogues (bits as [`CudaDevice::persistent_faster_mask`]) the cluster
    /// TMA GEMM ([`crate::ops::GemmKernel::TmaCluster`]) passed its self-check and was timed
    /// faster than the plain and persistent ones; automatic choice then takes it. `None` unless
    /// `T0_CUDA_GEMM_CLUSTER=1` (opt-in) and the self-check ran.
    pub fn cluster_faster_mask(&self) -> Option<u8> {
        self.cluster_faster.get().copied()
    }

    pub(crate) fn set_cluster_faster_mask(&self, mask: u8) {
        let _ = self.cluster_faster.set(mask);
    }

    pub(crate) fn set_wgmma_checked(&self, ok: (bool, bool, bool, bool)) {
        let _ = self.wgmma_verified.set(ok);
        if !ok.0 || !ok.1 || !ok.2 || !ok.3 {
            eprintln!(
                "t0-cuda: wgmma GEMM self-check (basic, pipelined, tma, persistent tma) = {ok:?}; failing kernels are not used"
            );
        }
    }

    /// The kernel's function handle (compiling its module first if needed).
    pub fn function(&self, k: Kernel) -> Result<CudaFunction> {
        if let Some(f) = self.funcs.lock().unwrap_or_else(|e| e.into_inner()).get(&k) {
            return Ok(f.clone());
        }
        let md = self.module(k.module())?;
        let f = md
            .load_function(k.name())
            .map_err(drv(&format!("loading kernel {}", k.name())))?;
        if let Some(bytes) = k.max_dynamic_smem() {
            let optin = self
                .ctx
                .attribute(
                    CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                )
                .unwrap_or(48 * 1024);
            f.set_attribute(
                CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                bytes.min(optin),
            )
            .map_err(drv(&format!("raising shared memory of {}", k.name())))?;
        }
        self.funcs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, f.clone());
        Ok(f)
    }

    /// Queues kernel `k`. Each argument is one 8-byte slot: device pointers and `long long`
    /// as u64, `int`/`unsigned` and `float` in the low 4 bytes (see [`Arg`]).
    pub(crate) fn launch(
        &self,
        k: Kernel,
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
        smem: u32,
        args: &[Arg],
    ) -> Result<()> {
        let f = self.function(k)?;
        let mut slots: Vec<u64> = args.iter().map(|a| a.slot()).collect();
        if self.pdl_on() {
            let params: Vec<*mut std::ffi::c_void> =
                slots.iter_mut().map(|s| (s as *mut u64).cast()).collect();
            return self.launch_pdl(k, &f, grid, block, smem, params);
        }
        let mut b = self.stream.launch_builder(&f);
        for s in &slots {
            b.arg(s);
        }
        let cfg = LaunchConfig {
            grid_dim: grid,
            block_dim: block,
            shared_mem_bytes: smem,
        };
        // SAFETY: every slot outlives the launch call (the driver copies parameters at launch);
        // the argument count and types match the kernel's signature (each caller in `ops`
        // mirrors the CUDA prototype, checked by the GPU tests), and every pointer argument is a
        // live device allocation sized by the caller's shape checks.
        unsafe { b.launch(cfg) }.map_err(drv(&format!("launching {}", k.name())))?;
        self.traced(k)
    }

    /// Queues kernel `k` whose first parameters are the TMA tensor maps `maps` (two or three)
    /// passed by value (`__grid_constant__`), followed by `args` as in [`CudaDevice::launch`].
    pub(crate) fn launch_tma(
        &self,
        k: Kernel,
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
        smem: u32,
        maps: &[&TensorMapArg],
        args: &[Arg],
    ) -> Result<()> {
        let f = self.function(k)?;
        let mut slots: Vec<u64> = args.iter().map(|a| a.slot()).collect();
        if self.pdl_on() {
            let mut m: Vec<TensorMapArg> = maps.iter().map(|x| **x).collect();
            let mut params: Vec<*mut std::ffi::c_void> = m
                .iter_mut()
                .map(|x| (x as *mut TensorMapArg).cast())
                .collect();
            params.extend(
                slots
                    .iter_mut()
                    .map(|s| (s as *mut u64).cast::<std::ffi::c_void>()),
            );
            return self.launch_pdl(k, &f, grid, block, smem, params);
        }
        let mut b = self.stream.launch_builder(&f);
        for m in maps {
            b.arg(*m);
        }
        for s in &slots {
            b.arg(s);
        }
        let cfg = LaunchConfig {
            grid_dim: grid,
            block_dim: block,
            shared_mem_bytes: smem,
        };
        // SAFETY: as in `launch`; the maps are 128-byte, 64-byte-aligned values matching
        // the kernel's `TmaDesc` parameters and were encoded for live allocations that the
        // caller's shape checks cover.
        unsafe { b.launch(cfg) }.map_err(drv(&format!("launching {}", k.name())))?;
        self.traced(k)
    }

    /// Whether programmatic dependent launch (PDL) can be used: compute capability 9.0 or
    /// newer, and not disabled by `T0_CUDA_PDL=0`. With PDL a kernel may start launching
    /// while the one before it in the stream finishes; each of our kernels waits
    /// (`griddepcontrol.wait`) before touching memory another kernel writes, so only its
    /// launch and any work on read-only data (the GEMV's weight loads) overlap.
    pub fn pdl_supported(&self) -> bool {
        self.cc.0 >= 9 && !std::env::var("T0_CUDA_PDL").is_ok_and(|v| v == "0")
    }

    /// Queues the kernels launched from now on with PDL (`on`, where
    /// [`CudaDevice::pdl_supported`]) or plainly; returns the previous setting. Only kernels
    /// of this crate (which all begin with the PDL wait) may be queued while it is on.
    pub fn set_pdl(&self, on: bool) -> bool {
        self.pdl.swap(
            on && self.pdl_supported(),
            std::sync::atomic::Ordering::Relaxed,
        )
    }

    fn pdl_on(&self) -> bool {
        self.pdl.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `cuLaunchKernelEx` with the programmatic-stream-serialization attribute.
    fn launch_pdl(
        &self,
        k: Kernel,
        f: &CudaFunction,
        grid: (u32, u32, u32),
        block: (u32, u32, u32),
        smem: u32,
        mut params: Vec<*mut std::ffi::c_void>,
    ) -> Result<()> {
        use cudarc::driver::sys;
        self.ctx
            .bind_to_thread()
            .map_err(drv("binding the context"))?;
        // SAFETY: an all-zero launch attribute is a valid value of this plain C struct
        // (id 0 = ignored); id and value are set next.
        let mut attr: sys::CUlaunchAttribute = unsafe { std::mem::zeroed() };
        attr.id = sys::CUlaunchAttributeID::CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
        attr.value.programmaticStreamSerializationAllowed = 1;
        let cfg = sys::CUlaunchConfig {
            gridDimX: grid.0,
            gridDimY: grid.1,
            gridDimZ: grid.2,
            blockDimX: block.0,
            blockDimY: block.1,
            blockDimZ: block.2,
            sharedMemBytes: smem,
            hStream: self.stream.cu_stream(),
            attrs: &mut attr,
            numAttrs: 1,
        };
        // SAFETY: `params` holds one pointer per kernel parameter, in order, each to a live
        // value of the parameter's size (8-byte slots, 128-byte tensor maps) that outlives
        // this call (the driver copies them at launch); the function belongs to this
        // device's context, bound above; pointer arguments are live allocations covered by
        // the caller's shape checks, as in `launch`.
        let r = unsafe {
            sys::cuLaunchKernelEx(
                &cfg,
                f.cu_function(),
                params.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        };
        if r != CUresult::CUDA_SUCCESS {
            return Err(CudaError::Driver {
                what: format!("launching {} with PDL", k.name()),
                error: format!("{r:?}"),
            });
        }
        self.traced(k)
    }

    /// Records a timing event after kernel `k` while a trace is on.
    fn traced(&self, k: Kernel) -> Result<()> {
        if !self.tracing.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let mut t = self.trace.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = t.as_mut() {
            let ev = self
                .stream
                .record_event(Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(drv("recording a trace event"))?;
            v.push((k.name(), ev));
        }
        Ok(())
    }

    /// Names the weights of the kernel after the next batch-1 GEMV: that GEMV's last blocks
    /// prefetch their first `bytes` into L2 (a hint for decode, where one weight stream
    /// follows another). Taken (and cleared) by the next matrix product queued.
    pub fn set_next_prefetch(&self, ptr: u64, bytes: usize) {
        *self.next_prefetch.lock().unwrap_or_else(|e| e.into_inner()) = (ptr, bytes);
        self.prefetch_pending
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Takes the prefetch hint set by [`CudaDevice::set_next_prefetch`] (`(0, 0)` if none).
    pub(crate) fn take_next_prefetch(&self) -> (u64, usize) {
        if !self
            .prefetch_pending
            .swap(false, std::sync::atomic::Ordering::Relaxed)
        {
            return (0, 0);
        }
        std::mem::take(&mut *self.next_prefetch.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Starts recording a kernel timeline: an event after every kernel queued from now on
    /// (not inside a graph capture). For profiling only: events add their own small gaps.
    pub fn trace_start(&self) -> Result<()> {
        let ev = self
            .stream
            .record_event(Some(cudarc::driver::sys::CUevent_flags::CU_EVENT_DEFAULT))
            .map_err(drv("recording a trace event"))?;
        *self.trace.lock().unwrap_or_else(|e| e.into_inner()) = Some(vec![("start", ev)]);
        self.tracing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Stops the trace; returns each kernel's name and the ms from the previous event to its
    /// own (its run time plus the gap before it), in queue order.
    pub fn trace_finish(&self) -> Result<Vec<(&'static str, f64)>> {
        self.tracing
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let Some(v) = self.trace.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(Vec::new());
        };
        self.synchronize()?;
        let mut out = Vec::with_capacity(v.len());
        for w in v.windows(2) {
            let ms = w[0]
                .1
                .elapsed_ms(&w[1].1)
                .map_err(drv("reading a trace event"))?;
            out.push((w[1].0, ms as f64));
        }
        Ok(out)
    }

    /// Allocates `bytes` of device memory (uninitialised). Fails with
    /// [`CudaError::OutOfMemory`] when that exceeds the free memory.
    pub fn alloc(self: &Arc<Self>, bytes: usize) -> Result<DevBuf> {
        self.alloc_inner(bytes, false)
    }

    /// Like [`CudaDevice::alloc`], but the memory returns to this device's pool on drop and
    /// is reused by later pooled allocations of the same (rounded) size: for the many
    /// short-lived activations of op-by-op execution.
    pub fn alloc_pooled(self: &Arc<Self>, bytes: usize) -> Result<DevBuf> {
        let rounded = bytes.div_ceil(4096).saturating_mul(4096);
        if let Some(ptr) = self
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&rounded)
            .and_then(|v| v.pop())
        {
            return Ok(DevBuf {
                ptr,
                bytes,
                cap: rounded,
                pooled: true,
                dev: self.clone(),
            });
        }
        match self.alloc_inner(rounded, true) {
            Err(CudaError::OutOfMemory { .. }) => {
                self.release_pool();
                self.alloc_inner(rounded, true)
            }
            r => r,
        }
        .map(|mut b| {
            b.bytes = bytes;
            b
        })
    }

    /// Frees every pooled allocation not in use.
    pub fn release_pool(&self) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.ctx.bind_to_thread();
        let _ = self.stream.synchronize();
        for (_, v) in pool.drain() {
            for p in v {
                // SAFETY: pooled pointers came from cuMemAlloc, are owned by the pool alone
                // (their DevBuf was dropped) and the stream is idle (synchronized above).
                let _ = unsafe { cudarc::driver::result::free_sync(p) };
            }
        }
    }

    fn alloc_inner(self: &Arc<Self>, bytes: usize, pooled: bool) -> Result<DevBuf> {
        if bytes == 0 {
            return Ok(DevBuf {
                ptr: 0,
                bytes: 0,
                cap: 0,
                pooled: false,
                dev: self.clone(),
            });
        }
        let (free, _) = self.mem_info()?;
        if bytes > free {
            return Err(CudaError::OutOfMemory {
                requested: bytes,
                free,
            });
        }
        self.ctx
            .bind_to_thread()
            .map_err(drv("binding the context"))?;
        // SAFETY: plain cuMemAlloc of a non-zero size; the pointer is owned by the returned
        // DevBuf and freed exactly once in its Drop.
        match unsafe { cudarc::driver::result::malloc_sync(bytes) } {
            Ok(ptr) => Ok(DevBuf {
                ptr,
                bytes,
                cap: bytes,
                pooled,
                dev: self.clone(),
            }),
            Err(e) if e.0 == CUresult::CUDA_ERROR_OUT_OF_MEMORY => Err(CudaError::OutOfMemory {
                requested: bytes,
                free,
            }),
            Err(e) => Err(drv("allocating device memory")(e)),
        }
    }

    /// Copies `src` to device memory at `dst + offset` bytes and waits for it.
    pub fn upload<T: bytemuck::Pod>(&self, dst: &DevBuf, offset: usize, src: &[T]) -> Result<()> {
        let n = std::mem::size_of_val(src);
        if offset.checked_add(n).is_none_or(|e| e > dst.bytes) {
            return Err(CudaError::Shape(format!(
                "upload of {n} bytes at {offset} into a buffer of {}",
                dst.bytes
            )));
        }
        if n == 0 {
            return Ok(());
        }
        self.ctx
            .bind_to_thread()
            .map_err(drv("binding the context"))?;
        // SAFETY: the destination range lies inside `dst` (checked above); the source slice
        // stays borrowed until the stream is synchronized below.
        unsafe {
            cudarc::driver::result::memcpy_htod_async(
                dst.ptr + offset as u64,
                src,
                self.stream.cu_stream(),
            )
        }
        .map_err(drv("copying to the device"))?;
        self.synchronize()
    }

    /// Copies device memory at `src + offset` bytes into `dst` (waits for queued work first).
    pub fn download<T: bytemuck::Pod>(
        &self,
        src: &DevBuf,
        offset: usize,
        dst: &mut [T],
    ) -> Result<()> {
        let n = std::mem::size_of_val(dst);
        if offset.checked_add(n).is_none_or(|e| e > src.bytes) {
            return Err(CudaError::Shape(format!(
                "download of {n} bytes at {offset} from a buffer of {}",
                src.bytes
            )));
        }
        if n == 0 {
            return Ok(());
        }
        self.ctx
            .bind_to_thread()
            .map_err(drv("binding the context"))?;
        // SAFETY: the source range lies inside `src` (checked above); `dst` stays mutably
        // borrowed until the stream is synchronized below.
        unsafe {
            cudarc::driver::result::memcpy_dtoh_async(
                dst,
                src.ptr + offset as u64,
                self.stream.cu_stream(),
            )
        }
        .map_err(drv("copying from the device"))?;
        self.synchronize()
    }

    /// Fills `bytes` bytes at `buf + offset` with `value` (queued).
    pub fn memset(&self, buf: &DevBuf, offset: usize, bytes: usize, value: u8) -> Result<()> {
        if offset.checked_add(bytes).is_none_or(|e| e > buf.bytes) {
            return Err(CudaError::Shape("memset outside the buffer".into()));
        }
        if bytes == 0 {
            return Ok(());
        }
        self.ctx
            .bind_to_thread()
            .map_err(drv("binding the context"))?;
        // SAFETY: the range lies inside `buf` (checked above).
        unsafe {
            cudarc::driver::result::memset_d8_async(
                buf.ptr + offset as u64,
                value,
                bytes,
                self.stream.cu_stream(),
            )
        }
        .map_err(drv("memset"))
    }

    /// Device-to-device copy of `bytes` bytes (queued).
    pub fn copy(
        &self,
        dst: &DevBuf,
        dst_off: usize,
        src: &DevBuf,
        src_off: usize,
        bytes: usize,
    ) -> Result<()> {
        if dst_off.checked_add(bytes).is_none_or(|e| e > dst.bytes)
            || src_off.checked_add(bytes).is_none_or(|e| e > src.bytes)
        {
            return Err(CudaError::Shape("device copy outside a buffer".into()));
        }
        if bytes == 0 {
            return Ok(());
        }
        self.ctx
            .bind_to_thread()
            .map_err(drv("binding the context"))?;
        // SAFETY: both ranges lie inside their buffers (checked above).
        unsafe {
            cudarc::driver::result::memcpy_dtod_async(
                dst.ptr + dst_off as u64,
                src.ptr + src_off as u64,
                bytes,
                self.stream.cu_stream(),
            )
        }
        .map_err(drv("device copy"))
    }
}

/// A TMA tensor map (`CUtensorMap`, 128 bytes) passed by value as a kernel parameter.
#[repr(C, align(64))]
#[derive(Clone, Copy)]
pub(crate) struct TensorMapArg(pub(crate) [u64; 16]);

// SAFETY: plain bytes with the layout and alignment of the kernel's `TmaDesc` parameter.
unsafe impl cudarc::driver::DeviceRepr for TensorMapArg {}

impl TensorMapArg {
    /// Encodes a 2-D bf16 map over `rows` rows of `cols` elements, `ld` elements apart, at
    /// device address `ptr`, with boxes of `box_rows` x 64 elements and 128-byte swizzle
    /// (elements beyond `rows`/`cols` read as zeros).
    pub(crate) fn bf16_2d(
        ptr: u64,
        rows: usize,
        cols: usize,
        ld: usize,
        box_rows: u32,
    ) -> Result<TensorMapArg> {
        Self::encode_2d(ptr, false, rows, cols, ld, box_rows)
    }

    /// Encodes the map the TMA-store epilogue writes through: `rows` x `cols` elements of f32
    /// (`f32`) or bf16, `ld` elements apart, boxes of 64 rows x 128 bytes (32 f32 or 64 bf16
    /// columns), 128-byte swizzle; the copy engine writes nothing outside `rows` x `cols`.
    pub(crate) fn out_2d(
        ptr: u64,
        f32: bool,
        rows: usize,
        cols: usize,
        ld: usize,
    ) -> Result<TensorMapArg> {
        Self::encode_2d(ptr, f32, rows, cols, ld, 64)
    }

    /// Whether an output at `ptr` with row stride `ld` elements (of 4 bytes with `f32`, else
    /// 2) can be mapped: a 16-byte-aligned address and stride (the tensor-map rules).
    pub(crate) fn out_mappable(ptr: u64, f32: bool, ld: usize) -> bool {
        let es = if f32 { 4 } else { 2 };
        ptr.is_multiple_of(16) && (ld * es).is_multiple_of(16)
    }

    fn encode_2d(
        ptr: u64,
        f32: bool,
        rows: usize,
        cols: usize,
        ld: usize,
        box_rows: u32,
    ) -> Result<TensorMapArg> {
        use cudarc::driver::sys::{
            CUtensorMapDataType, CUtensorMapFloatOOBfill, CUtensorMapInterleave,
            CUtensorMapL2promotion, CUtensorMapSwizzle,
        };
        let es = if f32 { 4 } else { 2 };
        if !Self::out_mappable(ptr, f32, ld) || rows == 0 || cols == 0 || ld < cols {
            return Err(CudaError::Shape(format!(
                "tensor map: pointer {ptr:#x}, rows {rows}, cols {cols}, ld {ld}"
            )));
        }
        let dims = [cols as u64, rows as u64];
        let strides = [(ld * es) as u64];
        let boxd = [128 / es as u32, box_rows];
        let elem = [1u32, 1];
        let dtype = if f32 {
            CUtensorMapDataType::CU_TENSOR_MAP_DATA_TYPE_FLOAT32
        } else {
            CUtensorMapDataType::CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
        };
        let mut map = std::mem::MaybeUninit::<cudarc::driver::sys::CUtensorMap>::zeroed();
        // SAFETY: every pointer refers to a local array of the rank the call reads (2 dims,
        // 1 stride, 2 box sizes, 2 element strides); `map` is writable storage of the right
        // type. The driver only encodes the descriptor; it does not touch `ptr`'s memory.
        let r = unsafe {
            cudarc::driver::sys::cuTensorMapEncodeTiled(
                map.as_mut_ptr(),
                dtype,
                2,
                ptr as *mut std::ffi::c_void,
                dims.as_ptr(),
                strides.as_ptr(),
                boxd.as_ptr(),
                elem.as_ptr(),
                CUtensorMapInterleave::CU_TENSOR_MAP_INTERLEAVE_NONE,
                CUtensorMapSwizzle::CU_TENSOR_MAP_SWIZZLE_128B,
                CUtensorMapL2promotion::CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CUtensorMapFloatOOBfill::CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE,
            )
        };
        if r != cudarc::driver::sys::CUresult::CUDA_SUCCESS {
            return Err(CudaError::Shape(format!(
                "cuTensorMapEncodeTiled failed ({r:?}) for rows {rows}, cols {cols}, ld {ld}"
            )));
        }
        // SAFETY: the call succeeded, so the descriptor is initialised.
        let map = unsafe { map.assume_init() };
        Ok(TensorMapArg(map.opaque))
    }
}

/// One kernel argument (see [`CudaDevice::launch`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg {
    /// A device pointer (0 for null).
    P(u64),
    /// `int`.
    I(i32),
    /// `long long`.
    L(i64),
    /// `float`.
    F(f32),
    /// `unsigned int`.
    U(u32),
}

impl Arg {
    fn slot(self) -> u64 {
        match self {
            Arg::P(p) => p,
            Arg::I(i) => i as u32 as u64,
            Arg::L(l) => l as u64,
            Arg::F(f) => f.to_bits() as u64,
            Arg::U(u) => u as u64,
        }
    }
}

/// An owned device allocation (raw bytes; freed on drop).
pub struct DevBuf {
    ptr: u64,
    bytes: usize,
    cap: usize,
    pooled: bool,
    dev: Arc<CudaDevice>,
}

impl std::fmt::Debug for DevBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DevBuf({:#x}, {} bytes)", self.ptr, self.bytes)
    }
}

impl DevBuf {
    /// The device address.
    pub fn ptr(&self) -> u64 {
        self.ptr
    }
    /// The device address `off` bytes in.
    pub fn at(&self, off: usize) -> u64 {
        self.ptr + off as u64
    }
    /// Size in bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// The device it lives on.
    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.dev
    }
    /// A view of the whole buffer.
    pub fn view(&self) -> DevView {
        DevView {
            ptr: self.ptr,
            bytes: self.bytes,
        }
    }
    /// A view of `bytes` bytes at `off` (checked).
    pub fn slice(&self, off: usize, bytes: usize) -> Result<DevView> {
        self.view().slice(off, bytes)
    }
}

/// A borrowed range of device memory: an address and the bytes valid from it. Operations
/// check that every element they touch lies inside their views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevView {
    ptr: u64,
    bytes: usize,
}

impl DevView {
    /// The null view (for optional arguments).
    pub const NULL: DevView = DevView { ptr: 0, bytes: 0 };
    /// The device address.
    pub fn ptr(&self) -> u64 {
        self.ptr
    }
    /// Bytes valid from `ptr`.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// Whether this is the null view.
    pub fn is_null(&self) -> bool {
        self.ptr == 0
    }
    /// A sub-range (checked).
    pub fn slice(&self, off: usize, bytes: usize) -> Result<DevView> {
        match off.checked_add(bytes) {
            Some(e) if e <= self.bytes => Ok(DevView {
                ptr: self.ptr + off as u64,
                bytes,
            }),
            _ => Err(CudaError::Shape(format!(
                "view of {bytes} bytes at {off} in a range of {}",
                self.bytes
            ))),
        }
    }
    /// Everything from `off` on (checked).
    pub fn from(&self, off: usize) -> Result<DevView> {
        self.slice(off, self.bytes.saturating_sub(off))
    }
}

impl Drop for DevBuf {
    fn drop(&mut self) {
        if self.ptr == 0 {
            return;
        }
        if self.pooled {
            self.dev
                .pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(self.cap)
                .or_default()
                .push(self.ptr);
            return;
        }
        let _ = self.dev.ctx.bind_to_thread();
        let _ = self.dev.stream.synchronize();
        // SAFETY: `ptr` came from cuMemAlloc in `CudaDevice::alloc` and is freed only here;
        // the stream was synchronized above so no queued kernel still uses it.
        let _ = unsafe { cudarc::driver::result::free_sync(self.ptr) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_maps_need_16_byte_address_and_stride() {
        // f32: 4 elements = 16 bytes; bf16: 8.
        assert!(TensorMapArg::out_mappable(0x1000, true, 4096));
        assert!(TensorMapArg::out_mappable(0x1000, true, 4));
        assert!(!TensorMapArg::out_mappable(0x1000, true, 4098));
        assert!(TensorMapArg::out_mappable(0x1000, false, 264));
        assert!(!TensorMapArg::out_mappable(0x1000, false, 260));
        assert!(!TensorMapArg::out_mappable(0x1008, false, 4096));
        assert!(!TensorMapArg::out_mappable(0x1004, true, 4096));
    }

    #[test]
    fn bad_output_maps_are_shape_errors_before_the_driver() {
        // Each is refused by the checks in front of cuTensorMapEncodeTiled (no driver needed).
        for (ptr, f32, rows, cols, ld) in [
            (0x1008u64, false, 4usize, 64usize, 64usize), // misaligned address
            (0x1000, false, 4, 60, 60),                   // stride of 120 bytes
            (0x1000, true, 0, 32, 32),                    // no rows
            (0x1000, true, 4, 0, 32),                     // no columns
            (0x1000, true, 4, 40, 32),                    // stride shorter than a row
        ] {
            match TensorMapArg::out_2d(ptr, f32, rows, cols, ld) {
                Err(CudaError::Shape(msg)) => assert!(msg.contains("tensor map"), "{msg}"),
                Err(e) => panic!("expected a Shape error, got {e}"),
                Ok(_) => panic!("accepted {ptr:#x} {rows}x{cols} ld {ld}"),
            }
        }
    }
}
