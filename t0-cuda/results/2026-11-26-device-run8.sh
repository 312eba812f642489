#!/usr/bin/env bash
# device run 8 (lead, decode round): all GPU tests (incl. gemv_rms + decode options), G1 bench
# for 3b and 11b with the decode option variants, then an nsys kernel summary of 3b decode.
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/cuda/bin
which nsys ncu compute-sanitizer 2>&1 | tee $OUT/tools.txt
T0_TO_NOGPU=30 T0_TO_KERNELS=120 T0_TO_PARITY=60 T0_TO_ENGINE=90 bash ./gpu-check.sh --bin-dir "$PWD" --out "$OUT" --no-bench
echo "gpu-check status $?"
grep -E "gemv_rms|folded|decode options|PDL" $OUT/gpu_kernels.log $OUT/gpu_engine.log | tail -40
timeout 60 ./t0-cuda-bench 3b 11b --g1-only > $OUT/bench-g1.log 2>&1; echo "bench exit $?"; cat $OUT/bench-g1.log | grep -v "^|" | tail -12
grep "^|" $OUT/bench-g1.log
if command -v nsys >/dev/null; then
  timeout 100 nsys profile --cuda-graph-trace=node -o /tmp/dec --force-overwrite true ./t0-cuda-bench 3b --g1-only > /tmp/nsys-run.log 2>&1
  echo "nsys exit $?"
  timeout 60 nsys stats --report cuda_gpu_kern_sum --format csv /tmp/dec.nsys-rep > $OUT/nsys-kern.csv 2>/tmp/nsys-stats.err
  head -30 $OUT/nsys-kern.csv
fi
cd $OUT && tar czf logs.tgz *.log 2>/dev/null; ls -la $OUT
