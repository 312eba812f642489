//! Golden tests: our tokenizer against the `sentencepiece` library (0.2.0) and HF
//! `T5Tokenizer` (transformers 4.46.3, legacy mode). The goldens are produced by
//! `scripts/tokenizer_golden.py`; see its docstring for the hash formats.
//!
//! Fixture models (always run): `t5style-4k` (nmt_nfkc charsmap, T5 conventions) and
//! `bytefallback` (byte fallback, user-defined symbols, custom rules). The shared models
//! `test_model` / `test_ja_model` and the botchan corpus need `T0_SHARED` or `../shared`;
//! without them those parts are skipped with a message.

use std::path::{Path, PathBuf};

use serde_json::Value;
use t0_core::tokenizer::Tokenizer;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizer")
}

fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("T0_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    dir.join("data/sentencepiece").is_dir().then_some(dir)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

const FNV_INIT: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(data: &[u8], mut h: u64) -> u64 {
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn ids_record(ids: &[u32]) -> Vec<u8> {
    let mut v = (ids.len() as u32).to_le_bytes().to_vec();
    for id in ids {
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

fn text_record(tok: &Tokenizer, text: &str, ids: &[u32], pieces: &[String]) -> Vec<u8> {
    let mut s = pieces.join("\0");
    s.push('\x01');
    s.push_str(&tok.normalize(text));
    s.push('\x01');
    s.push_str(&tok.decode(ids));
    s.push('\x01');
    s.push_str(&tok.decode_sentencepiece(ids));
    s.push('\x02');
    s.into_bytes()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// Checks one corpus against its group hashes; returns (lines identical, total lines).
/// A line counts as identical when its group's hashes match.
fn check_corpus(
    tok: &Tokenizer,
    name: &str,
    lines: &[String],
    golden: &Value,
    hf: bool,
) -> (usize, usize) {
    assert_eq!(
        golden["lines"].as_u64().unwrap() as usize,
        lines.len(),
        "{name}: line count"
    );
    let group = golden["group"].as_u64().unwrap() as usize;
    let want_ids = strings(&golden["ids"]);
    let want_text = strings(&golden["text"]);
    let want_hf = hf.then(|| strings(&golden["hf_ids"]));
    let mut ok_lines = 0;
    let mut failures = Vec::new();
    for (g, chunk) in lines.chunks(group).enumerate() {
        let (mut hi, mut ht, mut hh) = (FNV_INIT, FNV_INIT, FNV_INIT);
        for line in chunk {
            let (ids, pieces) = tok.encode_plain_with_pieces(line);
            hi = fnv(&ids_record(&ids), hi);
            ht = fnv(&text_record(tok, line, &ids, &pieces), ht);
            if hf {
                hh = fnv(&ids_record(&tok.encode(line, false)), hh);
            }
        }
        let mut good = format!("{hi:016x}") == want_ids[g] && format!("{ht:016x}") == want_text[g];
        if let Some(w) = &want_hf {
            good &= format!("{hh:016x}") == w[g];
        }
        if good {
            ok_lines += chunk.len();
        } else {
            failures.push(g * group);
        }
    }
    eprintln!("{name}: {ok_lines}/{} lines identical", lines.len());
    assert!(
        failures.is_empty(),
        "{name}: groups starting at lines {:?} differ from sentencepiece",
        &failures[..failures.len().min(20)]
    );
    (ok_lines, lines.len())
}

/// Mirrors `lcg_text` in the script.
fn lcg_text(n_bytes: usize, alphabet: &str, seed: u64) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    let mut x = seed;
    let mut out = String::with_capacity(n_bytes + 4);
    while out.len() < n_bytes {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push(chars[((x >> 33) % chars.len() as u64) as usize]);
    }
    out
}

const BIG_ALPHABET_NOSPACE: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789.,;:!?'\"()-éàüßçñ日本語中文한국어😀👍ﬁ①Ａ\u{0301}";

fn big_lines() -> Vec<(&'static str, String)> {
    let spaces = format!("{BIG_ALPHABET_NOSPACE}     \t\n");
    vec![
        ("nospace_1mb", lcg_text(1_000_000, BIG_ALPHABET_NOSPACE, 42)),
        ("spaces_1mb", lcg_text(1_000_000, &spaces, 7)),
        ("emoji_250k", "😀".repeat(250_000)),
    ]
}

fn check_model(name: &str, model_path: &Path) {
    let golden = read_json(&fixtures().join(format!("golden_{name}.json")));
    let bytes = std::fs::read(model_path).unwrap();
    let tok = Tokenizer::from_spiece_bytes(&bytes).unwrap();
    let hf = name == "t5style-4k";

    // Adversarial set: everything in full.
    let adversarial = golden["adversarial"].as_array().unwrap();
    for rec in adversarial {
        let text = rec["text"].as_str().unwrap();
        let (ids, pieces) = tok.encode_plain_with_pieces(text);
        assert_eq!(ids, u32s(&rec["ids"]), "{name}: ids of {text:?}");
        assert_eq!(
            pieces,
            strings(&rec["pieces"]),
            "{name}: pieces of {text:?}"
        );
        assert_eq!(
            tok.normalize(text),
            rec["normalized"].as_str().unwrap(),
            "{name}: normalized {text:?}"
        );
        assert_eq!(
            tok.decode(&ids),
            rec["decoded"].as_str().unwrap(),
            "{name}: decode of {text:?}"
        );
        assert_eq!(
            tok.decode_sentencepiece(&ids),
            rec["sp_decoded"].as_str().unwrap(),
            "{name}: sentencepiece decode of {text:?}"
        );
        if hf {
            assert_eq!(
                tok.encode(text, false),
                u32s(&rec["hf_ids"]),
                "{name}: HF ids of {text:?}"
            );
        }
    }
    eprintln!(
        "{name} adversarial: {n}/{n} lines identical",
        n = adversarial.len()
    );

    let p3: Vec<String> =
        serde_json::from_value(read_json(&fixtures().join("p3_strings.json"))).unwrap();
    check_corpus(
        &tok,
        &format!("{name} p3"),
        &p3,
        &golden["corpora"]["p3"],
        hf,
    );

    match shared() {
        Some(dir) => {
            let text = std::fs::read_to_string(dir.join("data/sentencepiece/botchan.txt")).unwrap();
            let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
            if lines.last().is_some_and(String::is_empty) {
                lines.pop();
            }
            check_corpus(
                &tok,
                &format!("{name} botchan"),
                &lines,
                &golden["corpora"]["botchan"],
                hf,
            );
        }
        None => eprintln!("SKIP {name} botchan: shared data not found (set T0_SHARED)"),
    }

    for ((big_name, text), want) in big_lines().iter().zip(golden["big"].as_array().unwrap()) {
        assert_eq!(want["name"].as_str().unwrap(), *big_name);
        let ids = tok.encode_plain(text);
        assert_eq!(
            ids.len() as u64,
            want["count"].as_u64().unwrap(),
            "{name} {big_name}: id count"
        );
        assert_eq!(
            format!("{:016x}", fnv(&ids_record(&ids), FNV_INIT)),
            want["ids"].as_str().unwrap(),
            "{name} {big_name}: ids"
        );
        assert_eq!(
            format!("{:016x}", fnv(tok.decode(&ids).as_bytes(), FNV_INIT)),
            want["decoded"].as_str().unwrap(),
            "{name} {big_name}: decode"
        );
    }
}

#[test]
fn golden_t5style_4k() {
    check_model("t5style-4k", &fixtures().join("t5style-4k.model"));
}

#[test]
fn golden_bytefallback() {
    check_model("bytefallback", &fixtures().join("bytefallback.model"));
}

#[test]
fn golden_test_model() {
    match shared() {
        Some(dir) => check_model(
            "test_model",
            &dir.join("data/sentencepiece/test_model.model"),
        ),
        None => eprintln!("SKIP golden_test_model: shared data not found (set T0_SHARED)"),
    }
}

#[test]
fn golden_test_ja_model() {
    match shared() {
        Some(dir) => check_model(
            "test_ja_model",
            &dir.join("data/sentencepiece/test_ja_model.model"),
        ),
        None => eprintln!("SKIP golden_test_ja_model: shared data not found (set T0_SHARED)"),
    }
}

#[test]
fn golden_hf_t5_sentinels_eos_decode() {
    let golden = read_json(&fixtures().join("golden_hf_t5.json"));
    let tok = Tokenizer::from_file(&fixtures().join("t5style-4k.model")).unwrap();
    let cases = golden["encode"].as_array().unwrap();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            tok.encode(text, false),
            u32s(&case["ids"]),
            "ids of {text:?}"
        );
        assert_eq!(
            tok.encode(text, true),
            u32s(&case["ids_eos"]),
            "ids+eos of {text:?}"
        );
        assert_eq!(
            tok.encode_pieces(text),
            strings(&case["pieces"]),
            "pieces of {text:?}"
        );
        assert_eq!(
            tok.decode(&u32s(&case["ids_eos"])),
            case["decoded"].as_str().unwrap(),
            "decode of {text:?}"
        );
    }
    let decodes = golden["decode"].as_array().unwrap();
    for case in decodes {
        let ids = u32s(&case["ids"]);
        assert_eq!(
            tok.decode(&ids),
            case["decoded"].as_str().unwrap(),
            "decode of {ids:?}"
        );
    }
    eprintln!(
        "HF T5Tokenizer: {}/{} encode cases, {}/{} decode cases identical",
        cases.len(),
        cases.len(),
        decodes.len(),
        decodes.len()
    );
}

#[test]
fn tokenizer_json_matches_spiece_model() {
    let from_model = Tokenizer::from_file(&fixtures().join("t5style-4k.model")).unwrap();
    let from_json = Tokenizer::from_file(&fixtures().join("t5style-4k.tokenizer.json")).unwrap();
    assert_eq!(from_model.vocab_size(), from_json.vocab_size());
    assert_eq!(from_model.extra_ids(), from_json.extra_ids());
    assert_eq!(from_model.eos_id(), from_json.eos_id());
    assert_eq!(from_model.pad_id(), from_json.pad_id());
    assert_eq!(from_model.unk_id(), from_json.unk_id());
    for id in 0..from_model.vocab_size() as u32 {
        assert_eq!(
            from_model.id_to_piece(id),
            from_json.id_to_piece(id),
            "piece {id}"
        );
    }
    let adversarial: Vec<String> =
        serde_json::from_value(read_json(&fixtures().join("adversarial.json"))).unwrap();
    let p3: Vec<String> =
        serde_json::from_value(read_json(&fixtures().join("p3_strings.json"))).unwrap();
    let golden = read_json(&fixtures().join("golden_hf_t5.json"));
    let hf_texts = golden["encode"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string());
    let all: Vec<String> = adversarial.into_iter().chain(p3).chain(hf_texts).collect();
    for text in &all {
        let ids = from_model.encode(text, true);
        assert_eq!(ids, from_json.encode(text, true), "{text:?}");
        assert_eq!(from_model.decode(&ids), from_json.decode(&ids), "{text:?}");
    }
    eprintln!(
        "tokenizer.json vs spiece.model: {n}/{n} lines identical",
        n = all.len()
    );
}
