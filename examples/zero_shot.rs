//! Zero-shot prompting as T0 was evaluated: a PromptSource template applied to a dataset
//! row, its answer choices ranked, the answer compared with the rendered target.
//!
//! `cargo run -p t0-examples --example zero_shot [MODEL_DIR]`

use t0_core::{GenerateOptions, ScoreOptions};
use t0_prompts::run::{generate, rank};
use t0_prompts::{RenderOptions, TemplateCollection};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = t0_examples::load_model_from_args()?;
    let templates = TemplateCollection::load(t0_examples::templates_dir())?;
    let rte = templates.get("super_glue/rte")?;
    let row = serde_json::json!({
        "premise": "The cat sat on the mat all afternoon, watching the birds outside.",
        "hypothesis": "The cat was outside.",
        "idx": 0,
        "label": 1
    });
    for name in ["does it follow that", "GPT-3 style", "MNLI crowdsource"] {
        let t = rte.get(name)?;
        let r = rank(
            &model,
            t,
            &row,
            &RenderOptions::default(),
            &ScoreOptions::t_zero(),
        )?;
        println!("[{name}] {}", r.rendered.input);
        println!(
            "  answer: {:?} (p {:.3}); target: {:?}",
            r.choices[r.ranking.best],
            r.ranking.probabilities[r.ranking.best],
            r.rendered.target.as_deref().unwrap_or("-")
        );
    }
    let (prompt, out) = generate(
        &model,
        rte.get("GPT-3 style")?,
        &row,
        &RenderOptions::default(),
        &GenerateOptions {
            max_new_tokens: 8,
            ..GenerateOptions::default()
        },
    )?;
    println!("generated for {:?}: {:?}", prompt.input, out.text);
    Ok(())
}
