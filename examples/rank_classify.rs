//! Rank classification: answer choices with their log-likelihoods and probabilities.
//!
//! `cargo run -p t0-examples --example rank_classify [MODEL_DIR] [QUESTION] [CHOICE...]`

use t0_core::ScoreOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = t0_examples::load_model_from_args()?;
    let args: Vec<String> = std::env::args().skip(2).collect();
    let question = args
        .first()
        .map_or("Is a whale a fish? Yes or no?", String::as_str);
    let choices: Vec<&str> = if args.len() > 2 {
        args[1..].iter().map(String::as_str).collect()
    } else {
        vec!["Yes", "No"]
    };
    // README-BEGIN
    let ranking = model.score(question, &choices, &ScoreOptions::t_zero())?;
    for (i, choice) in choices.iter().enumerate() {
        println!(
            "{choice:>12}  log-likelihood {:9.4}  p {:.3}",
            ranking.scores[i], ranking.probabilities[i]
        );
    }
    println!("answer: {}", choices[ranking.best]);
    // README-END
    Ok(())
}
