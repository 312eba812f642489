#!/usr/bin/env python3
"""Builds the tiny random T5 reference models in t0-core/tests/fixtures/models/.

Pinned reference: transformers==4.46.3 torch==2.5.1 safetensors==0.8.0 numpy==2.4.6
(see scripts/requirements-fixtures.txt). Run from the repository root:

    T0_SHARED=/path/to/shared python scripts/make_fixtures.py

(T0_SHARED defaults to ../shared beside the repository; it holds the t5style-4k
sentencepiece model used for the end-to-end text cases of the t5style_4k model.)

For each variant it writes <name>/config.json and model.safetensors (HF `save_pretrained`,
f32, or bf16 for the *_bf16 variant), plus:
  reference.json         inputs (token ids), decoder ids, greedy outputs, choice scores
  reference.safetensors  HF's encoder states (enc.{i}) and decoder logits (logits.{i}), f32
t5style_4k/text_cases.json holds text → ids → greedy text and t-zero-style choice scores
through HF's slow T5Tokenizer; and, at the top level, buckets.json: HF's `_relative_position_bucket` for relative
positions -300..300 under the bucket settings used here and T0's (32 buckets, 128).

All numbers are HF transformers' T5ForConditionalGeneration in f32 on CPU.
"""
import json
import os
import shutil

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import T5Config, T5ForConditionalGeneration
from transformers.models.t5.modeling_t5 import T5Attention

assert __import__("transformers").__version__ == "4.46.3", "pin: transformers==4.46.3"
assert torch.__version__.startswith("2.5.1"), "pin: torch==2.5.1"

OUT = os.path.join(os.path.dirname(__file__), "..", "t0-core", "tests", "fixtures", "models")
torch.set_num_threads(1)

BASE = dict(
    d_model=32,
    d_ff=48,
    d_kv=8,
    num_heads=4,
    num_layers=2,
    vocab_size=128,
    relative_attention_num_buckets=32,
    relative_attention_max_distance=128,
    layer_norm_epsilon=1e-6,
    feed_forward_proj="gated-gelu",
    tie_word_embeddings=False,
    decoder_start_token_id=0,
    eos_token_id=1,
    pad_token_id=0,
    dropout_rate=0.0,
)

# name -> (config overrides, options)
VARIANTS = {
    "v10_relu_tied": (dict(feed_forward_proj="relu", tie_word_embeddings=True, d_ff=64), {}),
    "v11_gelu_untied": (dict(), {"eos_from_greedy": True}),
    "v11_gelu_untied_bf16": (dict(), {"bf16": True}),
    "gated_silu": (dict(feed_forward_proj="gated-silu"), {}),
    "heads_x_dkv_ne_dmodel": (dict(num_heads=3, d_kv=12, d_ff=40), {}),
    "enc3_dec2": (dict(num_layers=3, num_decoder_layers=2), {}),
    # HF's cached generate breaks when the decoder is deeper than the encoder: no cache.
    "enc1_dec3": (dict(num_layers=1, num_decoder_layers=3), {"use_cache": False}),
    "long_distance": (
        dict(relative_attention_num_buckets=8, relative_attention_max_distance=12),
        {"long": True},
    ),
    # vocabulary of the tokenizer fixture t5style-4k (4000 pieces + 100 sentinels, padded)
    "t5style_4k": (
        dict(vocab_size=4128, d_model=16, d_ff=32, d_kv=8, num_heads=2, num_layers=1),
        {"few": True},
    ),
}


def rand_ids(rng, n, vocab):
    return [int(x) for x in rng.integers(3, min(vocab, 4100), size=n)]


@torch.no_grad()
def greedy(model, ids, max_new, min_new, eos, use_cache):
    inp = torch.tensor([ids])
    out = model.generate(
        input_ids=inp,
        attention_mask=torch.ones_like(inp),
        do_sample=False,
        num_beams=1,
        max_new_tokens=max_new,
        min_new_tokens=min_new,
        eos_token_id=eos,
        pad_token_id=0,
        decoder_start_token_id=0,
        use_cache=use_cache,
    )[0].tolist()
    assert out[0] == 0
    out = out[1:]
    if eos in out:
        out = out[: out.index(eos) + 1]
    return out


@torch.no_grad()
def greedy_margins(model, ids, seq):
    """Smallest top-1/top-2 logit gap along a greedy path (so argmax is not a near-tie)."""
    dec = torch.tensor([[0] + seq[:-1]])
    logits = model(input_ids=torch.tensor([ids]), decoder_input_ids=dec).logits[0]
    top = torch.topk(logits, 2, dim=-1).values
    return float((top[:, 0] - top[:, 1]).min())


@torch.no_grad()
def choice_score(model, ids, choice):
    out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([choice]))
    logp = torch.log_softmax(out.logits[0].float(), dim=-1)
    return float(logp[torch.arange(len(choice)), torch.tensor(choice)].sum())


