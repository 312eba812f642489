#!/usr/bin/env python3
"""Golden data for t0-core's tokenizer, from the reference implementations.

Requirements (pinned): sentencepiece==0.2.0, transformers==4.46.3, tokenizers==0.20.3,
PyYAML==6.0.4 (all present in /work/venv).

    /work/venv/bin/python scripts/tokenizer_golden.py [--shared ../shared]

Writes into t0-core/tests/fixtures/tokenizer/:
  t5style-4k.model           copy of shared/data/sentencepiece/t5style-4k.model (Apache-2.0)
  t5style-4k.tokenizer.json  HF conversion (T5TokenizerFast from the slow tokenizer)
  bytefallback.model         a small unigram model trained here with byte_fallback, user-defined
                             symbols and a few custom normalisation rules
  adversarial.json           the hand-made adversarial strings
  p3_strings.json            every jinja string and answer_choices string of the P3 templates
  golden_<model>.json        per model: full ids/pieces/normalised/decoded for the adversarial
                             set; FNV-1a-64 hashes per group of 8 lines for p3 and botchan;
                             hashes for the generated 1 MB lines
  golden_hf_t5.json          HF T5Tokenizer (legacy=True) on t5style-4k: sentinels, EOS, decode

Hashes: FNV-1a 64 over bytes. Ids of a line: u32 LE count, then each id as u32 LE. Text of a
line: "\\x00".join(pieces) + "\\x01" + normalized + "\\x01" + decoded + "\\x01" + sp_decoded +
"\\x02". A group hash runs over the records of its lines in order.
"decoded" is HF T5Tokenizer.decode(ids, skip_special_tokens=True,
clean_up_tokenization_spaces=False) (checked against transformers for t5style-4k, emulated
with sentencepiece for the other models); "sp_decoded" is sentencepiece's DecodeIds.
"""

import argparse
import glob
import hashlib
import json
import os
import random
import shutil
import struct
import sys
import tempfile

import sentencepiece as spm
import yaml

assert spm.__version__ == "0.2.0", spm.__version__

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "t0-core", "tests", "fixtures", "tokenizer")
GROUP = 8
SPACE = "\u2581"


def fnv(data: bytes, h: int = 0xCBF29CE484222325) -> int:
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def ids_record(ids):
    return struct.pack("<I", len(ids)) + b"".join(struct.pack("<I", i) for i in ids)


def text_record(pieces, normalized, decoded, sp_decoded):
    return (
        "\x00".join(pieces) + "\x01" + normalized + "\x01" + decoded + "\x01" + sp_decoded + "\x02"
    ).encode("utf-8")


def hf_decode_emulated(sp, ids):
    """HF T5Tokenizer.decode(skip_special_tokens=True) expressed with sentencepiece."""
    toks = [sp.id_to_piece(i) for i in ids if not (sp.is_control(i) or sp.is_unknown(i))]
    if not toks:
        return ""
    if toks[0].startswith(SPACE):
        toks[0] = toks[0][1:]
    return sp.decode_pieces(toks).strip()


def lcg_text(n_bytes, alphabet, seed):
    """Deterministic text; mirrored in t0-core/tests/tokenizer_golden.rs."""
    x = seed
    out = []
    size = 0
    while size < n_bytes:
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        c = alphabet[(x >> 33) % len(alphabet)]
        out.append(c)
        size += len(c.encode("utf-8"))
    return "".join(out)


# Mirrored in t0-core/tests/tokenizer_golden.rs.
BIG_ALPHABET_NOSPACE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789.,;:!?'\"()-éàüßçñ日本語中文한국어😀👍ﬁ①Ａ\u0301"
BIG_ALPHABET_SPACES = BIG_ALPHABET_NOSPACE + "     \t\n"


def big_lines():
    return [
        ("nospace_1mb", lcg_text(1_000_000, BIG_ALPHABET_NOSPACE, 42)),
        ("spaces_1mb", lcg_text(1_000_000, BIG_ALPHABET_SPACES, 7)),
        ("emoji_250k", "😀" * 250_000),
    ]


