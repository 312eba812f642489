//! `t0 generate --model owner/name`, `t0 download` and `t0 cache list` end to end: the
//! binary is spawned with `HF_ENDPOINT` pointing at a fake Hub on 127.0.0.1 (the same
//! server as t0-hub's tests) serving the t5style_4k fixture model and its sentencepiece
//! tokenizer; generated text is compared with HF's (text_cases.json, made by
//! scripts/make_fixtures.py). Each run gets its own `HF_HOME`; HF_* variables of the
//! caller's environment are removed.
#![cfg(feature = "hub")]

#[path = "../../t0-hub/tests/support/fake_hub.rs"]
mod fake_hub;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fake_hub::{FakeHub, Faults};
use serde_json::Value;

const REPO: &str = "t0-test/t5style-4k";

mod common;
use common::stdout_ok;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_dir() -> PathBuf {
    root().join("t0-core/tests/fixtures/models/t5style_4k")
}

/// The fixture repo: config.json (regular file), model.safetensors and spiece.model (LFS).
fn server() -> (FakeHub, String) {
    let hub = FakeHub::start();
    let read = |p: PathBuf| std::fs::read(p).unwrap();
    let commit = hub.add_repo(
        REPO,
        &[
            ("config.json", read(model_dir().join("config.json"))),
            (
                "model.safetensors",
                read(model_dir().join("model.safetensors")),
            ),
            (
                "spiece.model",
                read(root().join("t0-core/tests/fixtures/tokenizer/t5style-4k.model")),
            ),
            ("README.md", b"# tiny\n".to_vec()),
        ],
        &["model.safetensors", "spiece.model"],
    );
    (hub, commit)
}

