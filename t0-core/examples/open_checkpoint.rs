//! Measures what opening a checkpoint costs (wall time, RSS), and makes test checkpoints.
//!
//! ```text
//! cargo run --release -p t0-core --example open_checkpoint -- open DIR
//! cargo run --release -p t0-core --example open_checkpoint -- sparse t0_3b|t0pp|base|tiny DIR
//! cargo run --release -p t0-core --example open_checkpoint -- random t0_3b|t0pp|base|tiny DIR
//! ```
//! `sparse` writes an all-zero sparse file (header only on disk); `random` streams real
//! random weights (11.4 GB for t0_3b in F32).

use std::path::Path;
use std::time::Instant;

use t0_core::config::T5Config;
use t0_core::loader::Checkpoint;
use t0_core::random::{write_random_checkpoint, write_sparse_checkpoint};
use t0_core::tensor::{DType, TensorSource};

/// `VmRSS` and `VmHWM` of this process, in KiB (Linux; zeros elsewhere).
fn rss_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn preset(name: &str) -> T5Config {
    match name {
        "t0pp" => T5Config::t0pp(),
        "t0_3b" => T5Config::t0_3b(),
        "base" => T5Config::t0_base(),
        "tiny" => {
            let mut c = T5Config::t0_base();
            (c.d_model, c.d_ff, c.num_heads, c.d_kv, c.vocab_size) = (16, 40, 4, 4, 64);
            (c.num_layers, c.num_decoder_layers) = (2, 3);
            c
        }
        other => {
            eprintln!("unknown preset {other:?} (t0_3b, t0pp, base, tiny)");
            std::process::exit(2)
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["open", dir] => {
            let (rss0, _) = rss_kib();
            let t = Instant::now();
            let ck = Checkpoint::open(Path::new(dir))?;
            let dt = t.elapsed();
            let (rss1, hwm) = rss_kib();
            println!(
                "opened {dir}: {} tensors, {:.2} GB of data in {} file(s)",
                ck.tensor_names().len(),
                ck.data_bytes() as f64 / 1e9,
                ck.files().len()
            );
            println!(
                "open: {:.2} ms; RSS {} KiB before, {} KiB after (+{} KiB), peak {} KiB",
                dt.as_secs_f64() * 1e3,
                rss0,
                rss1,
                rss1.saturating_sub(rss0),
                hwm
            );
        }
        ["sparse", p, dir] => {
            let t = Instant::now();
            let len = write_sparse_checkpoint(Path::new(dir), &preset(p), DType::F32)?;
            println!("wrote sparse {len} bytes in {:.2?}", t.elapsed());
        }
        ["random", p, dir] => {
            let t = Instant::now();
            write_random_checkpoint(Path::new(dir), &preset(p), 0, DType::F32)?;
            println!("wrote random checkpoint in {:.2?}", t.elapsed());
        }
        _ => {
            eprintln!("usage: open DIR | sparse PRESET DIR | random PRESET DIR");
            std::process::exit(2)
        }
    }
    Ok(())
}
