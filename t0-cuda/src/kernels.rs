//! Our kernel sources (CUDA C, compiled at run time by NVRTC) and the ids of their kernels.
//!
//! The sources include no headers: bf16 is handled as raw 16-bit words and the tensor cores
//! through inline PTX (`mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32`, `ldmatrix`,
//! `cp.async`), so NVRTC needs no include path. Needs compute capability 8.0 or newer.

/// Helpers every module starts with.
pub const COMMON: &str = include_str!("kernels/common.cuh");
/// Matrix products (tensor-core GEMM, batch-1 GEMV).
pub const GEMM_SRC: &str = include_str!("kernels/gemm.cu");
/// Attention (flash for head size 64, row-wise for decode and other head sizes).
pub const ATTENTION_SRC: &str = include_str!("kernels/attention.cu");
/// Norms, gathers, softmax, argmax, conversions.
pub const ELEMENTWISE_SRC: &str = include_str!("kernels/elementwise.cu");
/// Hopper-only GEMM (wgmma), compiled for `compute_90a` on devices of compute capability 9.0.
pub const GEMM_SM90_SRC: &str = include_str!("kernels/gemm_sm90.cu");

/// Dynamic shared memory of the wgmma GEMM: 4 stages of (128 + 256) rows x 128 bytes, plus
/// 1 KiB for aligning the swizzled tiles.
pub const WGMMA_SMEM: u32 = 4 * 384 * 128 + 1024;

/// Dynamic shared memory of the warp-specialised TMA GEMM: the same 4 stages, 1 KiB for
/// alignment and 64 bytes of mbarriers.
pub const TMA_SMEM: u32 = 4 * 384 * 128 + 1024 + 64;

/// Dynamic shared memory of the TMA GEMM with the TMA-store epilogue ([`Kernel::GemmTmaS`],
/// [`Kernel::GemmTmaPS`]): [`TMA_SMEM`] plus 32 KiB of output staging (16 KiB per consumer
/// warpgroup). 230464 bytes, within the 227 KiB a block may opt in to on compute capability 9.0.
pub const TMA_S_SMEM: u32 = TMA_SMEM + 32768;

/// A compilation unit: compiled by NVRTC on first use, once per device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Module {
    /// [`GEMM_SRC`].
    Gemm,
    /// [`ATTENTION_SRC`].
    Attention,
    /// [`ELEMENTWISE_SRC`].
    Elementwise,
    /// [`GEMM_SM90_SRC`] (compute capability 9.0 only).
    GemmSm90,
}

impl Module {
    /// Every module.
    pub const ALL: [Module; 4] = [
        Module::Gemm,
        Module::Attention,
        Module::Elementwise,
        Module::GemmSm90,
    ];

    /// Index into per-device caches.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The module's name (for errors and logs).
    pub fn name(self) -> &'static str {
        match self {
            Module::Gemm => "gemm",
            Module::Attention => "attention",
            Module::Elementwise => "elementwise",
            Module::GemmSm90 => "gemm_sm90",
        }
    }

    /// The full source handed to NVRTC.
    pub fn source(self) -> String {
        let body = match self {
            Module::Gemm => GEMM_SRC,
            Module::Attention => ATTENTION_SRC,
            Module::Elementwise => ELEMENTWISE_SRC,
            Module::GemmSm90 => GEMM_SM90_SRC,
        };
        format!("{COMMON}\n{body}")
    }
}

