//! Prints one FMA-throughput reading in GFLOP/s over the threads of the rayon pool,
//! CPU-normalised like every t0 bench (`t0_benches::norm_fma`): `probe [MILLISECONDS]`
//! (default 3). Used by `benches/peers/run.py` to gate repetitions of the peer engines the
//! same way the Rust benches gate theirs.

fn main() {
    let ms: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3.0);
    let g = t0_benches::norm_fma(t0_kernels::Isa::best(), ms);
    println!("{g:.1}");
}
