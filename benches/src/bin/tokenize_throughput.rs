//! Encode throughput and load time of `t0_core::tokenizer`, single thread.
//!
//! ```text
//! cargo run --release -p t0-benches --bin tokenize_throughput -- MODEL TEXT [REPS]
//! ```
//! Encodes every line of TEXT (split on `\n`, as `scripts/tokenizer_bench.py` does) REPS
//! times and prints one JSON line: MB/s (bytes of UTF-8 input per second, best of REPS),
//! ids produced, and the load time of MODEL and of a synthetic 32k-piece model made from it
//! (28k extra pieces appended to the protobuf). Run it through `scripts/tokenizer_bench.py`,
//! which times sentencepiece on the same lines in the same run.

use std::time::Instant;

use t0_core::tokenizer::Tokenizer;

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Appends `extra` synthetic normal pieces to a serialized ModelProto.
fn grow_model(bytes: &[u8], extra: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut seen = std::collections::HashSet::new();
    while seen.len() < extra {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = 3 + (x >> 60) as usize % 8;
        let mut s = String::from(if x & 1 == 0 { "\u{2581}" } else { "" });
        let mut y = x;
        for _ in 0..len {
            s.push((b'a' + (y % 26) as u8) as char);
            y /= 26;
        }
        s.push_str("\u{2581}zz"); // never collides with a real piece
        if !seen.insert(s.clone()) {
            continue;
        }
        let mut piece = Vec::new();
        piece.push(0x0a);
        varint(s.len() as u64, &mut piece);
        piece.extend_from_slice(s.as_bytes());
        piece.push(0x15);
        piece.extend_from_slice(&(-12.0f32 - seen.len() as f32 * 1e-4).to_le_bytes());
        out.push(0x0a);
        varint(piece.len() as u64, &mut out);
        out.extend_from_slice(&piece);
    }
    out
}

fn median_load_ms(bytes: &[u8], reps: usize) -> f64 {
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let tok = Tokenizer::from_spiece_bytes(bytes).expect("model loads");
            let dt = t.elapsed().as_secs_f64() * 1e3;
            std::hint::black_box(tok);
            dt
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: tokenize_throughput MODEL TEXT [REPS]");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[1]).expect("read model");
    let text = std::fs::read_to_string(&args[2]).expect("read text");
    let reps: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(5);
    let lines: Vec<&str> = text.split('\n').collect();
    let total_bytes: usize = lines.iter().map(|l| l.len()).sum();

    let tok = Tokenizer::from_spiece_bytes(&bytes).expect("model loads");
    let mut best = f64::INFINITY;
    let mut n_ids = 0;
    for _ in 0..reps {
        let t = Instant::now();
        n_ids = 0;
        for line in &lines {
            n_ids += std::hint::black_box(tok.encode_plain(line)).len();
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let load_ms = median_load_ms(&bytes, 21);
    let big = grow_model(&bytes, 32_000usize.saturating_sub(tok.sentencepiece_size()));
    let big_tok = Tokenizer::from_spiece_bytes(&big).expect("32k model loads");
    let load_32k_ms = median_load_ms(&big, 11);
    println!(
        "{{\"impl\":\"t0\",\"mb_per_s\":{:.3},\"seconds\":{:.4},\"bytes\":{},\"lines\":{},\"ids\":{},\"load_ms\":{:.3},\"load_32k_ms\":{:.3},\"pieces_32k\":{}}}",
        total_bytes as f64 / best / 1e6,
        best,
        total_bytes,
        lines.len(),
        n_ids,
        load_ms,
        load_32k_ms,
        big_tok.sentencepiece_size()
    );
}
