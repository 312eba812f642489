//! The `t0` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod device;
mod eval;
mod forward;
mod generate;
mod hub;
mod model_io;
mod prompts;
mod quantize;
mod score;
mod text;
mod tokenize;

/// t0: run T0 and other T5-family models without Python.
#[derive(Parser)]
#[command(name = "t0", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a config.json and print the model's shape.
    Config {
        /// A config.json file, or a model directory holding one.
        path: PathBuf,
    },
    /// Generation (greedy, beam search, sampling): `t0 generate --model DIR TEXT`.
    Generate(generate::GenerateArgs),
    /// Rank classification: `t0 score --model DIR --choices "yes|||no" TEXT`.
    Score(score::ScoreArgs),
    /// Decoder logits of one example as .npy (for checking numerics).
    Forward(forward::ForwardArgs),
    /// Tokenize one line of stdin: prints space-separated ids (or pieces).
    Tokenize {
        /// A spiece.model, a tokenizer.json, or a directory holding one.
        #[arg(long)]
        tokenizer: PathBuf,
        /// Print pieces instead of ids.
        #[arg(long)]
        pieces: bool,
        /// Append the EOS token.
        #[arg(long)]
        eos: bool,
    },
    /// Decode one line of space-separated ids from stdin into text.
    Detokenize {
        /// A spiece.model, a tokenizer.json, or a directory holding one.
        #[arg(long)]
        tokenizer: PathBuf,
    },
    /// T0's zero-shot evaluation: `t0 eval --model DIR --templates DIR --dataset super_glue/rte --data FILE.jsonl`.
    Eval(eval::EvalArgs),
    /// PromptSource templates: list them, render one for an example.
    Prompts {
        #[command(subcommand)]
        cmd: prompts::PromptsCommand,
    },
    /// Benchmark workloads W1-W4 on random-weight T0-shaped models (`t0 bench --help`).
    Bench(bench::BenchArgs),
    /// Write an int8 / 4-bit quantized copy of a checkpoint: `t0 quantize --model DIR --out DIR --dtype int8|q4`.
    Quantize(quantize::QuantizeArgs),
    /// Download a model from the Hugging Face Hub into the shared Hub cache (prints its
    /// directory): `t0 download bigscience/T0_3B`.
    #[cfg(feature = "hub")]
    Download(hub::DownloadArgs),
    /// The Hub cache: `t0 cache list`.
    #[cfg(feature = "hub")]
    #[command(subcommand)]
    Cache(hub::CacheCommand),
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Config { path } => {
            let file = if path.is_dir() {
                path.join("config.json")
            } else {
                path
            };
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let cfg = t0_core::T5Config::from_json(&text)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            print!("{}", cfg.to_json());
            Ok(())
        }
        Command::Generate(mut a) => {
            a.model = hub::model_dir(&a.model)?;
            generate::run(a)
        }
        Command::Score(mut a) => {
            a.model = hub::model_dir(&a.model)?;
            score::run(a)
        }
        Command::Forward(mut a) => {
            a.model = hub::model_dir(&a.model)?;
            forward::run(a)
        }
        #[cfg(feature = "hub")]
        Command::Download(a) => hub::download(a),
        #[cfg(feature = "hub")]
        Command::Cache(c) => hub::cache(c),
        Command::Tokenize {
            tokenizer,
            pieces,
            eos,
        } => tokenize::tokenize(&tokenizer, pieces, eos),
        Command::Detokenize { tokenizer } => tokenize::detokenize(&tokenizer),
        Command::Prompts { cmd } => prompts::run(cmd),
        Command::Eval(mut a) => {
            a.model = hub::model_dir(&a.model)?;
            eval::run(a)
        }
        Command::Bench(args) => bench::run(args),
        Command::Quantize(a) => quantize::run(a),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("t0: error: {e}");
            ExitCode::FAILURE
        }
    }
}
