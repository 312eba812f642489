//! Typed launchers for our kernels: each checks shapes, alignment and that every element it
//! touches lies inside the views it was given, then queues the kernel on the device's stream.

use crate::device::{Arg, CudaDevice, DevView};
use crate::error::{CudaError, Result};
use crate::kernels::Kernel;

/// What a matrix product does with each result element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    /// Store f32.
    F32,
    /// Add into an f32 output (residual connection).
    AddF32,
    /// Store bf16.
    Bf16,
    /// Columns (2i, 2i+1) are (gate, up): store bf16 `gelu_tanh(gate) * up` at column i.
    GeGlu,
    /// As `GeGlu` with SiLU.
    SwiGlu,
    /// Store bf16 `max(v, 0)`.
    Relu,
}

impl Epilogue {
    /// The kernels' `mode` code (EPI_* in common.cuh).
    pub(crate) fn code(self) -> i32 {
        match self {
            Epilogue::F32 => 0,
            Epilogue::AddF32 => 1,
            Epilogue::Bf16 => 2,
            Epilogue::GeGlu => 3,
            Epilogue::SwiGlu => 4,
            Epilogue::Relu => 5,
        }
    }
    /// Output columns for `n` product columns.
    pub fn out_cols(self, n: usize) -> usize {
        match self {
            Epilogue::GeGlu | Epilogue::SwiGlu => n / 2,
            _ => n,
        }
    }
    /// Bytes per output element.
    pub fn out_size(self) -> usize {
        match self {
            Epilogue::F32 | Epilogue::AddF32 => 4,
            _ => 2,
        }
    }
}

/// Which matrix-product kernel to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GemmKernel {
    /// Choose by shape and alignment.
    Auto,
    /// 128x128 tensor-core tiles.
    Large,
    /// 32x64 tensor-core tiles (split over K when few tiles and the epilogue adds).
    Small,
    /// Batch-1 GEMV.
    Gemv,
    /// Scalar fallback.
    Simple,
    /// 128x256 wgmma tiles (compute capability 9.0).
    Wgmma,
    /// As `Wgmma`, keeping one group of tensor-core operations in flight.
    WgmmaPipe,
    /// 128x256 wgmma tiles fed by TMA, one producer and two consumer warpgroups (compute
    /// capability 9.0).
    Tma,
    /// As `Tma`, persistent (one block per multiprocessor walking the tiles); runs `Tma`
    /// where the product is split over K or `T0_CUDA_GEMM_PERSISTENT=0`.
    TmaPersistent,
    /// As `Tma`, in clusters of 2 blocks on vertically adjacent tiles that share the W tile
    /// (each loads half and multicasts it to both); runs `Tma` where the product is split over
    /// K. Automatic choice takes it only with `T0_CUDA_GEMM_CLUSTER=1` (opt-in, unverified on
    /// a device so far), after it passed the self-check and was timed faster.
    TmaCluster,
}

/// True when `T0_CUDA_GEMM_CLUSTER=1` lets the self-check try the cluster TMA GEMM.
pub fn cluster_gemm_enabled() -> bool {
    std::env::var("T0_CUDA_GEMM_CLUSTER").is_ok_and(|v| v == "1")
}

/// How the TMA GEMM kernels ([`GemmKernel::Tma`], [`GemmKernel::TmaPersistent`]) store a
/// whole 128x256 output tile with the f32, f32-add, bf16 and ReLU epilogues (ragged tiles,
/// strides or pointers not aligned for the variant, and products split over K always take the
/// general path; the gated epilogues have one fast path in every variant but `Store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpiVariant {
    /// The variant the self-check found fastest among those that matched the reference, for
    /// this kernel and epilogue ([`CudaDevice::fast_epilogue_choice`]); `General` before the
    /// self-check or with `T0_CUDA_FAST_EPI=0`.
    Auto,
    /// The general per-pair epilogue with bounds and mode branches (the `gemm_bf16_tma` /
    /// `gemm_bf16_tma_p` kernels, as before the fast variants).
    General,
    /// Branch-free; each lane stores its column pair as one 4-byte (bf16) or 8-byte (f32)
    /// word. Needs an even `ldc` and a 2-element-aligned output.
    Pairs,
    /// Branch-free; lane pairs exchange one column pair so each lane stores four adjacent
    /// columns as one 8-byte (bf16) or 16-byte (f32) word. Needs `ldc % 4 == 0` and a
    /// 4-element-aligned output.
    Swap,
    /// Branch-free, one scalar store per element.
    Scalar,
    /// Every epilogue, ragged tiles included: each consumer warpgroup writes its results to
    /// shared memory and the bulk tensor copy engine stores them (f32-add: adds them in L2)
    /// while the warps compute the next tile. Needs a 16-byte-aligned output, row stride and
    /// row width (output columns x element size: on the H100 the copy engine clips columns
    /// only at 16-byte granularity, so a ragged width would write into the padding; device run
    /// 21) and a product not split over K; otherwise the fastest other variant (`Auto`) or the
    /// general path (`Store` asked for). Not for the cluster kernel. Used by automatic choice
    /// only while [`tma_store_enabled`].
    Store,
}

impl EpiVariant {
    /// The fast variants (all but `Auto` and `General`).
    pub const FAST: [EpiVariant; 4] = [
        EpiVariant::Pairs,
        EpiVariant::Swap,
        EpiVariant::Scalar,
        EpiVariant::Store,
    ];

    /// The kernels' `var` code (0 for `Auto` and `General`).
    pub fn code(self) -> u8 {
        match self {
            EpiVariant::Auto | EpiVariant::General => 0,
            EpiVariant::Pairs => 1,
            EpiVariant::Swap => 2,
            EpiVariant::Scalar => 3,
            EpiVariant::Store => 4,
        }
    }

    /// The variant with kernel code `c` (`General` for unknown codes).
    pub fn from_code(c: u8) -> Self {
        match c {
            1 => EpiVariant::Pairs,
            2 => EpiVariant::Swap,
            3 => EpiVariant::Scalar,
            4 => EpiVariant::Store,
            _ => EpiVariant::General,
        }
    }

    /// Whether the whole-tile fast variants (`Pairs`, `Swap`, `Scalar`) change how `epi` is
    /// stored.
    pub fn applies_to(epi: Epilogue) -> bool {
        EpiVariant::Pairs.epilogues().contains(&epi)
    }

    /// The epilogues whose stores this variant changes (`Store`: all six; `Pairs`, `Swap`,
    /// `Scalar`: f32, f32-add, bf16 and ReLU; `Auto`, `General`: none).
    pub fn epilogues(self) -> &'static [Epilogue] {
        match self {
            EpiVariant::Store => &[
                Epilogue::F32,
                Epilogue::AddF32,
                Epilogue::Bf16,
                Epilogue::Relu,
                Epilogue::GeGlu,
                Epilogue::SwiGlu,
            ],
            EpiVariant::Pairs | EpiVariant::Swap | EpiVariant::Scalar => &[
                Epilogue::F32,
                Epilogue::AddF32,
                Epilogue::Bf16,
                Epilogue::Relu,
            ],
            EpiVariant::Auto | EpiVariant::General => &[],
        }
    }
}

/// True when `T0_CUDA_FAST_EPI=0` forces the general TMA epilogue (no fast-variant checks).
pub fn fast_epilogues_disabled() -> bool {
    std::env::var("T0_CUDA_FAST_EPI").is_ok_and(|v| v == "0")
}

/// Whether the TMA-store epilogue can write this output: not split over K, and a 16-byte
/// aligned address, row stride (`ldc` elements) and row width (`epi.out_cols(n)` elements).
/// The width rule is the copy engine's: it clips columns only at 16-byte granularity, so a
/// ragged width would write into the padding after it (device run 21).
pub fn tma_store_fits(epi: Epilogue, n: usize, out_ptr: u64, ldc: usize, split: usize) -> bool {
    let width = epi.out_cols(n) * epi.out_size();
    split == 1
        && width.is_multiple_of(16)
        && crate::device::TensorMapArg::out_mappable(out_ptr, epi.out_size() == 4, ldc)
}

/// True unless `T0_CUDA_TMA_STORE=0`, which keeps the TMA-store epilogue
/// ([`EpiVariant::Store`]) out of the self-check, its timings and automatic choice. Read once
/// per process (it is consulted on every automatic TMA product).
pub fn tma_store_allowed() -> bool {
    static ALLOWED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ALLOWED.get_or_init(|| !std::env::var("T0_CUDA_TMA_STORE").is_ok_and(|v| v == "0"))
}

/// The variant automatic choice takes for `epi` on TMA kernel `row` (0 plain, 1 persistent,
/// 2 cluster) from the self-check's table, with or without the TMA store; `General` before
/// the self-check or with `T0_CUDA_FAST_EPI=0`.
fn auto_variant(dev: &CudaDevice, row: usize, epi: Epilogue, store: bool) -> EpiVariant {
    if fast_epilogues_disabled() {
        return EpiVariant::General;
    }
    let table = if store {
        dev.fast_epilogue_choice()
    } else {
        dev.fast_epilogue_choice_without_store()
    };
    table.map_or(EpiVariant::General, |c| {
        EpiVariant::from_code(c[row][epi.code() as usize])
    })
}

static TMA_STORE_ON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Lets automatic choice take the TMA-store epilogue where the self-check timed it fastest
/// (`on`, the default) or makes it take the fastest of the other variants instead
/// ([`CudaDevice::fast_epilogue_choice_without_store`]); for comparisons in one process.
pub fn set_tma_store(on: bool) {
    TMA_STORE_ON.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether automatic choice may take the TMA-store epilogue ([`set_tma_store`],
/// [`tma_store_allowed`]).
pub fn tma_store_enabled() -> bool {
    TMA_STORE_ON.load(std::sync::atomic::Ordering::Relaxed) && tma_store_allowed()
}

fn need(v: DevView, bytes: usize, what: &str) -> Result<()> {
    if v.is_null() || v.bytes() < bytes {
        return Err(CudaError::Shape(format!(
            "{what}: needs {bytes} bytes, view has {}",
            v.bytes()
        )));
    }
    Ok(())
}

fn extent(rows: usize, ld: usize, cols: usize) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(0);
    }
    (rows - 1).checked_mul(ld)?.checked_add(cols)
}

fn i32_of(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| CudaError::Shape(format!("{what} = {v} exceeds i32")))
}

