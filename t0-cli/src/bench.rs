//! `t0 bench`: the workloads W1–W4 of `docs/benchmarks.md` on random-weight T0-shaped models
//! (base, 3b), f32 and bf16 weights, with this machine's measured FMA peak and read
//! bandwidth as floors. The same driver as `cargo run --release -p t0-benches --bin
//! workloads`.

use clap::Args;

/// Arguments of `t0 bench`, passed through to the workload driver.
#[derive(Args)]
pub struct BenchArgs {
    /// Driver options: --shape base|3b, --precision f32|bf16|f16, --w 1,2,3,4, --reps N,
    /// --dir DIR (see `t0 bench -- --help`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// Runs the benchmark.
pub fn run(a: BenchArgs) -> Result<(), String> {
    t0_benches::workloads::cli(&a.args)
}
