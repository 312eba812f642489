//! The Rust API doing what `examples/c/t0_example.c` does; CI diffs their outputs.
//!
//! `cargo run -p t0-examples --example c_parity -- MODEL_DIR TOKENIZER_FILE TEMPLATES_DIR`

use t0_core::{GenerateOptions, LoadOptions, Model, ScoreOptions};
use t0_prompts::run::rank;
use t0_prompts::{RenderOptions, TemplateCollection};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, tokenizer, templates] = args.as_slice() else {
        return Err("usage: c_parity MODEL_DIR TOKENIZER_FILE TEMPLATES_DIR".into());
    };
    let opts = LoadOptions {
        tokenizer: Some(tokenizer.into()),
        ..LoadOptions::default()
    };
    let model = Model::load(dir, &opts)?;

    let text = "Premise: the street is wet. Hypothesis: it rained. True or false?";
    let choices = ["True", "False", "Maybe"];
    let r = model.score(text, &choices, &ScoreOptions::t_zero())?;
    for (c, s) in choices.iter().zip(&r.scores) {
        println!("score\t{c}\t{:.5}", *s as f64);
    }
    println!("best\t{}", choices[r.best]);

    let g = model.generate(
        "Translate to French: the cat sleeps.",
        &GenerateOptions {
            max_new_tokens: 12,
            ..GenerateOptions::default()
        },
    )?;
    println!("generate\t{}", g.text);

    let ids = model.tokenizer().encode("Hello world!", true);
    let ids_s: Vec<String> = ids.iter().map(u32::to_string).collect();
    println!("tokens\t{}", ids_s.join(" "));
    println!("decode\t{}", model.tokenizer().decode(&ids));

    let ts = TemplateCollection::load(templates)?;
    let t = ts.get("super_glue/rte")?.get("does it follow that")?;
    let row = serde_json::json!({"premise": "It rains.", "hypothesis": "It is wet.", "idx": 0, "label": 0});
    let p = rank(
        &model,
        t,
        &row,
        &RenderOptions::default(),
        &ScoreOptions::t_zero(),
    )?;
    println!("prompt\t{}", p.rendered.input);
    println!(
        "prompt_best\t{}\t(target {})",
        p.choices[p.ranking.best],
        p.rendered.target.as_deref().unwrap_or("(null)")
    );
    Ok(())
}