/// Matrix product `out[m, n] (epilogue) = a[m, k] · w[n, k]^T` with bf16 `a` (row stride
/// `lda` elements) and bf16 `w` (row stride `ldw`), f32 accumulation. `ldc` is the output row
/// stride in output elements.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    dev: &CudaDevice,
    a: DevView,
    lda: usize,
    w: DevView,
    ldw: usize,
    out: DevView,
    ldc: usize,
    dims: (usize, usize, usize),
    epi: Epilogue,
    kernel: GemmKernel,
) -> Result<()> {
    gemm_with(
        dev,
        a,
        lda,
        w,
        ldw,
        out,
        ldc,
        dims,
        epi,
        kernel,
        EpiVariant::Auto,
    )
}

/// As [`gemm`], with the TMA kernels' whole-tile epilogue variant `var` (ignored by the other
/// kernels).
#[allow(clippy::too_many_arguments)]
pub fn gemm_with(
    dev: &CudaDevice,
    a: DevView,
    lda: usize,
    w: DevView,
    ldw: usize,
    out: DevView,
    ldc: usize,
    (m, n, k): (usize, usize, usize),
    epi: Epilogue,
    kernel: GemmKernel,
    var: EpiVariant,
) -> Result<()> {
    // The L2 prefetch hint is for this product only (used by the batch-1 GEMV).
    let pf = dev.take_next_prefetch();
    if m == 0 || n == 0 {
        return Ok(());
    }
    if lda < k || ldw < k || ldc < epi.out_cols(n) {
        return Err(CudaError::Shape(format!(
            "gemm strides lda {lda} ldw {ldw} ldc {ldc} for k {k} n {n}"
        )));
    }
    if matches!(epi, Epilogue::GeGlu | Epilogue::SwiGlu) && n % 2 != 0 {
        return Err(CudaError::Shape(format!(
            "gated epilogue needs even n, got {n}"
        )));
    }
    let ov = || CudaError::Shape("gemm extent overflows".into());
    need(a, extent(m, lda, k).ok_or_else(ov)? * 2, "gemm a")?;
    need(w, extent(n, ldw, k).ok_or_else(ov)? * 2, "gemm w")?;
    need(
        out,
        extent(m, ldc, epi.out_cols(n)).ok_or_else(ov)? * epi.out_size(),
        "gemm out",
    )?;
    let (mi, ni, ki) = (i32_of(m, "m")?, i32_of(n, "n")?, i32_of(k, "k")?);
    let aligned = k % 8 == 0
        && lda.is_multiple_of(8)
        && ldw.is_multiple_of(8)
        && a.ptr().is_multiple_of(16)
        && w.ptr().is_multiple_of(16)
        && (epi.out_size() == 2 || out.ptr().is_multiple_of(4));
    let kernel = match kernel {
        GemmKernel::Auto if !aligned => GemmKernel::Simple,
        GemmKernel::Auto if m == 1 => GemmKernel::Gemv,
        // Thresholds from the H200 measurements (t0-cuda/NOTES.md): the narrow kernel wins
        // while 128x128 tiles would not fill half the chip; wgmma from 64 of its tiles on.
        GemmKernel::Auto if m <= 64 || m.div_ceil(128) * n.div_ceil(128) < 64 => GemmKernel::Small,
        // The TMA kernels from 32 of their tiles on (H100 run 3: 128x12288x4096 173 TFLOP/s
        // against 97 for the 128x128 kernel).
        GemmKernel::Auto
            if m >= 128
                && m.div_ceil(128) * n.div_ceil(256) >= 32
                && matches!(dev.wgmma_checked(), Some((_, _, true, _) | (_, _, _, true))) =>
        {
            // Persistent or plain by the timing per epilogue taken at the self-check (H100
            // run 4: persistent wins with bf16 outputs, loses with f32 / f32-add ones).
            let slower = dev
                .persistent_faster_mask()
                .is_some_and(|mask| (mask >> epi.code()) & 1 == 0);
            let cluster = dev
                .cluster_faster_mask()
                .is_some_and(|mask| (mask >> epi.code()) & 1 == 1);
            match dev.wgmma_checked() {
                Some((_, _, true, _)) if cluster => GemmKernel::TmaCluster,
                Some((_, _, true, true)) if slower => GemmKernel::Tma,
                Some((_, _, _, true)) => GemmKernel::TmaPersistent,
                _ => GemmKernel::Tma,
            }
        }
        GemmKernel::Auto if m >= 128 && m.div_ceil(128) * n.div_ceil(256) >= 64 => {
            match dev.wgmma_checked() {
                Some((_, _, _, true)) => GemmKernel::TmaPersistent,
                Some((_, _, true, _)) => GemmKernel::Tma,
                Some((_, true, ..)) => GemmKernel::WgmmaPipe,
                Some((true, ..)) => GemmKernel::Wgmma,
                _ => GemmKernel::Large,
            }
        }
        GemmKernel::Auto => GemmKernel::Large,
        GemmKernel::Wgmma
        | GemmKernel::WgmmaPipe
        | GemmKernel::Tma
        | GemmKernel::TmaPersistent
        | GemmKernel::TmaCluster
            if !dev.has_wgmma() =>
        {
            return Err(CudaError::BackendUnavailable(
                "the wgmma GEMM needs compute capability 9.0".into(),
            ));
        }
        GemmKernel::Simple => GemmKernel::Simple,
        other if !aligned => {
            return Err(CudaError::Shape(format!(
                "{other:?} gemm needs k, lda, ldw multiples of 8 and 16-byte aligned operands"
            )));
        }
        GemmKernel::Gemv if m != 1 => {
            return Err(CudaError::Shape("gemv needs m == 1".into()));
        }
        other => other,
    };
    let common = [
        Arg::P(a.ptr()),
        Arg::L(lda as i64),
        Arg::P(w.ptr()),
        Arg::L(ldw as i64),
        Arg::P(out.ptr()),
        Arg::L(ldc as i64),
    ];
    match kernel {
        GemmKernel::Gemv => {
            let blocks = n.div_ceil(4) as u32;
            dev.launch(
                Kernel::Gemv,
                (blocks, 1, 1),
                (256, 1, 1),
                0,
                &[
                    Arg::P(a.ptr()),
                    Arg::P(w.ptr()),
                    Arg::L(ldw as i64),
                    Arg::P(out.ptr()),
                    Arg::I(ni),
                    Arg::I(ki),
                    Arg::I(epi.code()),
                    Arg::P(pf.0),
                    Arg::L(pf.1 as i64),
                ],
            )
        }
        GemmKernel::Simple => {
            let gx = n.div_ceil(2).div_ceil(128) as u32;
            let mut args = common.to_vec();
            args.extend([Arg::I(mi), Arg::I(ni), Arg::I(ki), Arg::I(epi.code())]);
            dev.launch(Kernel::GemmSimple, (gx, m as u32, 1), (128, 1, 1), 0, &args)
        }
        GemmKernel::Large
        | GemmKernel::Small
        | GemmKernel::Wgmma
        | GemmKernel::WgmmaPipe
        | GemmKernel::Tma
        | GemmKernel::TmaPersistent
        | GemmKernel::TmaCluster => {
            let (bm, bn, threads, smem, kid) = match kernel {
                GemmKernel::Tma | GemmKernel::TmaPersistent | GemmKernel::TmaCluster => {
                    (128, 256, 384, crate::kernels::TMA_SMEM, Kernel::GemmTma)
                }
                GemmKernel::Large => (128usize, 128usize, 256u32, 61440u32, Kernel::GemmL),
                GemmKernel::Wgmma => (128, 256, 256, crate::kernels::WGMMA_SMEM, Kernel::GemmWgmma),
                GemmKernel::WgmmaPipe => (
                    128,
                    256,
                    256,
                    crate::kernels::WGMMA_SMEM,
                    Kernel::GemmWgmmaPipe,
                ),
                _ => (32, 32, 128, 36864, Kernel::GemmS),
            };
            let tiles = m.div_ceil(bm) * n.div_ceil(bn);
            let target = 2 * dev.sm_count().max(1) as usize;
            let mut split = 1usize;
            if epi == Epilogue::AddF32 && tiles < target {
                split = target.div_ceil(tiles).min(k / 256).clamp(1, 16);
            }
            let ksplit = k.div_ceil(split).div_ceil(64) * 64;
            let split = k.div_ceil(ksplit.max(1)).max(1);
            let mut args = common.to_vec();
            args.extend([
                Arg::I(mi),
                Arg::I(ni),
                Arg::I(ki),
                Arg::I(epi.code()),
                Arg::I(i32_of(ksplit.max(64), "ksplit")?),
            ]);
            if matches!(
                kernel,
                GemmKernel::Tma | GemmKernel::TmaPersistent | GemmKernel::TmaCluster
            ) {
                use crate::device::TensorMapArg;
                let ta = TensorMapArg::bf16_2d(a.ptr(), m, k, lda, 128)?;
                let tiles = (m.div_ceil(bm) * n.div_ceil(bn)) as u32;
                if kernel == GemmKernel::TmaCluster && split == 1 {
                    // Each block of a pair loads a 128-row half of the W tile.
                    let tw = TensorMapArg::bf16_2d(w.ptr(), n, k, ldw, 128)?;
                    // The cluster kernel has no TMA-store epilogue: the general one instead.
                    let var = match var {
                        EpiVariant::Auto => auto_variant(dev, 2, epi, false),
                        EpiVariant::Store => EpiVariant::General,
                        v => v,
                    };
                    let blocks = (2 * m.div_ceil(bm).div_ceil(2) * n.div_ceil(bn)) as u32;
                    args.push(Arg::I(var.code() as i32));
                    return dev.launch_tma(
                        Kernel::GemmTmaC,
                        (blocks, 1, 1),
                        (threads, 1, 1),
                        smem,
                        &[&ta, &tw],
                        &args[4..],
                    );
                }
                let tw = TensorMapArg::bf16_2d(w.ptr(), n, k, ldw, 256)?;
                let persistent = kernel == GemmKernel::TmaPersistent
                    && split == 1
                    && !std::env::var("T0_CUDA_GEMM_PERSISTENT").is_ok_and(|v| v == "0");
                let (mut kid, blocks) = if persistent {
                    (Kernel::GemmTmaP, tiles.min(dev.sm_count().max(1) as u32))
                } else {
                    (kid, tiles)
                };
                let row = persistent as usize;
                let auto = var == EpiVariant::Auto;
                let mut var = match var {
                    EpiVariant::Auto => auto_variant(dev, row, epi, tma_store_enabled()),
                    v => v,
                };
                if var == EpiVariant::Store {
                    let f32_out = epi.out_size() == 4;
                    if tma_store_fits(epi, n, out.ptr(), ldc, split) {
                        let tc = TensorMapArg::out_2d(out.ptr(), f32_out, m, epi.out_cols(n), ldc)?;
                        let kid = if persistent {
                            Kernel::GemmTmaPS
                        } else {
                            Kernel::GemmTmaS
                        };
                        return dev.launch_tma(
                            kid,
                            (blocks, 1, 1),
                            (threads, 1, 1),
                            crate::kernels::TMA_S_SMEM,
                            &[&ta, &tw, &tc],
                            &args[4..],
                        );
                    }
                    // Not storable by the copy engine: the fastest other variant that the
                    // self-check recorded (automatic choice), else the general path.
                    var = if auto {
                        auto_variant(dev, row, epi, false)
                    } else {
                        EpiVariant::General
                    };
                }
                if var.code() != 0 && var != EpiVariant::Store && EpiVariant::applies_to(epi) {
                    kid = if persistent {
                        Kernel::GemmTmaPE
                    } else {
                        Kernel::GemmTmaE
                    };
                    args.push(Arg::I(var.code() as i32));
                }
                return dev.launch_tma(
                    kid,
                    (blocks, 1, split as u32),
                    (threads, 1, 1),
                    smem,
                    &[&ta, &tw],
                    &args[4..],
                );
            }
            dev.launch(
                kid,
                (n.div_ceil(bn) as u32, m.div_ceil(bm) as u32, split as u32),
                (threads, 1, 1),
                smem,
                &args,
            )
        }
        GemmKernel::Auto => unreachable!("resolved above"),
    }
}

