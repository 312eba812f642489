#!/usr/bin/env python3
"""Golden renders of every PromptSource template by promptsource 0.2.3's own templates.py.

Usage (regenerates both committed goldens):
    python scripts/prompts/make_edge_cases.py           # fixture templates of our own
    python scripts/prompts_golden.py                    # all templates of $T0_SHARED (or ../shared)
    python scripts/prompts_golden.py --templates t0-prompts/tests/fixtures/templates \
        --out t0-prompts/tests/golden/fixtures.jsonl.gz
Then `T0_PROMPTS_WRITE_REPORT=1 cargo test -p t0-prompts --test conformance` rewrites
t0-prompts/CONFORMANCE.md.

Requirements (pin): jinja2==3.0.3 pyyaml==6.0.1  (pip install jinja2==3.0.3 pyyaml==6.0.1)
promptsource itself is NOT installed (it pins Python < 3.10 and old deps): its sdist is fetched
with `pip download --no-deps --ignore-requires-python promptsource==0.2.3`, checked by sha256,
and only `promptsource/templates.py` is imported, with stub `pandas` / `pkg_resources` modules
(see scripts/prompts/fetch_reference.py).

For each templates.yaml under the templates folder (default: $T0_SHARED or ../shared, then
data/promptsource/templates) and each template in it, the examples are:
  * the hand-written realistic records of scripts/prompts/examples.py for that dataset, and
  * synthetic records built from the variables the template uses (scripts/prompts/synth.py):
    the first SYNTHETIC_PER_TEMPLATE distinct variants that Python renders without an
    exception (if none does, the first failing variant is kept and recorded as a Python error).
Each case is rendered with Python's global `random` seeded with the case's seed before
`get_answer_choices_list` and again before `apply` (promptsource's `choice` filter and Jinja's
`random` filter both draw from that global Mersenne Twister; t0-prompts implements the same
generator and seeding, so seeded outputs are byte-comparable).

Output: gzip'd JSON lines, one per case:
  {"dataset", "subset", "template_id", "template_name", "kind", "seed", "example",
   "result": {"parts": [...], "answer_choices": [...] | null} | {"error": "Type: message"}}
and one line per template with "fixed_answer_choices".
"""

import argparse
import copy
import gzip
import json
import os
import random
import sys

# Synthetic variants kept per template (the first ones Python renders; different ints, list
# lengths and strings exercise different branches).
SYNTHETIC_PER_TEMPLATE = 3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "prompts"))

import fetch_reference  # noqa: E402
import synth  # noqa: E402
from examples import REALISTIC  # noqa: E402


def default_templates():
    shared = os.environ.get("T0_SHARED") or os.path.join(ROOT, "..", "shared")
    return os.path.join(shared, "data", "promptsource", "templates")


def err(e):
    return f"{type(e).__name__}: {e}"


def render(ps, t, example, seed):
    # Each call gets its own deep copy: templates mutate nested lists/dicts (`.append`), and
    # promptsource's `apply` shares them between the answer-choices render and the main one.
    try:
        random.seed(seed)
        ac = t.get_answer_choices_list(copy.deepcopy(example))
        random.seed(seed)
        parts = t.apply(copy.deepcopy(example))
        return {"parts": parts, "answer_choices": ac}
    except Exception as e:  # noqa: BLE001 - we record what Python does
        return {"error": err(e)}


def ok(res):
    return "error" not in res


def good(res):
    return ok(res) and len(res["parts"]) >= 2 and all(p for p in res["parts"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--templates", default=default_templates())
    ap.add_argument("--out", default=os.path.join(ROOT, "t0-prompts", "tests", "golden", "promptsource.jsonl.gz"))
    ap.add_argument("--cache", default=os.path.join(ROOT, "target", "prompts-reference"))
    args = ap.parse_args()
    ps = fetch_reference.import_reference(args.cache)
    import yaml

    files = []
    for dirpath, _dirs, names in os.walk(args.templates):
        if "templates.yaml" in names:
            files.append(os.path.join(dirpath, "templates.yaml"))
    files.sort()
    lines = []
    seed = 0
    n_templates = 0
    for path in files:
        rel = os.path.relpath(os.path.dirname(path), args.templates).replace(os.sep, "/")
        with open(path, "r") as f:
            doc = yaml.load(f, Loader=yaml.FullLoader)
        dataset, subset = doc.get("dataset"), doc.get("subset")
        for tid in sorted(doc["templates"]):
            t = doc["templates"][tid]
            n_templates += 1
            try:
                fixed = t.get_fixed_answer_choices_list()
                fixed = {"value": fixed}
            except Exception as e:  # noqa: BLE001
                fixed = {"error": err(e)}
            lines.append({"folder": rel, "template_id": t.id, "template_name": t.name,
                          "fixed_answer_choices": fixed})
            for ex in REALISTIC.get(rel, []):
                seed += 1
                lines.append({"folder": rel, "dataset": dataset, "subset": subset, "template_id": t.id,
                              "template_name": t.name, "kind": "realistic", "seed": seed, "example": ex,
                              "result": render(ps, t, ex, seed)})
            root = synth.infer(ps.env, [t.jinja, t.answer_choices])
            cands = synth.variants(root) if root.attrs else [{}]
            kept, seen, first_fail = [], set(), None
            for c in cands:
                key = json.dumps(c, sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                seed += 1
                res = render(ps, t, c, seed)
                if ok(res):
                    kept.append((c, seed, res))
                    if len(kept) >= SYNTHETIC_PER_TEMPLATE:
                        break
                elif first_fail is None:
                    first_fail = (c, seed, res)
            if not kept:
                kept = [first_fail]
            for c, sd, res in kept:
                lines.append({"folder": rel, "dataset": dataset, "subset": subset, "template_id": t.id,
                              "template_name": t.name, "kind": "synthetic", "seed": sd, "example": c,
                              "result": res})
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with gzip.GzipFile(args.out, "wb", mtime=0) as f:
        for line in lines:
            f.write((json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    cases = [l for l in lines if "result" in l]
    errors = sum(1 for l in cases if "error" in l["result"])
    print(f"{len(files)} files, {n_templates} templates, {len(cases)} cases, {errors} Python errors -> {args.out}")


if __name__ == "__main__":
    main()
