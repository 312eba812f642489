//! [`LoadError`]: every way opening a checkpoint can fail, each naming the file involved.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::safetensors::SafetensorsError;
use crate::safetensors::index::IndexError;
use crate::weights::WeightsError;

/// Why a checkpoint (or a random one being written) could not be opened or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// Reading, mapping or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The directory has no `config.json`.
    MissingConfig {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// `config.json` is malformed or describes an impossible model.
    Config {
        /// The `config.json` path.
        path: PathBuf,
        /// What is wrong.
        source: ConfigError,
    },
    /// A safetensors file is malformed (the error names the tensor).
    Safetensors {
        /// The safetensors file.
        path: PathBuf,
        /// What is wrong.
        source: SafetensorsError,
    },
    /// `model.safetensors.index.json` is malformed.
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        source: IndexError,
    },
    /// The index names a shard file that does not exist.
    MissingShard {
        /// The index file.
        index: PathBuf,
        /// The shard file it names.
        shard: PathBuf,
        /// A tensor the index places in that shard.
        tensor: String,
    },
    /// The index places a tensor in a shard whose header does not list it.
    ShardMissingTensor {
        /// The shard file.
        shard: PathBuf,
        /// The tensor.
        tensor: String,
    },
    /// The tensors do not match the configuration (missing, wrong shape, non-float).
    Weights {
        /// The file holding the offending tensor (for a missing tensor: `model.safetensors`
        /// or the index).
        path: PathBuf,
        /// What is wrong.
        source: WeightsError,
    },
    /// The directory holds weights in a format t0 does not read (PyTorch pickle, TF, Flax).
    UnsupportedFormat {
        /// The weights file found.
        path: PathBuf,
        /// What it is.
        format: &'static str,
    },
    /// The directory holds no weights file at all.
    NoWeights {
        /// The directory.
        dir: PathBuf,
    },
    /// [`Checkpoint::open`](super::Checkpoint::open) was given a file, not a directory.
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A JSON side file is larger than any real one.
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The accepted maximum.
        limit: u64,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LoadError::MissingConfig { path } => {
                write!(
                    f,
                    "{}: not found (a checkpoint needs its config.json)",
                    path.display()
                )
            }
            LoadError::Config { path, source } => write!(f, "{}: {source}", path.display()),
            LoadError::Safetensors { path, source } => write!(f, "{}: {source}", path.display()),
            LoadError::Index { path, source } => write!(f, "{}: {source}", path.display()),
            LoadError::MissingShard {
                index,
                shard,
                tensor,
            } => write!(
                f,
                "{}: shard {} (listed for tensor `{tensor}`) does not exist",
                index.display(),
                shard.display()
            ),
            LoadError::ShardMissingTensor { shard, tensor } => write!(
                f,
                "{}: the index places tensor `{tensor}` here but the shard does not contain it",
                shard.display()
            ),
            LoadError::Weights { path, source } => write!(f, "{}: {source}", path.display()),
            LoadError::UnsupportedFormat { path, format } => write!(
                f,
                "{}: unsupported format ({format}); t0 reads safetensors only — convert the \
                 checkpoint to model.safetensors",
                path.display()
            ),
            LoadError::NoWeights { dir } => write!(
                f,
                "{}: no model.safetensors or model.safetensors.index.json",
                dir.display()
            ),
            LoadError::NotADirectory { path } => write!(
                f,
                "{}: is a file; pass the checkpoint directory (or use Checkpoint::open_file \
                 for a lone safetensors file)",
                path.display()
            ),
            LoadError::FileTooLarge { path, len, limit } => write!(
                f,
                "{}: {len} bytes, more than the {limit}-byte limit for this file",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { source, .. } => Some(source),
            LoadError::Config { source, .. } => Some(source),
            LoadError::Safetensors { source, .. } => Some(source),
            LoadError::Index { source, .. } => Some(source),
            LoadError::Weights { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl LoadError {
    /// The file (or directory) the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            LoadError::Io { path, .. }
            | LoadError::MissingConfig { path }
            | LoadError::Config { path, .. }
            | LoadError::Safetensors { path, .. }
            | LoadError::Index { path, .. }
            | LoadError::Weights { path, .. }
            | LoadError::UnsupportedFormat { path, .. }
            | LoadError::NotADirectory { path }
            | LoadError::FileTooLarge { path, .. } => path,
            LoadError::MissingShard { shard, .. } => shard,
            LoadError::ShardMissingTensor { shard, .. } => shard,
            LoadError::NoWeights { dir } => dir,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        LoadError::Io {
            path: path.into(),
            source,
        }
    }
}
