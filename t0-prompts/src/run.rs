//! Templates straight into a model (feature `model`): render a template for an example and
//! rank its answer choices or generate from its prompt, with [`t0_core::Model`].
//!
//! ```
//! use t0_prompts::run::{generate, rank};
//! use t0_prompts::{RenderOptions, TemplateCollection};
//! use t0_core::{GenerateOptions, LoadOptions, Model, ScoreOptions};
//! # let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
//! # let opts = LoadOptions { tokenizer: Some(format!("{root}/t0-core/tests/fixtures/tokenizer/t5style-4k.model").into()), ..Default::default() };
//! let model = Model::load(format!("{root}/t0-core/tests/fixtures/models/t5style_4k"), &opts)?;
//! let templates = TemplateCollection::load(format!("{root}/t0-prompts/tests/fixtures/templates"))?;
//! let rte = templates.get("super_glue/rte")?;
//! let t = rte.get("does it follow that")?;
//! let ex = serde_json::json!({"premise": "It rains.", "hypothesis": "It is wet.", "idx": 0, "label": 0});
//! let r = rank(&model, t, &ex, &RenderOptions::default(), &ScoreOptions::t_zero())?;
//! assert_eq!(r.choices, ["Yes", "No"]);
//! assert_eq!(r.gold, Some(0)); // the rendered target is the correct choice
//! let predicted: &str = &r.choices[r.ranking.best];
//! # let _ = predicted;
//! let (_prompt, out) = generate(&model, t, &ex, &RenderOptions::default(), &GenerateOptions::default())?;
//! # let _ = out;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use t0_core::api::{ApiError, Generation, Model, Ranking};
use t0_core::{GenerateOptions, ScoreOptions};

use crate::{PromptError, RenderOptions, Rendered, Template};

/// Why a prompted call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// The template could not be applied to the example.
    Prompt(PromptError),
    /// The model failed.
    Model(ApiError),
    /// The template gives this example no answer choices, so there is nothing to rank.
    NoAnswerChoices {
        /// The template's name.
        template: String,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Prompt(e) => write!(f, "{e}"),
            RunError::Model(e) => write!(f, "{e}"),
            RunError::NoAnswerChoices { template } => {
                write!(
                    f,
                    "template {template:?} gives this example no answer choices"
                )
            }
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Prompt(e) => Some(e),
            RunError::Model(e) => Some(e),
            RunError::NoAnswerChoices { .. } => None,
        }
    }
}

impl From<PromptError> for RunError {
    fn from(e: PromptError) -> Self {
        RunError::Prompt(e)
    }
}

impl From<ApiError> for RunError {
    fn from(e: ApiError) -> Self {
        RunError::Model(e)
    }
}

/// A template's answer choices for one example, ranked by the model.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptedRanking {
    /// The template applied to the example.
    pub rendered: Rendered,
    /// The answer choices scored (those the template saw when rendering).
    pub choices: Vec<String>,
    /// Scores, probabilities and the best choice's index into `choices`.
    pub ranking: Ranking,
    /// Index of the correct choice: the rendered target's position among the choices, as
    /// T0's evaluation (`answer_choices.index(target)`) defines it; `None` when the render
    /// has no target or the target is not one of the choices.
    pub gold: Option<usize>,
}

/// Applies `template` to `example` and ranks its answer choices given the rendered input
/// (rank classification; pass [`ScoreOptions::t_zero`] for T0's evaluation).
pub fn rank(
    model: &Model,
    template: &Template,
    example: &serde_json::Value,
    render: &RenderOptions,
    score: &ScoreOptions,
) -> Result<PromptedRanking, RunError> {
    let rendered = template.apply(example, render)?;
    let choices = match &rendered.answer_choices {
        Some(c) if !c.is_empty() => c.clone(),
        _ => {
            return Err(RunError::NoAnswerChoices {
                template: template.name.clone(),
            });
        }
    };
    let ranking = model.score(&rendered.input, &choices, score)?;
    let gold = rendered
        .target
        .as_ref()
        .and_then(|t| choices.iter().position(|c| c == t));
    Ok(PromptedRanking {
        rendered,
        choices,
        ranking,
        gold,
    })
}

/// Applies `template` to `example` and generates from the rendered input.
pub fn generate(
    model: &Model,
    template: &Template,
    example: &serde_json::Value,
    render: &RenderOptions,
    opts: &GenerateOptions,
) -> Result<(Rendered, Generation), RunError> {
    let rendered = template.apply(example, render)?;
    let out = model.generate(&rendered.input, opts)?;
    Ok((rendered, out))
}
