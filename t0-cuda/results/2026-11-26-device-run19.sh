#!/usr/bin/env bash
# device run 19 (final code, gemv_pipe removed): every GPU test, full bench (kernels, G1-G4 3b + 11b, G3 stage
# profile, decode variants and timeline), then compute-sanitizer memcheck on the new decode
# kernels' tests.
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/cuda/bin
T0_TO_NOGPU=30 T0_TO_KERNELS=180 T0_TO_PARITY=60 T0_TO_ENGINE=90 T0_TO_BENCH=240 bash ./gpu-check.sh --bin-dir "$PWD" --out "$OUT" > $OUT/console.log 2>&1
echo "gpu-check status $?"
grep -E "^\[|self-check|chosen|flash attention 4x512|attention G3|rmsnorm 16384|engine epilogue|profile|timeline|G1 decode ms|G2-32|exit code|FAILED|panicked|test result|failed" $OUT/gpu-check.log | cut -c1-700
grep "^|" $OUT/bench.log
export T0_FIXTURES=$PWD/fixtures
if command -v compute-sanitizer >/dev/null; then
  timeout 45 compute-sanitizer --tool memcheck --print-limit 10 ./gpu_kernels gemv_rms_attn decode_attention --test-threads=1 > $OUT/sanitizer.log 2>&1
  echo "sanitizer exit $?"; grep -E "ERROR SUMMARY|test result|Invalid" $OUT/sanitizer.log | head
fi