/// Compares the wgmma GEMMs (basic, pipelined, TMA, persistent TMA) with the mma.sync GEMM on
/// random products (ragged tails; for the TMA kernels also more tiles than multiprocessors and
/// the f32-add, bf16 and gated epilogues); each is true when it agrees to 1e-3 relative for
/// f32 outputs and 1e-2 for bf16 outputs (all accumulate in f32). `T0_CUDA_GEMM_PERSISTENT=0`
/// skips (and so disables) the persistent kernel.
///
/// Then, for each TMA kernel that passed, every fast epilogue variant ([`EpiVariant::FAST`])
/// is checked the same way with the f32, f32-add, bf16 and ReLU epilogues (a variant is used
/// only for the epilogues it passed; skipped with `T0_CUDA_FAST_EPI=0`), and each kernel ×
/// passing variant is timed on 8192x4096x4096 per epilogue (f32, f32-add, bf16, gated GELU):
/// the fastest variant per kernel and epilogue is recorded
/// ([`CudaDevice::fast_epilogue_choice`]), and persistent vs plain is decided on the two
/// kernels' best times ([`CudaDevice::persistent_faster_mask`]). With
/// `T0_CUDA_GEMM_CLUSTER=1` the cluster kernel ([`GemmKernel::TmaCluster`]) is checked and
/// timed the same way and used for the epilogues where it beat both
/// ([`CudaDevice::cluster_faster_mask`]).
pub fn wgmma_self_check(dev: &std::sync::Arc<CudaDevice>) -> Result<(bool, bool, bool, bool)> {
    let tma = |kern| {
        wgmma_check_one(dev, kern).unwrap_or_else(|e| {
            eprintln!("t0-cuda: {kern:?} GEMM self-check error: {e}");
            false
        })
    };
    let ok = (
        wgmma_check_one(dev, GemmKernel::Wgmma)?,
        wgmma_check_one(dev, GemmKernel::WgmmaPipe)?,
        tma(GemmKernel::Tma),
        !std::env::var("T0_CUDA_GEMM_PERSISTENT").is_ok_and(|v| v == "0")
            && tma(GemmKernel::TmaPersistent),
    );
    // The cluster kernel (opt-in) is checked like the plain one, general epilogue first.
    let cluster_ok = ok.2
        && cluster_gemm_enabled()
        && wgmma_check_one(dev, GemmKernel::TmaCluster).unwrap_or_else(|e| {
            eprintln!("t0-cuda: TmaCluster GEMM self-check error: {e}");
            false
        });
    if cluster_gemm_enabled() {
        eprintln!("t0-cuda: cluster TMA GEMM self-check: {cluster_ok}");
    }
    let kernels = [
        (GemmKernel::Tma, ok.2),
        (GemmKernel::TmaPersistent, ok.3),
        (GemmKernel::TmaCluster, cluster_ok),
    ];
    // passed[kernel][epilogue code] bit v: variant code v matched the reference.
    let mut passed = [[1u8; 6]; 3];
    // The TMA store only for the plain and persistent kernels, unless T0_CUDA_TMA_STORE=0.
    let store_ok = |kern| kern != GemmKernel::TmaCluster && tma_store_allowed();
    if !fast_epilogues_disabled() {
        for (ki, &(kern, kok)) in kernels.iter().enumerate() {
            if !kok {
                continue;
            }
            for var in EpiVariant::FAST {
                if var == EpiVariant::Store && !store_ok(kern) {
                    continue;
                }
                let fast_epis = var.epilogues();
                let mask = wgmma_check(dev, kern, var, fast_epis).unwrap_or_else(|e| {
                    eprintln!("t0-cuda: {kern:?} {var:?} epilogue self-check error: {e}");
                    0
                });
                for (i, epi) in fast_epis.iter().enumerate() {
                    if (mask >> i) & 1 == 1 {
                        passed[ki][epi.code() as usize] |= 1 << var.code();
                    } else {
                        eprintln!(
                            "t0-cuda: {kern:?} {var:?} {epi:?} epilogue failed its self-check; not used"
                        );
                    }
                }
            }
        }
    }
    if !ok.2 && !ok.3 {
        return Ok(ok);
    }
    // Without timings (allocation failed) nothing is recorded: persistent by default and the
    // general epilogue, as before the fast variants.
    let bufs = match TimingBuffers::new(dev) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("t0-cuda: no TMA GEMM timings ({e}); general epilogues");
            return Ok(ok);
        }
    };
    let mut choice = [[0u8; 6]; 3];
    let mut choice_ns = [[0u8; 6]; 3];
    let mut mask = 0u8;
    let mut cluster_mask = 0u8;
    for epi in [
        Epilogue::F32,
        Epilogue::AddF32,
        Epilogue::Bf16,
        Epilogue::GeGlu,
    ] {
        let e = epi.code() as usize;
        let mut best = [(f64::INFINITY, 0u8); 3];
        let mut best_ns = [(f64::INFINITY, 0u8); 3];
        let mut line = format!("t0-cuda: TMA GEMM 8192x4096x4096 {epi:?}:");
        for (ki, &(kern, kok)) in kernels.iter().enumerate() {
            if !kok {
                continue;
            }
            line += [" plain", " | persistent", " | cluster"][ki];
            let vars = std::iter::once(EpiVariant::General).chain(
                EpiVariant::FAST
                    .into_iter()
                    .filter(|v| v.epilogues().contains(&epi))
                    .filter(|&v| v != EpiVariant::Store || store_ok(kern)),
            );
            for var in vars {
                // Only variants that passed (with T0_CUDA_FAST_EPI=0: only General).
                if (passed[ki][e] >> var.code()) & 1 == 0 {
                    continue;
                }
                match time_tma(dev, &bufs, epi, kern, var) {
                    Ok(ms) => {
                        line += &format!(" {var:?} {ms:.3} ms");
                        if ms < best[ki].0 {
                            best[ki] = (ms, var.code());
                        }
                        if var != EpiVariant::Store && ms < best_ns[ki].0 {
                            best_ns[ki] = (ms, var.code());
                        }
                    }
                    Err(e) => {
                        eprintln!(
                            "t0-cuda: timing the TMA GEMM ({kern:?} {var:?} {epi:?}) failed: {e}"
                        )
                    }
                }
            }
            choice[ki][e] = best[ki].1;
            choice_ns[ki][e] = best_ns[ki].1;
        }
        eprintln!("{line}");
        if best[1].0 <= best[0].0 {
            mask |= 1 << e;
        }
        if best[2].0 < best[0].0.min(best[1].0) {
            cluster_mask |= 1 << e;
        }
    }
    // SiLU-gated as GELU-gated, ReLU as bf16 (same stores) where ReLU passed that variant.
    mask |= ((mask >> 3) & 1) << 4;
    mask |= ((mask >> 2) & 1) << 5;
    cluster_mask |= ((cluster_mask >> 3) & 1) << 4;
    cluster_mask |= ((cluster_mask >> 2) & 1) << 5;
    // ReLU follows bf16 and SiLU-gated follows GELU-gated, where they passed that variant.
    for table in [&mut choice, &mut choice_ns] {
        for (ki, row) in table.iter_mut().enumerate() {
            for (from, to) in [(2usize, 5usize), (3, 4)] {
                let v = row[from];
                row[to] = if (passed[ki][to] >> v) & 1 == 1 { v } else { 0 };
            }
        }
    }
    if ok.2 && ok.3 {
        dev.set_persistent_faster_mask(mask);
    }
    if cluster_ok {
        dev.set_cluster_faster_mask(cluster_mask);
    }
    if !fast_epilogues_disabled() {
        dev.set_fast_epilogue_choice(choice, choice_ns);
    }
    Ok(ok)
}

/// Operands and output of the self-check timings (8192x4096x4096).
struct TimingBuffers {
    a: crate::device::DevBuf,
    w: crate::device::DevBuf,
    c: crate::device::DevBuf,
}

impl TimingBuffers {
    const DIMS: (usize, usize, usize) = (8192, 4096, 4096);

    fn new(dev: &std::sync::Arc<CudaDevice>) -> Result<Self> {
        let (m, n, k) = Self::DIMS;
        let a = dev.alloc(m * k * 2)?;
        let w = dev.alloc(n * k * 2)?;
        let c = dev.alloc(m * n * 4)?;
        dev.memset(&c, 0, m * n * 4, 0)?;
        init_uniform_bf16(dev, a.view(), m * k, 5, 1.0)?;
        init_uniform_bf16(dev, w.view(), n * k, 6, 0.02)?;
        Ok(TimingBuffers { a, w, c })
    }
}

