//! `t0 tokenize` / `t0 detokenize` through the built binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../t0-core/tests/fixtures/tokenizer/t5style-4k.model")
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_t0"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn tokenize_ids_pieces_eos_and_back() {
    let m = model();
    let m = m.to_str().unwrap();
    // Values from sentencepiece 0.2.0 / HF T5Tokenizer (see golden_hf_t5.json).
    let o = run(
        &["tokenize", "--tokenizer", m],
        "ﬁ ① ｈｅｌｌｏ\n".as_bytes(),
    );
    assert_eq!(stdout(&o), "994 204 139 56 182 218\n");
    let o = run(&["tokenize", "--tokenizer", m, "--eos"], b"Hello world\r\n");
    assert_eq!(stdout(&o), "13 3146 748 1\n");
    let o = run(
        &["tokenize", "--tokenizer", m, "--pieces"],
        b"x <extra_id_0> y\nsecond line ignored\n",
    );
    assert_eq!(stdout(&o), "\u{2581} x <extra_id_0> \u{2581} y\n");
    let o = run(&["tokenize", "--tokenizer", m], b"");
    assert_eq!(stdout(&o), "\n");
    let o = run(&["detokenize", "--tokenizer", m], b"13 3146 748 4099 1\n");
    assert_eq!(stdout(&o), "Hello world\n");
    // A model directory works too.
    let dir = Path::new(m).parent().unwrap().to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(m, tmp.path().join("spiece.model")).unwrap();
    let o = run(
        &["tokenize", "--tokenizer", tmp.path().to_str().unwrap()],
        b"Hello world",
    );
    assert_eq!(stdout(&o), "13 3146 748\n");
    let json = format!("{dir}/t5style-4k.tokenizer.json");
    let o = run(&["tokenize", "--tokenizer", &json, "--eos"], b"Hello world");
    assert_eq!(stdout(&o), "13 3146 748 1\n");
}

#[test]
fn bad_input_is_a_clear_error() {
    let m = model();
    let m = m.to_str().unwrap();
    for bad in [&b"abc\x80xy"[..], b"\xe3\x81", b"\xc0\x82"] {
        let o = run(&["tokenize", "--tokenizer", m], bad);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("not valid UTF-8"), "{err}");
    }
    let o = run(&["detokenize", "--tokenizer", m], b"1 2 x");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a token id"));
    let o = run(&["detokenize", "--tokenizer", m], b"5 4100");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("outside the vocabulary"));
    let o = run(
        &["tokenize", "--tokenizer", "/nonexistent/spiece.model"],
        b"a",
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/spiece.model"));
}
