//! Streaming generation: text printed piece by piece as it is decoded (UTF-8 safe), with
//! an early stop from the callback.
//!
//! `cargo run -p t0-examples --example streaming [MODEL_DIR] [PROMPT]`

use std::io::Write;
use std::ops::ControlFlow;

use t0_core::GenerateOptions;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = t0_examples::load_model_from_args()?;
    let prompt = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "Write a short story about a lighthouse keeper.".into());
    let opts = GenerateOptions {
        max_new_tokens: 48,
        ..GenerateOptions::default()
    };
    let mut out = std::io::stdout();
    let g = model.generate_stream(&prompt, &opts, |piece| {
        print!("{piece}");
        let _ = out.flush();
        // Stop at the first full stop.
        if piece.contains('.') {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    println!();
    eprintln!("{} tokens, stopped by {:?}", g.ids.len(), g.stop);
    Ok(())
}