/// Times one TMA GEMM kernel with epilogue `epi` and variant `var` (best of 3 after a
/// warm-up) on the 8192x4096x4096 product, in ms.
fn time_tma(
    dev: &std::sync::Arc<CudaDevice>,
    b: &TimingBuffers,
    epi: Epilogue,
    kern: GemmKernel,
    var: EpiVariant,
) -> Result<f64> {
    let (m, n, k) = TimingBuffers::DIMS;
    let mut best = f64::INFINITY;
    for rep in 0..4 {
        dev.synchronize()?;
        let t = std::time::Instant::now();
        gemm_with(
            dev,
            b.a.view(),
            k,
            b.w.view(),
            k,
            b.c.view(),
            epi.out_cols(n),
            (m, n, k),
            epi,
            kern,
            var,
        )?;
        dev.synchronize()?;
        if rep > 0 {
            best = best.min(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok(best)
}

fn wgmma_check_one(dev: &std::sync::Arc<CudaDevice>, kern: GemmKernel) -> Result<bool> {
    let mut epis = vec![Epilogue::F32];
    if matches!(
        kern,
        GemmKernel::Tma | GemmKernel::TmaPersistent | GemmKernel::TmaCluster
    ) {
        epis.extend([Epilogue::AddF32, Epilogue::Bf16, Epilogue::GeGlu]);
    }
    let mask = wgmma_check(dev, kern, EpiVariant::General, &epis)?;
    Ok(mask.count_ones() as usize == epis.len())
}

/// Checks `kern` with epilogue variant `var` against the 128x128 mma.sync GEMM for each of
/// `epis` (at most 8) on random products; bit `i` of the result is set when `epis[i]` agreed
/// on every shape.
fn wgmma_check(
    dev: &std::sync::Arc<CudaDevice>,
    kern: GemmKernel,
    var: EpiVariant,
    epis: &[Epilogue],
) -> Result<u8> {
    let is_tma = matches!(
        kern,
        GemmKernel::Tma | GemmKernel::TmaPersistent | GemmKernel::TmaCluster
    );
    let mut shapes = vec![
        (200usize, 300usize, 136usize),
        (256, 512, 1024),
        (384, 768, 4096),
    ];
    if is_tma {
        shapes.push((1000, 4400, 200));
    }
    let mut good = if epis.len() >= 8 {
        0xffu8
    } else {
        (1u8 << epis.len()) - 1
    };
    for &(m, n, k) in &shapes {
        let a = dev.alloc(m * k * 2)?;
        let w = dev.alloc(n * k * 2)?;
        init_uniform_bf16(dev, a.view(), m * k, 17, 1.0)?;
        init_uniform_bf16(dev, w.view(), n * k, 23, 0.1)?;
        for (ei, &epi) in epis.iter().enumerate().take(8) {
            if (good >> ei) & 1 == 0 {
                continue;
            }
            let cols = epi.out_cols(n);
            let c1 = dev.alloc(m * cols * 4)?;
            let c2 = dev.alloc(m * cols * 4)?;
            let fill = if epi == Epilogue::AddF32 { 0 } else { 0xff };
            dev.memset(&c1, 0, m * cols * 4, 0)?;
            dev.memset(&c2, 0, m * cols * 4, fill)?;
            for (c, kk, v) in [
                (&c1, GemmKernel::Large, EpiVariant::General),
                (&c2, kern, var),
            ] {
                gemm_with(
                    dev,
                    a.view(),
                    k,
                    w.view(),
                    k,
                    c.view(),
                    cols,
                    (m, n, k),
                    epi,
                    kk,
                    v,
                )?;
            }
            let bf16_out = epi.out_size() == 2;
            let mut r1 = vec![0f32; m * cols];
            let mut r2 = vec![0f32; m * cols];
            if bf16_out {
                let f1 = dev.alloc(m * cols * 4)?;
                let f2 = dev.alloc(m * cols * 4)?;
                bf16_to_f32(dev, c1.view(), f1.view(), m * cols)?;
                bf16_to_f32(dev, c2.view(), f2.view(), m * cols)?;
                dev.download(&f1, 0, &mut r1)?;
                dev.download(&f2, 0, &mut r2)?;
            } else {
                dev.download(&c1, 0, &mut r1)?;
                dev.download(&c2, 0, &mut r2)?;
            }
            let (mut num, mut den) = (0f64, 0f64);
            let mut finite = true;
            for (x, y) in r2.iter().zip(&r1) {
                if !x.is_finite() {
                    finite = false;
                    break;
                }
                num += ((x - y) as f64).powi(2);
                den += (*y as f64).powi(2);
            }
            let tol = if bf16_out { 1e-2 } else { 1e-3 };
            let rel = (num / den.max(1e-30)).sqrt();
            if !finite || rel > tol {
                eprintln!(
                    "t0-cuda: {kern:?} {var:?} self-check {m}x{n}x{k} {epi:?}: rel diff {rel:.3e} (finite {finite})"
                );
                good &= !(1u8 << ei);
            }
        }
    }
    Ok(good)
}

/// Layout of one attention operand: element (b, i, h, d) at `b * batch + i * row + h * dh + d`
/// (elements of bf16).
#[derive(Debug, Clone, Copy)]
pub struct Strides {
    /// Between batches.
    pub batch: usize,
    /// Between rows (tokens).
    pub row: usize,
}

/// One attention call (see the kernel source for the exact semantics).
#[derive(Debug, Clone, Copy)]
pub struct Attention {
    /// Query batches.
    pub batch: usize,
    /// Heads.
    pub heads: usize,
    /// Head size (at most 256; 64 takes the flash kernel).
    pub dh: usize,
    /// Query rows per batch.
    pub lq: usize,
    /// Key rows per key batch (cache capacity when `pos` is set).
    pub lk: usize,
    /// Queries (bf16).
    pub q: DevView,
    /// Query layout.
    pub q_st: Strides,
    /// Keys (bf16).
    pub k: DevView,
    /// Values (bf16); same layout as keys.
    pub v: DevView,
    /// Key/value layout.
    pub kv_st: Strides,
    /// Output (bf16).
    pub o: DevView,
    /// Output layout.
    pub o_st: Strides,
    /// Valid keys per key batch (i32), or null for all `lk`.
    pub key_len: DevView,
    /// `[heads][bias_w]` f32 relative-position bias, or null: key j of a query at reference
    /// position `qref` adds `bias[h][clamp(j - qref + bias_r, 0, bias_w - 1)]`.
    pub bias: DevView,
    /// Offset of relative distance 0 in a bias row.
    pub bias_r: usize,
    /// Width of a bias row.
    pub bias_w: usize,
    /// `qref` is the query's position (`q_offset + i`, or `*pos`) when true, its row `i` else.
    pub bias_qpos: bool,
    /// Mask keys after the query position.
    pub causal: bool,
    /// Position of query row 0.
    pub q_offset: usize,
    /// Query batches per key batch.
    pub kv_div: usize,
    /// Decode mode: an i32 on the device holding the position of the (single) query.
    pub pos: DevView,
    /// Decode mode: the current token's keys/values (`[batch][heads * dh]` rows with stride
    /// `new_batch`) to write into the cache at `*pos` first.
    pub new_kv: Option<(DevView, DevView, usize)>,
    /// Use the row-wise kernel even where the flash kernel applies.
    pub force_rows: bool,
}

/// Which flash-attention kernel runs head size 64 where the flash path applies (the
/// row-wise kernel takes every other call whatever this says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKernel {
    /// [`FlashKernel::V3`] where it passed its self-check
    /// ([`CudaDevice::fast_kernels_checked`]), else [`FlashKernel::V2`] where that passed,
    /// else [`FlashKernel::Old`]. `T0_CUDA_FLASH=old` forces Old, `=v2` V2 (Old if V2 failed
    /// its check), `=v3p` [`FlashKernel::V3Pipe`], `=v3p64` [`FlashKernel::V3Pipe64`] (these
    /// two are not self-checked: opt-in).
    Auto,
    /// `flash_attn_d64`: 64 queries per block, K/V tiles loaded synchronously.
    Old,
    /// `flash_attn_d64_v2`: 128 queries per block (8 warps), K/V tiles double-buffered with
    /// cp.async, exp2 softmax, masks only on tiles that need them.
    V2,
    /// `flash_attn_d64_v3`: as V2 with one barrier per tile (K and V double-buffered
    /// separately) and the bias table cached in shared memory.
    V3,
    /// `flash_attn_d64_v3p`: V3 with the next tile's QK^T software-pipelined into each tile's
    /// softmax and PV (168 registers: one block per SM). Experimental; never chosen by Auto.
    V3Pipe,
    /// `flash_attn_d64_v3p64`: V3Pipe with 64 queries per block (4 warps, ~160 registers:
    /// three blocks per SM). Experimental; never chosen by Auto.
    V3Pipe64,
}

impl FlashKernel {
    fn resolve(self, dev: &CudaDevice) -> FlashKernel {
        match self {
            FlashKernel::Auto => {
                let env = std::env::var("T0_CUDA_FLASH").unwrap_or_default();
                if env == "old" {
                    return FlashKernel::Old;
                }
                if env == "v3p" {
                    return FlashKernel::V3Pipe;
                }
                if env == "v3p64" {
                    return FlashKernel::V3Pipe64;
                }
                if env == "v3" {
                    return FlashKernel::V3;
                }
                let (v2, _, _) = dev.fast_kernels_checked();
                if env == "v2" {
                    return if v2 {
                        FlashKernel::V2
                    } else {
                        FlashKernel::Old
                    };
                }
                // The fastest kernel that passed its check, timed once per device.
                dev.flash_choice()
            }
            k => k,
        }
    }
}

/// Queues one attention call (flash kernel chosen by [`FlashKernel::Auto`]).
pub fn attention(dev: &CudaDevice, at: &Attention) -> Result<()> {
    attention_with(dev, at, FlashKernel::Auto)
}

/// Queues one attention call with the given flash kernel (for tests and benchmarks).
pub fn attention_with(dev: &CudaDevice, at: &Attention, flash: FlashKernel) -> Result<()> {
    let Attention {
        batch,
        heads,
        dh,
        lq,
        lk,
        ..
    } = *at;
    if batch == 0 || lq == 0 || heads == 0 {
        return Ok(());
    }
    if dh == 0 || dh > 256 || at.kv_div == 0 {
        return Err(CudaError::Shape(format!(
            "attention head size {dh} (1..=256) / kv_div {}",
            at.kv_div
        )));
    }
    let kv_batches = batch.div_ceil(at.kv_div);
    let ov = || CudaError::Shape("attention extent overflows".into());
    let ext = |b: usize, st: Strides, rows: usize| -> Result<usize> {
        let last = (b - 1)
            .checked_mul(st.batch)
            .and_then(|x| x.checked_add((rows.max(1) - 1).checked_mul(st.row)?))
            .and_then(|x| x.checked_add(heads * dh))
            .ok_or_else(ov)?;
        Ok(last * 2)
    };
    need(at.q, ext(batch, at.q_st, lq)?, "attention q")?;
    need(at.o, ext(batch, at.o_st, lq)?, "attention o")?;
    need(at.k, ext(kv_batches, at.kv_st, lk)?, "attention k")?;
    need(at.v, ext(kv_batches, at.kv_st, lk)?, "attention v")?;
    if !at.key_len.is_null() {
        need(at.key_len, kv_batches * 4, "attention key_len")?;
    }
    if !at.bias.is_null() {
        if at.bias_w == 0 {
            return Err(CudaError::Shape("attention bias of width 0".into()));
        }
        need(at.bias, heads * at.bias_w * 4, "attention bias")?;
    }
    let decode = !at.pos.is_null();
    if decode {
        need(at.pos, 4, "attention pos")?;
        if lq != 1 {
            return Err(CudaError::Shape(
                "decode attention takes one query row".into(),
            ));
        }
    }
    let (nk, nv, nbs) = match at.new_kv {
        Some((k, v, bs)) => {
            if !decode || at.kv_div != 1 {
                return Err(CudaError::Shape(
                    "appending to a KV cache needs decode mode and kv_div 1".into(),
                ));
            }
            let e = ((batch - 1) * bs + heads * dh) * 2;
            need(k, e, "attention new k")?;
            need(v, e, "attention new v")?;
            (k.ptr(), v.ptr(), bs)
        }
        None => (0, 0, 0),
    };
    let flash_ok = dh == 64
        && lq >= 2
        && !decode
        && !at.force_rows
        && [at.q_st, at.kv_st, at.o_st]
            .iter()
            .all(|s| s.batch % 8 == 0 && s.row % 8 == 0)
        && [at.q, at.k, at.v, at.o].iter().all(|v| v.ptr() % 16 == 0);
    let common_tail = |args: &mut Vec<Arg>| {
        args.extend([
            Arg::P(at.q.ptr()),
            Arg::L(at.q_st.batch as i64),
            Arg::L(at.q_st.row as i64),
            Arg::P(at.k.ptr()),
            Arg::P(at.v.ptr()),
            Arg::L(at.kv_st.batch as i64),
            Arg::L(at.kv_st.row as i64),
            Arg::P(at.o.ptr()),
            Arg::L(at.o_st.batch as i64),
            Arg::L(at.o_st.row as i64),
        ]);
    };
    let (lqi, lki) = (i32_of(lq, "lq")?, i32_of(lk, "lk")?);
    if flash_ok {
        let kern = flash.resolve(dev);
        let mut args = Vec::with_capacity(20);
        common_tail(&mut args);
        args.extend([
            Arg::I(lqi),
            Arg::I(lki),
            Arg::P(at.key_len.ptr()),
            Arg::P(at.bias.ptr()),
            Arg::I(i32_of(at.bias_r, "bias R")?),
            Arg::I(i32_of(at.bias_w, "bias W")?),
            Arg::I(at.bias_qpos as i32),
            Arg::I(at.causal as i32),
            Arg::I(i32_of(at.q_offset, "q_offset")?),
            Arg::I(i32_of(at.kv_div, "kv_div")?),
        ]);
        if kern != FlashKernel::Old {
            // (kernel, query rows and threads per block)
            let (k, rows) = match kern {
                FlashKernel::V3 => (Kernel::FlashAttnD64V3, 128),
                FlashKernel::V3Pipe => (Kernel::FlashAttnD64V3P, 128),
                FlashKernel::V3Pipe64 => (Kernel::FlashAttnD64V3P64, 64),
                _ => (Kernel::FlashAttnD64V2, 128),
            };
            dev.launch(
                k,
                (lq.div_ceil(rows) as u32, heads as u32, batch as u32),
                (2 * rows as u32, 1, 1),
                0,
                &args,
            )
        } else {
            dev.launch(
                Kernel::FlashAttnD64,
                (lq.div_ceil(64) as u32, heads as u32, batch as u32),
                (128, 1, 1),
                0,
                &args,
            )
        }
    } else {
        let smem = (800 + lk) * 4;
        if smem > 200 * 1024 {
            return Err(CudaError::Shape(format!(
                "row-wise attention over {lk} keys exceeds shared memory"
            )));
        }
        let mut args = Vec::with_capacity(24);
        common_tail(&mut args);
        args.extend([
            Arg::I(lqi),
            Arg::I(lki),
            Arg::P(at.pos.ptr()),
            Arg::I(i32_of(at.q_offset, "q_offset")?),
            Arg::I(at.causal as i32),
            Arg::P(at.key_len.ptr()),
            Arg::P(at.bias.ptr()),
            Arg::I(i32_of(at.bias_r, "bias R")?),
            Arg::I(i32_of(at.bias_w, "bias W")?),
            Arg::I(at.bias_qpos as i32),
            Arg::I(i32_of(at.kv_div, "kv_div")?),
            Arg::I(i32_of(dh, "dh")?),
            Arg::P(nk),
            Arg::P(nv),
            Arg::L(nbs as i64),
        ]);
        let rows = batch.checked_mul(lq).ok_or_else(ov)?;
        if rows > 65535 {
            return Err(CudaError::Shape(format!(
                "row-wise attention over {rows} query rows (at most 65535)"
            )));
        }
        let grid = (heads as u32, i32_of(rows, "batch * lq")? as u32, 1);
        let dec_ok = dh == 64
            && ROWS_D64.load(std::sync::atomic::Ordering::Relaxed)
            && !std::env::var("T0_CUDA_ROWS").is_ok_and(|v| v == "old")
            && [at.q_st, at.kv_st, at.o_st]
                .iter()
                .all(|s| s.batch % 2 == 0 && s.row % 2 == 0)
            && nbs % 2 == 0
            && [at.q.ptr(), at.k.ptr(), at.v.ptr(), at.o.ptr(), nk, nv]
                .iter()
                .all(|p| p % 4 == 0);
        if dec_ok {
            return dev.launch(
                Kernel::AttnDecD64,
                grid,
                (128, 1, 1),
                ((256 + lk) * 4) as u32,
                &args,
            );
        }
        dev.launch(Kernel::AttnRows, grid, (256, 1, 1), smem as u32, &args)
    }
}

/// Whether row-wise attention with head size 64 (decode) uses `attn_dec_d64` (default) or
/// the general `attn_rows` (also forced by `T0_CUDA_ROWS=old`); for tests and benchmarks.
pub fn set_rows_d64(on: bool) -> bool {
    ROWS_D64.swap(on, std::sync::atomic::Ordering::Relaxed)
}

static ROWS_D64: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Checks `flash_attn_d64_v2` and `flash_attn_d64_v3` against `flash_attn_d64` (three cases:
/// 2 x 2 heads x 200 x 200 with key lengths 200 / 77 and a position-indexed bias; causal
/// 70 x 150 from offset 60 with a row-indexed bias; 260 x 300, key length 290, T5's R 128 /
/// W 257 table by position from offset 7) and `rmsnorm_vec` against `rmsnorm` (5 x 4096 and 3 x 768, bf16 and
/// f32 out) on random inputs: (flash v2 ok, norm ok, flash v3 ok), each true when every output is finite and
/// agrees to 1e-2 relative (1e-5 for f32 norm outputs). Used by
/// [`CudaDevice::fast_kernels_checked`].
pub fn fast_kernels_self_check(dev: &std::sync::Arc<CudaDevice>) -> Result<(bool, bool, bool)> {
    use crate::reference::{Rng, from_bf16_bits, rel_err, to_bf16_bits};
    let mut rng = Rng::new(0x5eed);
    let agree = |a: &[f32], b: &[f32], tol: f64| {
        let want: Vec<f64> = b.iter().map(|&v| v as f64).collect();
        a.iter().all(|v| v.is_finite()) && rel_err(a, &want) <= tol
    };
    let bf16_buf = |rng: &mut Rng, n: usize| -> Result<crate::DevBuf> {
        let b = dev.alloc(n * 2)?;
        dev.upload(&b, 0, &to_bf16_bits(&rng.bf16_vec(n, 1.0)))?;
        Ok(b)
    };
    let (mut flash_ok, mut v3_ok) = (true, true);
    // (batch, heads, lq, lk, key lengths, bias by position, causal, q_offset, bias R and W)
    type Case = (
        usize,
        usize,
        usize,
        usize,
        &'static [i32],
        bool,
        bool,
        usize,
        (usize, usize),
    );
    let cases: [Case; 3] = [
        (2, 2, 200, 200, &[200, 77], true, false, 0, (40, 81)),
        (2, 1, 70, 150, &[], false, true, 60, (40, 81)),
        // T5's table (R 128, W 257): whole tiles inside the table (v3's shared-memory path).
        (1, 2, 260, 300, &[290], true, false, 7, (128, 257)),
    ];
    for (batch, heads, lq, lk, lens, qpos, causal, q_offset, (br, bw)) in cases {
        let inner = heads * 64;
        let q = bf16_buf(&mut rng, batch * lq * inner)?;
        let k = bf16_buf(&mut rng, batch * lk * inner)?;
        let v = bf16_buf(&mut rng, batch * lk * inner)?;
        let tab: Vec<f32> = (0..heads * bw).map(|_| rng.uniform()).collect();
        let tb = dev.alloc(tab.len() * 4)?;
        dev.upload(&tb, 0, &tab)?;
        let lb = dev.alloc(batch * 4)?;
        if !lens.is_empty() {
            dev.upload(&lb, 0, lens)?;
        }
        let n = batch * lq * inner;
        let mut outs = Vec::new();
        for kern in [FlashKernel::Old, FlashKernel::V2, FlashKernel::V3] {
            let o = dev.alloc(n * 2)?;
            dev.memset(&o, 0, n * 2, 0xff)?;
            let at = Attention {
                batch,
                heads,
                dh: 64,
                lq,
                lk,
                q: q.view(),
                q_st: Strides {
                    batch: lq * inner,
                    row: inner,
                },
                k: k.view(),
                v: v.view(),
                kv_st: Strides {
                    batch: lk * inner,
                    row: inner,
                },
                o: o.view(),
                o_st: Strides {
                    batch: lq * inner,
                    row: inner,
                },
                key_len: if lens.is_empty() {
                    DevView::NULL
                } else {
                    lb.view()
                },
                bias: tb.view(),
                bias_r: br,
                bias_w: bw,
                bias_qpos: qpos,
                causal,
                q_offset,
                kv_div: 1,
                pos: DevView::NULL,
                new_kv: None,
                force_rows: false,
            };
            attention_with(dev, &at, kern)?;
            let mut h = vec![0u16; n];
            dev.download(&o, 0, &mut h)?;
            outs.push(from_bf16_bits(&h));
        }
        flash_ok &= agree(&outs[1], &outs[0], 1e-2);
        v3_ok &= agree(&outs[2], &outs[0], 1e-2);
    }
    let mut norm_ok = true;
    for (rows, d) in [(5usize, 4096usize), (3, 768)] {
        let x: Vec<f32> = (0..rows * d).map(|_| rng.uniform() * 3.0).collect();
        let w: Vec<f32> = (0..d).map(|_| rng.uniform()).collect();
        let (xb, wb) = (dev.alloc(x.len() * 4)?, dev.alloc(w.len() * 4)?);
        dev.upload(&xb, 0, &x)?;
        dev.upload(&wb, 0, &w)?;
        for bf in [true, false] {
            let mut outs = Vec::new();
            for kern in [NormKernel::Old, NormKernel::Vec] {
                let y = dev.alloc(rows * d * 4)?;
                dev.memset(&y, 0, rows * d * 4, 0xff)?;
                rmsnorm_with(
                    dev,
                    xb.view(),
                    wb.view(),
                    y.view(),
                    (rows, d),
                    1e-6,
                    bf,
                    kern,
                )?;
                let got = if bf {
                    let mut h = vec![0u16; rows * d];
                    dev.download(&y, 0, &mut h)?;
                    from_bf16_bits(&h)
                } else {
                    let mut h = vec![0f32; rows * d];
                    dev.download(&y, 0, &mut h)?;
                    h
                };
                outs.push(got);
            }
            norm_ok &= agree(&outs[1], &outs[0], if bf { 1e-2 } else { 1e-5 });
        }
    }
    Ok((flash_ok, norm_ok, v3_ok))
}

/// Verifies the two pipelined flash variants against the old kernel (a T5-table case and a
/// causal one), then times every flash kernel that passed (v2, v3 from
/// [`CudaDevice::fast_kernels_checked`], the pipelined ones from here) on 4 x 512 tokens of
/// 64 heads in the engine's fused-QKV layout with T5's bias table (R 128, W 257) and key
/// lengths; returns the fastest ([`FlashKernel::Old`] when none passed) and prints the
/// timings. Used once per device by [`CudaDevice::flash_choice`].
pub fn flash_timing_choice(dev: &std::sync::Arc<CudaDevice>) -> Result<FlashKernel> {
    use crate::reference::{Rng, from_bf16_bits, rel_err};
    let (v2_ok, _, v3_ok) = dev.fast_kernels_checked();
    let mut rng = Rng::new(0xf1a5);
    let run = |kern: FlashKernel,
               qkv: &crate::DevBuf,
               o: &crate::DevBuf,
               tb: &crate::DevBuf,
               lb: &crate::DevBuf,
               (batch, heads, len, causal): (usize, usize, usize, bool)|
     -> Result<()> {
        let inner = heads * 64;
        let st = Strides {
            batch: len * 3 * inner,
            row: 3 * inner,
        };
        let at = Attention {
            batch,
            heads,
            dh: 64,
            lq: len,
            lk: len,
            q: qkv.view(),
            q_st: st,
            k: qkv.view().from(inner * 2)?,
            v: qkv.view().from(inner * 4)?,
            kv_st: st,
            o: o.view(),
            o_st: Strides {
                batch: len * inner,
                row: inner,
            },
            key_len: lb.view(),
            bias: tb.view(),
            bias_r: 128,
            bias_w: 257,
            bias_qpos: !causal,
            causal,
            q_offset: 0,
            kv_div: 1,
            pos: DevView::NULL,
            new_kv: None,
            force_rows: false,
        };
        attention_with(dev, &at, kern)
    };
    let setup =
        |rng: &mut Rng, batch: usize, heads: usize, len: usize, lens: &[i32]| -> Result<_> {
            let inner = heads * 64;
            let qkv = dev.alloc(batch * len * 3 * inner * 2)?;
            init_uniform_bf16(
                dev,
                qkv.view(),
                batch * len * 3 * inner,
                rng.below(1 << 30) as u32,
                1.0,
            )?;
            let tab: Vec<f32> = (0..heads * 257).map(|_| rng.uniform()).collect();
            let tb = dev.alloc(tab.len() * 4)?;
            dev.upload(&tb, 0, &tab)?;
            let lb = dev.alloc(batch * 4)?;
            dev.upload(&lb, 0, lens)?;
            let o = dev.alloc(batch * len * inner * 2)?;
            Ok((qkv, tb, lb, o))
        };
    // Correctness of the pipelined variants against the old kernel.
    let mut pipe_ok = [true, true];
    for (batch, heads, len, causal, lens) in [
        (2usize, 2usize, 300usize, false, &[300i32, 171][..]),
        (1, 3, 200, true, &[200][..]),
    ] {
        let (qkv, tb, lb, o) = setup(&mut rng, batch, heads, len, lens)?;
        let n = batch * len * heads * 64;
        let mut outs = Vec::new();
        for kern in [FlashKernel::Old, FlashKernel::V3Pipe, FlashKernel::V3Pipe64] {
            dev.memset(&o, 0, n * 2, 0xff)?;
            run(kern, &qkv, &o, &tb, &lb, (batch, heads, len, causal))?;
            let mut h = vec![0u16; n];
            dev.download(&o, 0, &mut h)?;
            outs.push(from_bf16_bits(&h));
        }
        let want: Vec<f64> = outs[0].iter().map(|&v| v as f64).collect();
        for (i, ok) in pipe_ok.iter_mut().enumerate() {
            let got = &outs[i + 1];
            *ok &= got.iter().all(|v| v.is_finite()) && rel_err(got, &want) <= 1e-2;
        }
    }
    // Timing on the G3 layout.
    let (batch, heads, len) = (4usize, 64usize, 512usize);
    let (qkv, tb, lb, o) = setup(&mut rng, batch, heads, len, &[512; 4])?;
    let mut best = (FlashKernel::Old, f64::INFINITY);
    let mut line = String::from("t0-cuda: flash attention 4x512, 64 heads (ms):");
    for (kern, ok) in [
        (FlashKernel::V2, v2_ok),
        (FlashKernel::V3, v3_ok),
        (FlashKernel::V3Pipe, pipe_ok[0]),
        (FlashKernel::V3Pipe64, pipe_ok[1]),
    ] {
        if !ok {
            line += &format!(" {kern:?} failed its check;");
            continue;
        }
        run(kern, &qkv, &o, &tb, &lb, (batch, heads, len, false))?;
        dev.synchronize()?;
        let mut t = Vec::new();
        for _ in 0..5 {
            let s = std::time::Instant::now();
            run(kern, &qkv, &o, &tb, &lb, (batch, heads, len, false))?;
            dev.synchronize()?;
            t.push(s.elapsed().as_secs_f64() * 1e3);
        }
        t.sort_by(|a, b| a.total_cmp(b));
        let ms = t[2];
        line += &format!(" {kern:?} {ms:.4};");
        if ms < best.1 {
            best = (kern, ms);
        }
    }
    eprintln!("{line} chosen {:?}", best.0);
    Ok(best.0)
}

/// Which RMS-norm kernel runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormKernel {
    /// [`NormKernel::Vec`] where the row length and alignment allow it, else
    /// [`NormKernel::Old`]; always `Old` when `T0_CUDA_RMSNORM=old` or `Vec` failed its
    /// self-check ([`CudaDevice::fast_kernels_checked`]).
    Auto,
    /// `rmsnorm`: any `d`, scalar loads, the row read twice.
    Old,
    /// `rmsnorm_vec`: 16-byte loads, the row read once and kept in registers. Needs `d` a
    /// multiple of 4 up to [`RMSNORM_VEC_MAX_D`], `x` and `w` 16-byte aligned, `y` 16-byte
    /// (f32 out) or 8-byte (bf16 out) aligned; an error otherwise.
    Vec,
}

/// Longest row `rmsnorm_vec` takes (256 threads x 8 float4 each).
pub const RMSNORM_VEC_MAX_D: usize = 256 * 8 * 4;

/// T5 RMS norm of `rows` f32 rows of `d`: `y = w * x / sqrt(mean(x^2) + eps)`, y in bf16 or f32
/// (kernel chosen by [`NormKernel::Auto`]).
pub fn rmsnorm(
    dev: &CudaDevice,
    x: DevView,
    w: DevView,
    y: DevView,
    (rows, d): (usize, usize),
    eps: f32,
    out_bf16: bool,
) -> Result<()> {
    rmsnorm_with(dev, x, w, y, (rows, d), eps, out_bf16, NormKernel::Auto)
}

/// As [`rmsnorm`] with the given kernel (for tests and benchmarks).
#[allow(clippy::too_many_arguments)]
pub fn rmsnorm_with(
    dev: &CudaDevice,
    x: DevView,
    w: DevView,
    y: DevView,
    (rows, d): (usize, usize),
    eps: f32,
    out_bf16: bool,
    kernel: NormKernel,
) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    need(x, rows * d * 4, "rmsnorm x")?;
    need(w, d * 4, "rmsnorm w")?;
    need(y, rows * d * if out_bf16 { 2 } else { 4 }, "rmsnorm y")?;
    let y_align = if out_bf16 { 8 } else { 16 };
    let vec_ok = d > 0
        && d.is_multiple_of(4)
        && d <= RMSNORM_VEC_MAX_D
        && x.ptr().is_multiple_of(16)
        && w.ptr().is_multiple_of(16)
        && y.ptr().is_multiple_of(y_align);
    let use_vec = match kernel {
        NormKernel::Auto => {
            vec_ok
                && !std::env::var("T0_CUDA_RMSNORM").is_ok_and(|v| v == "old")
                && dev.fast_kernels_checked().1
        }
        NormKernel::Old => false,
        NormKernel::Vec if vec_ok => true,
        NormKernel::Vec => {
            return Err(CudaError::Shape(format!(
                "rmsnorm_vec needs d a multiple of 4 up to {RMSNORM_VEC_MAX_D} and aligned views (d {d})"
            )));
        }
    };
    // rmsnorm_vec: each thread holds at most 4 float4 up to d = 4096 (blockDim a multiple
    // of 32, at most 256), at most 8 above.
    let (kern, threads) = if use_vec {
        let t = (d / 4).div_ceil(4).next_multiple_of(32).clamp(32, 256);
        (Kernel::RmsNormVec, t as u32)
    } else {
        (Kernel::RmsNorm, 256)
    };
    dev.launch(
        kern,
        (rows as u32, 1, 1),
        (threads, 1, 1),
        0,
        &[
            Arg::P(x.ptr()),
            Arg::P(w.ptr()),
            Arg::P(y.ptr()),
            Arg::I(i32_of(d, "d")?),
            Arg::F(eps),
            Arg::I(out_bf16 as i32),
        ],
    )
}

/// Largest row the norm-folded GEMV ([`gemv_rms`]) takes: two 8-element chunks per thread.
pub const GEMV_RMS_MAX_K: usize = 4096;

/// Batch-1 `out = W · rmsnorm(x)` for decode: the T5 RMS norm of the f32 row `x` (weight `g`,
/// f32, `eps`) rounded to bf16 exactly as [`rmsnorm`] does, then the GEMV with epilogue `epi`
/// — one kernel instead of two. Needs `k % 8 == 0`, `k <= GEMV_RMS_MAX_K`, `ldw % 8 == 0`,
/// `x`, `g` and `w` 16-byte aligned; other shapes get a [`CudaError::Shape`] (callers fall
/// back to [`rmsnorm`] + [`gemm`]).
#[allow(clippy::too_many_arguments)]
pub fn gemv_rms(
    dev: &CudaDevice,
    x: DevView,
    g: DevView,
    w: DevView,
    ldw: usize,
    out: DevView,
    (n, k): (usize, usize),
    eps: f32,
    epi: Epilogue,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    if !gemv_rms_fits(x, g, w, ldw, k) {
        return Err(CudaError::Shape(format!(
            "gemv_rms needs k % 8 == 0, k <= {GEMV_RMS_MAX_K}, ldw % 8 == 0 and 16-byte aligned operands (k {k}, ldw {ldw})"
        )));
    }
    if matches!(epi, Epilogue::GeGlu | Epilogue::SwiGlu) && n % 2 != 0 {
        return Err(CudaError::Shape(format!(
            "gated epilogue needs even n, got {n}"
        )));
    }
    let ov = || CudaError::Shape("gemv_rms extent overflows".into());
    need(x, k * 4, "gemv_rms x")?;
    need(g, k * 4, "gemv_rms g")?;
    need(w, extent(n, ldw, k).ok_or_else(ov)? * 2, "gemv_rms w")?;
    need(
        out,
        epi.out_cols(n).checked_mul(epi.out_size()).ok_or_else(ov)?,
        "gemv_rms out",
    )?;
    let pf = dev.take_next_prefetch();
    dev.launch(
        Kernel::GemvRms,
        (n.div_ceil(4) as u32, 1, 1),
        (256, 1, 1),
        0,
        &[
            Arg::P(x.ptr()),
            Arg::P(g.ptr()),
            Arg::P(w.ptr()),
            Arg::L(ldw as i64),
            Arg::P(out.ptr()),
            Arg::I(i32_of(n, "n")?),
            Arg::I(i32_of(k, "k")?),
            Arg::I(epi.code()),
            Arg::F(eps),
            Arg::P(pf.0),
            Arg::L(pf.1 as i64),
        ],
    )
}

/// Bytes of shared memory the decode attention inside [`gemv_rms_attn`] needs
/// (`dec_head_attention`): 32 key groups x 64 partial outputs, then one score per key.
fn head_attention_smem(lk: usize) -> usize {
    (2048 + lk) * 4
}

/// The attention half of [`gemv_rms_attn`] (batch 1, head size 64).
#[derive(Debug, Clone, Copy)]
pub struct HeadAttention {
    /// Self-attention over a KV cache (the GEMV makes q, k, v; the new key and value are
    /// appended at row `*pos`; keys `0..=*pos`, bias row indexed by the position), or
    /// cross-attention (the GEMV makes q; keys below `key_len[0]`, no bias).
    pub self_attn: bool,
    /// Keys: element (j, h, d) at `k[j * kv_row + h * 64 + d]` (cache or encoder K).
    pub k: DevView,
    /// Values, laid out as `k`.
    pub v: DevView,
    /// Row stride of `k` and `v` in elements.
    pub kv_row: usize,
    /// Key rows in `k`/`v` (cache capacity or encoder length).
    pub lk: usize,
    /// Device `int` position (self-attention).
    pub pos: DevView,
    /// Device `int` key count of the encoded input (cross-attention; may be null).
    pub key_len: DevView,
    /// `[heads][bias_w]` f32 position-bias table (self-attention; may be null).
    pub bias: DevView,
    /// Bias table centre.
    pub bias_r: usize,
    /// Bias table width.
    pub bias_w: usize,
    /// `heads` device ints, zero between launches (the kernel leaves them zero).
    pub counters: DevView,
    /// Output `[heads * 64]` bf16.
    pub att: DevView,
}

/// Batch-1 decode: `out = W · rmsnorm(x)` in bf16 (q, k, v of every head for self-attention,
/// q for cross-attention; `heads * 64 * parts` rows) and then each head's attention (see
/// [`HeadAttention`]) in the same kernel, by the block that completes the head's rows. Same
/// operand rules as [`gemv_rms`]; head size 64.
#[allow(clippy::too_many_arguments)]
pub fn gemv_rms_attn(
    dev: &CudaDevice,
    x: DevView,
    g: DevView,
    w: DevView,
    out: DevView,
    (heads, k): (usize, usize),
    eps: f32,
    at: &HeadAttention,
) -> Result<()> {
    if heads == 0 {
        return Ok(());
    }
    let inner = heads * 64;
    let parts = if at.self_attn { 3 } else { 1 };
    let n = parts * inner;
    if !gemv_rms_fits(x, g, w, k, k) {
        return Err(CudaError::Shape(format!(
            "gemv_rms_attn needs k % 8 == 0, k <= {GEMV_RMS_MAX_K} and 16-byte aligned operands (k {k})"
        )));
    }
    if at.lk == 0 || at.kv_row < inner || !at.kv_row.is_multiple_of(2) {
        return Err(CudaError::Shape(format!(
            "gemv_rms_attn: {} key rows of stride {} for {inner} columns",
            at.lk, at.kv_row
        )));
    }
    let smem = head_attention_smem(at.lk);
    if smem > 200 * 1024 {
        return Err(CudaError::Shape(format!(
            "gemv_rms_attn over {} keys exceeds shared memory",
            at.lk
        )));
    }
    if [out.ptr(), at.k.ptr(), at.v.ptr(), at.att.ptr()]
        .iter()
        .any(|p| p % 16 != 0)
        || !at.kv_row.is_multiple_of(8)
    {
        return Err(CudaError::Shape(format!(
            "gemv_rms_attn needs 16-byte aligned out, k, v, att and a key row stride that is a multiple of 8 (stride {})",
            at.kv_row
        )));
    }
    let ov = || CudaError::Shape("gemv_rms_attn extent overflows".into());
    need(x, k * 4, "gemv_rms_attn x")?;
    need(g, k * 4, "gemv_rms_attn g")?;
    need(w, extent(n, k, k).ok_or_else(ov)? * 2, "gemv_rms_attn w")?;
    need(out, n * 2, "gemv_rms_attn out")?;
    let kv = extent(at.lk, at.kv_row, inner).ok_or_else(ov)? * 2;
    need(at.k, kv, "gemv_rms_attn k")?;
    need(at.v, kv, "gemv_rms_attn v")?;
    need(at.counters, heads * 4, "gemv_rms_attn counters")?;
    need(at.att, inner * 2, "gemv_rms_attn att")?;
    if at.self_attn {
        need(at.pos, 4, "gemv_rms_attn pos")?;
    }
    if !at.key_len.is_null() {
        need(at.key_len, 4, "gemv_rms_attn key_len")?;
    }
    if !at.bias.is_null() {
        if at.bias_w == 0 {
            return Err(CudaError::Shape("attention bias of width 0".into()));
        }
        need(at.bias, heads * at.bias_w * 4, "gemv_rms_attn bias")?;
    }
    let pf = dev.take_next_prefetch();
    dev.launch(
        Kernel::GemvRmsAttn,
        (n.div_ceil(4) as u32, 1, 1),
        (256, 1, 1),
        smem as u32,
        &[
            Arg::P(x.ptr()),
            Arg::P(g.ptr()),
            Arg::P(w.ptr()),
            Arg::L(k as i64),
            Arg::P(out.ptr()),
            Arg::I(i32_of(n, "n")?),
            Arg::I(i32_of(k, "k")?),
            Arg::F(eps),
            Arg::P(at.counters.ptr()),
            Arg::I(i32_of(inner, "inner")?),
            Arg::I(parts as i32),
            Arg::P(at.k.ptr()),
            Arg::P(at.v.ptr()),
            Arg::L(at.kv_row as i64),
            Arg::I(i32_of(at.lk, "lk")?),
            Arg::P(if at.self_attn { at.pos.ptr() } else { 0 }),
            Arg::P(if at.self_attn { 0 } else { at.key_len.ptr() }),
            Arg::P(at.bias.ptr()),
            Arg::I(i32_of(at.bias_r, "bias R")?),
            Arg::I(i32_of(at.bias_w.max(1), "bias W")?),
            Arg::P(at.att.ptr()),
            Arg::P(pf.0),
            Arg::L(pf.1 as i64),
        ],
    )
}

/// Whether [`gemv_rms`] takes these operands.
pub fn gemv_rms_fits(x: DevView, g: DevView, w: DevView, ldw: usize, k: usize) -> bool {
    k > 0
        && k.is_multiple_of(8)
        && k <= GEMV_RMS_MAX_K
        && ldw >= k
        && ldw.is_multiple_of(8)
        && x.ptr().is_multiple_of(16)
        && g.ptr().is_multiple_of(16)
        && w.ptr().is_multiple_of(16)
}

/// `out[r] = table[ids[r]]` (bf16 table of `vocab` rows of `d`, f32 output rows).
pub fn embed(
    dev: &CudaDevice,
    ids: DevView,
    table: DevView,
    out: DevView,
    (rows, d, vocab): (usize, usize, usize),
) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    need(ids, rows * 4, "embed ids")?;
    need(table, vocab * d * 2, "embed table")?;
    need(out, rows * d * 4, "embed out")?;
    dev.launch(
        Kernel::Embed,
        (rows as u32, 1, 1),
        (256, 1, 1),
        0,
        &[
            Arg::P(ids.ptr()),
            Arg::P(table.ptr()),
            Arg::P(out.ptr()),
            Arg::I(i32_of(d, "d")?),
            Arg::I(i32_of(vocab, "vocab")?),
        ],
    )
}