/// One kernel of one module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// 128x128-tile tensor-core GEMM (61440 bytes of dynamic shared memory).
    GemmL,
    /// 32x64-tile tensor-core GEMM for few rows.
    GemmS,
    /// Scalar GEMM for any shape or alignment.
    GemmSimple,
    /// Batch-1 streaming GEMV.
    Gemv,
    /// Flash attention, head size 64 (64 queries per block, synchronous K/V loads).
    FlashAttnD64,
    /// Flash attention, head size 64: 128 queries per block, cp.async double-buffered K/V.
    FlashAttnD64V2,
    /// Flash attention, head size 64: as V2 with one barrier per tile, K and V
    /// double-buffered separately and the bias table in shared memory.
    FlashAttnD64V3,
    /// `FlashAttnD64V3` with the next tile's QK^T software-pipelined into each tile (more
    /// registers: one block per SM).
    FlashAttnD64V3P,
    /// `FlashAttnD64V3P` with 64 queries per block (4 warps; three blocks per SM).
    FlashAttnD64V3P64,
    /// Row-wise attention (decode over a KV cache; any even head size up to 256).
    AttnRows,
    /// T5 RMS norm.
    RmsNorm,
    /// T5 RMS norm, 16-byte loads, row kept in registers (D a multiple of 4, at most 8192).
    RmsNormVec,
    /// Embedding gather (bf16 table to f32 rows).
    Embed,
    /// `x += y`.
    AddF32,
    /// Log-softmax of one target per row.
    LogSoftmaxGather,
    /// Greedy step: argmax per row, finished-row handling, token history.
    ArgmaxStep,
    /// `*pos += 1`.
    AdvancePos,
    /// f32 to bf16 (round to nearest even).
    F32ToBf16,
    /// bf16 to f32.
    Bf16ToF32,
    /// Hash-based uniform random bf16 values.
    InitUniform,
    /// Feed-forward activation in place (f32).
    ActF32,
    /// `x *= s` (f32).
    ScaleF32,
    /// Weight upload: f32/bf16 staging rows to strided bf16 rows.
    ConvertRows,
    /// 128x256-tile wgmma GEMM (sm_90a only).
    GemmWgmma,
    /// The same with one wgmma group kept in flight across k-steps.
    GemmWgmmaPipe,
    /// Warp-specialised wgmma GEMM fed by TMA (sm_90a only).
    GemmTma,
    /// Persistent variant of [`Kernel::GemmTma`] (no split over K).
    GemmTmaP,
    /// [`Kernel::GemmTma`] with the whole-tile fast epilogues (extra `var` argument).
    GemmTmaE,
    /// [`Kernel::GemmTmaP`] with the whole-tile fast epilogues (extra `var` argument).
    GemmTmaPE,
    /// [`Kernel::GemmTmaE`] in clusters of 2 blocks sharing the W tile by TMA multicast.
    GemmTmaC,
    /// [`Kernel::GemmTma`] with the TMA-store epilogue (a third tensor map, over the output).
    GemmTmaS,
    /// [`Kernel::GemmTmaP`] with the TMA-store epilogue.
    GemmTmaPS,
    /// Batch-1 GEMV of a T5 RMS-normed f32 row (the norm folded in; decode).
    GemvRms,
    /// Row-wise attention for head size 64 (decode; warp per key, few round trips).
    AttnDecD64,
    /// [`Kernel::GemvRms`] producing q (and k, v) plus each head's decode attention.
    GemvRmsAttn,
}

impl Kernel {
    /// Every kernel.
    pub const ALL: [Kernel; 35] = [
        Kernel::GemmL,
        Kernel::GemmS,
        Kernel::GemmSimple,
        Kernel::Gemv,
        Kernel::FlashAttnD64,
        Kernel::FlashAttnD64V2,
        Kernel::FlashAttnD64V3,
        Kernel::FlashAttnD64V3P,
        Kernel::FlashAttnD64V3P64,
        Kernel::AttnRows,
        Kernel::RmsNorm,
        Kernel::RmsNormVec,
        Kernel::Embed,
        Kernel::AddF32,
        Kernel::LogSoftmaxGather,
        Kernel::ArgmaxStep,
        Kernel::AdvancePos,
        Kernel::F32ToBf16,
        Kernel::Bf16ToF32,
        Kernel::InitUniform,
        Kernel::ActF32,
        Kernel::ScaleF32,
        Kernel::ConvertRows,
        Kernel::GemmWgmma,
        Kernel::GemmWgmmaPipe,
        Kernel::GemmTma,
        Kernel::GemmTmaP,
        Kernel::GemmTmaE,
        Kernel::GemmTmaPE,
        Kernel::GemmTmaC,
        Kernel::GemmTmaS,
        Kernel::GemmTmaPS,
        Kernel::GemvRms,
        Kernel::AttnDecD64,
        Kernel::GemvRmsAttn,
    ];

