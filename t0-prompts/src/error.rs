//! The crate's error type.

use std::fmt;
use std::path::PathBuf;

use crate::jinja;

/// Which Jinja source of a template failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The template's `jinja`.
    Jinja,
    /// Its `answer_choices` expression.
    AnswerChoices,
}

/// Everything that can go wrong loading or applying templates.
#[derive(Debug)]
#[non_exhaustive]
pub enum PromptError {
    /// A file or folder could not be read.
    Io {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A `templates.yaml` is not valid YAML, uses an unknown tag, or lacks a field.
    Yaml {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No templates for this dataset (`dataset` or `dataset/subset`).
    UnknownDataset {
        /// The name asked for.
        name: String,
    },
    /// No template with this name or id in the dataset.
    UnknownTemplate {
        /// The dataset.
        dataset: String,
        /// The name or id asked for.
        name: String,
    },
    /// The example cannot be used (not a JSON object, or it has the reserved key
    /// `answer_choices`, which promptsource rejects with a `ValueError`).
    Example {
        /// The dataset.
        dataset: String,
        /// The template name.
        template: String,
        /// What is wrong.
        message: String,
    },
    /// The template's Jinja failed to parse or to render (Python would raise).
    Template {
        /// The dataset.
        dataset: String,
        /// The template name.
        template: String,
        /// Which source failed.
        part: Part,
        /// The engine's error (kind, message, line).
        source: jinja::Error,
    },
}

impl fmt::Display for PromptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PromptError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            PromptError::Yaml { path, message } => write!(f, "{}: {message}", path.display()),
            PromptError::UnknownDataset { name } => {
                write!(
                    f,
                    "no templates for dataset '{name}' (try `t0 prompts list`)"
                )
            }
            PromptError::UnknownTemplate { dataset, name } => {
                write!(
                    f,
                    "dataset '{dataset}' has no template named or with id '{name}'"
                )
            }
            PromptError::Example {
                dataset,
                template,
                message,
            } => write!(f, "{dataset} / template '{template}': {message}"),
            PromptError::Template {
                dataset,
                template,
                part,
                source,
            } => {
                let which = match part {
                    Part::Jinja => "jinja",
                    Part::AnswerChoices => "answer_choices",
                };
                write!(f, "{dataset} / template '{template}' ({which}): {source}")
            }
        }
    }
}

impl std::error::Error for PromptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PromptError::Io { source, .. } => Some(source),
            PromptError::Template { source, .. } => Some(source),
            _ => None,
        }
    }
}