def make(name, over, opts, seed):
    cfg_kwargs = dict(BASE)
    cfg_kwargs.update(over)
    cfg = T5Config(**cfg_kwargs)
    torch.manual_seed(seed)
    model = T5ForConditionalGeneration(cfg).eval()
    if not cfg.tie_word_embeddings:
        # The checkpoint must carry its own lm_head (transformers 5.x would tie it silently).
        assert model.lm_head.weight.data_ptr() != model.shared.weight.data_ptr()
    else:
        assert model.lm_head.weight.data_ptr() == model.shared.weight.data_ptr()
    if opts.get("bf16"):
        # Reference = f32 compute over bf16-rounded weights ("f32-of-bf16").
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
    use_cache = opts.get("use_cache", True)
    rng = np.random.default_rng(seed)
    V = cfg.vocab_size

    if opts.get("long"):
        lengths = [40, 17, 3]
        max_new = 30
    elif opts.get("few"):
        lengths = [9, 4]
        max_new = 6
    else:
        lengths = [7, 12, 3]
        max_new = 8
    inputs = [rand_ids(rng, n, V) for n in lengths]

    eos = cfg.eos_token_id
    if opts.get("eos_from_greedy"):
        # Make the per-sequence stop happen: EOS := the 3rd token input 0 generates.
        first = greedy(model, inputs[0], max_new, 0, eos, use_cache)
        eos = first[2]
        assert eos not in (0,)
        cfg.eos_token_id = eos
        model.config.eos_token_id = eos
        model.generation_config.eos_token_id = eos

    ref = {"inputs": inputs, "decoder_ids": [], "greedy": [], "greedy_min": [],
           "max_new_tokens": max_new, "min_new_tokens": 4, "choices": [], "scores": [],
           "greedy_margin": None, "use_cache": use_cache}
    arrays = {}
    margin = float("inf")
    with torch.no_grad():
        for i, ids in enumerate(inputs):
            inp = torch.tensor([ids])
            enc = model.encoder(input_ids=inp).last_hidden_state[0]
            arrays[f"enc.{i}"] = enc.contiguous()
            dec = [0] + rand_ids(rng, 5 if not opts.get("long") else 20, V)
            ref["decoder_ids"].append(dec)
            logits = model(input_ids=inp, decoder_input_ids=torch.tensor([dec])).logits[0]
            arrays[f"logits.{i}"] = logits.contiguous()
            g = greedy(model, ids, max_new, 0, eos, use_cache)
            ref["greedy"].append(g)
            margin = min(margin, greedy_margins(model, ids, g))
            gm = greedy(model, ids, max_new, 4, eos, use_cache)
            ref["greedy_min"].append(gm)
            margin = min(margin, greedy_margins(model, ids, gm))
            choices = [rand_ids(rng, n, V) + [eos] for n in (1, 3, 2)]
            ref["choices"].append(choices)
            ref["scores"].append([choice_score(model, ids, c) for c in choices])
    ref["greedy_margin"] = margin
    if margin < 1e-3:
        print(f"{name} seed {seed}: greedy near-tie ({margin}); next seed")
        return False
    if all(t == 0 for g in ref["greedy"] for t in g):
        print(f"{name} seed {seed}: degenerate greedy output (all pad); next seed")
        return False

    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    if opts.get("bf16"):
        model.to(torch.bfloat16).save_pretrained(d, safe_serialization=True)
    else:
        model.save_pretrained(d, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(d, extra)
        if os.path.exists(p):
            os.remove(p)
    save_file({k: v.float().contiguous() for k, v in arrays.items()},
              os.path.join(d, "reference.safetensors"))
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    if opts.get("few"):
        text_cases(model, d)
    print(f"{name}: seed={seed} eos={eos} greedy={ref['greedy']} margin={margin:.4f}")
    return True


TEXTS = [
    "Translate to German: the house is wonderful.",
    "Is this review positive or negative? Review: the movie was great fun.",
    "Question: what is the capital of France? Answer:",
    "Summarize: the cat sat on the mat all day long.",
]
CHOICES = ["positive", "negative", "it is not clear"]


@torch.no_grad()
def text_cases(model, d):
    """End-to-end text references for the CLI: HF's slow T5Tokenizer on the shared
    t5style-4k sentencepiece model (4000 pieces + 100 sentinels), generation and t-zero
    style scoring (input without EOS, choices with EOS, summed log-probs)."""
    from transformers import T5Tokenizer

    shared = os.environ.get("T0_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    spm = os.path.join(shared, "data", "sentencepiece", "t5style-4k.model")
    tok = T5Tokenizer(spm, extra_ids=100, legacy=True)
    assert len(tok) == 4100
    cases = []
    for text in TEXTS:
        ids = tok(text).input_ids
        g = greedy(model, ids, 6, 0, 1, True)
        # Keep cases whose output decodes to plain pieces (no sentinel / padding rows).
        if any(t >= 4000 or t in (0, 2) for t in g if t != 1):
            continue
        if greedy_margins(model, ids, g) < 1e-3:
            continue
        inp = tok(text, add_special_tokens=False).input_ids
        chs = [tok(c).input_ids for c in CHOICES]
        cases.append({
            "text": text,
            "input_ids": ids,
            "greedy_ids": g,
            "greedy_text": tok.decode(g, skip_special_tokens=True),
            "score_input_ids": inp,
            "choices": CHOICES,
            "choice_ids": chs,
            "scores": [choice_score(model, inp, c) for c in chs],
        })
    assert cases, "no clean text case"
    with open(os.path.join(d, "text_cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


def buckets():
    rel = torch.arange(-300, 301)
    out = []
    for nb, md in ((32, 128), (8, 12)):
        for bidir in (True, False):
            b = T5Attention._relative_position_bucket(
                rel, bidirectional=bidir, num_buckets=nb, max_distance=md
            )
            out.append({"num_buckets": nb, "max_distance": md, "bidirectional": bidir,
                        "relative_from": -300, "buckets": b.tolist()})
    with open(os.path.join(OUT, "buckets.json"), "w") as f:
        json.dump(out, f)


def main():
    os.makedirs(OUT, exist_ok=True)
    for k, (name, (over, opts)) in enumerate(VARIANTS.items()):
        # Deterministic: the first seed (1000·k + 1, + 2, …) whose greedy paths have no
        # near-ties and are not degenerate.
        for attempt in range(1, 50):
            if make(name, over, opts, 1000 * k + attempt):
                break
        else:
            raise SystemExit(f"{name}: no usable seed")
    buckets()


if __name__ == "__main__":
    main()
