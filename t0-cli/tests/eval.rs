//! `t0 eval` against the Python reference of the same procedure (scripts/eval_reference.py:
//! HF T5ForConditionalGeneration 4.46.3 + promptsource 0.2.3's templates.py) on the
//! `t5style_4k` fixture model: same choices picked on every example, same accuracies,
//! same scores within float tolerance.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn eval(dataset: &str, data: &str, templates: &str, extra: &[&str]) -> std::process::Output {
    let r = root();
    Command::new(env!("CARGO_BIN_EXE_t0"))
        .arg("eval")
        .arg("--model")
        .arg(r.join("t0-core/tests/fixtures/models/t5style_4k"))
        .arg("--tokenizer")
        .arg(r.join("t0-core/tests/fixtures/tokenizer/t5style-4k.model"))
        .arg("--templates")
        .arg(templates)
        .args(["--dataset", dataset, "--data", data])
        .args(extra)
        .output()
        .unwrap()
}

fn check_against_golden(name: &str, dataset: &str) {
    let r = root();
    let data = r.join(format!("t0-cli/tests/fixtures/{name}.jsonl"));
    let templates = r.join("t0-prompts/tests/fixtures/templates");
    let out = eval(
        dataset,
        data.to_str().unwrap(),
        templates.to_str().unwrap(),
        &["--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let golden_path = r.join(format!("t0-cli/tests/golden/eval_{name}.json"));
    let want: Value = serde_json::from_str(&std::fs::read_to_string(golden_path).unwrap()).unwrap();
    assert_eq!(got["rows"], want["rows"]);
    let (gt, wt) = (
        got["templates"].as_array().unwrap(),
        want["templates"].as_array().unwrap(),
    );
    assert_eq!(gt.len(), wt.len());
    let mut predictions = 0;
    for (g, w) in gt.iter().zip(wt) {
        let tname = w["name"].as_str().unwrap();
        for k in [
            "name",
            "id",
            "correct",
            "scored",
            "no_answer_choices",
            "no_target",
            "empty_input",
        ] {
            assert_eq!(g[k], w[k], "{tname}: {k}");
        }
        assert_eq!(g["errors"].as_array().unwrap().len(), 0, "{tname}");
        let (ga, wa) = (g["accuracy"].as_f64(), w["accuracy"].as_f64());
        assert_eq!(ga.is_some(), wa.is_some(), "{tname}");
        if let (Some(ga), Some(wa)) = (ga, wa) {
            assert!((ga - wa).abs() < 1e-12, "{tname}: accuracy {ga} vs {wa}");
        }
        let (ge, we) = (
            g["examples"].as_array().unwrap(),
            w["examples"].as_array().unwrap(),
        );
        assert_eq!(ge.len(), we.len());
        for (x, y) in ge.iter().zip(we) {
            let row = &y["row"];
            for k in [
                "row",
                "predicted",
                "gold",
                "choices",
                "no_answer_choices",
                "empty_input",
            ] {
                assert_eq!(x[k], y[k], "{tname} row {row}: {k}");
            }
            if let Some(ws) = y["scores"].as_array() {
                predictions += 1;
                let gs = x["scores"].as_array().unwrap();
                assert_eq!(gs.len(), ws.len());
                for (a, b) in gs.iter().zip(ws) {
                    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                    assert!(
                        (a - b).abs() <= 1e-4 + 1e-5 * b.abs(),
                        "{tname} row {row}: score {a} vs {b}"
                    );
                }
            }
        }
    }
    assert!(predictions > 0);
    for k in ["median_accuracy", "mean_accuracy"] {
        let (a, b) = (got[k].as_f64().unwrap(), want[k].as_f64().unwrap());
        assert!((a - b).abs() < 1e-12, "{k}: {a} vs {b}");
    }
}

#[test]
fn rte_equals_python_reference() {
    check_against_golden("rte_tiny", "super_glue/rte");
}

#[test]
fn copa_equals_python_reference() {
    // Example-dependent choices (predictions differ across rows), and templates that render
    // nothing for half the rows (reported as empty_input).
    check_against_golden("copa_tiny", "super_glue/copa");
}

#[test]
fn table_named_template_and_unscored_rows_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("toy");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(
        set.join("templates.yaml"),
        r#"dataset: toy
templates:
  a1: !Template
    answer_choices: null
    id: a1
    jinja: '{{ text }} ||| {{ text }}'
    metadata: !TemplateMetadata
      choices_in_prompt: false
      metrics: [Accuracy]
      original_task: true
    name: no choices
    reference: ''
  a2: !Template
    answer_choices: yes ||| no
    id: a2
    jinja: '{{ text }} ||| {% if label != -1 %}{{ answer_choices[label] }}{% endif %}'
    metadata: !TemplateMetadata
      choices_in_prompt: false
      metrics: [Accuracy]
      original_task: true
    name: yes no
    reference: ''
"#,
    )
    .unwrap();
    let data = dir.path().join("d.jsonl");
    std::fs::write(
        &data,
        "{\"text\": \"a b c\", \"label\": 0}\n{\"text\": \"d e\", \"label\": -1}\n",
    )
    .unwrap();
    let (t, d) = (dir.path().to_str().unwrap(), data.to_str().unwrap());
    let out = eval("toy", d, t, &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ts = v["templates"].as_array().unwrap();
    assert_eq!(ts[0]["name"], "no choices");
    assert_eq!(ts[0]["no_answer_choices"], 2);
    assert_eq!(ts[0]["accuracy"], Value::Null);
    assert_eq!(ts[1]["scored"], 1);
    assert_eq!(ts[1]["no_target"], 1);
    // Only the template with an accuracy enters the median.
    assert_eq!(v["median_accuracy"], ts[1]["accuracy"]);

    let out = eval("toy", d, t, &["--template", "yes no"]);
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("yes no") && !table.contains("no choices"),
        "{table}"
    );
    assert!(table.contains("median accuracy"), "{table}");

    let out = eval("toy", d, t, &["--template", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    let out = eval("other", d, t, &[]);
    assert!(!out.status.success());
}