ADVERSARIAL = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\r\n",
    " \t \n ",
    "a",
    " a",
    "a ",
    "  leading and trailing  ",
    "runs    of     spaces",
    "tabs\tand\nnewlines\r\nmixed",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "NFKC: ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ",
    "full-width: ＨＥＬＬＯ ｗｏｒｌｄ ０１２３ ！？",
    "circled: ① ② ⑳ ⓐ Ⓐ ㉑",
    "compat: ㌀ ㍿ ℃ ℉ № ™ ℡ ½ ¼ ² ³ µ Å Ω K",
    "roman: Ⅰ Ⅱ Ⅻ ⅰ ⅻ",
    "superscript x² H₂O ᵃ",
    "combining: e\u0301 a\u0300 o\u0308 n\u0303 c\u0327",
    "lone combining: \u0301",
    "\u0301\u0301\u0301",
    "NFD: Cafe\u0301 nai\u0308ve",
    "NFC: Café naïve",
    "emoji: 😀 👍🏽 🇯🇵 🏳️‍🌈 👨‍👩‍👧‍👦",
    "👨‍👩‍👧‍👦👨‍👩‍👧‍👦",
    "ZWJ a\u200db ZWNJ a\u200cb ZWSP a\u200bb",
    "CJK: 日本語のテキスト。中文文本。한국어 텍스트.",
    "半角ｶﾀｶﾅ ｱｲｳｴｵ",
    "RTL: שלום עולם مرحبا بالعالم",
    "mixed RTL: abc שלום 123",
    "controls: a\x00b\x01c\x07d\x1be\x7ff",
    "\x00",
    "a\x00",
    "C1 controls: \x80\x85\x9f",
    "unicode spaces: a\u00a0b\u2002c\u2003d\u3000e\u202ff\u205fg",
    "\u3000\u3000lead ideographic",
    "trail ideographic\u3000",
    "line sep a\u2028b para sep c\u2029d",
    "soft hyphen co\u00adop",
    "BOM \ufeffx",
    "replacement \ufffd char",
    "private use \ue000\uf8ff",
    "astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚",
    "math 𝐀𝐁𝐂 ∑∫∂",
    "unknowns: ☃☃☃ ⚡ ☂",
    "▁",
    "▁▁a▁b▁",
    " ▁ ",
    "a▁",
    "<extra_id_0>",
    "</s>",
    "<pad> <unk>",
    "<0x41>",
    "Question: What is 2+2? Answer: 4",
    "{{premise}} Question: {{hypothesis}} True, False, or Neither? ||| {{ answer_choices[label] }}",
    "Ǆ ǅ ǆ Ǳ",
    "İstanbul ıi",
    "ß ẞ",
    "Ⅻ㊿",
    "\u0e01\u0e34\u0e19\u0e02\u0e49\u0e32\u0e27",
    "हिन्दी",
    "Ελληνικά Кириллица",
    "x" * 300,
    "ab" * 500,
    "😀" * 50,
    "..." * 40,
    "1234567890" * 20,
    "ｶﾞｷﾞｸﾞ",
    "ﾊﾟﾋﾟ",
    "a\u0301\u0301\u0301\u0301",
    "\u00c5\u212b",
    "\ud7a3\u1100\u1161\u11a8",
    "tab\t\ttab",
    "   \u3000  ",
    "<sep>",
    "foo@@bar",
    "ＡＢ Ａ A",
    "[MASK] token",
]

