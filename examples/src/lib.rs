//! Example programs for t0 live beside this file (`cargo run -p t0-examples --example NAME`).
//!
//! Without arguments the model examples run on the tiny random-weight fixture model
//! (`t0-core/tests/fixtures/models/t5style_4k`, answers are noise); pass a model
//! directory holding `config.json`, `model.safetensors` and `spiece.model` (T0_3B, T0pp...)
//! as the first argument for real answers.
#![deny(missing_docs)]

use std::path::PathBuf;

use t0_core::{LoadOptions, Model};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The PromptSource templates folder: `$T0_TEMPLATES`, else the shared data folder
/// (`$T0_SHARED/data/promptsource/templates`, `../shared/...`), else the repository's
/// fixture subset.
pub fn templates_dir() -> PathBuf {
    if let Some(t) = std::env::var_os("T0_TEMPLATES") {
        return t.into();
    }
    let shared = std::env::var_os("T0_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared"));
    let full = shared.join("data/promptsource/templates");
    if full.is_dir() {
        full
    } else {
        root().join("t0-prompts/tests/fixtures/templates")
    }
}

/// Loads the model named by the first command-line argument, or the fixture model with its
/// tokenizer.
pub fn load_model_from_args() -> Result<Model, Box<dyn std::error::Error>> {
    match std::env::args().nth(1) {
        Some(dir) => Ok(Model::load(dir, &LoadOptions::default())?),
        None => {
            let r = root();
            let opts = LoadOptions {
                tokenizer: Some(r.join("t0-core/tests/fixtures/tokenizer/t5style-4k.model")),
                ..LoadOptions::default()
            };
            eprintln!("(no model directory given: using the random-weight fixture model)");
            Ok(Model::load(
                r.join("t0-core/tests/fixtures/models/t5style_4k"),
                &opts,
            )?)
        }
    }
}

#[cfg(test)]
mod tests {
    /// The README's Rust and C snippets are verbatim parts of compiled and CI-run examples.
    #[test]
    fn readme_snippets_are_the_examples() {
        let root = super::root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        for (file, lang) in [
            ("examples/rank_classify.rs", "rust"),
            ("examples/c/t0_example.c", "c"),
        ] {
            let src = std::fs::read_to_string(root.join(file)).unwrap();
            let begin = src.find("README-BEGIN").expect(file);
            let body = &src[src[begin..].find('\n').unwrap() + begin + 1..];
            let end = body.find("README-END").expect(file);
            let body = &body[..body[..end].rfind('\n').unwrap() + 1];
            // The snippet, de-indented by the marker line's indentation.
            let indent = body.len() - body.trim_start().len();
            let snippet: String = body
                .lines()
                .map(|l| l.get(indent..).unwrap_or("").trim_end())
                .collect::<Vec<_>>()
                .join("\n");
            let block = format!("```{lang}\n{}\n```", snippet.trim_end());
            assert!(
                readme.contains(&block),
                "README.md lacks the snippet of {file}:\n{block}"
            );
        }
    }
}