fn grid_for(n: usize) -> u32 {
    n.div_ceil(256).clamp(1, 65535) as u32
}

/// `x += y` over `n` f32.
pub fn add(dev: &CudaDevice, x: DevView, y: DevView, n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    need(x, n * 4, "add x")?;
    need(y, n * 4, "add y")?;
    dev.launch(
        Kernel::AddF32,
        (grid_for(n), 1, 1),
        (256, 1, 1),
        0,
        &[Arg::P(x.ptr()), Arg::P(y.ptr()), Arg::L(n as i64)],
    )
}

/// `out[r] = log_softmax(logits[r])[target[r]]` (0 where target < 0).
pub fn log_softmax_gather(
    dev: &CudaDevice,
    logits: DevView,
    target: DevView,
    out: DevView,
    (rows, vocab): (usize, usize),
) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    need(logits, rows * vocab * 4, "log_softmax logits")?;
    need(target, rows * 4, "log_softmax target")?;
    need(out, rows * 4, "log_softmax out")?;
    dev.launch(
        Kernel::LogSoftmaxGather,
        (rows as u32, 1, 1),
        (256, 1, 1),
        0,
        &[
            Arg::P(logits.ptr()),
            Arg::I(i32_of(vocab, "vocab")?),
            Arg::P(target.ptr()),
            Arg::P(out.ptr()),
        ],
    )
}

