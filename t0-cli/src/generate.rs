//! `t0 generate`: greedy decoding, beam search or sampling from text (or token ids), with
//! HF's `generate` option names.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use t0_core::generate::stream::TextStreamer;
use t0_core::generate::{EarlyStopping, GenerateOptions};
use t0_core::model::InputLimits;

use crate::model_io::parse_ids;
use crate::text::Text;

/// Arguments of `t0 generate`.
#[derive(Args)]
pub struct GenerateArgs {
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
    /// Most tokens to generate (EOS included).
    #[arg(long, default_value_t = GenerateOptions::default().max_new_tokens)]
    max_new_tokens: usize,
    /// EOS is banned until this many tokens are generated.
    #[arg(long, default_value_t = 0)]
    min_new_tokens: usize,
    /// Beams for beam search (1: greedy or sampling).
    #[arg(long, default_value_t = 1)]
    num_beams: usize,
    /// Beam hypotheses are ranked by log-prob sum / length^PENALTY (> 0 favours long).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    length_penalty: f64,
    /// When beam search stops: `false` (HF's default heuristic), `true` (once num_beams
    /// hypotheses are complete) or `never` (only when no beam can improve).
    #[arg(long, default_value = "false", value_parser = parse_early_stopping)]
    early_stopping: EarlyStopping,
    /// Sample the next token instead of taking the best one.
    #[arg(long)]
    do_sample: bool,
    /// Sampling temperature (> 0).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    temperature: f32,
    /// Sample among the K best tokens only (0: no limit; HF's default is 50).
    #[arg(long, default_value_t = GenerateOptions::default().top_k)]
    top_k: usize,
    /// Nucleus sampling: the smallest set of best tokens reaching probability P, in (0, 1].
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    top_p: f32,
    /// Seed of the sampling RNG (same seed, same output).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Penalise tokens already generated (> 1 discourages repetition; 1: off).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    repetition_penalty: f32,
    /// No n-gram of this size appears twice (0: off).
    #[arg(long, default_value_t = 0)]
    no_repeat_ngram_size: usize,
    /// Sequences to print per input (best first with beam search; independent samples).
    #[arg(long, default_value_t = 1)]
    num_return_sequences: usize,
    /// Force EOS as the last token when --max-new-tokens is reached.
    #[arg(long)]
    forced_eos: bool,
    /// Only generate one of these answers, separated by `|||` (texts, tokenized with EOS;
    /// with --input-ids: token-id lists).
    #[arg(long)]
    constrain_to: Option<String>,
    /// Print the text as it is generated (greedy or sampling, one sequence).
    #[arg(long)]
    stream: bool,
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

fn parse_early_stopping(s: &str) -> Result<EarlyStopping, String> {
    s.parse()
        .map_err(|e: t0_core::generate::GenerateError| e.to_string())
}

/// Runs `t0 generate`.
pub fn run(a: GenerateArgs) -> Result<(), String> {
    crate::on_device!(a, run_on)
}

fn run_on<B: t0_core::backend::Backend>(
    mut model: t0_core::model::T5Model<B>,
    a: GenerateArgs,
) -> Result<(), String> {
    let mut opts = GenerateOptions {
        max_new_tokens: a.max_new_tokens,
        min_new_tokens: a.min_new_tokens,
        num_beams: a.num_beams,
        length_penalty: a.length_penalty,
        early_stopping: a.early_stopping,
        num_return_sequences: a.num_return_sequences,
        do_sample: a.do_sample,
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
        repetition_penalty: a.repetition_penalty,
        no_repeat_ngram_size: a.no_repeat_ngram_size,
        forced_eos: a.forced_eos,
        ..Default::default()
    };
    if a.stream && a.num_return_sequences != 1 {
        return Err("--stream prints one sequence: drop --num-return-sequences".into());
    }
    model.set_limits(InputLimits {
        max_input_tokens: a.max_input_tokens,
        max_target_tokens: InputLimits::default()
            .max_target_tokens
            .max(a.max_new_tokens),
        truncate: a.truncate,
    });
    let choices = a.constrain_to.as_deref().map(|s| s.split("|||"));
    if let Some(ids) = &a.input_ids {
        let ids = parse_ids("--input-ids", ids)?;
        if let Some(c) = choices {
            opts.constraints = Some(
                c.map(|c| parse_ids("--constrain-to", c))
                    .collect::<Result<_, _>>()?,
            );
        }
        let mut first = true;
        let mut print = |_: usize, _: usize, id: u32| {
            print!("{}{id}", if first { "" } else { " " });
            first = false;
            let _ = std::io::stdout().flush();
        };
        let cb: Option<&mut dyn FnMut(usize, usize, u32)> =
            if a.stream { Some(&mut print) } else { None };
        let out = model
            .generate_with(&[ids], &opts, cb)
            .map_err(|e| e.to_string())?;
        if a.stream {
            println!();
            return Ok(());
        }
        for g in &out[0] {
            let s: Vec<String> = g.tokens.iter().map(u32::to_string).collect();
            println!("{}", s.join(" "));
        }
        return Ok(());
    }
    let text = Text::open(&a.model, a.tokenizer.as_deref(), model.config().vocab_size)?;
    if let Some(c) = choices {
        opts.constraints = Some(c.map(|c| text.encode(c.trim(), true)).collect());
    }
    let ids = text.encode(a.text.as_deref().unwrap_or_default(), true);
    if a.stream {
        let mut streamer = TextStreamer::new(text.tokenizer(), 1, 1);
        let mut stdout = std::io::stdout();
        let mut print = |i: usize, r: usize, id: u32| {
            let piece = streamer.push(i, r, id);
            let _ = stdout.write_all(piece.as_bytes());
            let _ = stdout.flush();
        };
        model
            .generate_with(&[ids], &opts, Some(&mut print))
            .map_err(|e| e.to_string())?;
        println!("{}", streamer.finish(0, 0));
        return Ok(());
    }
    let out = model.generate(&[ids], &opts).map_err(|e| e.to_string())?;
    for g in &out[0] {
        println!("{}", text.decode(&g.tokens));
    }
    Ok(())
}
