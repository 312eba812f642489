#!/usr/bin/env python3
"""HF `generate` reference outputs for t0-core's generation tests.

Pinned reference: transformers==4.46.3 torch==2.5.1 (see scripts/requirements-fixtures.txt).
Run from the repository root, after scripts/make_fixtures.py (whose tiny random models in
t0-core/tests/fixtures/models/ it reuses, unchanged):

    python scripts/make_generate_fixtures.py

Writes t0-core/tests/fixtures/generate/<model>.json: {"model", "eos", "use_cache",
"inputs", "cases": [{"name", "options", "sequences", "scores"}]}. Every case runs HF
`model.generate` (f32, CPU) on the whole padded batch `inputs` (attention mask from the
lengths) with the options given (HF names), `decoder_start_token_id=0`, `pad_token_id=0`
and `eos_token_id=eos`. "sequences" are HF's rows without the decoder start token, cut
after the first EOS (what follows is padding); "scores" are `sequences_scores` (beam
search) or null. `constraints` (a list of token sequences) is applied through
`prefix_allowed_tokens_fn` with the trie rule t0 implements: after a generated prefix,
the allowed tokens are the next tokens of the choices extending it, plus EOS when the
prefix is itself a whole choice.

EOS: the model's config says 1, which random weights almost never emit; so each file's
"eos" is the token HF's 4-beam search emits most often on these inputs, passed to
`generate` as `eos_token_id` (the Rust test sets the same id in the config), so that
sequences stop at different steps and the early-stopping rules matter.

Cases whose top-2 scores come within 1e-4 of each other anywhere along the way are not
near-tie-free, so the script reports the smallest margin per case ("margin"); the Rust
test only relies on token identity, which holds when f32 rounding cannot flip a choice.
"""
import json
import os

import numpy as np
import torch
from transformers import T5ForConditionalGeneration

assert __import__("transformers").__version__ == "4.46.3", "pin: transformers==4.46.3"
assert torch.__version__.startswith("2.5.1"), "pin: torch==2.5.1"

ROOT = os.path.join(os.path.dirname(__file__), "..", "t0-core", "tests", "fixtures")
MODELS = os.path.join(ROOT, "models")
OUT = os.path.join(ROOT, "generate")
torch.set_num_threads(1)

# model -> use_cache (HF's cached generate breaks when the decoder is deeper than the encoder)
MODEL_NAMES = {
    "v11_gelu_untied": True,
    "v10_relu_tied": True,
    "enc3_dec2": True,
    "enc1_dec3": False,
    "gated_silu": True,
    "t5style_4k": True,
}

MAX_NEW = 12


def cases(eos, rng, vocab):
    ban = [int(x) for x in rng.integers(3, vocab, size=3)]
    c = [
        ("greedy", dict(num_beams=1)),
        ("greedy_rep", dict(num_beams=1, repetition_penalty=1.3)),
        ("greedy_rep_lt1", dict(num_beams=1, repetition_penalty=0.8)),
        ("greedy_ngram2", dict(num_beams=1, no_repeat_ngram_size=2)),
        ("greedy_min5", dict(num_beams=1, min_new_tokens=5)),
        ("greedy_bad", dict(num_beams=1, bad_words_ids=[[ban[0]], [ban[1], ban[2]]])),
        ("greedy_forced_eos", dict(num_beams=1, forced_eos_token_id=eos, max_new_tokens=6)),
        ("beam2", dict(num_beams=2)),
        ("beam2_min4", dict(num_beams=2, min_new_tokens=4)),
        ("beam4_lp05_es_true", dict(num_beams=4, length_penalty=0.5, early_stopping=True)),
        ("beam4_lp1_es_false_nrs4", dict(num_beams=4, num_return_sequences=4)),
        ("beam4_lp2_never_nrs2", dict(num_beams=4, length_penalty=2.0, early_stopping="never",
                                      num_return_sequences=2)),
        ("beam4_lp05_never", dict(num_beams=4, length_penalty=0.5, early_stopping="never")),
        ("beam4_lpneg_never", dict(num_beams=4, length_penalty=-1.0, early_stopping="never")),
        ("beam3_lp2_es_true", dict(num_beams=3, length_penalty=2.0, early_stopping=True)),
        ("beam4_lp2_es_false", dict(num_beams=4, length_penalty=2.0)),
        ("beam2_lp3_never", dict(num_beams=2, length_penalty=3.0, early_stopping="never")),
        ("beam2_lp3_es_false", dict(num_beams=2, length_penalty=3.0)),
        ("beam3_lp1_never", dict(num_beams=3, early_stopping="never")),
        ("beam3_rep_ngram3", dict(num_beams=3, repetition_penalty=1.5, no_repeat_ngram_size=3)),
        ("beam2_bad_forced", dict(num_beams=2, bad_words_ids=[[ban[0]]], forced_eos_token_id=eos,
                                  max_new_tokens=7)),
    ]
    return c


