//! Machine probes for benchmarks (std only): register-only FMA throughput and streaming
//! read bandwidth, on the threads of the current rayon pool.
//!
//! Benchmarks measure these at the start of a run (to print floors) and around each timed
//! repetition (to discard repetitions taken while the shared, boosted cores were slow).

use std::time::Instant;

use rayon::prelude::*;

use crate::isa::Isa;
use crate::simd::Simd;

/// 12 independent FMA chains for `iters` steps; returns a value so the work is kept.
///
/// # Safety
/// ISA available.
#[inline(always)]
unsafe fn fma_loop<S: Simd>(iters: usize, seed: f32) -> f32 {
    // SAFETY: ISA available (caller).
    unsafe {
        let a = S::splat(0.999_999);
        let b = S::splat(1e-7);
        let mut acc = [S::splat(seed); 12];
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = S::fma(*v, a, b);
            }
        }
        let mut s = S::zero();
        for v in acc {
            s = S::add(s, v);
        }
        S::hsum(s)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_avx512(iters: usize, seed: f32) -> f32 {
    // SAFETY: AVX-512F enabled on this function; only called after detection.
    unsafe { fma_loop::<crate::x86::Avx512>(iters, seed) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn fma_avx2(iters: usize, seed: f32) -> f32 {
    // SAFETY: AVX2/FMA enabled on this function; only called after detection.
    unsafe { fma_loop::<crate::x86::Avx2>(iters, seed) }
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn fma_neon(iters: usize, seed: f32) -> f32 {
    // SAFETY: NEON enabled; only called after detection.
    unsafe { fma_loop::<crate::neon::Neon>(iters, seed) }
}

fn fma_run(isa: Isa, iters: usize, seed: f32) -> (f32, usize) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` is available (checked by the caller).
        Isa::Avx512 => (unsafe { fma_avx512(iters, seed) }, 16),
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => (unsafe { fma_avx2(iters, seed) }, 8),
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Isa::Neon => (unsafe { fma_neon(iters, seed) }, 4),
        // SAFETY: the scalar "ISA" is always available.
        _ => (unsafe { fma_loop::<crate::simd::Scalar>(iters, seed) }, 1),
    }
}

/// FP32 FMA throughput in GFLOP/s (2 FLOPs per lane per FMA) on every thread of the current
/// rayon pool for about `ms` milliseconds, with the given ISA (panics if unavailable).
pub fn fma_gflops(isa: Isa, ms: f64) -> f64 {
    assert!(
        isa.is_available(),
        "probe: ISA {} not available",
        isa.name()
    );
    // Calibrate: 4096 steps × 12 FMAs.
    let t = Instant::now();
    let (_, lanes) = fma_run(isa, 4096, 1.0);
    let per = t.elapsed().as_secs_f64().max(1e-7) / 4096.0;
    let iters = ((ms * 1e-3 / per) as usize).clamp(1024, 1 << 30);
    let threads = rayon::current_num_threads();
    let t = Instant::now();
    let s: f32 = (0..threads)
        .into_par_iter()
        .map(|i| fma_run(isa, iters, i as f32).0)
        .sum();
    let dt = t.elapsed().as_secs_f64();
    std::hint::black_box(s);
    (threads * iters * 12 * lanes * 2) as f64 / dt / 1e9
}

/// Streaming read bandwidth in GB/s: every thread of the current pool sums its contiguous
/// part of `buf` (make it much larger than the last-level cache to measure DRAM).
pub fn read_gbps(buf: &[f32]) -> f64 {
    let threads = rayon::current_num_threads().max(1);
    let chunk = buf.len().div_ceil(threads).max(1);
    let t = Instant::now();
    let s: f32 = buf.par_chunks(chunk).map(sum_fast).sum();
    let dt = t.elapsed().as_secs_f64();
    std::hint::black_box(s);
    std::mem::size_of_val(buf) as f64 / dt / 1e9
}

/// Sums `x` with 4 independent vector accumulators (full-width loads).
///
/// # Safety
/// ISA available.
#[inline(always)]
unsafe fn sum_body<S: Simd>(x: &[f32]) -> f32 {
    let l = S::LANES;
    let n = x.len() / (4 * l) * (4 * l);
    // SAFETY: i + 4 * l <= n <= x.len() for every load.
    unsafe {
        let mut acc = [S::zero(); 4];
        let mut i = 0;
        while i < n {
            for (j, a) in acc.iter_mut().enumerate() {
                *a = S::add(*a, S::load(x.as_ptr().add(i + j * l)));
            }
            i += 4 * l;
        }
        let s = S::add(S::add(acc[0], acc[1]), S::add(acc[2], acc[3]));
        S::hsum(s) + x[n..].iter().sum::<f32>()
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_avx512(x: &[f32]) -> f32 {
    // SAFETY: AVX-512F enabled on this function; only called after detection.
    unsafe { sum_body::<crate::x86::Avx512>(x) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn sum_avx2(x: &[f32]) -> f32 {
    // SAFETY: AVX2 enabled on this function; only called after detection.
    unsafe { sum_body::<crate::x86::Avx2>(x) }
}

#[cfg(target_arch = "aarch64")]
#[target_feature(enable = "neon")]
unsafe fn sum_neon(x: &[f32]) -> f32 {
    // SAFETY: NEON enabled; only called after detection.
    unsafe { sum_body::<crate::neon::Neon>(x) }
}

fn sum_fast(x: &[f32]) -> f32 {
    match Isa::best() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: Isa::best() is available.
        Isa::Avx512 => unsafe { sum_avx512(x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2 => unsafe { sum_avx2(x) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: as above.
        Isa::Neon => unsafe { sum_neon(x) },
        // SAFETY: the scalar path is always available.
        _ => unsafe { sum_body::<crate::simd::Scalar>(x) },
    }
}

/// CPU seconds used so far by all threads of this process (`CLOCK_PROCESS_CPUTIME_ID`,
/// nanosecond resolution, running threads included); `None` where unavailable.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub fn process_cpu_secs() -> Option<f64> {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` is the libc function (linked by std on Linux); `ts` is a valid
    // `struct timespec` (two 64-bit fields on 64-bit Linux) that it only writes.
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// CPU seconds used so far by this process; `None` on this platform.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
pub fn process_cpu_secs() -> Option<f64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_return_positive_rates() {
        assert!(fma_gflops(Isa::best(), 1.0) > 0.0);
        assert!(read_gbps(&vec![1.0; 1 << 16]) > 0.0);
        let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        assert_eq!(sum_fast(&x), 499_500.0);
        #[cfg(target_os = "linux")]
        {
            let a = process_cpu_secs().unwrap();
            fma_gflops(Isa::Scalar, 5.0);
            assert!(process_cpu_secs().unwrap() > a);
        }
    }
}
