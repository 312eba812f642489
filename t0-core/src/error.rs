//! The crate's error type: one enum wrapping each module's own error.

use core::fmt;

use crate::config::ConfigError;
use crate::model::ModelError;
use crate::safetensors::SafetensorsError;
use crate::safetensors::index::IndexError;
use crate::tokenizer::TokenizerError;
use crate::weights::WeightsError;

/// Any error t0-core returns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A `config.json` is malformed or describes an impossible model.
    Config(ConfigError),
    /// A safetensors file is malformed.
    Safetensors(SafetensorsError),
    /// Loading or running the model failed.
    Model(ModelError),
    /// A `model.safetensors.index.json` is malformed.
    Index(IndexError),
    /// A checkpoint's tensors do not match its configuration.
    Weights(WeightsError),
    /// A tokenizer file is malformed or unsupported.
    Tokenizer(TokenizerError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "config: {e}"),
            Error::Safetensors(e) => write!(f, "safetensors: {e}"),
            Error::Model(e) => write!(f, "model: {e}"),
            Error::Index(e) => write!(f, "safetensors index: {e}"),
            Error::Weights(e) => write!(f, "weights: {e}"),
            Error::Tokenizer(e) => write!(f, "tokenizer: {e}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<SafetensorsError> for Error {
    fn from(e: SafetensorsError) -> Self {
        Error::Safetensors(e)
    }
}

impl From<ModelError> for Error {
    fn from(e: ModelError) -> Self {
        Error::Model(e)
    }
}

impl From<IndexError> for Error {
    fn from(e: IndexError) -> Self {
        Error::Index(e)
    }
}

impl From<WeightsError> for Error {
    fn from(e: WeightsError) -> Self {
        Error::Weights(e)
    }
}

impl From<TokenizerError> for Error {
    fn from(e: TokenizerError) -> Self {
        Error::Tokenizer(e)
    }
}
