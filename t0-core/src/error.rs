//! The crate's error type: one enum wrapping each module's own error.

use core::fmt;

use crate::config::ConfigError;
use crate::model::ModelError;
use crate::safetensors::SafetensorsError;

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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "config: {e}"),
            Error::Safetensors(e) => write!(f, "safetensors: {e}"),
            Error::Model(e) => write!(f, "model: {e}"),
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
