#!/usr/bin/env bash
# device run 11 (lead): everything merged (decode: folded norm, PDL, attn_dec_d64, argmax;
# encoder: flash v2, rmsnorm_vec, fast TMA epilogues): all GPU tests + full bench; then the
# opt-in cluster GEMM probe + 11b bench with it, in separate processes.
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/cuda/bin
T0_TO_NOGPU=30 T0_TO_KERNELS=180 T0_TO_PARITY=60 T0_TO_ENGINE=90 T0_TO_BENCH=240 bash ./gpu-check.sh --bin-dir "$PWD" --out "$OUT" > $OUT/console.log 2>&1
echo "gpu-check status $?"
grep -E "^\[|self-check|chosen|TFLOP/s|attention G3|rmsnorm 16384|profile|timeline|G1 decode ms|G2-32|exit code|FAILED|panicked|test result|failed" $OUT/gpu-check.log | cut -c1-900
grep "^|" $OUT/bench.log
export T0_FIXTURES=$PWD/fixtures
T0_CUDA_GEMM_CLUSTER=1 timeout 90 ./gpu_kernels wgmma --test-threads=1 --nocapture > $OUT/cluster-tests.log 2>&1; echo "cluster tests rc $?"
grep -E "test result|panicked|failed|self-check|Cluster|cluster" $OUT/cluster-tests.log | head -20
T0_CUDA_GEMM_CLUSTER=1 timeout 120 ./t0-cuda-bench --kernels 11b > $OUT/cluster-bench.log 2>&1; echo "cluster bench rc $?"
grep -E "chosen|Cluster|cluster|profile|G3|G2-32|^\|" $OUT/cluster-bench.log | cut -c1-600
