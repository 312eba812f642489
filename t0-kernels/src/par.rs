//! Work splitting: rayon under `std`, sequential without it.
//!
//! Work is split into contiguous index ranges; kernels compute every output element the same
//! way whatever range it falls in, so the split (and the thread count) never changes results.

/// Below this many multiply-adds a call runs on the calling thread.
const PAR_MIN_WORK: usize = 1 << 16;

/// Calls `f(start, end)` over a partition of `0..n` into contiguous ranges, in parallel on
/// the current rayon pool when `work` is large enough.
pub(crate) fn for_ranges(n: usize, work: usize, f: &(dyn Fn(usize, usize) + Sync)) {
    if n == 0 {
        return;
    }
    #[cfg(feature = "std")]
    {
        let threads = rayon::current_num_threads();
        if threads > 1 && n > 1 && work >= PAR_MIN_WORK {
            // A few ranges per thread so a thread slowed by a busy core is compensated.
            let chunks = n.min(threads * 4);
            use rayon::prelude::*;
            (0..chunks).into_par_iter().for_each(|c| {
                let (s, e) = (n * c / chunks, n * (c + 1) / chunks);
                if s < e {
                    f(s, e);
                }
            });
            return;
        }
    }
    let _ = (work, PAR_MIN_WORK);
    f(0, n);
}
