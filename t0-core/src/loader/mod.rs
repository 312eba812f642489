//! Opening a Hugging Face checkpoint directory (std only).
//!
//! A directory holds `config.json` and either `model.safetensors` or
//! `model.safetensors.index.json` with its shards. [`Checkpoint::open`] parses the config,
//! reads each file's header with plain reads, memory-maps the files, and verifies every
//! tensor the config requires (present under a known alias, exact shape, float dtype). No
//! tensor data is read: opening a 44 GB checkpoint costs its headers. Tensors are then
//! zero-copy [`TensorView`]s into the mappings.
//!
//! ```no_run
//! use t0_core::loader::Checkpoint;
//! use t0_core::tensor::TensorSource;
//! let ck = Checkpoint::open("models/T0_3B".as_ref())?;
//! let emb = t0_core::weights::resolve(&ck, "shared.weight").unwrap();
//! assert_eq!(emb.shape, &[ck.config().vocab_size, ck.config().d_model]);
//! # Ok::<(), t0_core::loader::LoadError>(())
//! ```

mod error;
mod mapped;

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

pub use error::LoadError;
pub use mapped::MappedFile;

use crate::config::T5Config;
use crate::safetensors::index::{MAX_INDEX_LEN, ShardIndex};
use crate::tensor::{TensorSource, TensorView};
use crate::weights::{self, WeightsError};

/// Name of the single-file weights.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Name of the shard index.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// Name of the configuration.
pub const CONFIG_FILE: &str = "config.json";
/// Largest accepted `config.json`.
pub const MAX_CONFIG_LEN: u64 = 16 << 20;

/// Weights files of formats t0 does not read, with what they are.
const UNSUPPORTED: [(&str, &str); 5] = [
    ("pytorch_model.bin", "PyTorch pickle"),
    ("pytorch_model.bin.index.json", "sharded PyTorch pickle"),
    ("tf_model.h5", "TensorFlow HDF5"),
    ("flax_model.msgpack", "Flax msgpack"),
    ("model.ckpt.index", "TensorFlow checkpoint"),
];

/// An opened, verified checkpoint: its config and its memory-mapped safetensors file(s).
#[derive(Debug)]
pub struct Checkpoint {
    dir: PathBuf,
    config: T5Config,
    files: Vec<MappedFile>,
    /// Tensor name → index into `files`.
    owner: BTreeMap<String, usize>,
    /// The file named in "missing tensor" errors (the single file or the index).
    main: PathBuf,
}

/// Reads a small JSON side file, refusing absurd sizes before allocating.
fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, LoadError> {
    let len = fs::metadata(path)
        .map_err(|e| LoadError::io(path, e))?
        .len();
    if len > limit {
        return Err(LoadError::FileTooLarge {
            path: path.to_path_buf(),
            len,
            limit,
        });
    }
    fs::read(path).map_err(|e| LoadError::io(path, e))
}

/// Reads and validates `dir/config.json`.
pub fn read_config(dir: &Path) -> Result<T5Config, LoadError> {
    let path = dir.join(CONFIG_FILE);
    if !path.exists() {
        return Err(LoadError::MissingConfig { path });
    }
    let bytes = read_capped(&path, MAX_CONFIG_LEN)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| LoadError::Config {
        path: path.clone(),
        source: crate::config::ConfigError::Json(format!("not UTF-8: {e}")),
    })?;
    T5Config::from_json(text).map_err(|source| LoadError::Config { path, source })
}

impl Checkpoint {
    /// Opens a checkpoint directory: `config.json` plus `model.safetensors` or
    /// `model.safetensors.index.json` and its shards. Reads only headers; verifies every
    /// tensor against the config.
    pub fn open(dir: &Path) -> Result<Checkpoint, LoadError> {
        if dir.is_file() {
            return Err(LoadError::NotADirectory {
                path: dir.to_path_buf(),
            });
        }
        let config = read_config(dir)?;
        Self::open_with_config(dir, config)
    }