/// Greedy step over `rows` rows of logits (see the kernel): `next[r] = argmax` (column
/// `suppress` excluded), optional finished flags and token history at column `*pos`.
#[allow(clippy::too_many_arguments)]
pub fn argmax_step(
    dev: &CudaDevice,
    logits: DevView,
    (rows, vocab): (usize, usize),
    next: DevView,
    hist: Option<(DevView, usize, DevView)>,
    done: DevView,
    eos: u32,
    pad: u32,
    suppress: Option<u32>,
) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    need(logits, rows * vocab * 4, "argmax logits")?;
    need(next, rows * 4, "argmax next")?;
    if !done.is_null() {
        need(done, rows * 4, "argmax done")?;
    }
    let (hp, hs, pp) = match hist {
        Some((h, stride, pos)) => {
            need(h, rows * stride * 4, "argmax hist")?;
            need(pos, 4, "argmax pos")?;
            (h.ptr(), stride, pos.ptr())
        }
        None => (0, 0, 0),
    };
    dev.launch(
        Kernel::ArgmaxStep,
        (rows as u32, 1, 1),
        (1024, 1, 1),
        0,
        &[
            Arg::P(logits.ptr()),
            Arg::I(i32_of(vocab, "vocab")?),
            Arg::P(next.ptr()),
            Arg::P(hp),
            Arg::I(i32_of(hs, "hist stride")?),
            Arg::P(pp),
            Arg::P(done.ptr()),
            Arg::I(eos as i32),
            Arg::I(pad as i32),
            Arg::I(suppress.map_or(-1, |s| s.min(i32::MAX as u32) as i32)),
        ],
    )
}

