#!/usr/bin/env bash
# device run 23: the final commit's gpu-check.sh (probe fallbacks as one loop) end to end, with
# the binaries of run 22 (no Rust or kernel change since). Logs in one tarball.
cd "$(dirname "$0")"
export PATH=$PATH:/usr/local/cuda/bin
L=/tmp/logs; mkdir -p $L
T0_TO_NOGPU=30 T0_TO_KERNELS=200 T0_TO_PARITY=60 T0_TO_ENGINE=90 T0_TO_BENCH=200 bash ./gpu-check.sh --bin-dir "$PWD" --out "$L" > $L/console.log 2>&1
echo "gpu-check status $?"
grep -E "^\[|chosen|profile|exit code|FAILED|panicked|test result|failed|padding" $L/gpu-check.log | grep -v "^test .* ok$" | cut -c1-400
grep "^|" $L/bench.log
tar czf $OUT/logs.tgz -C /tmp logs
