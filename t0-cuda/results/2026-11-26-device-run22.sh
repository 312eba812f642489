#!/usr/bin/env bash
# device run 22: TMA-store epilogue with the 16-byte row-width rule. Clock/power log in the
# background; every GPU test and the full bench through gpu-check.sh; G3 A/B (TMA store on/off
# alternating, T0pp); compute-sanitizer memcheck on the TMA-store tests. Logs in one tarball.
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/cuda/bin
L=/tmp/logs; mkdir -p $L
f=clocks_event_reasons.active
nvidia-smi --query-gpu=$f --format=csv >/dev/null 2>&1 || f=clocks_throttle_reasons.active
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,$f --format=csv -lms 250 > $L/smi.csv 2>&1 &
smi=$!
T0_TO_NOGPU=30 T0_TO_KERNELS=200 T0_TO_PARITY=60 T0_TO_ENGINE=90 T0_TO_BENCH=240 bash ./gpu-check.sh --bin-dir "$PWD" --out "$L" > $L/console.log 2>&1
echo "gpu-check status $?"
grep -E "^\[|self-check|chosen|TMA GEMM 8192|attention G3|engine epilogue|epilogues TFLOP|profile|G1 decode ms|G2-32|exit code|FAILED|panicked|test result|failed|padding" $L/gpu-check.log | grep -v "^test .* ok$" | cut -c1-600
grep "^|" $L/bench.log
echo "== G3 A/B"; date +%T
timeout 120 ./t0-cuda-bench 11b --g3-only > $L/g3ab.log 2>&1; echo "g3ab exit $?"
grep -E "G3|profile|chosen" $L/g3ab.log | cut -c1-600
date +%T
export T0_FIXTURES=$PWD/fixtures
if command -v compute-sanitizer >/dev/null; then
  timeout 90 compute-sanitizer --tool memcheck --print-limit 10 ./gpu_kernels wgmma_gated --test-threads=1 > $L/sanitizer.log 2>&1
  echo "sanitizer exit $?"; grep -E "ERROR SUMMARY|test result|Invalid|panicked" $L/sanitizer.log | head
fi
kill $smi 2>/dev/null
tar czf $OUT/logs.tgz -C /tmp logs
