#!/usr/bin/env python3
"""Encode throughput: t0's tokenizer vs sentencepiece's C++ encoder, same lines, same run.

Requirements (pinned): sentencepiece==0.2.0 (in /work/venv).

    /work/venv/bin/python scripts/tokenizer_bench.py [MODEL] [TEXT] [REPS]

Defaults: ../shared/data/sentencepiece/t5style-4k.model and botchan.txt. Builds and runs
`tokenize_throughput` (release) and times `SentencePieceProcessor.encode` on the same lines
split on "\\n": once as one batched call with num_threads=1 (C++ loop, no per-line Python
overhead) and once line by line. Single thread both sides; best of REPS. Prints MB/s and
the ratio t0 / sentencepiece.
"""

import json
import os
import subprocess
import sys
import time

import sentencepiece as spm

assert spm.__version__ == "0.2.0", spm.__version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("T0_SHARED", os.path.join(ROOT, "..", "shared"))
model = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SHARED, "data/sentencepiece/t5style-4k.model")
text_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(SHARED, "data/sentencepiece/botchan.txt")
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5

with open(text_path, encoding="utf-8", newline="") as fh:
    lines = fh.read().split("\n")
total = sum(len(line.encode("utf-8")) for line in lines)

subprocess.run(
    ["cargo", "build", "--release", "-q", "-p", "t0-benches", "--bin", "tokenize_throughput"], cwd=ROOT, check=True
)
exe = os.path.join(ROOT, "target", "release", "tokenize_throughput")

t = time.perf_counter()
sp = spm.SentencePieceProcessor(model_file=model)
sp_load_ms = (time.perf_counter() - t) * 1e3


def best_of(fn):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


sp_batch = best_of(lambda: sp.encode(lines, num_threads=1))
sp_loop = best_of(lambda: [sp.encode(line) for line in lines])
ours = json.loads(subprocess.run([exe, model, text_path, str(reps)], check=True, capture_output=True, text=True).stdout)
n_ids = sum(len(x) for x in sp.encode(lines, num_threads=1))
assert n_ids == ours["ids"], (n_ids, ours["ids"])

sp_batch_mbs = total / sp_batch / 1e6
sp_loop_mbs = total / sp_loop / 1e6
print(f"text: {text_path} ({total} bytes, {len(lines)} lines, {n_ids} ids); model: {model}")
print(f"t0 (Rust)                     : {ours['mb_per_s']:.2f} MB/s")
print(f"sentencepiece batch, 1 thread : {sp_batch_mbs:.2f} MB/s  -> ratio t0/spm {ours['mb_per_s'] / sp_batch_mbs:.2f}")
print(f"sentencepiece per-line python : {sp_loop_mbs:.2f} MB/s  -> ratio t0/spm {ours['mb_per_s'] / sp_loop_mbs:.2f}")
print(f"load: t0 {ours['load_ms']:.2f} ms, sentencepiece {sp_load_ms:.2f} ms (one load, incl. file read)")
print(f"load of a synthetic {ours['pieces_32k']}-piece model: t0 {ours['load_32k_ms']:.2f} ms")
