//! `t0 generate` and `t0 score` from text, end to end on the t5style_4k fixture model with
//! the t5style-4k sentencepiece model, against HF's T5Tokenizer + PyTorch references
//! (`text_cases.json`, made by scripts/make_fixtures.py).

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{stdout_ok, t0};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_dir() -> PathBuf {
    root().join("t0-core/tests/fixtures/models/t5style_4k")
}

fn spiece() -> PathBuf {
    root().join("t0-core/tests/fixtures/tokenizer/t5style-4k.model")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(model_dir().join("text_cases.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn generate_text_matches_hf() {
    let dir = model_dir();
    // Both tokenizer formats: spiece.model and the equivalent tokenizer.json.
    let json = root().join("t0-core/tests/fixtures/tokenizer/t5style-4k.tokenizer.json");
    for (case, tok) in cases()
        .into_iter()
        .flat_map(|c| [(c.clone(), spiece()), (c, json.clone())])
    {
        let out = stdout_ok(&t0(&[
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--tokenizer",
            tok.to_str().unwrap(),
            "--max-new-tokens",
            "6",
            case["text"].as_str().unwrap(),
        ]));
        assert_eq!(
            out.trim_end_matches('\n'),
            case["greedy_text"].as_str().unwrap(),
            "{}",
            case["text"]
        );
    }
}

#[test]
fn tokenizer_is_found_in_the_model_directory() {
    let tmp = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(model_dir().join(f), tmp.path().join(f)).unwrap();
    }
    let case = &cases()[0];
    let d = tmp.path().to_str().unwrap();
    // Without a tokenizer, text input is a clear error.
    let o = t0(&["generate", "--model", d, case["text"].as_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("spiece.model"));
    std::fs::copy(spiece(), tmp.path().join("spiece.model")).unwrap();
    let out = stdout_ok(&t0(&[
        "generate",
        "--model",
        d,
        "--max-new-tokens",
        "6",
        case["text"].as_str().unwrap(),
    ]));
    assert_eq!(
        out.trim_end_matches('\n'),
        case["greedy_text"].as_str().unwrap()
    );
}

#[test]
fn score_text_matches_hf_t_zero_style() {
    let dir = model_dir();
    let tok = spiece();
    for case in cases() {
        let labels: Vec<&str> = case["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let out = stdout_ok(&t0(&[
            "score",
            "--model",
            dir.to_str().unwrap(),
            "--tokenizer",
            tok.to_str().unwrap(),
            "--choices",
            &labels.join("|||"),
            case["text"].as_str().unwrap(),
        ]));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), labels.len() + 1, "{out}");
        let mut best = (f64::NEG_INFINITY, "");
        for (i, line) in lines[..labels.len()].iter().enumerate() {
            let (s, label) = line.split_once('\t').unwrap();
            let s: f64 = s.parse().unwrap();
            let want = case["scores"][i].as_f64().unwrap();
            assert!(
                (s - want).abs() < 1e-4 * want.abs().max(1.0),
                "{s} vs HF {want}"
            );
            assert_eq!(label, labels[i]);
            if s > best.0 {
                best = (s, labels[i]);
            }
        }
        assert_eq!(lines[labels.len()], format!("winner: {}", best.1));
    }
}

#[test]
fn mismatched_tokenizer_is_rejected() {
    // The 128-id fixture model cannot take a 4100-id tokenizer.
    let dir = root().join("t0-core/tests/fixtures/models/v11_gelu_untied");
    let o = t0(&[
        "generate",
        "--model",
        dir.to_str().unwrap(),
        "--tokenizer",
        spiece().to_str().unwrap(),
        "hello",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("vocab_size"));
}
