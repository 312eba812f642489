#!/usr/bin/env bash
# device run 21: which TMA-store test assertion failed in run 20 (logs inlined, few files).
cd "$(dirname "$0")"
export T0_FIXTURES=$PWD/fixtures
for t in wgmma_fast_epilogues wgmma_gated wgmma_gemm; do
  echo "=== $t"
  timeout 100 ./gpu_kernels $t --test-threads=1 --nocapture > $OUT/$t.log 2>&1; echo "exit $?"
  grep -E "panicked|assert|FAILED|left|right|padding|element|error|rel diff|self-check" $OUT/$t.log | head -12 | cut -c1-400
  grep -E "Store" $OUT/$t.log | sort -k6 -g | tail -3 | cut -c1-200
done
