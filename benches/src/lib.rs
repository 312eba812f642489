//! Benchmark support for t0: the gated timing harness shared by the kernel benches
//! (`cargo run --release -p t0-benches --bin kernels`) and the workload benches W1–W4 of
//! `docs/benchmarks.md`.
//!
//! This machine's speed drifts (shared, boosted cores): a probe reads anywhere from 150 to
//! 430 GFLOP/s within a minute. [`Gate`] therefore runs a short FMA probe right before and
//! right after every timed repetition and keeps the repetition only when both probes reach
//! a threshold (a fraction of the third-best probe reading seen so far). Reported times are the
//! median of the kept repetitions; when too few are kept the result is marked as ungated.
//!
//! On this host the other processes also take most of the two cores (CPU pressure ~95%):
//! a process gets a fluctuating share of them. Besides wall time every measurement therefore
//! records *CPU-normalised* time — the CPU time all threads of the process spent, divided by
//! the thread count ([`Stamp`], from `CLOCK_PROCESS_CPUTIME_ID`) — which is what the wall
//! time would be if the process had both cores to itself and kept them busy. The probes are
//! normalised the same way, so the gate and the floors describe the hardware, not the load.

use std::time::Instant;

/// Total CPU seconds of all threads of this process, if the platform reports it.
pub fn cpu_secs() -> Option<f64> {
    probe::process_cpu_secs()
}

/// A point in time, wall and CPU.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    wall: Instant,
    cpu: Option<f64>,
}

impl Stamp {
    /// Now.
    pub fn now() -> Stamp {
        Stamp {
            cpu: cpu_secs(),
            wall: Instant::now(),
        }
    }

    /// (wall seconds, CPU-normalised seconds = CPU seconds of all threads / pool threads)
    /// since this stamp; where CPU time is unavailable the second equals the first.
    pub fn elapsed(&self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, cpu_secs()) {
            (Some(a), Some(b)) => (b - a) / rayon::current_num_threads().max(1) as f64,
            _ => wall,
        };
        (wall, cpu)
    }
}

use t0_kernels::Isa;
use t0_kernels::probe;

/// Gated repetition timing.
#[derive(Debug, Clone)]
pub struct Gate {
    /// ISA used for the FMA probe.
    pub isa: Isa,
    /// The three best probe readings so far (calibration and every gating probe), GFLOP/s
    /// over all threads of the pool, best first.
    pub top: std::cell::RefCell<Vec<f64>>,
    /// A repetition is kept when the probes before and after read at least this fraction
    /// of the best reading seen so far.
    pub frac: f64,
    /// Length of one gating probe in milliseconds.
    pub probe_ms: f64,
}

/// Timing of one benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Median seconds per call of the kept repetitions (or of all, when none was kept).
    pub secs: f64,
    /// Fastest kept repetition, seconds per call.
    pub best: f64,
    /// Median CPU-normalised seconds per call (see [`Stamp::elapsed`]).
    pub cpu: f64,
    /// Repetitions kept / tried.
    pub kept: usize,
    /// Repetitions tried.
    pub tried: usize,
}

impl Timing {
    /// `*` when no repetition passed the gate (the median is then of ungated runs).
    pub fn flag(&self) -> &'static str {
        if self.kept == 0 { "*" } else { "" }
    }
}

impl Gate {
    /// Measures the FMA peak `tries` times (each `ms` long); repetitions are later kept when
    /// their probes reach `frac` of the peak so far ([`Gate::peak_gflops`]).
    pub fn calibrate(tries: usize, ms: f64, frac: f64) -> Gate {
        let isa = Isa::best();
        let g = Gate {
            isa,
            top: std::cell::RefCell::new(Vec::new()),
            frac,
            probe_ms: 3.0,
        };
        for _ in 0..tries.max(1) {
            g.record(norm_fma(isa, ms));
        }
        g
    }

    fn record(&self, g: f64) {
        let mut t = self.top.borrow_mut();
        t.push(g);
        t.sort_by(|a, b| b.total_cmp(a));
        t.truncate(3);
    }

    /// The machine's FMA peak as seen so far: the third-best probe reading (robust to a
    /// single outlier), GFLOP/s.
    pub fn peak_gflops(&self) -> f64 {
        self.top.borrow().last().copied().unwrap_or(0.0)
    }

    /// The current gate threshold, GFLOP/s.
    pub fn threshold(&self) -> f64 {
        self.peak_gflops() * self.frac
    }

    /// One gating probe, CPU-normalised GFLOP/s (also updates the recorded peak).
    pub fn probe(&self) -> f64 {
        let g = norm_fma(self.isa, self.probe_ms);
        self.record(g);
        g
    }

