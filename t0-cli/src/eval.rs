//! `t0 eval`: T0's zero-shot evaluation of a dataset's prompts (rank classification).
//!
//! For each template (all of the dataset's, or the `--template` ones) and each JSONL row
//! (an HF dataset row): apply the template, rank the answer choices given the rendered
//! input (input without EOS truncated to 1024 tokens, choices with EOS truncated to 256,
//! summed log-probabilities), and count the example correct when the best choice is the
//! rendered target (`answer_choices.index(target)`, as t-zero's `run_eval.py`). Rows for
//! which a template yields no answer choices, an empty input, no target, or a target
//! outside the choices are counted and reported, not scored.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write as _};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};
use t0_core::api::ApiError;
use t0_core::model::ModelError;
use t0_core::{LoadOptions, Model, ScoreOptions};
use t0_prompts::run::{RunError, rank};
use t0_prompts::{RenderOptions, TemplateCollection};

/// Arguments of `t0 eval`.
#[derive(Args)]
pub struct EvalArgs {
    /// Model directory (config.json, weights, spiece.model or tokenizer.json), or a Hub repo id.
    #[arg(long)]
    pub(crate) model: PathBuf,
    /// PromptSource templates folder (holding `super_glue/rte/templates.yaml`, ...).
    #[arg(long)]
    templates: PathBuf,
    /// Dataset (template folder): `super_glue/rte`, `anli`, `super_glue/wsc.fixed`, ...
    #[arg(long)]
    dataset: String,
    /// JSONL file of HF dataset rows (one JSON object per line).
    #[arg(long)]
    data: PathBuf,
    /// Evaluate only this template (name or id); repeatable. Default: every template.
    #[arg(long)]
    template: Vec<String>,
    /// Tokenizer file overriding the one in --model.
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Evaluate only the first N rows.
    #[arg(long)]
    limit: Option<usize>,
    /// Seed of the templates' `choice`/`random` filters (promptsource never seeds).
    #[arg(long)]
    seed: Option<u64>,
    /// Print JSON (per-template accuracy, median, mean, per-example choices and scores)
    /// instead of a table.
    #[arg(long)]
    json: bool,
}

/// Reads a JSONL file: one object per non-empty line.
pub fn read_jsonl(path: &Path, limit: Option<usize>) -> Result<Vec<Value>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        if limit.is_some_and(|n| rows.len() >= n) {
            break;
        }
        let line = line.map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        if !v.is_object() {
            return Err(format!(
                "{}: line {}: a row must be a JSON object",
                path.display(),
                i + 1
            ));
        }
        rows.push(v);
    }
    Ok(rows)
}

/// Median of a non-empty list (mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(s[n / 2]),
        _ => Some((s[n / 2 - 1] + s[n / 2]) / 2.0),
    }
}

struct Progress {
    total: u64,
    done: u64,
    draw: bool,
    width: usize,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total,
            done: 0,
            draw: std::io::stderr().is_terminal(),
            width: 30,
        }
    }
    fn inc(&mut self, what: &str) {
        self.done += 1;
        if !self.draw {
            return;
        }
        let filled = (self.done * self.width as u64 / self.total.max(1)) as usize;
        eprint!(
            "\r[{}{}] {}/{} {:<40.40}",
            "#".repeat(filled),
            "-".repeat(self.width - filled.min(self.width)),
            self.done,
            self.total,
            what
        );
    }
    fn finish(&self) {
        if self.draw {
            eprintln!();
        }
    }
}

/// Runs `t0 eval`.
pub fn run(a: EvalArgs) -> Result<(), String> {
    let report = evaluate(&a)?;
    let text = if a.json {
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n"
    } else {
        table(&report)
    };
    // A closed pipe (`t0 eval ... | head`) is not an error.
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

/// The report as a table: one line per template, then the median and mean.
fn table(report: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<48} {:>8} {:>8} {:>8} {:>10}",
        "template", "accuracy", "correct", "scored", "unscored"
    );
    for t in report["templates"].as_array().into_iter().flatten() {
        let unscored = t["no_answer_choices"].as_u64().unwrap_or(0)
            + t["no_target"].as_u64().unwrap_or(0)
            + t["empty_input"].as_u64().unwrap_or(0)
            + t["errors"].as_array().map_or(0, |e| e.len() as u64);
        let acc = t["accuracy"]
            .as_f64()
            .map_or("-".to_string(), |a| format!("{:.4}", a));
        let _ = writeln!(
            out,
            "{:<48} {:>8} {:>8} {:>8} {:>10}",
            t["name"].as_str().unwrap_or(""),
            acc,
            t["correct"].as_u64().unwrap_or(0),
            t["scored"].as_u64().unwrap_or(0),
            unscored
        );
        for e in t["errors"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "    row {}: {}",
                e["row"],
                e["error"].as_str().unwrap_or("")
            );
        }
    }
    let f = |k: &str| {
        report[k]
            .as_f64()
            .map_or("-".to_string(), |v| format!("{v:.4}"))
    };
    let _ = writeln!(
        out,
        "{}: {} rows, {} templates; median accuracy {}, mean {}",
        report["dataset"].as_str().unwrap_or(""),
        report["rows"],
        report["templates"].as_array().map_or(0, Vec::len),
        f("median_accuracy"),
        f("mean_accuracy")
    );
    out
}