/// `*pos += 1` on the device.
pub fn advance_pos(dev: &CudaDevice, pos: DevView) -> Result<()> {
    need(pos, 4, "advance pos")?;
    dev.launch(
        Kernel::AdvancePos,
        (1, 1, 1),
        (32, 1, 1),
        0,
        &[Arg::P(pos.ptr())],
    )
}

/// f32 to bf16 (round to nearest even) over `n` elements.
pub fn f32_to_bf16(dev: &CudaDevice, src: DevView, dst: DevView, n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    need(src, n * 4, "f32_to_bf16 src")?;
    need(dst, n * 2, "f32_to_bf16 dst")?;
    dev.launch(
        Kernel::F32ToBf16,
        (grid_for(n), 1, 1),
        (256, 1, 1),
        0,
        &[Arg::P(src.ptr()), Arg::P(dst.ptr()), Arg::L(n as i64)],
    )
}

/// bf16 to f32 over `n` elements.
pub fn bf16_to_f32(dev: &CudaDevice, src: DevView, dst: DevView, n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    need(src, n * 2, "bf16_to_f32 src")?;
    need(dst, n * 4, "bf16_to_f32 dst")?;
    dev.launch(
        Kernel::Bf16ToF32,
        (grid_for(n), 1, 1),
        (256, 1, 1),
        0,
        &[Arg::P(src.ptr()), Arg::P(dst.ptr()), Arg::L(n as i64)],
    )
}

