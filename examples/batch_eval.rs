//! Batch evaluation: every template of a dataset over JSONL rows, accuracy per template and
//! the median (what `t0 eval` does, in a few lines of the library API).
//!
//! `cargo run -p t0-examples --example batch_eval [MODEL_DIR] [DATA.jsonl] [DATASET]`

use std::io::BufRead;

use t0_core::ScoreOptions;
use t0_prompts::run::rank;
use t0_prompts::{RenderOptions, TemplateCollection};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = t0_examples::load_model_from_args()?;
    let root = t0_examples::root();
    let data = std::env::args().nth(2).map_or_else(
        || root.join("t0-cli/tests/fixtures/rte_tiny.jsonl"),
        Into::into,
    );
    let dataset = std::env::args()
        .nth(3)
        .unwrap_or_else(|| "super_glue/rte".into());
    let rows: Vec<serde_json::Value> = std::io::BufReader::new(std::fs::File::open(&data)?)
        .lines()
        .filter(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|l| Ok(serde_json::from_str(&l?)?))
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let templates = TemplateCollection::load(t0_examples::templates_dir())?;
    let mut accuracies = Vec::new();
    for t in &templates.get(&dataset)?.templates {
        let (mut correct, mut scored) = (0, 0);
        for row in &rows {
            // Rows without a gold answer (label -1) or without choices are skipped here;
            // `t0 eval` reports them.
            let Ok(r) = rank(
                &model,
                t,
                row,
                &RenderOptions::default(),
                &ScoreOptions::t_zero(),
            ) else {
                continue;
            };
            if let Some(gold) = r.gold {
                scored += 1;
                correct += usize::from(gold == r.ranking.best);
            }
        }
        if scored > 0 {
            let acc = correct as f64 / scored as f64;
            println!("{:<40} {acc:.3} ({correct}/{scored})", t.name);
            accuracies.push(acc);
        }
    }
    accuracies.sort_by(f64::total_cmp);
    if let Some(m) = accuracies.get(accuracies.len() / 2) {
        println!(
            "{} templates; upper median accuracy {m:.3}",
            accuracies.len()
        );
    }
    Ok(())
}
