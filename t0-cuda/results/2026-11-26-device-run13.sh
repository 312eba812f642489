#!/usr/bin/env bash
# device run 13 (lead): decode: head-ordered fused blocks, PDL flags per path, L2 prefetch: kernel + engine tests, G1 bench.
cd "$(dirname "$0")"
export T0_FIXTURES=$PWD/fixtures
timeout 90 ./gpu_kernels gemv attention argmax norms --test-threads=1 --nocapture > $OUT/k.log 2>&1; echo "kernels rc $?"; grep -E "gemv_rms_attn|test result|panicked|FAILED" $OUT/k.log | tail -30
timeout 90 ./gpu_engine --test-threads=1 --nocapture > $OUT/e.log 2>&1; echo "engine rc $?"; grep -E "test result|panicked|FAILED|decode options|greedy:|attention-in-GEMV" $OUT/e.log | tail -12
timeout 60 ./gpu_parity --test-threads=1 > $OUT/p.log 2>&1; echo "parity rc $?"; grep -E "test result" $OUT/p.log
timeout 90 ./t0-cuda-bench 3b 11b --g1-only > $OUT/bench-g1.log 2>&1; echo "bench exit $?"; grep -E "G1|failed|error|timeline" $OUT/bench-g1.log | cut -c1-900
