#!/usr/bin/env bash
# GPU check for t0-cuda (needs an NVIDIA GPU of compute capability 8.0+, CUDA 12/13 driver and
# NVRTC; built for CUDA 13.0). Runs the GPU tests (per-kernel checks vs f64 / cuBLAS, the
# CUDA backend and the fused engine vs the CPU backend on the fixture models), then the
# benchmarks G1-G4 of shared/docs/benchmarks.md on random-weight T0_3B and T0pp shapes
# (weights generated on the device by a hash kernel), printing a table with HF's numbers and
# the floors beside ours. Meant to finish in under 7 minutes on one H100.
#
# Usage:
#   scripts/gpu-check.sh                 # with cargo: builds in release, then runs
#   scripts/gpu-check.sh --bin-dir DIR   # prebuilt executables in DIR (gpu_kernels, gpu_parity,
#                                        #   gpu_engine, no_gpu, t0-cuda-bench) and DIR/fixtures
# Options: --out DIR (logs; default $OUT or ./gpu-check-out), --quick (smaller bench),
#          --no-bench, --models "3b 11b", --generic (also time G1 through the generic
#          t0-core model on the CUDA backend, base and 3b shapes).
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bin_dir=""
out="${OUT:-$here/gpu-check-out}"
quick=""
bench=1
models="3b 11b"
generic=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --quick) quick="--quick"; shift ;;
        --no-bench) bench=0; shift ;;
        --models) models="$2"; shift 2 ;;
        --generic) generic="--generic"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
log="$out/gpu-check.log"
exec > >(tee -a "$log") 2>&1
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start ))s] $*"; }

stamp "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem,temperature.gpu --format=csv 2>&1 || echo "nvidia-smi unavailable"

status=0
declare -A exe
if [ -z "$bin_dir" ]; then
    stamp "== build (release)"
    cd "$here"
    json=$(cargo test -p t0-cuda --release --no-run --message-format=json 2>"$out/build.err") || { cat "$out/build.err"; exit 1; }
    for t in gpu_kernels gpu_parity gpu_engine no_gpu; do
        exe[$t]=$(echo "$json" | grep -o "\"executable\":\"[^\"]*/$t-[^\"]*\"" | head -1 | cut -d'"' -f4)
    done
    cargo build -p t0-cuda --release --bin t0-cuda-bench 2>>"$out/build.err" || { cat "$out/build.err"; exit 1; }
    exe[bench]="$here/target/release/t0-cuda-bench"
    export T0_FIXTURES="${T0_FIXTURES:-$here/t0-core/tests/fixtures/models}"
else
    for t in gpu_kernels gpu_parity gpu_engine no_gpu; do exe[$t]="$bin_dir/$t"; done
    exe[bench]="$bin_dir/t0-cuda-bench"
    export T0_FIXTURES="${T0_FIXTURES:-$bin_dir/fixtures}"
fi

run_test() {
    local name="$1" limit="$2"
    local x="${exe[$name]:-}"
    if [ -z "$x" ] || [ ! -x "$x" ]; then
        stamp "!! $name: executable not found"; status=1; return
    fi
    stamp "== test $name"
    timeout "$limit" "$x" --test-threads=1 --nocapture > "$out/$name.log" 2>&1
    local rc=$?
    grep -E "rel err|parity|engine|greedy|diverges|skipped|test result|panicked|FAILED|error" "$out/$name.log" | head -150
    stamp "$name exit code $rc"
    [ $rc -eq 0 ] || status=1
    if [ "$name" != no_gpu ] && grep -q "skipped: CUDA backend unavailable" "$out/$name.log"; then
        stamp "!! $name verified nothing: no usable CUDA device"
        status=1
    fi
}
# The Hopper wgmma GEMM is probed first in its own process: a kernel fault would poison the
# CUDA context of every later test in the same process. If the probe fails, the remaining
# steps run without the TMA-store epilogue (T0_CUDA_TMA_STORE=0) if a second probe passes that
# way, else also without any fast TMA epilogue (T0_CUDA_FAST_EPI=0) if a third does, else also
# without the persistent TMA GEMM (T0_CUDA_GEMM_PERSISTENT=0) if a fourth does, else with
# T0_CUDA_WGMMA=0 (mma.sync GEMMs only).
# probe SUFFIX: the wgmma tests in their own process, log wgmma_probeSUFFIX.log; sets rc.
probe() {
    timeout 90 "${exe[gpu_kernels]}" wgmma --test-threads=1 --nocapture > "$out/wgmma_probe$1.log" 2>&1
    rc=$?
    grep -E "rel err|self-check|skipped|test result|panicked" "$out/wgmma_probe$1.log" | head -20
}
if [ -x "${exe[gpu_kernels]:-}" ]; then
    stamp "== wgmma probe"
    probe ""
    # Each fallback in turn while the probe still fails: what it turns off, then the variable.
    for step in "the TMA-store epilogue:T0_CUDA_TMA_STORE" \
                "the fast TMA epilogues:T0_CUDA_FAST_EPI" \
                "the persistent TMA GEMM:T0_CUDA_GEMM_PERSISTENT"; do
        [ $rc -eq 0 ] && break
        stamp "!! wgmma probe failed (exit $rc): retrying without ${step%%:*}"
        status=1
        export "${step##*:}=0"
        probe "_no_${step##*:}"
    done
    if [ $rc -ne 0 ]; then
        stamp "!! wgmma probe failed again (exit $rc): continuing with T0_CUDA_WGMMA=0"
        export T0_CUDA_WGMMA=0
    fi
fi
# Per-step time limits (seconds); override through the environment for short leases.
run_test no_gpu "${T0_TO_NOGPU:-60}"
run_test gpu_kernels "${T0_TO_KERNELS:-180}"
run_test gpu_parity "${T0_TO_PARITY:-120}"
run_test gpu_engine "${T0_TO_ENGINE:-120}"

if [ $bench -eq 1 ]; then
    stamp "== bench ($models $quick)"
    timeout "${T0_TO_BENCH:-360}" "${exe[bench]}" --kernels $generic $models $quick 2>&1 | tee "$out/bench.log"
    rc=${PIPESTATUS[0]}
    stamp "bench exit code $rc"
    [ $rc -eq 0 ] || status=1
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv 2>&1
stamp "== done, status $status"
exit $status