/// Evaluates and returns the JSON report.
pub fn evaluate(a: &EvalArgs) -> Result<Value, String> {
    let collection = TemplateCollection::load(&a.templates).map_err(|e| e.to_string())?;
    let set = collection.get(&a.dataset).map_err(|e| e.to_string())?;
    let mut templates = Vec::new();
    if a.template.is_empty() {
        let mut all: Vec<_> = set.templates.iter().collect();
        all.sort_by(|x, y| x.name.cmp(&y.name));
        templates = all;
    } else {
        for name in &a.template {
            templates.push(set.get(name).map_err(|e| e.to_string())?);
        }
    }
    let rows = read_jsonl(&a.data, a.limit)?;
    let opts = LoadOptions {
        tokenizer: a.tokenizer.clone(),
        ..LoadOptions::default()
    };
    let model = Model::load(&a.model, &opts).map_err(|e| e.to_string())?;
    let render = RenderOptions {
        seed: a.seed,
        ..RenderOptions::default()
    };
    let score = ScoreOptions::t_zero();
    let mut progress = Progress::new((templates.len() * rows.len()) as u64);
    let mut out_templates = Vec::new();
    let mut accuracies = Vec::new();
    for t in &templates {
        let (mut correct, mut scored, mut no_choices, mut no_target, mut empty_input) =
            (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut examples = Vec::new();
        let mut errors = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            progress.inc(&t.name);
            match rank(&model, t, row, &render, &score) {
                Ok(r) => {
                    let rec = json!({
                        "row": i,
                        "choices": r.choices,
                        "scores": r.ranking.scores,
                        "predicted": r.ranking.best,
                        "gold": r.gold,
                    });
                    match r.gold {
                        Some(g) => {
                            scored += 1;
                            correct += u64::from(g == r.ranking.best);
                        }
                        None => no_target += 1,
                    }
                    examples.push(rec);
                }
                Err(RunError::NoAnswerChoices { .. }) => {
                    no_choices += 1;
                    examples.push(json!({"row": i, "no_answer_choices": true}));
                }
                Err(RunError::Model(ApiError::Model(ModelError::EmptyInput { .. }))) => {
                    // The template renders nothing for this row (a COPA "effect" prompt on
                    // a "cause" row): nothing to condition on.
                    empty_input += 1;
                    examples.push(json!({"row": i, "empty_input": true}));
                }
                Err(e) => {
                    errors.push(json!({"row": i, "error": e.to_string()}));
                    examples.push(json!({"row": i, "error": e.to_string()}));
                }
            }
        }
        let accuracy = (scored > 0).then(|| correct as f64 / scored as f64);
        if let Some(acc) = accuracy {
            accuracies.push(acc);
        }
        out_templates.push(json!({
            "name": t.name,
            "id": t.id,
            "accuracy": accuracy,
            "correct": correct,
            "scored": scored,
            "no_answer_choices": no_choices,
            "no_target": no_target,
            "empty_input": empty_input,
            "errors": errors,
            "examples": examples,
        }));
    }
    progress.finish();
    let mean =
        (!accuracies.is_empty()).then(|| accuracies.iter().sum::<f64>() / accuracies.len() as f64);
    Ok(json!({
        "dataset": a.dataset,
        "model": a.model.display().to_string(),
        "rows": rows.len(),
        "templates": out_templates,
        "median_accuracy": median(&accuracies),
        "mean_accuracy": mean,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[0.5, 0.1, 0.9]), Some(0.5));
        assert_eq!(median(&[0.4, 0.1, 0.9, 0.6]), Some(0.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn jsonl_rejects_non_objects_and_names_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.jsonl");
        std::fs::write(&p, "{\"a\": 1}\n\n[1]\n").unwrap();
        let e = read_jsonl(&p, None).unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert_eq!(read_jsonl(&p, Some(1)).unwrap().len(), 1);
    }
}