/// Fills `n` bf16 with hash-based uniform values in `[-scale, scale)`.
pub fn init_uniform_bf16(
    dev: &CudaDevice,
    dst: DevView,
    n: usize,
    seed: u32,
    scale: f32,
) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    need(dst, n * 2, "init_uniform dst")?;
    dev.launch(
        Kernel::InitUniform,
        (grid_for(n).min(4096), 1, 1),
        (256, 1, 1),
        0,
        &[
            Arg::P(dst.ptr()),
            Arg::L(n as i64),
            Arg::U(seed),
            Arg::F(scale),
        ],
    )
}

/// The feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// `max(x, 0)`.
    Relu,
    /// tanh GELU.
    GeluTanh,
    /// SiLU.
    Silu,
}

/// `gate = act(gate) * up` (or `act(gate)` without `up`) over `n` f32.
pub fn act(dev: &CudaDevice, gate: DevView, up: Option<DevView>, n: usize, act: Act) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    need(gate, n * 4, "act gate")?;
    let up = match up {
        Some(u) => {
            need(u, n * 4, "act up")?;
            u.ptr()
        }
        None => 0,
    };
    let code = match act {
        Act::Relu => 0,
        Act::GeluTanh => 1,
        Act::Silu => 2,
    };
    dev.launch(
        Kernel::ActF32,
        (grid_for(n), 1, 1),
        (256, 1, 1),
        0,
        &[
            Arg::P(gate.ptr()),
            Arg::P(up),
            Arg::L(n as i64),
            Arg::I(code),
        ],
    )
}

/// `x *= s` over `n` f32.
pub fn scale(dev: &CudaDevice, x: DevView, n: usize, s: f32) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    need(x, n * 4, "scale x")?;
    dev.launch(
        Kernel::ScaleF32,
        (grid_for(n), 1, 1),
        (256, 1, 1),
        0,
        &[Arg::P(x.ptr()), Arg::L(n as i64), Arg::F(s)],
    )
}

/// Converts `rows` rows of `cols` values (f32, or bf16 when `in_bf16`) from `src` into bf16
/// rows of `dst` with row stride `out_ld` elements.
pub fn convert_rows(
    dev: &CudaDevice,
    src: DevView,
    in_bf16: bool,
    dst: DevView,
    (rows, cols, out_ld): (usize, usize, usize),
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if out_ld < cols {
        return Err(CudaError::Shape(format!(
            "convert_rows: ld {out_ld} < cols {cols}"
        )));
    }
    need(
        src,
        rows * cols * if in_bf16 { 2 } else { 4 },
        "convert_rows src",
    )?;
    need(dst, ((rows - 1) * out_ld + cols) * 2, "convert_rows dst")?;
    dev.launch(
        Kernel::ConvertRows,
        (grid_for(rows * cols).min(8192), 1, 1),
        (256, 1, 1),
        0,
        &[
            Arg::P(src.ptr()),
            Arg::I(in_bf16 as i32),
            Arg::P(dst.ptr()),
            Arg::L(rows as i64),
            Arg::L(cols as i64),
            Arg::L(out_ld as i64),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epilogue_variant_codes_round_trip() {
        for v in [EpiVariant::General].into_iter().chain(EpiVariant::FAST) {
            assert_eq!(EpiVariant::from_code(v.code()), v);
        }
        assert_eq!(EpiVariant::Auto.code(), 0);
        assert_eq!(EpiVariant::Store.code(), 4);
        // Unknown codes mean the general path.
        assert_eq!(EpiVariant::from_code(5), EpiVariant::General);
        assert_eq!(EpiVariant::from_code(255), EpiVariant::General);
    }

    #[test]
    fn only_the_tma_store_changes_the_gated_epilogues() {
        for v in EpiVariant::FAST {
            let gated = v.epilogues().contains(&Epilogue::GeGlu);
            assert_eq!(gated, v == EpiVariant::Store, "{v:?}");
            assert_eq!(gated, v.epilogues().contains(&Epilogue::SwiGlu), "{v:?}");
            // Every fast variant covers the four plain epilogues.
            for e in [
                Epilogue::F32,
                Epilogue::AddF32,
                Epilogue::Bf16,
                Epilogue::Relu,
            ] {
                assert!(v.epilogues().contains(&e), "{v:?} {e:?}");
                assert!(EpiVariant::applies_to(e));
            }
        }
        assert!(EpiVariant::Auto.epilogues().is_empty());
        assert!(EpiVariant::General.epilogues().is_empty());
        assert!(!EpiVariant::applies_to(Epilogue::GeGlu));
    }

    #[test]
    fn tma_store_needs_16_byte_rows_and_no_split() {
        // The engine's shapes: qkv 12288 bf16, out-proj 4096 f32 (add), gate/up 20480 -> 10240.
        assert!(tma_store_fits(Epilogue::Bf16, 12288, 0x1000, 12288, 1));
        assert!(tma_store_fits(Epilogue::AddF32, 4096, 0x1000, 4096, 1));
        assert!(tma_store_fits(Epilogue::GeGlu, 20480, 0x1000, 10240, 1));
        // Split over K: never.
        assert!(!tma_store_fits(Epilogue::AddF32, 4096, 0x1000, 4096, 2));
        // Run 21's case: 260 bf16 columns (520 bytes) in rows of 264.
        assert!(!tma_store_fits(Epilogue::GeGlu, 520, 0x1000, 264, 1));
        // 264 columns in rows of 272: stored.
        assert!(tma_store_fits(Epilogue::SwiGlu, 528, 0x1000, 272, 1));
        // f32 516 columns = 2064 bytes: fits; bf16 516 = 1032 bytes: does not.
        assert!(tma_store_fits(Epilogue::F32, 516, 0x1000, 520, 1));
        assert!(!tma_store_fits(Epilogue::Bf16, 516, 0x1000, 520, 1));
        // Misaligned address or stride.
        assert!(!tma_store_fits(Epilogue::F32, 512, 0x1004, 512, 1));
        assert!(!tma_store_fits(Epilogue::Relu, 512, 0x1000, 516, 1));
    }

    #[test]
    fn tma_store_switch_turns_automatic_choice_off_and_on() {
        set_tma_store(false);
        assert!(!tma_store_enabled());
        set_tma_store(true);
        assert_eq!(tma_store_enabled(), tma_store_allowed());
    }
}
