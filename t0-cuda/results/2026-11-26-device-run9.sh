#!/usr/bin/env bash
# device run 9 (lead): PDL flag variants of the decode step; gemv + decode tests.
cd "$(dirname "$0")"
export T0_FIXTURES=$PWD/fixtures
timeout 60 ./gpu_kernels gemv gemm_all --test-threads=1 --nocapture > $OUT/k.log 2>&1; echo "kernels rc $?"; grep -E "test result|panicked|FAILED" $OUT/k.log
timeout 90 ./gpu_engine --test-threads=1 --nocapture > $OUT/e.log 2>&1; echo "engine rc $?"; grep -E "test result|panicked|FAILED|decode options|greedy:" $OUT/e.log
timeout 90 ./t0-cuda-bench 3b 11b --g1-only > $OUT/bench-g1.log 2>&1; echo "bench exit $?"; grep -E "G1|failed|error" $OUT/bench-g1.log
