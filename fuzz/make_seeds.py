#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/seeds/ (small valid inputs per target).

Requires: safetensors==0.8.0 numpy==2.4.6 (pip install "safetensors==0.8.0" "numpy==2.4.6").
Run from the repository root: python3 fuzz/make_seeds.py
"""
import json
import os

import numpy as np
from safetensors.numpy import save

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
header = os.path.join(root, "safetensors_header")
index = os.path.join(root, "safetensors_index")
os.makedirs(header, exist_ok=True)
os.makedirs(index, exist_ok=True)

rng = np.random.default_rng(0)
files = {
    "empty": {},
    "one_f32": {"x": rng.standard_normal((2, 3)).astype(np.float32)},
    "mixed": {
        "shared.weight": rng.standard_normal((4, 2)).astype(np.float16),
        "encoder.final_layer_norm.weight": np.ones(2, dtype=np.float32),
        "q": np.arange(6, dtype=np.int8).reshape(3, 2),
        "u": np.arange(3, dtype=np.uint8),
        "zero_size": np.zeros((0, 4), dtype=np.float32),
        "scalar": np.array(1.5, dtype=np.float32),
    },
}
for name, tensors in files.items():
    meta = {"format": "pt"} if name != "empty" else None
    with open(os.path.join(header, name + ".safetensors"), "wb") as f:
        f.write(save(tensors, metadata=meta))

indexes = {
    "two_shards": {
        "metadata": {"total_size": 24},
        "weight_map": {
            "shared.weight": "model-00001-of-00002.safetensors",
            "lm_head.weight": "model-00002-of-00002.safetensors",
        },
    },
    "no_metadata": {"weight_map": {"a": "model.safetensors"}},
}
for name, doc in indexes.items():
    with open(os.path.join(index, name + ".json"), "w") as f:
        json.dump(doc, f, indent=2)