    /// Like [`Checkpoint::open`] but with a given config instead of `config.json`.
    pub fn open_with_config(dir: &Path, config: T5Config) -> Result<Checkpoint, LoadError> {
        config.validate().map_err(|source| LoadError::Config {
            path: dir.join(CONFIG_FILE),
            source,
        })?;
        let single = dir.join(SINGLE_FILE);
        let index = dir.join(INDEX_FILE);
        let ck = if single.is_file() {
            let file = MappedFile::open(&single)?;
            let owner = file
                .tensor_names()
                .into_iter()
                .map(|n| (n.to_string(), 0))
                .collect();
            Checkpoint {
                dir: dir.to_path_buf(),
                config,
                files: vec![file],
                owner,
                main: single,
            }
        } else if index.is_file() {
            Self::open_sharded(dir, &index, config)?
        } else {
            for (name, format) in UNSUPPORTED {
                let p = dir.join(name);
                if p.exists() {
                    return Err(LoadError::UnsupportedFormat { path: p, format });
                }
            }
            if !dir.is_dir() {
                return Err(LoadError::io(
                    dir,
                    std::io::Error::new(ErrorKind::NotFound, "not a directory"),
                ));
            }
            return Err(LoadError::NoWeights {
                dir: dir.to_path_buf(),
            });
        };
        ck.verify()?;
        Ok(ck)
    }

    fn open_sharded(dir: &Path, index: &Path, config: T5Config) -> Result<Checkpoint, LoadError> {
        let bytes = read_capped(index, MAX_INDEX_LEN)?;
        let ix = ShardIndex::parse(&bytes).map_err(|source| LoadError::Index {
            path: index.to_path_buf(),
            source,
        })?;
        let names = ix.shards();
        let mut files = Vec::with_capacity(names.len());
        for shard in &names {
            let path = dir.join(shard);
            if !path.is_file() {
                let tensor = ix
                    .weight_map
                    .iter()
                    .find(|(_, s)| s == shard)
                    .map(|(t, _)| t.clone())
                    .unwrap_or_default();
                return Err(LoadError::MissingShard {
                    index: index.to_path_buf(),
                    shard: path,
                    tensor,
                });
            }
            files.push(MappedFile::open(&path)?);
        }
        let mut owner = BTreeMap::new();
        for (tensor, shard) in &ix.weight_map {
            // `names` is sorted and holds every shard of the map.
            let i = names.binary_search(&shard.as_str()).unwrap_or(0);
            let Some(file) = files.get(i) else { continue };
            if !file.header().tensors.contains_key(tensor) {
                return Err(LoadError::ShardMissingTensor {
                    shard: file.path().to_path_buf(),
                    tensor: tensor.clone(),
                });
            }
            owner.insert(tensor.clone(), i);
        }
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            config,
            files,
            owner,
            main: index.to_path_buf(),
        })
    }

    /// Opens one safetensors file without a config (no verification against a model).
    pub fn open_file(path: &Path) -> Result<MappedFile, LoadError> {
        MappedFile::open(path)
    }

    fn verify(&self) -> Result<(), LoadError> {
        weights::verify(self, &self.config).map_err(|source| {
            let tensor = match &source {
                WeightsError::WrongShape { tensor, .. }
                | WeightsError::NotFloat { tensor, .. }
                | WeightsError::ExtraLayer { tensor, .. } => Some(tensor.as_str()),
                _ => None,
            };
            let path = tensor
                .and_then(|t| self.file_of(t))
                .unwrap_or(&self.main)
                .to_path_buf();
            LoadError::Weights { path, source }
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> &T5Config {
        &self.config
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mapped safetensors files (one, or the shards in name order).
    pub fn files(&self) -> &[MappedFile] {
        &self.files
    }

    /// The file holding `tensor` (exact name, no aliasing).
    pub fn file_of(&self, tensor: &str) -> Option<&Path> {
        let i = *self.owner.get(tensor)?;
        self.files.get(i).map(MappedFile::path)
    }

    /// Total bytes of tensor data across all files.
    pub fn data_bytes(&self) -> u64 {
        self.files
            .iter()
            .flat_map(|f| f.header().tensors.values())
            .map(|t| (t.end - t.begin) as u64)
            .sum()
    }
}

impl TensorSource for Checkpoint {
    fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        let i = *self.owner.get(name)?;
        self.files.get(i)?.tensor(name)
    }

    fn tensor_names(&self) -> Vec<&str> {
        self.owner.keys().map(String::as_str).collect()
    }
}
