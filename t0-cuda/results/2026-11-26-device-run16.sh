#!/usr/bin/env bash
# device run 16: decode attention with all loads of a pass in flight + L2 prefetch of K/V; gemv_pipe opt-in: kernel + engine tests, G1 bench with pipe variants.
cd "$(dirname "$0")"
export T0_FIXTURES=$PWD/fixtures
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw --format=csv,noheader
timeout 120 ./gpu_kernels gemv attention argmax --test-threads=1 --nocapture > $OUT/k.log 2>&1; echo "kernels rc $?"; grep -E "test result|panicked|FAILED" $OUT/k.log; grep -E "gemv_rms_attn self (true|false) heads (8|32)" $OUT/k.log | grep -v "rows\|cache" | head -8
timeout 100 ./gpu_engine --test-threads=1 --nocapture > $OUT/e.log 2>&1; echo "engine rc $?"; grep -E "test result|panicked|FAILED|one-group|greedy:" $OUT/e.log | tail -14
timeout 60 ./gpu_parity --test-threads=1 > $OUT/p.log 2>&1; echo "parity rc $?"; grep -E "test result|panicked" $OUT/p.log
timeout 100 ./t0-cuda-bench 3b 11b --g1-only > $OUT/bench-g1.log 2>&1; echo "bench exit $?"; grep -E "G1|failed|error|timeline" $OUT/bench-g1.log | cut -c1-1500
