//! The generation error type.

use alloc::string::String;
use core::fmt;

use crate::backend::BackendError;
use crate::model::ModelError;

/// Why generation failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GenerateError {
    /// The model failed (bad input ids, lengths beyond the limits, a backend error…).
    Model(ModelError),
    /// An option is out of range or contradicts another (named, with the reason).
    InvalidOption {
        /// The option (HF's name).
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// Constrained decoding was asked for with no sequences.
    EmptyConstraints,
    /// A constraint sequence has no tokens.
    EmptyConstraint {
        /// Its index in the set.
        index: usize,
    },
    /// The model produced NaN logits.
    NonFiniteLogits {
        /// The generation step (0 = first new token).
        step: usize,
        /// The input whose sequence saw them.
        input: usize,
    },
    /// The processors left no token with a finite score (e.g. constraints whose only
    /// continuation is EOS while `min_new_tokens` bans it).
    NoAllowedToken {
        /// The generation step.
        step: usize,
        /// The input.
        input: usize,
    },
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::Model(e) => write!(f, "{e}"),
            GenerateError::InvalidOption { option, reason } => {
                write!(f, "option {option}: {reason}")
            }
            GenerateError::EmptyConstraints => {
                write!(f, "constrained decoding needs at least one sequence")
            }
            GenerateError::EmptyConstraint { index } => {
                write!(f, "constraint sequence {index} has no tokens")
            }
            GenerateError::NonFiniteLogits { step, input } => write!(
                f,
                "the model produced NaN logits at step {step} for input {input} (check the weights and dtype)"
            ),
            GenerateError::NoAllowedToken { step, input } => write!(
                f,
                "no token is allowed at step {step} for input {input} (the constraints and penalties exclude every token)"
            ),
        }
    }
}

impl core::error::Error for GenerateError {}

impl From<ModelError> for GenerateError {
    fn from(e: ModelError) -> Self {
        GenerateError::Model(e)
    }
}

impl From<BackendError> for GenerateError {
    fn from(e: BackendError) -> Self {
        GenerateError::Model(ModelError::Backend(e))
    }
}
