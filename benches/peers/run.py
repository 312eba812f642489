#!/usr/bin/env python3
"""Peer comparison: HF transformers + torch and CTranslate2 against t0 on workloads W1-W4
(docs/benchmarks.md), same random checkpoint, same token ids, same run, same gating.

Not part of CI. Run from the repository root:

    python3 benches/peers/run.py                      # creates benches/peers/.venv (pip)
    python3 benches/peers/run.py --python /work/venv/bin/python   # reuse an environment
    python3 benches/peers/run.py --shape base --reps 3 --engines hf,ct2

Steps: builds the Rust benches (cargo, release), runs t0's `workloads` binary (which writes
the random checkpoint target/t0-bench-models/<shape> if missing, seed 0, f32) and parses its
table; converts the same checkpoint for CTranslate2 (a stand-in vocabulary of token strings
"t<id>", since random models have no tokenizer); runs the peers with the same token ids
(splitmix64, as t0_benches::token_ids) on 2 threads; every timed repetition is gated by
t0's FMA probe (target/release/probe) before and after, kept when both read >= 80% of the
third-best probe seen. Prints one table: engine x workload x precision, with the ratio
engine time / t0 time at the same weight precision (int8 peers are compared with t0 bf16,
our smallest format).

Pinned versions (benches/peers/requirements.txt): torch 2.5.1 (CPU), transformers 4.46.3,
ctranslate2 4.8.5, safetensors 0.8.0, numpy 2.4.6, sentencepiece 0.2.0.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
NEW_TOKENS = 32
THREADS = 2
MASK = (1 << 64) - 1


def token_ids(seed, n):
    """Same ids as t0_benches::token_ids (one splitmix64 step per index)."""
    out = []
    for i in range(n):
        z = ((seed << 32) + i + 0x9E3779B97F4A7C15) & MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out.append(100 + z % 31900)
    return out


def ensure_env(args):
    """Re-executes under the requested/venv interpreter that has the pinned packages."""
    if os.environ.get("T0_PEERS_CHILD") == "1":
        return
    py = args.python
    if py is None:
        venv = os.path.join(HERE, ".venv")
        py = os.path.join(venv, "bin", "python")
        if not os.path.exists(py):
            subprocess.check_call([sys.executable, "-m", "venv", venv])
            subprocess.check_call([py, "-m", "pip", "install", "--upgrade", "pip"])
            subprocess.check_call(
                [py, "-m", "pip", "install", "-r", os.path.join(HERE, "requirements.txt"),
                 "--extra-index-url", "https://download.pytorch.org/whl/cpu"])
    env = dict(os.environ, T0_PEERS_CHILD="1")
    os.execve(py, [py, os.path.abspath(__file__)] + sys.argv[1:], env)


class Gate:
    def __init__(self, probe_bin, frac=0.8):
        self.bin, self.frac, self.top = probe_bin, frac, []
        for _ in range(10):
            self.probe(30)

    @property
    def best(self):
        """Third-best reading so far (robust to one outlier), as t0_benches::Gate."""
        return self.top[-1] if self.top else 0.0

    def probe(self, ms=3):
        g = float(subprocess.check_output([self.bin, str(ms)]).decode().strip())
        self.top = sorted(self.top + [g], reverse=True)[:3]
        return g

    def time(self, fn, reps, tries=None):
        """(wall, CPU-normalised) medians in seconds of kept reps of fn() after one warm-up,
        and kept/tried. CPU-normalised = process CPU time / THREADS, as t0_benches::Stamp."""
        fn()
        tries = tries or reps * 3
        kept, allv, n = [], [], 0
        while len(kept) < reps and n < tries:
            n += 1
            b = self.probe()
            t, c = time.perf_counter(), time.process_time()
            fn()
            dt = (time.perf_counter() - t, (time.process_time() - c) / THREADS)
            a = self.probe()
            allv.append(dt)
            if b >= self.frac * self.best and a >= self.frac * self.best:
                kept.append(dt)
        v = kept or allv
        return (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v),
                "%d/%d%s" % (len(kept), n, "" if kept else "*"))


def run_t0(args):
    env = dict(os.environ, RAYON_NUM_THREADS=str(THREADS))
    cmd = [os.path.join(ROOT, "target", "release", "workloads"), "--shape", args.shape,
           "--reps", str(args.reps), "--w", "1,2,3,4"]
    print("$", " ".join(cmd), flush=True)
    out = subprocess.check_output(cmd, cwd=ROOT, env=env).decode()
    print(out)
    res = {}
    for line in out.splitlines():
        m = re.match(r"(W\d [^|]*?)\s+(f32|bf16)\s+\|\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)",
                     line)
        if m:
            res[(m.group(1).strip(), m.group(2))] = (float(m.group(3)), float(m.group(4)),
                                                     m.group(6))
    return res


def put(res, name, t, reps, items=None):
    """Stores (wall, CPU-normalised, unit, reps) from (wall s, cpu s) for ms or tok/s rows."""
    if items is None:
        res[name] = (t[0] * 1e3, t[1] * 1e3, "ms", reps)
    else:
        res[name] = (items / t[0], items / t[1], "tok/s", reps)


def hf_engine(model_dir, dtype_name, gate, reps):
    import torch
    from transformers import T5ForConditionalGeneration

    torch.set_num_threads(THREADS)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    model = T5ForConditionalGeneration.from_pretrained(model_dir, torch_dtype=dtype).eval()
    res = {}
    with torch.inference_mode():
        ids = torch.tensor([token_ids(1, 128)])
        *enc, r1 = gate.time(lambda: model.encoder(input_ids=ids), reps)
        gen = lambda: model.generate(input_ids=ids, max_new_tokens=NEW_TOKENS,
                                     min_new_tokens=NEW_TOKENS, do_sample=False, num_beams=1)
        *tot, r2 = gate.time(gen, reps)
        put(res, "W1 encoder (128 tok)", enc, r1)
        put(res, "W1 decode per token",
            [(tot[i] - enc[i]) / NEW_TOKENS for i in range(2)], r2)
        put(res, "W1 total", tot, r2)

        inp = torch.tensor([token_ids(2, 256)])
        choices = torch.tensor([token_ids(10 + c, 4) for c in range(4)])

        def rank():
            h = model.encoder(input_ids=inp).last_hidden_state.expand(4, -1, -1)
            start = torch.full((4, 1), model.config.decoder_start_token_id)
            dec_in = torch.cat([start, choices[:, :-1]], dim=1)
            logits = model(encoder_outputs=(h,), decoder_input_ids=dec_in).logits
            lp = torch.log_softmax(logits.float(), -1).gather(-1, choices[..., None])
            return lp.sum(dim=(1, 2))

        *t, r = gate.time(rank, reps)
        put(res, "W2 rank 1x256, 4x4", t, r)
        batch = torch.tensor([token_ids(20 + b, 256) for b in range(8)])
        *t, r = gate.time(lambda: model.encoder(input_ids=batch), reps)
        put(res, "W3 encoder 8x256", t, r, 2048)
        b8 = torch.tensor([token_ids(40 + b, 128) for b in range(8)])
        *t, r = gate.time(lambda: model.generate(
            input_ids=b8, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
            do_sample=False, num_beams=1), reps)
        put(res, "W4 batch 8 generation", t, r, 8 * NEW_TOKENS)
    return res


def ct2_convert(model_dir, out_dir, vocab_size):
    if os.path.exists(os.path.join(out_dir, "model.bin")):
        return
    import ctranslate2.converters.transformers as ctt

    class Tok:
        pad_token, eos_token, unk_token = "t0", "t1", "t2"

        def get_vocab(self):
            return {"t%d" % i: i for i in range(vocab_size)}

        def convert_ids_to_tokens(self, i):
            return "t%d" % i

    def load_model(self, model_class, path, **kwargs):
        # ctranslate2 4.8 passes `dtype=`, which transformers 4.46 calls `torch_dtype`.
        if "dtype" in kwargs:
            kwargs["torch_dtype"] = kwargs.pop("dtype")
        return model_class.from_pretrained(path, **kwargs)

    ctt.TransformersConverter.load_model = load_model
    ctt.TransformersConverter.load_tokenizer = lambda self, *a, **k: Tok()
    ctt.TransformersConverter(model_dir).convert(out_dir, force=True)


def ct2_engine(ct2_dir, compute_type, gate, reps):
    import ctranslate2

    tr = ctranslate2.Translator(ct2_dir, device="cpu", compute_type=compute_type,
                                inter_threads=1, intra_threads=THREADS)
    toks = lambda ids: ["t%d" % i for i in ids]
    res = {}
    src = [toks(token_ids(1, 128))]
    *one, r1 = gate.time(lambda: tr.translate_batch(src, beam_size=1, max_decoding_length=1,
                                                    min_decoding_length=1), reps)
    *tot, r2 = gate.time(lambda: tr.translate_batch(
        src, beam_size=1, max_decoding_length=NEW_TOKENS, min_decoding_length=NEW_TOKENS), reps)
    put(res, "W1 encoder (128 tok)", one, r1 + " ~enc+1 step")
    put(res, "W1 decode per token", [(tot[i] - one[i]) / (NEW_TOKENS - 1) for i in range(2)], r2)
    put(res, "W1 total", tot, r2)
    inp = toks(token_ids(2, 256))
    ch = [toks(token_ids(10 + c, 4)) for c in range(4)]
    *t, r = gate.time(lambda: tr.score_batch([inp] * 4, ch), reps)
    put(res, "W2 rank 1x256, 4x4", t, r + " re-encodes")
    batch = [toks(token_ids(20 + b, 256)) for b in range(8)]
    *t, r = gate.time(lambda: tr.translate_batch(batch, beam_size=1, max_decoding_length=1,
                                                 min_decoding_length=1), reps)
    put(res, "W3 encoder 8x256", t, r + " ~enc+1 step", 2048)
    b8 = [toks(token_ids(40 + b, 128)) for b in range(8)]
    *t, r = gate.time(lambda: tr.translate_batch(
        b8, beam_size=1, max_decoding_length=NEW_TOKENS, min_decoding_length=NEW_TOKENS), reps)
    put(res, "W4 batch 8 generation", t, r, 8 * NEW_TOKENS)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", help="interpreter with the pinned packages (skip the venv)")
    ap.add_argument("--shape", default="base", choices=["base", "3b"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--engines", default="hf,ct2")
    ap.add_argument("--no-build", action="store_true", help="skip cargo build")
    ap.add_argument("--no-t0", action="store_true",
                    help="skip t0's own run (no ratios; for re-measuring one peer)")
    args = ap.parse_args()
    ensure_env(args)

    if not args.no_build:
        subprocess.check_call(["cargo", "build", "--release", "-p", "t0-benches", "--bins"],
                              cwd=ROOT)
    ours = {} if args.no_t0 else run_t0(args)
    model_dir = os.path.join(ROOT, "target", "t0-bench-models", args.shape)
    gate = Gate(os.path.join(ROOT, "target", "release", "probe"))
    rows = []  # (engine, precision, workload, wall, cpu, unit, reps)
    engines = args.engines.split(",")
    def collect(engine, prec, fn):
        """Runs one engine/precision; a failure (e.g. bf16 unsupported) becomes a note."""
        try:
            res = fn()
        except Exception as e:  # noqa: BLE001 - report and go on with the other engines
            print("%s %s: not measured: %s" % (engine, prec, e), flush=True)
            return
        for w, (v, c, u, r) in res.items():
            rows.append((engine, prec, w, v, c, u, r))
            print("%s %s %s: wall %.2f cpu %.2f %s (%s)" % (engine, prec, w, v, c, u, r),
                  flush=True)

    if "hf" in engines:
        for prec in ["f32", "bf16"]:
            collect("HF torch", prec, lambda: hf_engine(model_dir, prec, gate, args.reps))
    if "ct2" in engines:
        import json

        vocab = json.load(open(os.path.join(model_dir, "config.json")))["vocab_size"]
        ct2_dir = model_dir + "-ct2"
        ct2_convert(model_dir, ct2_dir, vocab)
        for prec, ct in [("f32", "float32"), ("bf16", "bfloat16"), ("int8", "int8_float32")]:
            collect("CTranslate2", prec, lambda: ct2_engine(ct2_dir, ct, gate, args.reps))
    for (w, prec), (v, c, u) in sorted(ours.items()):
        rows.append(("t0", prec, w, v, c, u, ""))

    print("\nFMA peak during the peers (3rd-best probe, CPU-normalised): %.0f GFLOP/s" % gate.best)
    print("wall = elapsed; cpu = process CPU time / %d threads (the wall time with both cores "
          "to itself). ratio = engine time / t0 time at the same weight precision (int8 vs "
          "t0 bf16), on wall and on cpu; > 1 means t0 is faster" % THREADS)
    print("%-12s %-5s %-22s %10s %10s %6s %8s %8s  %s" % (
        "engine", "prec", "workload", "wall", "cpu", "unit", "ratio-w", "ratio-c", "reps"))
    for eng, prec, w, v, c, u, r in sorted(rows, key=lambda x: (x[2], x[1], x[0])):
        ref = ours.get((w, "bf16" if prec == "int8" else prec))
        rw = rc = ""
        if ref and eng != "t0":
            if u == "ms":
                rw, rc = "%.2fx" % (v / ref[0]), "%.2fx" % (c / ref[1])
            else:
                rw, rc = "%.2fx" % (ref[0] / v), "%.2fx" % (ref[1] / c)
        print("%-12s %-5s %-22s %10.2f %10.2f %6s %8s %8s  %s" % (eng, prec, w, v, c, u, rw, rc,
                                                                 r))


if __name__ == "__main__":
    main()
