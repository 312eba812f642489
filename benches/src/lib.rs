//! Benchmark support for t0: workloads W1–W4 of `docs/benchmarks.md` (see `t0 bench`).
