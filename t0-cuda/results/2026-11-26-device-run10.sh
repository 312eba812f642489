#!/usr/bin/env bash
# device run 10 (lead): every GPU test (incl. flash v2, rmsnorm_vec, gemv_rms, decode options),
# full bench (kernels incl. attention/rmsnorm old vs new, G1-G4, G3 stage profile, decode timeline).
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/cuda/bin
T0_TO_NOGPU=30 T0_TO_KERNELS=150 T0_TO_PARITY=60 T0_TO_ENGINE=90 T0_TO_BENCH=200 bash ./gpu-check.sh --bin-dir "$PWD" --out "$OUT" > $OUT/console.log 2>&1
echo "gpu-check status $?"
grep -E "^\[|self-check|attention G3|rmsnorm 16384|profile|timeline|G1 decode ms|G2-32|exit code|FAILED|panicked|test result" $OUT/gpu-check.log | cut -c1-1500
grep "^|" $OUT/bench.log