fn t0(hub: &FakeHub, home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_t0"));
    for k in [
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HF_HUB_CACHE",
        "HUGGINGFACE_HUB_CACHE",
        "HF_HUB_OFFLINE",
        "XDG_CACHE_HOME",
    ] {
        c.env_remove(k);
    }
    c.env("HF_HOME", home).env("HF_ENDPOINT", hub.url());
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

fn stderr_err(o: &Output) -> String {
    assert!(!o.status.success(), "t0 should have failed");
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn first_case() -> Value {
    let text = std::fs::read_to_string(model_dir().join("text_cases.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()[0].clone()
}

#[test]
fn generate_with_a_repo_id_matches_hf_then_works_offline() {
    let (hub, _) = server();
    let home = tempfile::tempdir().unwrap();
    let case = first_case();
    let args = [
        "generate",
        "--model",
        REPO,
        "--max-new-tokens",
        "6",
        case["text"].as_str().unwrap(),
    ];
    let out = stdout_ok(&t0(&hub, home.path(), &[], &args));
    assert_eq!(
        out.trim_end_matches('\n'),
        case["greedy_text"].as_str().unwrap()
    );
    assert!(!hub.requests().is_empty());
    // Second run: from the cache, no request; offline too.
    hub.clear_requests();
    let out = stdout_ok(&t0(&hub, home.path(), &[("HF_HUB_OFFLINE", "1")], &args));
    assert_eq!(
        out.trim_end_matches('\n'),
        case["greedy_text"].as_str().unwrap()
    );
    let out = stdout_ok(&t0(&hub, home.path(), &[], &args));
    assert_eq!(
        out.trim_end_matches('\n'),
        case["greedy_text"].as_str().unwrap()
    );
    assert!(hub.requests().is_empty(), "{:#?}", hub.requests());
    // score and forward take repo ids too.
    let out = stdout_ok(&t0(
        &hub,
        home.path(),
        &[],
        &[
            "score",
            "--model",
            REPO,
            "--choices",
            "positive|||negative",
            "x",
        ],
    ));
    assert!(!out.trim().is_empty());
    let npy = home.path().join("logits.npy");
    stdout_ok(&t0(
        &hub,
        home.path(),
        &[],
        &[
            "forward",
            "--model",
            REPO,
            "--input-ids",
            "5 6 1",
            "--decoder-ids",
            "0 5",
            "--out",
            npy.to_str().unwrap(),
        ],
    ));
    assert!(npy.is_file());
}

#[test]
fn repo_errors_are_clear() {
    let (hub, _) = server();
    let home = tempfile::tempdir().unwrap();
    let e = stderr_err(&t0(
        &hub,
        home.path(),
        &[],
        &["generate", "--model", "nobody/missing", "x"],
    ));
    assert!(e.contains("`nobody/missing` not found"), "{e}");
    let e = stderr_err(&t0(
        &hub,
        home.path(),
        &[("HF_HUB_OFFLINE", "1")],
        &["generate", "--model", REPO, "x"],
    ));
    assert!(e.contains("HF_HUB_OFFLINE"), "{e}");
    let e = stderr_err(&t0(
        &hub,
        home.path(),
        &[],
        &["generate", "--model", "no-such-dir", "x"],
    ));
    assert!(
        e.contains("not a directory") && e.contains("owner/name"),
        "{e}"
    );
    hub.require_token(REPO, "hf_abc");
    let e = stderr_err(&t0(&hub, home.path(), &[], &["download", REPO]));
    assert!(e.contains("set HF_TOKEN"), "{e}");
    // HF_TOKEN, then the token file `$HF_HOME/token` as written by `huggingface-cli login`.
    stdout_ok(&t0(
        &hub,
        home.path(),
        &[("HF_TOKEN", "hf_abc")],
        &["download", "-q", REPO],
    ));
    let home2 = tempfile::tempdir().unwrap();
    std::fs::write(home2.path().join("token"), "hf_abc\n").unwrap();
    stdout_ok(&t0(&hub, home2.path(), &[], &["download", "-q", REPO]));
    assert!(
        hub.requests()
            .iter()
            .any(|r| r.authorization.as_deref() == Some("Bearer hf_abc"))
    );
}

#[test]
fn download_include_and_cache_list() {
    let (hub, commit) = server();
    let home = tempfile::tempdir().unwrap();
    let out = stdout_ok(&t0(
        &hub,
        home.path(),
        &[],
        &["download", REPO, "--include", "*.md", "--quiet"],
    ));
    let snap = home
        .path()
        .join("hub/models--t0-test--t5style-4k/snapshots")
        .join(&commit);
    assert_eq!(out.trim(), snap.to_str().unwrap());
    assert!(snap.join("README.md").is_file() && !snap.join("config.json").exists());
    // A dropped connection is resumed within the command.
    hub.set_faults(Faults {
        drop_after: Some(("model.safetensors".into(), 100_000)),
        ..Faults::default()
    });
    let o = t0(
        &hub,
        home.path(),
        &[],
        &["download", &format!("{REPO}@main")],
    );
    assert_eq!(stdout_ok(&o).trim(), snap.to_str().unwrap());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("fetching") && err.contains("model.safetensors"),
        "{err}"
    );
    assert!(
        hub.requests()
            .iter()
            .any(|r| r.range.as_deref() == Some("bytes=100000-"))
    );
    let o = t0(
        &hub,
        home.path(),
        &[],
        &["download", REPO, "--revision", "main"],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 B downloaded"));
    let e = stderr_err(&t0(
        &hub,
        home.path(),
        &[],
        &["download", &format!("{REPO}@main"), "--revision", "x"],
    ));
    assert!(e.contains("give the revision once"), "{e}");
    let list = stdout_ok(&t0(&hub, home.path(), &[], &["cache", "list"]));
    let line = list
        .lines()
        .find(|l| l.starts_with(REPO))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.contains(&commit[..12]) && line.contains("main"),
        "{list}"
    );
    let files: usize = line.split_whitespace().nth(3).unwrap().parse().unwrap();
    assert_eq!(files, 4, "{list}");
    assert!(list.contains("1 repo(s)"), "{list}");
    let empty = tempfile::tempdir().unwrap();
    let list = stdout_ok(&t0(&hub, empty.path(), &[], &["cache", "list"]));
    assert!(list.starts_with("no models in"), "{list}");
}
