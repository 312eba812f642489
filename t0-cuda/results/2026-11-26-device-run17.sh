#!/usr/bin/env bash
# device run 17: locate the illegal address of run 16 (sanitizer on the fused GEMV+attention test; bench with attention-in-GEMV off).
cd "$(dirname "$0")"
export T0_FIXTURES=$PWD/fixtures
T0_CUDA_GEMV_ATTN=0 timeout 50 ./t0-cuda-bench 3b --g1-only > $OUT/bench-noattn.log 2>&1; echo "bench attn-off exit $?"; grep -E "G1 decode ms|G1 encoder|failed" $OUT/bench-noattn.log | cut -c1-700
timeout 100 compute-sanitizer --tool memcheck --print-limit 6 ./gpu_kernels gemv_rms_attn --test-threads=1 > $OUT/sanitizer.log 2>&1
echo "sanitizer exit $?"; grep -E "ERROR SUMMARY|test result|Invalid|at 0x|by thread|Address|gemv" $OUT/sanitizer.log | head -40
