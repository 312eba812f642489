#!/usr/bin/env python3
"""Writes t0-core/tests/data/hf_t5_tensors.json: for a few small T5 configs, the tensor names
and shapes that Hugging Face's save_pretrained puts in model.safetensors. The Rust test
`weights_match_hf` checks t0_core::weights::expected_tensors against it.

Requires: torch==2.5.1 transformers==4.46.3 safetensors (any 0.4+).
Run from the repository root: python3 scripts/hf_t5_tensor_names.py
"""
import json
import os
import tempfile

import torch
from safetensors import safe_open
from transformers import T5Config, T5ForConditionalGeneration

CONFIGS = {
    "gated_untied": dict(d_model=8, d_ff=12, d_kv=4, num_heads=2, num_layers=2,
                         num_decoder_layers=3, vocab_size=20,
                         relative_attention_num_buckets=4, relative_attention_max_distance=8,
                         feed_forward_proj="gated-gelu", tie_word_embeddings=False),
    "relu_tied": dict(d_model=8, d_ff=12, d_kv=3, num_heads=3, num_layers=1,
                      vocab_size=20, relative_attention_num_buckets=6,
                      relative_attention_max_distance=16, feed_forward_proj="relu",
                      tie_word_embeddings=True),
    "silu_tied": dict(d_model=6, d_ff=10, d_kv=2, num_heads=4, num_layers=2,
                      num_decoder_layers=1, vocab_size=30, relative_attention_num_buckets=8,
                      relative_attention_max_distance=12, feed_forward_proj="gated-silu",
                      tie_word_embeddings=True),
}

out = {}
torch.manual_seed(0)
for name, kw in CONFIGS.items():
    cfg = T5Config(decoder_start_token_id=0, **kw)
    model = T5ForConditionalGeneration(cfg)
    with tempfile.TemporaryDirectory() as d:
        model.save_pretrained(d, safe_serialization=True)
        with open(os.path.join(d, "config.json")) as f:
            config = json.load(f)
        with safe_open(os.path.join(d, "model.safetensors"), "pt") as f:
            tensors = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    out[name] = {"config": config, "tensors": dict(sorted(tensors.items()))}

path = os.path.join("t0-core", "tests", "data", "hf_t5_tensors.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", path)