    /// Times `f`: one warm-up call, then repetitions of `iters` calls each (chosen so a
    /// repetition lasts about `rep_ms`), until `reps` pass the gate or `max_tries` were
    /// made.
    pub fn time(&self, reps: usize, max_tries: usize, rep_ms: f64, mut f: impl FnMut()) -> Timing {
        let t = Instant::now();
        f();
        let one = t.elapsed().as_secs_f64().max(1e-7);
        let iters = ((rep_ms * 1e-3 / one).ceil() as usize).clamp(1, 10_000);
        let mut kept = Vec::new();
        let mut all = Vec::new();
        let mut tried = 0;
        while kept.len() < reps && tried < max_tries {
            tried += 1;
            let before = self.probe();
            let t = Stamp::now();
            for _ in 0..iters {
                f();
            }
            let (w, c) = t.elapsed();
            let dt = (w / iters as f64, c / iters as f64);
            let after = self.probe();
            all.push(dt);
            if before >= self.threshold() && after >= self.threshold() {
                kept.push(dt);
            }
        }
        let n_kept = kept.len();
        let v = if kept.is_empty() { all } else { kept };
        let mut w: Vec<f64> = v.iter().map(|x| x.0).collect();
        let mut c: Vec<f64> = v.iter().map(|x| x.1).collect();
        w.sort_by(f64::total_cmp);
        c.sort_by(f64::total_cmp);
        Timing {
            secs: w[w.len() / 2],
            best: w[0],
            cpu: c[c.len() / 2],
            kept: n_kept,
            tried,
        }
    }
}

impl Gate {
    /// Like [`Gate::time`] for a workload that reports `N` timed parts itself (seconds):
    /// no warm-up inside, one call per repetition; returns the per-part medians of the kept
    /// repetitions (of all repetitions when none was kept) and kept/tried counts.
    pub fn time_parts<const N: usize>(
        &self,
        reps: usize,
        max_tries: usize,
        mut f: impl FnMut() -> [f64; N],
    ) -> ([f64; N], usize, usize) {
        let mut kept: Vec<[f64; N]> = Vec::new();
        let mut all: Vec<[f64; N]> = Vec::new();
        let mut tried = 0;
        while kept.len() < reps && tried < max_tries {
            tried += 1;
            let before = self.probe();
            let parts = f();
            let after = self.probe();
            all.push(parts);
            if before >= self.threshold() && after >= self.threshold() {
                kept.push(parts);
            }
        }
        let n_kept = kept.len();
        let v = if kept.is_empty() { all } else { kept };
        let mut med = [0.0; N];
        for (i, m) in med.iter_mut().enumerate() {
            let mut c: Vec<f64> = v.iter().map(|p| p[i]).collect();
            c.sort_by(f64::total_cmp);
            *m = c.get(c.len() / 2).copied().unwrap_or(f64::NAN);
        }
        (med, n_kept, tried)
    }
}

/// Token ids of the workloads: `100 + splitmix64((seed << 32) + i) % 31900` (one splitmix64
/// output step), i.e. uniform in
/// `[100, 32000)`; `benches/peers/run.py` computes the same ids.
pub fn token_ids(seed: u64, n: usize) -> Vec<u32> {
    (0..n as u64)
        .map(|i| {
            let mut z = (seed << 32)
                .wrapping_add(i)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            100 + (z % 31_900) as u32
        })
        .collect()
}

pub mod workloads;

/// One FMA probe, CPU-normalised GFLOP/s (wall GFLOP/s × wall / CPU-normalised time).
pub fn norm_fma(isa: Isa, ms: f64) -> f64 {
    let t = Stamp::now();
    let g = probe::fma_gflops(isa, ms);
    let (w, c) = t.elapsed();
    if c > 0.0 { g * w / c } else { g }
}

/// Streaming read bandwidth over a buffer of `mib` MiB (best of `tries`), CPU-normalised
/// GB/s.
pub fn dram_read_gbps(mib: usize, tries: usize) -> f64 {
    let buf = vec![1.0f32; mib * 1024 * 1024 / 4];
    probe::read_gbps(&buf); // fault the pages in
    (0..tries.max(1))
        .map(|_| {
            let t = Stamp::now();
            let g = probe::read_gbps(&buf);
            let (w, c) = t.elapsed();
            if c > 0.0 { g * w / c } else { g }
        })
        .fold(0.0, f64::max)
}

/// Deterministic values in [-1, 1) (xorshift), for random inputs and weights.
pub fn rand_vec(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_times_and_keeps_or_flags() {
        let g = Gate {
            probe_ms: 0.2,
            ..Gate::calibrate(1, 0.5, 0.0)
        };
        assert!(g.peak_gflops() > 0.0);
        let t = g.time(2, 3, 0.1, || {
            std::hint::black_box(rand_vec(1, 100));
        });
        assert!(t.secs > 0.0 && t.best <= t.secs && t.cpu > 0.0);
        assert_eq!(t.kept, 2); // threshold 0 keeps everything
        assert!(t.tried >= 2);
        let (p, kept, tried) = g.time_parts(2, 2, || [1.0, 2.0]);
        assert_eq!((p, kept, tried), ([1.0, 2.0], 2, 2));
    }

    #[test]
    fn token_ids_are_in_range_and_deterministic() {
        let a = token_ids(3, 1000);
        assert_eq!(a, token_ids(3, 1000));
        assert!(a.iter().all(|&t| (100..32000).contains(&t)));
        assert_ne!(a[..10], token_ids(4, 10)[..]);
        // The same ids as benches/peers/run.py's token_ids (printed by that script's function).
        assert_eq!(token_ids(1, 5), [9756, 22667, 15414, 26083, 10369]);
        assert_eq!(token_ids(7, 3), [289, 14192, 8885]);
    }
}
