#!/usr/bin/env bash
# device run 15: persistent pipelined GEMV (gemv_pipe): kernel + engine tests, G1 bench with pipe variants.
cd "$(dirname "$0")"
export T0_FIXTURES=$PWD/fixtures
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw --format=csv,noheader
timeout 120 ./gpu_kernels gemv attention argmax --test-threads=1 --nocapture > $OUT/k.log 2>&1; echo "kernels rc $?"; grep -E "test |test result|panicked|FAILED|rel err" $OUT/k.log | grep -v "^$" | tail -25
timeout 100 ./gpu_engine --test-threads=1 --nocapture > $OUT/e.log 2>&1; echo "engine rc $?"; grep -E "test result|panicked|FAILED|one-group|greedy:" $OUT/e.log | tail -14
timeout 60 ./gpu_parity --test-threads=1 > $OUT/p.log 2>&1; echo "parity rc $?"; grep -E "test result|panicked" $OUT/p.log
timeout 100 ./t0-cuda-bench 3b 11b --g1-only > $OUT/bench-g1.log 2>&1; echo "bench exit $?"; grep -E "G1|failed|error|timeline" $OUT/bench-g1.log | cut -c1-1500
timeout 60 ./t0-cuda-bench --kernels --quick > $OUT/bench-k.log 2>&1; echo "bench-k exit $?"; grep -E "gemv|copy|failed|error" $OUT/bench-k.log | cut -c1-600