HF_CASES = [
    "Question: <extra_id_0> is <extra_id_1>.",
    "a<extra_id_5>b",
    "  <extra_id_0>  ",
    "<extra_id_0>",
    "<extra_id_0><extra_id_1>",
    "x <extra_id_0> y <extra_id_1> z",
    "x\t<extra_id_0>\ny",
    "\u3000<extra_id_3>\u3000z",
    "\x1c<extra_id_1>\x1fq",
    "\xa0<extra_id_2>\xa0",
    "<extra_id_99> <extra_id_100>",
    "<extra_id_07> <extra_id_0",
    "<extra_id_>",
    "<<extra_id_0>>",
    "</s>",
    "hello </s>",
    "hello</s>",
    "</s> hello",
    "x </s> y",
    "<pad>hello<unk>",
    " <pad> ",
    "<unk><unk>",
    "a<extra_id_0></s>",
    "The cat <extra_id_0> on the <extra_id_1> mat.</s>",
    "",
    " ",
    "plain text without specials",
]


def load_templates(shared):
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_mapping(node, deep=True))
    files = sorted(glob.glob(os.path.join(shared, "data/promptsource/templates/**/templates.yaml"), recursive=True))
    strings = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            d = yaml.load(fh, Loader=Loader)
        for _, t in sorted((d.get("templates") or {}).items()):
            strings.append(t["jinja"])
            if t.get("answer_choices") is not None:
                strings.append(t["answer_choices"])
    return strings


def train_bytefallback(shared, path):
    rules = "\n".join(
        [
            "EFBCA1\t41",  # Ａ -> A
            "EFBCA2\t42",  # Ｂ -> B
            "EFAC81\t66 69",  # ﬁ -> fi
            "9\t20",  # tab -> space
            "E38080\t20",  # ideographic space -> space
            "C3A9\t65 CC 81",  # é -> e + combining acute (decomposes)
        ]
    )
    with tempfile.TemporaryDirectory() as tmp:
        tsv = os.path.join(tmp, "rules.tsv")
        with open(tsv, "w") as fh:
            fh.write(rules + "\n")
        prefix = os.path.join(tmp, "bf")
        spm.SentencePieceTrainer.train(
            input=os.path.join(shared, "data/sentencepiece/botchan.txt"),
            model_prefix=prefix,
            vocab_size=700,
            model_type="unigram",
            byte_fallback=True,
            user_defined_symbols=["<sep>", "@@", "[MASK]", "Ａ"],
            normalization_rule_tsv=tsv,
            num_threads=1,
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            minloglevel=2,
        )
        shutil.copy(prefix + ".model", path)


def corpus_hashes(sp, lines, hf=None):
    out = {"lines": len(lines), "group": GROUP, "ids": [], "text": []}
    if hf is not None:
        out["hf_ids"] = []
    for g in range(0, len(lines), GROUP):
        hi = fnv(b"")
        ht = fnv(b"")
        hh = fnv(b"")
        for line in lines[g : g + GROUP]:
            ids = sp.encode(line)
            pieces = sp.encode(line, out_type=str)
            decoded = hf_decode_emulated(sp, ids)
            if hf is not None:
                assert hf.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False) == decoded, line
                hh = fnv(ids_record(hf.encode(line, add_special_tokens=False)), hh)
            hi = fnv(ids_record(ids), hi)
            ht = fnv(text_record(pieces, sp.normalize(line), decoded, sp.decode(ids)), ht)
        out["ids"].append("%016x" % hi)
        out["text"].append("%016x" % ht)
        if hf is not None:
            out["hf_ids"].append("%016x" % hh)
    return out


def full_record(sp, line, hf=None):
    ids = sp.encode(line)
    rec = {
        "text": line,
        "ids": ids,
        "pieces": sp.encode(line, out_type=str),
        "normalized": sp.normalize(line),
        "decoded": hf_decode_emulated(sp, ids),
        "sp_decoded": sp.decode(ids),
    }
    if hf is not None:
        assert hf.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False) == rec["decoded"], line
        rec["hf_ids"] = hf.encode(line, add_special_tokens=False)
    return rec


