//! Workloads W1–W4 (`docs/benchmarks.md`) on random-weight T0-shaped models:
//! `cargo run --release -p t0-benches --bin workloads -- --help`.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match t0_benches::workloads::cli(&args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("workloads: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
