//! `t0 prompts`: list PromptSource templates and render one for an example.

use std::path::PathBuf;

use clap::Subcommand;
use t0_prompts::serde_json::{self, Value, json};
use t0_prompts::{RenderOptions, TemplateCollection};

/// `t0 prompts ...` subcommands.
#[derive(Subcommand)]
pub enum PromptsCommand {
    /// List datasets (with template counts), or the templates of one dataset.
    List {
        /// promptsource templates folder (default: $T0_TEMPLATES).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// A dataset folder such as `super_glue/rte`: list its templates.
        dataset: Option<String>,
    },
    /// Apply one template to one example and print
    /// `{"input": ..., "target": ..., "answer_choices": [...]}` (plus `"parts"` when the
    /// template yields more than two `|||`-separated parts).
    Render {
        /// promptsource templates folder (default: $T0_TEMPLATES).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Dataset folder, e.g. `super_glue/rte`.
        #[arg(long)]
        dataset: String,
        /// Template name or id.
        #[arg(long)]
        template: String,
        /// The example as a JSON object, or `@file.json`.
        #[arg(long)]
        example: String,
        /// Seed for `choice`/`random` (as Python's `random.seed`); random when absent.
        #[arg(long)]
        seed: Option<u64>,
        /// Do not truncate fields to 2048 characters (promptsource's `truncate=False`).
        #[arg(long)]
        no_truncate: bool,
    },
}

fn templates_dir(flag: Option<PathBuf>) -> Result<PathBuf, String> {
    flag.or_else(|| std::env::var_os("T0_TEMPLATES").map(PathBuf::from))
        .ok_or_else(|| "no templates folder: pass --templates DIR or set T0_TEMPLATES".to_string())
}

/// Runs a `t0 prompts` subcommand.
pub fn run(cmd: PromptsCommand) -> Result<(), String> {
    match cmd {
        PromptsCommand::List { templates, dataset } => {
            let coll =
                TemplateCollection::load(templates_dir(templates)?).map_err(|e| e.to_string())?;
            match dataset {
                None => {
                    for d in &coll.datasets {
                        println!("{}\t{}", d.folder, d.templates.len());
                    }
                }
                Some(name) => {
                    let d = coll.get(&name).map_err(|e| e.to_string())?;
                    println!("id\tname\toriginal_task\tchoices_in_prompt\tmetrics");
                    for t in &d.templates {
                        let flag = |b: Option<bool>| b.map_or("-".to_string(), |b| b.to_string());
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            t.id,
                            t.name,
                            flag(t.metadata.original_task),
                            flag(t.metadata.choices_in_prompt),
                            t.metadata.metrics.as_deref().unwrap_or_default().join(",")
                        );
                    }
                }
            }
            Ok(())
        }
        PromptsCommand::Render {
            templates,
            dataset,
            template,
            example,
            seed,
            no_truncate,
        } => {
            let text = match example.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
                None => example,
            };
            let ex: Value =
                serde_json::from_str(&text).map_err(|e| format!("--example: invalid JSON: {e}"))?;
            let coll =
                TemplateCollection::load(templates_dir(templates)?).map_err(|e| e.to_string())?;
            let t = coll
                .get(&dataset)
                .and_then(|d| d.get(&template))
                .map_err(|e| e.to_string())?;
            let opts = RenderOptions {
                truncate: !no_truncate,
                seed,
                ..RenderOptions::default()
            };
            let r = t.apply(&ex, &opts).map_err(|e| e.to_string())?;
            let mut out = json!({
                "input": r.input,
                "target": r.target,
                "answer_choices": r.answer_choices,
            });
            if r.parts.len() > 2 {
                out["parts"] = json!(r.parts);
            }
            println!("{out}");
            Ok(())
        }
    }
}