    /// The module that holds it.
    pub fn module(self) -> Module {
        match self {
            Kernel::GemmL
            | Kernel::GemmS
            | Kernel::GemmSimple
            | Kernel::Gemv
            | Kernel::GemvRms
            | Kernel::GemvRmsAttn => Module::Gemm,
            Kernel::FlashAttnD64
            | Kernel::FlashAttnD64V2
            | Kernel::FlashAttnD64V3
            | Kernel::FlashAttnD64V3P
            | Kernel::FlashAttnD64V3P64
            | Kernel::AttnRows
            | Kernel::AttnDecD64 => Module::Attention,
            Kernel::GemmWgmma
            | Kernel::GemmWgmmaPipe
            | Kernel::GemmTma
            | Kernel::GemmTmaP
            | Kernel::GemmTmaE
            | Kernel::GemmTmaPE
            | Kernel::GemmTmaC
            | Kernel::GemmTmaS
            | Kernel::GemmTmaPS => Module::GemmSm90,
            _ => Module::Elementwise,
        }
    }

    /// Its `extern "C"` name in the source.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::GemmL => "gemm_bf16_l",
            Kernel::GemmS => "gemm_bf16_s",
            Kernel::GemmSimple => "gemm_bf16_simple",
            Kernel::Gemv => "gemv_bf16",
            Kernel::FlashAttnD64 => "flash_attn_d64",
            Kernel::FlashAttnD64V2 => "flash_attn_d64_v2",
            Kernel::FlashAttnD64V3 => "flash_attn_d64_v3",
            Kernel::FlashAttnD64V3P => "flash_attn_d64_v3p",
            Kernel::FlashAttnD64V3P64 => "flash_attn_d64_v3p64",
            Kernel::AttnRows => "attn_rows",
            Kernel::RmsNorm => "rmsnorm",
            Kernel::RmsNormVec => "rmsnorm_vec",
            Kernel::Embed => "embed_bf16",
            Kernel::AddF32 => "add_f32",
            Kernel::LogSoftmaxGather => "log_softmax_gather",
            Kernel::ArgmaxStep => "argmax_step",
            Kernel::AdvancePos => "advance_pos",
            Kernel::F32ToBf16 => "f32_to_bf16",
            Kernel::Bf16ToF32 => "bf16_to_f32",
            Kernel::InitUniform => "init_uniform_bf16",
            Kernel::ActF32 => "act_f32",
            Kernel::ScaleF32 => "scale_f32",
            Kernel::ConvertRows => "convert_rows_bf16",
            Kernel::GemmWgmma => "gemm_bf16_wgmma",
            Kernel::GemmWgmmaPipe => "gemm_bf16_wgmma_pipe",
            Kernel::GemmTma => "gemm_bf16_tma",
            Kernel::GemmTmaP => "gemm_bf16_tma_p",
            Kernel::GemmTmaE => "gemm_bf16_tma_e",
            Kernel::GemmTmaPE => "gemm_bf16_tma_pe",
            Kernel::GemmTmaC => "gemm_bf16_tma_c",
            Kernel::GemmTmaS => "gemm_bf16_tma_s",
            Kernel::GemmTmaPS => "gemm_bf16_tma_ps",
            Kernel::GemvRms => "gemv_rms_bf16",
            Kernel::AttnDecD64 => "attn_dec_d64",
            Kernel::GemvRmsAttn => "gemv_rms_attn",
        }
    }

    /// Dynamic shared memory above 48 KiB the kernel needs opted in at load.
    pub(crate) fn max_dynamic_smem(self) -> Option<i32> {
        match self {
            Kernel::GemmL => Some(61440),
            Kernel::GemmWgmma | Kernel::GemmWgmmaPipe => Some(WGMMA_SMEM as i32),
            Kernel::GemmTma
            | Kernel::GemmTmaP
            | Kernel::GemmTmaE
            | Kernel::GemmTmaPE
            | Kernel::GemmTmaC => Some(TMA_SMEM as i32),
            Kernel::GemmTmaS | Kernel::GemmTmaPS => Some(TMA_S_SMEM as i32),
            Kernel::AttnRows | Kernel::AttnDecD64 | Kernel::GemvRmsAttn => Some(200 * 1024),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_name_is_in_its_module_source() {
        for k in Kernel::ALL {
            let src = k.module().source();
            let decl = format!("void {}(", k.name());
            let decl_lb = format!(") {}(", k.name());
            assert!(
                src.contains(&decl) || src.contains(&decl_lb),
                "{} not declared in module {}",
                k.name(),
                k.module().name()
            );
        }
    }

    #[test]
    fn sources_include_no_headers() {
        for m in Module::ALL {
            assert!(!m.source().contains("#include"), "{}", m.name());
        }
    }
}
