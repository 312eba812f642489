//! t0-prompts: PromptSource (promptsource 0.2.3) templates loaded and rendered in Rust,
//! byte for byte as promptsource's own `Template.apply` renders them.
//!
//! ```
//! use t0_prompts::{DatasetTemplates, RenderOptions};
//! let yaml = r#"
//! dataset: super_glue
//! subset: rte
//! templates:
//!   2b52a83c-0021-41fe-b44c-5aaa076d71a2: !Template
//!     answer_choices: Yes ||| No
//!     id: 2b52a83c-0021-41fe-b44c-5aaa076d71a2
//!     jinja: '{{premise}} Is "{{hypothesis}}" true? Yes or no? ||| {% if label != -1 %}{{ answer_choices[label] }}{% endif %}'
//!     metadata: !TemplateMetadata
//!       choices_in_prompt: true
//!       metrics:
//!       - Accuracy
//!       original_task: true
//!     name: yes no
//!     reference: example
//! "#;
//! let set = DatasetTemplates::from_yaml(yaml, "super_glue/rte", "templates.yaml".as_ref())?;
//! let t = set.get("yes no")?;
//! let ex = serde_json::json!({"premise": "It rains.", "hypothesis": "It is wet.", "label": 0});
//! let r = t.apply(&ex, &RenderOptions::default())?;
//! assert_eq!(r.input, r#"It rains. Is "It is wet." true? Yes or no?"#);
//! assert_eq!(r.target.as_deref(), Some("Yes"));
//! assert_eq!(r.answer_choices, Some(vec!["Yes".to_string(), "No".to_string()]));
//! assert_eq!(t.fixed_answer_choices()?, Some(vec!["Yes".to_string(), "No".to_string()]));
//! # Ok::<(), t0_prompts::PromptError>(())
//! ```
//!
//! Differences from Python, all documented where they apply: `choice`/`random` draw from a
//! seedable copy of Python's generator ([`RenderOptions::seed`]); ints are 64-bit; renders
//! are bounded ([`jinja::Limits`]); `map`/`select`/`zip`/`dict.keys()` return lists rather
//! than iterators (equal output whenever the template joins or indexes them, which is how
//! P3 uses them).
#![deny(missing_docs)]

pub mod jinja;

#[cfg(feature = "model")]
pub mod run;

mod collection;
mod error;
mod template;
mod yaml;

pub use collection::{DatasetTemplates, MAX_FILE_BYTES, TemplateCollection};
pub use error::{Part, PromptError};
pub use template::{Metadata, PIPE_PROTECTOR, RenderOptions, Rendered, TEXT_VAR_LENGTH, Template};

/// The JSON crate examples are given in (re-exported so callers use the same version).
pub use serde_json;

/// The separator promptsource puts between input and target, and between answer choices.
pub const ANSWER_SEPARATOR: &str = "|||";
