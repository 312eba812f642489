//! `t0 generate`: greedy generation from text (or token ids).

use std::path::PathBuf;

use clap::Args;
use t0_core::generate::GenerateOptions;
use t0_core::model::InputLimits;

use crate::model_io::{load_model, parse_ids};
use crate::text::Text;

/// Arguments of `t0 generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// Model directory (config.json + model.safetensors or a sharded index; the tokenizer,
    /// `spiece.model` or `tokenizer.json`, is looked up there too).
    /// Or a Hugging Face Hub repo id, `owner/name[@revision]`, fetched into the Hub cache.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Most tokens to generate (EOS included).
    #[arg(long, default_value_t = GenerateOptions::default().max_new_tokens)]
    max_new_tokens: usize,
    /// EOS is banned until this many tokens are generated.
    #[arg(long, default_value_t = 0)]
    min_new_tokens: usize,
    /// Longest accepted input in tokens (longer input is an error unless --truncate).
    #[arg(long, default_value_t = InputLimits::default().max_input_tokens)]
    max_input_tokens: usize,
    /// Keep the first --max-input-tokens tokens of a longer input instead of failing.
    #[arg(long)]
    truncate: bool,
    /// Tokenizer file (`spiece.model` or `tokenizer.json`) overriding the one in --model.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Token ids instead of TEXT (prints ids; no tokenizer needed).
    #[arg(long, conflicts_with = "text")]
    input_ids: Option<String>,
    /// The input text (tokenized with EOS appended, as HF's tokenizer does by default).
    #[arg(required_unless_present = "input_ids")]
    text: Option<String>,
}

/// Runs `t0 generate`.
pub fn run(a: GenerateArgs) -> Result<(), String> {
    let opts = GenerateOptions {
        max_new_tokens: a.max_new_tokens,
        min_new_tokens: a.min_new_tokens,
    };
    let mut model = load_model(&a.model)?;
    model.set_limits(InputLimits {
        max_input_tokens: a.max_input_tokens,
        max_target_tokens: InputLimits::default()
            .max_target_tokens
            .max(a.max_new_tokens),
        truncate: a.truncate,
    });
    if let Some(ids) = &a.input_ids {
        let ids = parse_ids("--input-ids", ids)?;
        let out = model
            .generate_greedy(&[ids], &opts)
            .map_err(|e| e.to_string())?;
        let s: Vec<String> = out[0].iter().map(u32::to_string).collect();
        println!("{}", s.join(" "));
        return Ok(());
    }
    let text = Text::open(&a.model, a.tokenizer.as_deref(), model.config().vocab_size)?;
    let ids = text.encode(a.text.as_deref().unwrap_or_default(), true);
    let out = model
        .generate_greedy(&[ids], &opts)
        .map_err(|e| e.to_string())?;
    println!("{}", text.decode(&out[0]));
    Ok(())
}
