//! `t0 forward`: teacher-forced decoder logits of one example, written as `.npy`.

use std::path::PathBuf;

use clap::Args;

use crate::model_io::{load_model, parse_ids, write_npy};

/// Arguments of `t0 forward`.
#[derive(Args)]
pub struct ForwardArgs {
    /// Model directory (config.json + model.safetensors or a sharded index).
    /// Or a Hugging Face Hub repo id, `owner/name[@revision]`, fetched into the Hub cache.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Encoder input token ids ("5 17 42" or "5,17,42").
    #[arg(long)]
    input_ids: String,
    /// Decoder input token ids, starting with the decoder start token (0 for T5).
    #[arg(long)]
    decoder_ids: String,
    /// Output file: little-endian f32 .npy of shape [decoder_len, vocab].
    #[arg(long)]
    out: PathBuf,
}

/// Runs `t0 forward`.
pub fn run(a: ForwardArgs) -> Result<(), String> {
    let input = parse_ids("--input-ids", &a.input_ids)?;
    let dec = parse_ids("--decoder-ids", &a.decoder_ids)?;
    let model = load_model(&a.model)?;
    let logits = model
        .forward_logits(&input, &dec)
        .map_err(|e| e.to_string())?;
    let vocab = model.config().vocab_size;
    write_npy(&a.out, dec.len(), vocab, &logits)?;
    eprintln!("wrote {} ([{}, {vocab}] f32)", a.out.display(), dec.len());
    Ok(())
}
