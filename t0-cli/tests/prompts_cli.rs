//! `t0 prompts list|render` end to end, on the fixture templates of t0-prompts.

use std::process::Command;

use t0_prompts::serde_json::{self, Value};

const TEMPLATES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../t0-prompts/tests/fixtures/templates"
);

fn t0(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_t0"))
        .args(args)
        .env_remove("T0_TEMPLATES")
        .output()
        .expect("run t0");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn list_datasets_and_templates() {
    let (ok, out, err) = t0(&["prompts", "list", "--templates", TEMPLATES]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l == "super_glue/rte\t10"), "{out}");
    let (ok, out, err) = t0(&[
        "prompts",
        "list",
        "--templates",
        TEMPLATES,
        "super_glue/rte",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("\tGPT-3 style\ttrue\ttrue\tAccuracy"), "{out}");
}

#[test]
fn render_prints_json() {
    let ex = r#"{"premise": "It rains.", "hypothesis": "It is wet.", "idx": 0, "label": 0}"#;
    let (ok, out, err) = t0(&[
        "prompts",
        "render",
        "--templates",
        TEMPLATES,
        "--dataset",
        "super_glue/rte",
        "--template",
        "GPT-3 style",
        "--example",
        ex,
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("JSON output");
    // promptsource 0.2.3: Template.apply(example) for this template and example.
    assert_eq!(v["input"], "It rains.\nQuestion: It is wet. True or False?");
    assert_eq!(v["target"], "True");
    assert_eq!(v["answer_choices"], serde_json::json!(["True", "False"]));
}

#[test]
fn templates_from_env_and_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_t0"))
        .args(["prompts", "list"])
        .env("T0_TEMPLATES", TEMPLATES)
        .output()
        .expect("run t0");
    assert!(out.status.success());
    let (ok, _, err) = t0(&["prompts", "list"]);
    assert!(!ok && err.contains("T0_TEMPLATES"), "{err}");
    let (ok, _, err) = t0(&[
        "prompts",
        "render",
        "--templates",
        TEMPLATES,
        "--dataset",
        "super_glue/rte",
        "--template",
        "nope",
        "--example",
        "{}",
    ]);
    assert!(
        !ok && err.contains("super_glue/rte") && err.contains("nope"),
        "{err}"
    );
    let (ok, _, err) = t0(&[
        "prompts",
        "render",
        "--templates",
        TEMPLATES,
        "--dataset",
        "super_glue/rte",
        "--template",
        "GPT-3 style",
        "--example",
        "{not json",
    ]);
    assert!(!ok && err.contains("invalid JSON"), "{err}");
}

#[test]
fn render_from_file_with_seed_and_no_truncate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ex.json");
    let long = "word ".repeat(600);
    std::fs::write(
        &file,
        serde_json::json!({"premise": long, "hypothesis": "h", "idx": 0, "label": 1}).to_string(),
    )
    .expect("write example");
    let arg = format!("@{}", file.display());
    let run = |extra: &[&str]| {
        let mut args = vec![
            "prompts",
            "render",
            "--templates",
            TEMPLATES,
            "--dataset",
            "super_glue/rte",
            "--template",
            "GPT-3 style",
            "--example",
            &arg,
            "--seed",
            "3",
        ];
        args.extend_from_slice(extra);
        let (ok, out, err) = t0(&args);
        assert!(ok, "{err}");
        serde_json::from_str::<Value>(out.trim()).expect("JSON output")
    };
    let truncated = run(&[]);
    let full = run(&["--no-truncate"]);
    assert_eq!(truncated["target"], "False");
    // promptsource truncates each field to 2048 characters by default.
    assert!(truncated["input"].as_str().unwrap().contains("word..."));
    assert!(full["input"].as_str().unwrap().len() > 2990);
}
