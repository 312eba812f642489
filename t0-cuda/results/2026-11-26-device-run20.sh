#!/usr/bin/env bash
# device run 20: TMA-store epilogue (variant 4). Clock/power log in the background; every GPU
# test and the full bench through gpu-check.sh; G3 A/B (TMA store on/off alternating, T0pp);
# compute-sanitizer memcheck on the gated TMA-store test.
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/cuda/bin
f=clocks_event_reasons.active
nvidia-smi --query-gpu=$f --format=csv >/dev/null 2>&1 || f=clocks_throttle_reasons.active
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,$f --format=csv -lms 250 > $OUT/smi.csv 2>&1 &
smi=$!
T0_TO_NOGPU=30 T0_TO_KERNELS=200 T0_TO_PARITY=60 T0_TO_ENGINE=90 T0_TO_BENCH=240 bash ./gpu-check.sh --bin-dir "$PWD" --out "$OUT" > $OUT/console.log 2>&1
echo "gpu-check status $?"
grep -E "^\[|self-check|chosen|TMA GEMM 8192|flash attention 4x512|attention G3|engine epilogue|epilogues TFLOP|profile|G1 decode ms|G2-32|exit code|FAILED|panicked|test result|failed|rel diff" $OUT/gpu-check.log | grep -v "^test .* ok$" | cut -c1-600
grep "^|" $OUT/bench.log
echo "== G3 A/B"; date +%T
timeout 120 ./t0-cuda-bench 11b --g3-only > $OUT/g3ab.log 2>&1; echo "g3ab exit $?"
grep -E "G3|profile|TMA|chosen" $OUT/g3ab.log | cut -c1-600
date +%T
export T0_FIXTURES=$PWD/fixtures
if command -v compute-sanitizer >/dev/null; then
  timeout 60 compute-sanitizer --tool memcheck --print-limit 10 ./gpu_kernels wgmma_gated --test-threads=1 > $OUT/sanitizer.log 2>&1
  echo "sanitizer exit $?"; grep -E "ERROR SUMMARY|test result|Invalid" $OUT/sanitizer.log | head
fi
kill $smi 2>/dev/null
awk -F', ' 'NR>1 {n++; c+=$2; p+=$4} END {print "smi samples", n, "mean sm clock", c/n, "mean power", p/n}' $OUT/smi.csv
