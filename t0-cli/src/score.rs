//! `t0 score`: rank classification of answer choices (T0's evaluation).

use std::path::PathBuf;

use clap::Args;
use t0_core::score::{Reduction, ScoreOptions};

use crate::model_io::{parse_ids, split_choices};
use crate::text::Text;

/// Arguments of `t0 score`.
#[derive(Args)]
pub struct ScoreArgs {
    /// Quantized linear weights: quantize at load (float checkpoint) or load a `t0 quantize`d one.
    #[arg(long, value_enum)]
    dtype: Option<crate::quantize::QuantDtype>,
    /// Where the model runs: `cpu` (SIMD kernels, default) or `cuda` / `cuda:N` (NVIDIA GPU,
    /// bf16 weights).
    #[arg(long, default_value = "cpu")]
    device: crate::device::Device,
    /// Model directory (config.json + model.safetensors or a sharded index; the tokenizer,
    /// `spiece.model` or `tokenizer.json`, is looked up there too).
    /// Or a Hugging Face Hub repo id, `owner/name[@revision]`, fetched into the Hub cache.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// Answer choices separated by `|||` ("yes|||no").
    #[arg(long, required_unless_present = "choice_ids")]
    choices: Option<String>,
    /// Tokenizer file (`spiece.model` or `tokenizer.json`) overriding the one in --model.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Per-token mean log-likelihood instead of the sum (T0's evaluation uses the sum).
    #[arg(long)]
    mean: bool,
    /// Token ids instead of TEXT (no tokenizer needed).
    #[arg(long, conflicts_with = "text", requires = "choice_ids")]
    input_ids: Option<String>,
    /// Choices as token ids separated by `|||` ("7 1|||9 9 1"), with --input-ids.
    #[arg(long, conflicts_with = "choices", requires = "input_ids")]
    choice_ids: Option<String>,
    /// The input text. As in the T0 evaluation (t-zero): the input is tokenized without
    /// EOS and truncated to 1024 tokens, each choice with EOS and truncated to 256.
    #[arg(required_unless_present = "input_ids")]
    text: Option<String>,
}

/// Runs `t0 score`: prints one line per choice (`<log-likelihood>\t<choice>`) and the winner.
pub fn run(a: ScoreArgs) -> Result<(), String> {
    crate::on_device!(a, run_on)
}

fn run_on<B: t0_core::backend::Backend>(
    model: t0_core::model::T5Model<B>,
    a: ScoreArgs,
) -> Result<(), String> {
    let mut opts = ScoreOptions::t_zero();
    if a.mean {
        opts.reduction = Reduction::Mean;
    }
    let (input, choices, labels): (Vec<u32>, Vec<Vec<u32>>, Vec<String>) =
        if let (Some(i), Some(c)) = (&a.input_ids, &a.choice_ids) {
            let choices = split_choices(c)
                .into_iter()
                .map(|s| parse_ids("--choice-ids", s))
                .collect::<Result<Vec<_>, _>>()?;
            let labels = split_choices(c).into_iter().map(String::from).collect();
            (parse_ids("--input-ids", i)?, choices, labels)
        } else {
            let text = Text::open(&a.model, a.tokenizer.as_deref(), model.config().vocab_size)?;
            let c = a.choices.as_deref().unwrap_or_default();
            let labels: Vec<String> = split_choices(c).into_iter().map(String::from).collect();
            let choices = labels.iter().map(|s| text.encode(s, true)).collect();
            (
                text.encode(a.text.as_deref().unwrap_or_default(), false),
                choices,
                labels,
            )
        };
    let scores = model
        .score(&input, &choices, &opts)
        .map_err(|e| e.to_string())?;
    let mut best = 0;
    for (i, (s, l)) in scores.iter().zip(&labels).enumerate() {
        println!("{s:.6}\t{l}");
        if *s > scores[best] {
            best = i;
        }
    }
    println!("winner: {}", labels[best]);
    Ok(())
}
