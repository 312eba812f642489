//! `t0 quantize`: write an int8 / 4-bit copy of a checkpoint, and loading models with
//! `--dtype int8|q4` for the other commands.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use t0_core::backend::FastCpuBackend;
use t0_core::loader::Checkpoint;
use t0_core::model::T5Model;
use t0_core::quant::file::{self, QuantCheckpoint};
use t0_core::quant::{Islands, QuantCpuBackend, QuantScheme};

/// A quantized weight format on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QuantDtype {
    /// int8, one scale per output channel.
    Int8,
    /// 4-bit, blocks of 32 weights with an f16 scale.
    Q4,
}

impl QuantDtype {
    fn scheme(self) -> QuantScheme {
        match self {
            QuantDtype::Int8 => QuantScheme::Int8,
            QuantDtype::Q4 => QuantScheme::Q4,
        }
    }
}

/// Arguments of `t0 quantize`.
#[derive(Args)]
pub struct QuantizeArgs {
    /// Source model directory (f32/bf16/f16 safetensors + config.json).
    #[arg(long)]
    model: PathBuf,
    /// Output directory (created): quantized model.safetensors, config.json, tokenizer.
    #[arg(long)]
    out: PathBuf,
    /// Weight format.
    #[arg(long, value_enum)]
    dtype: QuantDtype,
    /// Quantize lm_head too (default: keep it in the checkpoint's precision).
    #[arg(long)]
    quantize_lm_head: bool,
    /// Keep the FFN output projections `wo` in the checkpoint's precision.
    #[arg(long)]
    keep_wo: bool,
}

/// The islands chosen by the flags.
fn islands(a: &QuantizeArgs) -> Islands {
    Islands {
        lm_head: !a.quantize_lm_head,
        ffn_wo: a.keep_wo,
        ..Islands::default()
    }
}

/// Runs `t0 quantize`.
pub fn run(a: QuantizeArgs) -> Result<(), String> {
    let s = file::quantize_dir(&a.model, &a.out, a.dtype.scheme(), &islands(&a))
        .map_err(|e| format!("{}: {e}", a.model.display()))?;
    println!(
        "{}: {} tensors quantized to {}, {} kept, {} bytes",
        a.out.display(),
        s.quantized,
        a.dtype.scheme().as_str(),
        s.kept,
        s.file_bytes
    );
    Ok(())
}

/// Loads `dir` with quantized linear weights: directly when the checkpoint is already
/// quantized (memory-mapped), else quantized at load from its float weights. A quantized
/// checkpoint must match `dtype`.
pub fn load_quantized(dir: &Path, dtype: QuantDtype) -> Result<T5Model<QuantCpuBackend>, String> {
    let scheme = dtype.scheme();
    if file::is_quantized(dir) {
        let ck = QuantCheckpoint::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if ck.scheme() != scheme {
            return Err(format!(
                "{}: the checkpoint is quantized as {}, not {}",
                dir.display(),
                ck.scheme().as_str(),
                scheme.as_str()
            ));
        }
        return T5Model::load(ck.backend(FastCpuBackend::new()), &*ck, ck.config())
            .map_err(|e| format!("{}: {e}", dir.display()));
    }
    let ck = Checkpoint::open(dir).map_err(|e| e.to_string())?;
    let be = QuantCpuBackend::quantize_at_load(FastCpuBackend::new(), scheme, Islands::default());
    T5Model::from_checkpoint(be, &ck).map_err(|e| format!("{}: {e}", dir.display()))
}
