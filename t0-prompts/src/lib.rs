//! t0-prompts: PromptSource (promptsource 0.2.3) templates loaded and rendered in Rust.
//!
//! ```
//! assert_eq!(t0_prompts::ANSWER_SEPARATOR, "|||");
//! ```
#![deny(missing_docs)]

/// The separator promptsource puts between input and target, and between answer choices.
pub const ANSWER_SEPARATOR: &str = "|||";