def constraint_cases(eos, rng, vocab):
    choices = [[int(x) for x in rng.integers(3, vocab, size=n)] + [eos] for n in (1, 3, 3, 2)]
    # two choices sharing a prefix, so the trie branches below the root
    choices[2][:2] = choices[1][:2]
    choices.append(choices[3][:-1])  # a choice without EOS: EOS is allowed after it
    return [
        ("constrained_greedy", dict(num_beams=1), choices),
        ("constrained_beam3", dict(num_beams=3, num_return_sequences=3), choices),
    ]


def allowed_fn(choices, eos, vocab):
    def f(batch_id, sent):
        prefix = sent.tolist()[1:]
        nxt = set()
        for c in choices:
            if c[: len(prefix)] == prefix:
                if len(c) > len(prefix):
                    nxt.add(c[len(prefix)])
                else:
                    nxt.add(eos)
        if not nxt:  # a finished row (HF keeps feeding it padding): anything
            return list(range(vocab))
        return sorted(nxt)

    return f


@torch.no_grad()
def run(model, inputs, eos, use_cache, opts, constraints=None):
    L = max(len(x) for x in inputs)
    ids = torch.tensor([x + [0] * (L - len(x)) for x in inputs])
    mask = torch.tensor([[1] * len(x) + [0] * (L - len(x)) for x in inputs])
    kw = dict(opts)
    kw.setdefault("max_new_tokens", MAX_NEW)
    if constraints is not None:
        kw["prefix_allowed_tokens_fn"] = allowed_fn(constraints, eos, model.config.vocab_size)
    out = model.generate(
        input_ids=ids,
        attention_mask=mask,
        do_sample=False,
        eos_token_id=eos,
        pad_token_id=0,
        decoder_start_token_id=0,
        use_cache=use_cache,
        return_dict_in_generate=True,
        output_scores=True,
        **kw,
    )
    seqs = []
    for row in out.sequences.tolist():
        assert row[0] == 0
        row = row[1:]
        if eos in row:
            row = row[: row.index(eos) + 1]
        seqs.append(row)
    scores = None
    if kw.get("num_beams", 1) > 1:
        scores = [float(s) for s in out.sequences_scores.tolist()]
    # smallest gap between the best and second-best processed score of any step and row
    margin = float("inf")
    for s in out.scores:
        top = torch.topk(s.float(), 2, dim=-1).values
        fin = torch.isfinite(top).all(dim=-1)
        if fin.any():
            margin = min(margin, float((top[fin, 0] - top[fin, 1]).min()))
    return seqs, scores, margin


def main():
    os.makedirs(OUT, exist_ok=True)
    for k, (name, use_cache) in enumerate(MODEL_NAMES.items()):
        d = os.path.join(MODELS, name)
        model = T5ForConditionalGeneration.from_pretrained(d).eval()
        vocab = model.config.vocab_size
        eos = model.config.eos_token_id
        rng = np.random.default_rng(1000 + k)
        hi = min(vocab, 4100)
        inputs = [[int(x) for x in rng.integers(3, hi, size=n)] for n in (6, 11, 3, 8, 1)]
        # Make EOS (and so the early-stopping rules) matter: EOS := the token the beams
        # emit most often (ties: the smallest id; never padding).
        beams, _, _ = run(model, inputs, eos, use_cache, dict(num_beams=4, num_return_sequences=4))
        counts = {}
        for row in beams:
            for t in row:
                if t != 0:
                    counts[t] = counts.get(t, 0) + 1
        eos = min(counts, key=lambda t: (-counts[t], t))
        out = {"model": name, "eos": eos, "use_cache": use_cache, "max_new_tokens": MAX_NEW,
               "inputs": inputs, "cases": []}
        todo = [(n, o, None) for n, o in cases(eos, rng, hi)] + constraint_cases(eos, rng, hi)
        for cname, opts, cons in todo:
            seqs, scores, margin = run(model, inputs, eos, use_cache, opts, cons)
            case = {"name": cname, "options": opts, "sequences": seqs, "scores": scores,
                    "margin": margin}
            if cons is not None:
                case["constraints"] = cons
            out["cases"].append(case)
            print(f"{name:18} {cname:26} margin {margin:.2e} eos_hits "
                  f"{sum(1 for s in seqs if s and s[-1] == eos)}/{len(seqs)}")
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(out, f, indent=None, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
