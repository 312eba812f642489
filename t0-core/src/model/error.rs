//! The model's error type.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::backend::BackendError;

/// Why loading or running the model failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ModelError {
    /// The checkpoint lacks a tensor the config requires.
    MissingTensor {
        /// The tensor name (as in HF checkpoints).
        name: String,
    },
    /// A tensor's shape contradicts the config.
    TensorShape {
        /// The tensor name.
        name: String,
        /// The shape the config implies.
        expected: Vec<usize>,
        /// The shape in the checkpoint.
        got: Vec<usize>,
    },
    /// The checkpoint holds a layer the config does not have (more blocks than
    /// `num_layers` / `num_decoder_layers`).
    UnexpectedTensor {
        /// The tensor name.
        name: String,
    },
    /// A backend op or weight preparation failed.
    Backend(BackendError),
    /// No sequences were given.
    EmptyBatch,
    /// An input sequence has no tokens.
    EmptyInput {
        /// Its index in the batch.
        index: usize,
    },
    /// A token id is not below `vocab_size`.
    TokenOutOfRange {
        /// The id.
        id: u32,
        /// The model's vocabulary size.
        vocab_size: usize,
    },
    /// An input is longer than the configured maximum and truncation is off.
    InputTooLong {
        /// Its length in tokens.
        len: usize,
        /// The maximum ([`crate::model::InputLimits::max_input_tokens`]).
        max: usize,
    },
    /// A target (answer choice, decoder input, or `max_new_tokens`) exceeds the configured
    /// maximum and truncation is off.
    TargetTooLong {
        /// Its length in tokens.
        len: usize,
        /// The maximum ([`crate::model::InputLimits::max_target_tokens`]).
        max: usize,
    },
    /// Scoring was asked for with an empty list of choices.
    NoChoices,
    /// An answer choice has no tokens.
    EmptyChoice {
        /// Its index among the choices.
        index: usize,
    },
    /// The decoder input of a forward pass is empty.
    EmptyDecoderInput,
    /// An option is out of range (named, with the reason).
    InvalidOption {
        /// The option.
        option: &'static str,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::MissingTensor { name } => write!(
                f,
                "checkpoint has no tensor `{name}` (required by config.json; is this a T5 checkpoint matching its config?)"
            ),
            ModelError::TensorShape {
                name,
                expected,
                got,
            } => write!(
                f,
                "tensor `{name}` has shape {got:?} but config.json implies {expected:?}"
            ),
            ModelError::UnexpectedTensor { name } => write!(
                f,
                "checkpoint tensor `{name}` belongs to a layer config.json does not have"
            ),
            ModelError::Backend(e) => write!(f, "backend: {e}"),
            ModelError::EmptyBatch => write!(f, "no input sequences given"),
            ModelError::EmptyInput { index } => write!(f, "input {index} has no tokens"),
            ModelError::TokenOutOfRange { id, vocab_size } => write!(
                f,
                "token id {id} is not below the model's vocab_size {vocab_size}"
            ),
            ModelError::InputTooLong { len, max } => write!(
                f,
                "input of {len} tokens exceeds the maximum of {max} (raise the limit or enable truncation)"
            ),
            ModelError::TargetTooLong { len, max } => write!(
                f,
                "target of {len} tokens exceeds the maximum of {max} (raise the limit or enable truncation)"
            ),
            ModelError::NoChoices => write!(f, "scoring needs at least one answer choice"),
            ModelError::EmptyChoice { index } => {
                write!(f, "answer choice {index} has no tokens")
            }
            ModelError::EmptyDecoderInput => write!(f, "the decoder input has no tokens"),
            ModelError::InvalidOption { option, reason } => write!(f, "option {option}: {reason}"),
        }
    }
}

impl core::error::Error for ModelError {}

impl From<BackendError> for ModelError {
    fn from(e: BackendError) -> Self {
        ModelError::Backend(e)
    }
}
