//! Kernel benchmarks: GEMV GB/s and GEMM GFLOP/s on T0 shapes, t0-kernels vs the `gemm`
//! crate in the same run, after measuring this machine's read bandwidth and FMA peak.
//!
//! `cargo run --release -p t0-benches --bin kernels [-- --quick]`
//!
//! GEMV (batch-1 decode) streams enough copies of the weight matrix (≥ 256 MiB in all) that
//! every call reads from DRAM, as decode does for a whole model. GEMM runs the encoder
//! shapes (rows = tokens). Every repetition is gated by FMA probes (see `t0_benches::Gate`);
//! `*` marks a median of ungated repetitions.
//!
//! All rates are CPU-normalised (work / (CPU time of all threads / threads), see
//! `t0_benches::Stamp`): on this shared host the process gets a fluctuating share of the two
//! cores, and CPU time measures the kernels, not the share. The probes are normalised alike.

use t0_benches::{Gate, Timing, dram_read_gbps, rand_vec};
use t0_kernels::linear::linear_with;
use t0_kernels::{Isa, PackedLinear, WeightType};

fn gemm_crate(x: &[f32], rows: usize, w: &[f32], out: usize, inp: usize, y: &mut [f32]) {
    let threads = rayon::current_num_threads();
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: dst is rows×out row-major (rs = out, cs = 1); lhs = x rows×inp row-major;
    // rhs = Wᵀ (inp×out) read from row-major W[out, inp] (rs = 1, cs = inp); all slices hold
    // exactly those elements (asserted), so every access is in bounds.
    assert!(x.len() == rows * inp && w.len() == out * inp && y.len() == rows * out);
    unsafe {
        gemm::gemm(
            rows,
            out,
            inp,
            y.as_mut_ptr(),
            1,
            out as isize,
            false,
            x.as_ptr(),
            1,
            inp as isize,
            w.as_ptr(),
            inp as isize,
            1,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            par,
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let isa = Isa::best();
    let threads = rayon::current_num_threads();
    println!(
        "t0-kernels benchmark: ISA {} , {threads} threads (rayon)",
        isa.name()
    );
    let gate = Gate::calibrate(20, 30.0, 0.8);
    let gbps = dram_read_gbps(512, 5);
    let avx2 = if Isa::Avx2.is_available() {
        format!(
            ", AVX2 {:.0}",
            t0_kernels::probe::fma_gflops(Isa::Avx2, 30.0)
        )
    } else {
        String::new()
    };
    println!(
        "machine: FMA peak {:.0} GFLOP/s ({}){avx2}; DRAM read {:.1} GB/s; gate: keep reps with probes >= {:.0} GFLOP/s",
        gate.peak_gflops(),
        isa.name(),
        gbps,
        gate.threshold()
    );
    let (reps, tries) = if quick { (3, 6) } else { (5, 12) };
    let tag = |t: &Timing| format!("{}/{}{}", t.kept, t.tried, t.flag());

    // ---- GEMV: rows = 1, weights streamed from DRAM.
    let gemv: &[(usize, usize, &str)] = &[
        (768, 768, "base attn"),
        (2048, 768, "base wi"),
        (768, 2048, "base wo"),
        (32128, 768, "base lm_head"),
        (2048, 2048, "3b attn"),
        (5120, 2048, "3b wi"),
        (2048, 5120, "3b wo"),
        (32128, 2048, "3b lm_head"),
        (10240, 4096, "11b wi"),
    ];
    println!();
    println!(
        "GEMV (1 row, DRAM-resident weights): GB/s of weight bytes; floor = DRAM read {gbps:.1} GB/s"
    );
    println!(
        "{:<13} {:>6} {:>6} | {:>9} {:>6} | {:>9} {:>6} | {:>11} {:>6} | {:>7} {:>7}",
        "shape",
        "out",
        "in",
        "t0 f32",
        "reps",
        "t0 bf16",
        "reps",
        "gemm f32",
        "reps",
        "f32/flr",
        "bf16/fl"
    );
    for &(out, inp, name) in gemv {
        if quick && out * inp > 5120 * 2048 {
            continue;
        }
        let w = rand_vec(out as u64, out * inp);
        let x = rand_vec(7, inp);
        let bytes32 = out * inp * 4;
        let copies = (256usize << 20).div_ceil(bytes32).max(2);
        let pf = PackedLinear::from_f32(&w, out, inp, WeightType::F32).expect("pack");
        let pb = PackedLinear::from_f32(&w, out, inp, WeightType::Bf16).expect("pack");
        let pfs: Vec<PackedLinear> = (0..copies).map(|_| pf.clone()).collect();
        let pbs: Vec<PackedLinear> = (0..copies * 2).map(|_| pb.clone()).collect();
        let ws: Vec<Vec<f32>> = (0..copies).map(|_| w.clone()).collect();
        let mut y = vec![0.0f32; out];
        let mut i = 0;
        let tf = gate.time(reps, tries, 20.0, || {
            linear_with(isa, &x, 1, &pfs[i % copies], &mut y);
            i += 1;
        });
        let tb = gate.time(reps, tries, 20.0, || {
            linear_with(isa, &x, 1, &pbs[i % (2 * copies)], &mut y);
            i += 1;
        });
        let tg = gate.time(reps, tries, 20.0, || {
            gemm_crate(&x, 1, &ws[i % copies], out, inp, &mut y);
            i += 1;
        });
        let (gf, gb, gg) = (
            bytes32 as f64 / tf.cpu / 1e9,
            (bytes32 / 2) as f64 / tb.cpu / 1e9,
            bytes32 as f64 / tg.cpu / 1e9,
        );
        println!(
            "{:<13} {:>6} {:>6} | {:>9.1} {:>6} | {:>9.1} {:>6} | {:>11.1} {:>6} | {:>6.2}x {:>6.2}x",
            name,
            out,
            inp,
            gf,
            tag(&tf),
            gb,
            tag(&tb),
            gg,
            tag(&tg),
            tf.cpu / (bytes32 as f64 / (gbps * 1e9)),
            tb.cpu / ((bytes32 / 2) as f64 / (gbps * 1e9)),
        );
    }

    // ---- GEMM: encoder shapes.
    let gemms: &[(usize, usize, usize, &str)] = &[
        (2048, 768, 768, "W3 base attn"),
        (2048, 2048, 768, "W3 base wi"),
        (2048, 768, 2048, "W3 base wo"),
        (128, 768, 768, "W1 base attn"),
        (128, 2048, 768, "W1 base wi"),
        (2048, 2048, 2048, "W3 3b attn"),
        (2048, 5120, 2048, "W3 3b wi"),
        (2048, 2048, 5120, "W3 3b wo"),
    ];
    println!();
    println!(
        "GEMM: GFLOP/s; % of the 3rd-best FMA probe so far ({:.0} GFLOP/s)",
        gate.peak_gflops()
    );
    println!(
        "{:<13} {:>5} {:>6} {:>6} | {:>8} {:>5} {:>6} | {:>8} {:>5} {:>6} | {:>9} {:>5} {:>6}",
        "shape",
        "rows",
        "out",
        "in",
        "t0 f32",
        "%pk",
        "reps",
        "t0 bf16",
        "%pk",
        "reps",
        "gemm f32",
        "%pk",
        "reps"
    );
    for &(rows, out, inp, name) in gemms {
        if quick && rows * out * inp > 2048 * 2048 * 2048 {
            continue;
        }
        let w = rand_vec(out as u64 + 1, out * inp);
        let x = rand_vec(8, rows * inp);
        let pf = PackedLinear::from_f32(&w, out, inp, WeightType::F32).expect("pack");
        let pb = PackedLinear::from_f32(&w, out, inp, WeightType::Bf16).expect("pack");
        let mut y = vec![0.0f32; rows * out];
        let flops = 2.0 * (rows * out * inp) as f64;
        let tf = gate.time(reps, tries, 30.0, || {
            linear_with(isa, &x, rows, &pf, &mut y)
        });
        let tb = gate.time(reps, tries, 30.0, || {
            linear_with(isa, &x, rows, &pb, &mut y)
        });
        let tg = gate.time(reps, tries, 30.0, || {
            gemm_crate(&x, rows, &w, out, inp, &mut y)
        });
        let g = |t: &Timing| flops / t.cpu / 1e9;
        let pk = |t: &Timing| 100.0 * g(t) / gate.peak_gflops();
        println!(
            "{:<13} {:>5} {:>6} {:>6} | {:>8.0} {:>4.0}% {:>6} | {:>8.0} {:>4.0}% {:>6} | {:>9.0} {:>4.0}% {:>6}",
            name,
            rows,
            out,
            inp,
            g(&tf),
            pk(&tf),
            tag(&tf),
            g(&tb),
            pk(&tb),
            tag(&tb),
            g(&tg),
            pk(&tg),
            tag(&tg)
        );
    }
    println!();
    println!(
        "reps = kept/tried (kept when FMA probes before and after read >= 80% of the 3rd-best probe so far; 3rd-best {:.0} GFLOP/s); * = no rep passed the gate, median of ungated reps",
        gate.peak_gflops()
    );
}