def hf_t5():
    from transformers import T5Tokenizer

    return T5Tokenizer(os.path.join(OUT, "t5style-4k.model"), legacy=True, extra_ids=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.environ.get("T0_SHARED", os.path.join(ROOT, "..", "shared")))
    args = ap.parse_args()
    shared = args.shared
    os.makedirs(OUT, exist_ok=True)

    src = os.path.join(shared, "data/sentencepiece/t5style-4k.model")
    shutil.copyfile(src, os.path.join(OUT, "t5style-4k.model"))
    bf = os.path.join(OUT, "bytefallback.model")
    if not os.path.exists(bf):
        train_bytefallback(shared, bf)

    from transformers import T5TokenizerFast

    fast = T5TokenizerFast(vocab_file=os.path.join(OUT, "t5style-4k.model"), from_slow=True, legacy=True)
    fast.backend_tokenizer.save(os.path.join(OUT, "t5style-4k.tokenizer.json"))

    with open(os.path.join(OUT, "adversarial.json"), "w", encoding="utf-8") as fh:
        json.dump(ADVERSARIAL, fh, ensure_ascii=False, indent=0)
    p3 = load_templates(shared)
    with open(os.path.join(OUT, "p3_strings.json"), "w", encoding="utf-8") as fh:
        json.dump(p3, fh, ensure_ascii=False, indent=0)
    with open(os.path.join(shared, "data/sentencepiece/botchan.txt"), encoding="utf-8", newline="") as fh:
        botchan = fh.read().split("\n")
    if botchan and botchan[-1] == "":
        botchan.pop()

    hf = hf_t5()
    models = {
        "t5style-4k": os.path.join(OUT, "t5style-4k.model"),
        "bytefallback": bf,
        "test_model": os.path.join(shared, "data/sentencepiece/test_model.model"),
        "test_ja_model": os.path.join(shared, "data/sentencepiece/test_ja_model.model"),
    }
    for name, path in models.items():
        sp = spm.SentencePieceProcessor(model_file=path)
        h = hf if name == "t5style-4k" else None
        golden = {
            "model": name,
            "model_sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
            "adversarial": [full_record(sp, s, h) for s in ADVERSARIAL],
            "corpora": {
                "p3": corpus_hashes(sp, p3, h),
                "botchan": corpus_hashes(sp, botchan, h),
            },
            "big": [],
        }
        for big_name, text in big_lines():
            ids = sp.encode(text)
            golden["big"].append(
                {
                    "name": big_name,
                    "count": len(ids),
                    "ids": "%016x" % fnv(ids_record(ids)),
                    "decoded": "%016x" % fnv(hf_decode_emulated(sp, ids).encode("utf-8")),
                }
            )
        with open(os.path.join(OUT, "golden_%s.json" % name), "w", encoding="utf-8") as fh:
            json.dump(golden, fh, ensure_ascii=False, separators=(",", ":"))
        print(name, "written", file=sys.stderr)

    # HF conventions (sentinels, EOS, decode) on t5style-4k.
    rng = random.Random(1234)
    cases = []
    for text in HF_CASES + ADVERSARIAL + p3[:8]:
        with_eos = hf.encode(text)
        cases.append(
            {
                "text": text,
                "ids": hf.encode(text, add_special_tokens=False),
                "ids_eos": with_eos,
                "pieces": hf.tokenize(text),
                "decoded": hf.decode(with_eos, skip_special_tokens=True, clean_up_tokenization_spaces=False),
            }
        )
    decodes = []
    special = [0, 1, 2, 4000, 4001, 4099, 4098]
    for _ in range(200):
        n = rng.randint(0, 12)
        ids = [rng.choice(special) if rng.random() < 0.3 else rng.randrange(3, 4000) for _ in range(n)]
        decodes.append(
            {"ids": ids, "decoded": hf.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)}
        )
    with open(os.path.join(OUT, "golden_hf_t5.json"), "w", encoding="utf-8") as fh:
        json.dump({"encode": cases, "decode": decodes}, fh, ensure_ascii=False, separators=(",", ":"))
    print("golden_hf_t5 written", file=sys.stderr)


if __name__ == "__main__":
    main()
