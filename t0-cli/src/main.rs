//! The `t0` command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;

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
    /// Benchmark workloads W1-W4 on random-weight T0-shaped models (`t0 bench --help`).
    Bench(bench::BenchArgs),
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
        Command::Bench(args) => bench::run(args),
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
