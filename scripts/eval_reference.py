#!/usr/bin/env python3
"""Reference for `t0 eval`: T0's zero-shot rank-classification evaluation, in Python.

The procedure of t-zero's `evaluation/run_eval.py` (bigscience-workshop/t-zero), on one
dataset's JSONL rows:
  * promptsource 0.2.3's own templates.py (imported as scripts/prompts/fetch_reference.py
    does, with the real jinja2) applies each template: `input, target = template.apply(ex)`,
    `answer_choices = template.get_answer_choices_list(ex)`;
  * the input is tokenized WITHOUT EOS (add_special_tokens=False), truncated to 1024 tokens;
    each choice WITH EOS, truncated to 256;
  * HF T5ForConditionalGeneration (float32, teacher forcing) scores each choice as the sum of
    log_softmax over its tokens; the prediction is the argmax (first on ties);
  * the gold label is `answer_choices.index(target)`; accuracy per template; median and mean
    over templates.
Rows whose template gives no answer choices, an empty input, or no target / a target outside
the choices are reported and not scored (t-zero would assert).

Requirements (pin): torch==2.5.1 transformers==4.46.3 sentencepiece==0.2.0 jinja2==3.0.3 pyyaml==6.0.1

Usage (regenerates the committed golden):
    /work/venv/bin/python scripts/eval_reference.py \
        --model t0-core/tests/fixtures/models/t5style_4k \
        --tokenizer t0-core/tests/fixtures/tokenizer/t5style-4k.model \
        --templates t0-prompts/tests/fixtures/templates --dataset super_glue/rte \
        --data t0-cli/tests/fixtures/rte_tiny.jsonl --out t0-cli/tests/golden/eval_rte_tiny.json
"""

import argparse
import json
import os
import statistics
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "prompts"))

import fetch_reference  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", help="spiece.model (default: MODEL/spiece.model)")
    ap.add_argument("--templates", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--cache", default=os.path.join(ROOT, "target", "prompts-reference"))
    args = ap.parse_args()

    import yaml
    from transformers import T5ForConditionalGeneration, T5Tokenizer

    ps = fetch_reference.import_reference(args.cache)
    with open(os.path.join(args.templates, args.dataset, "templates.yaml")) as f:
        doc = yaml.load(f, Loader=yaml.FullLoader)
    templates = sorted(doc["templates"].values(), key=lambda t: t.name)
    rows = [json.loads(line) for line in open(args.data, encoding="utf-8") if line.strip()]

    spm = args.tokenizer or os.path.join(args.model, "spiece.model")
    tok = T5Tokenizer(spm, legacy=True, extra_ids=100)
    model = T5ForConditionalGeneration.from_pretrained(args.model, torch_dtype=torch.float32).eval()

    def score(inp, choices):
        enc_ids = torch.tensor([inp])
        out = []
        with torch.no_grad():
            for c in choices:
                lab = tok(c, truncation=True, max_length=256)["input_ids"]
                labels = torch.tensor([lab])
                logits = model(input_ids=enc_ids, labels=labels).logits
                lp = torch.log_softmax(logits, dim=-1)
                out.append(float(torch.gather(lp, -1, labels.unsqueeze(-1)).sum()))
        return out

    report_templates, accs = [], []
    for t in templates:
        correct = scored = no_choices = no_target = empty_input = 0
        examples = []
        for i, ex in enumerate(rows):
            parts = t.apply(ex)
            choices = t.get_answer_choices_list(ex)
            if not choices:
                no_choices += 1
                examples.append({"row": i, "no_answer_choices": True})
                continue
            inp = tok(parts[0], add_special_tokens=False, truncation=True, max_length=1024)["input_ids"]
            if not inp:
                # The template renders nothing for this row (e.g. a COPA "effect" prompt on a
                # "cause" row); t-zero's datasets never contain such rows.
                empty_input += 1
                examples.append({"row": i, "empty_input": True})
                continue
            s = score(inp, choices)
            best = max(range(len(s)), key=lambda k: (s[k], -k))
            target = parts[1] if len(parts) > 1 else None
            gold = choices.index(target) if target in choices else None
            if gold is None:
                no_target += 1
            else:
                scored += 1
                correct += int(gold == best)
            examples.append({"row": i, "choices": choices, "scores": s, "predicted": best, "gold": gold})
        acc = correct / scored if scored else None
        if acc is not None:
            accs.append(acc)
        report_templates.append({"name": t.name, "id": t.id, "accuracy": acc, "correct": correct,
                                 "scored": scored, "no_answer_choices": no_choices,
                                 "no_target": no_target, "empty_input": empty_input, "examples": examples})
    report = {"dataset": args.dataset, "rows": len(rows), "templates": report_templates,
              "median_accuracy": statistics.median(accs) if accs else None,
              "mean_accuracy": sum(accs) / len(accs) if accs else None,
              "versions": {"torch": torch.__version__,
                           "transformers": __import__("transformers").__version__}}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
