//! Quantized checkpoints on disk: one safetensors file whose `__metadata__` describes the
//! scheme, written tensor by tensor and opened memory-mapped (the kernels read the
//! quantized bytes straight from the map; nothing is re-quantized or copied).
//!
//! # File layout (`model.safetensors` next to the copied `config.json` and tokenizer)
//! `__metadata__`:
//! * `t0.quant.format` = `"1"` (this module's [`FORMAT_VERSION`]);
//! * `t0.quant.scheme` = `"int8"` or `"q4"`; `t0.quant.block_size` = `"32"` (q4) or
//!   `"channel"` (int8);
//! * for every quantized tensor `N`: `t0.quant.tensor.N` = `"int8 OUT IN"` or
//!   `"q4 BLOCK OUT IN"` (the logical shape).
//!
//! Tensors: a quantized `N` is stored as `N` (int8: `I8 [OUT, IN]`; q4: `U8 [OUT,
//! ceil(IN/32)·16]`, the nibble layout of [`t0_kernels::quant`]) plus `N.qscale` (int8:
//! `F32 [OUT]`; q4: `F16 [OUT, ceil(IN/32)]`). Every other tensor (embeddings, norms,
//! relative bias, islands) is copied unchanged.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use t0_kernels::quant::{ByteOwner, Int8Linear, Q4_BLOCK, Q4Linear, QuantError, WeightBytes};

use super::{Islands, QLinear, QuantCpuBackend, QuantResolver, QuantScheme};
use crate::backend::{BackendError, FastCpuBackend};
use crate::config::T5Config;
use crate::loader::{Checkpoint, LoadError, MappedFile, read_config};
use crate::model::{ModelError, T5Model};
use crate::safetensors::header_bytes;
use crate::tensor::{DType, TensorSource, TensorView};

/// The format version written and accepted.
pub const FORMAT_VERSION: &str = "1";
/// The single weights file of a quantized checkpoint.
pub const FILE: &str = "model.safetensors";
const K_FORMAT: &str = "t0.quant.format";
const K_SCHEME: &str = "t0.quant.scheme";
const K_BLOCK: &str = "t0.quant.block_size";
const K_TENSOR: &str = "t0.quant.tensor.";
/// Suffix of a quantized tensor's scales.
pub const SCALE_SUFFIX: &str = ".qscale";
/// Side files copied from the source checkpoint directory when present.
const SIDE_FILES: [&str; 5] = [
    "spiece.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
];

/// Why a quantized checkpoint could not be written or opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum QuantFileError {
    /// Opening or reading the checkpoint failed.
    Load(LoadError),
    /// Writing failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file has no `t0.quant.format` metadata: not a quantized checkpoint.
    NotQuantized {
        /// The file.
        path: PathBuf,
    },
    /// A format version this build does not read.
    Version {
        /// The version found.
        found: String,
    },
    /// A metadata entry is malformed or contradicts the file.
    Metadata {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A block size the kernels do not support.
    BlockSize {
        /// The tensor (or `*` for the file-wide setting).
        tensor: String,
        /// The block size found.
        block: usize,
    },
    /// A quantized tensor's data or scale tensor is missing or has the wrong dtype/shape.
    TensorShape {
        /// The tensor.
        tensor: String,
        /// What was expected (`"F32 [64]"`).
        expected: String,
        /// What the file holds.
        got: String,
    },
    /// The kernels rejected a tensor.
    Quant {
        /// The tensor.
        tensor: String,
        /// Why.
        source: QuantError,
    },
    /// Converting a source tensor failed.
    Backend(BackendError),
    /// Building the model failed.
    Model(ModelError),
}

impl fmt::Display for QuantFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantFileError::Load(e) => write!(f, "{e}"),
            QuantFileError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            QuantFileError::NotQuantized { path } => write!(
                f,
                "{}: no `{K_FORMAT}` metadata; not a quantized t0 checkpoint",
                path.display()
            ),
            QuantFileError::Version { found } => write!(
                f,
                "quantized checkpoint format version `{found}` is not supported (this build reads {FORMAT_VERSION})"
            ),
            QuantFileError::Metadata { key, reason } => write!(f, "metadata `{key}`: {reason}"),
            QuantFileError::BlockSize { tensor, block } => write!(
                f,
                "tensor `{tensor}`: block size {block} is not supported (the q4 kernels use {Q4_BLOCK})"
            ),
            QuantFileError::TensorShape {
                tensor,
                expected,
                got,
            } => write!(f, "tensor `{tensor}`: expected {expected}, got {got}"),
            QuantFileError::Quant { tensor, source } => write!(f, "tensor `{tensor}`: {source}"),
            QuantFileError::Backend(e) => write!(f, "{e}"),
            QuantFileError::Model(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for QuantFileError {}

impl From<LoadError> for QuantFileError {
    fn from(e: LoadError) -> Self {
        QuantFileError::Load(e)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> QuantFileError + '_ {
    move |source| QuantFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `name` (of a rank-2 tensor) is a linear weight that `islands` lets us quantize.
pub fn quantizable(name: &str, islands: &Islands) -> bool {
    name.ends_with(".weight")
        && name != "shared.weight"
        && !name.contains("relative_attention_bias")
        && !name.contains("embed_tokens")
        && !islands.keeps(name)
}

/// What [`write_quantized`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantSummary {
    /// Tensors quantized.
    pub quantized: usize,
    /// Tensors copied unchanged.
    pub kept: usize,
    /// Bytes of the weights file.
    pub file_bytes: u64,
}

fn desc(dtype: DType, shape: &[usize]) -> String {
    format!("{} {:?}", dtype.as_str(), shape)
}

/// Writes a quantized checkpoint of `src` into `out_dir` (created), streaming: one source
/// tensor is converted to f32 and quantized at a time. Copies `config.json` (from `cfg`)
/// and the tokenizer side files found in `side_dir`.
pub fn write_quantized<S: TensorSource + ?Sized>(
    src: &S,
    cfg: &T5Config,
    side_dir: Option<&Path>,
    out_dir: &Path,
    scheme: QuantScheme,
    islands: &Islands,
) -> Result<QuantSummary, QuantFileError> {
    fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let mut meta = BTreeMap::new();
    meta.insert(K_FORMAT.to_string(), FORMAT_VERSION.to_string());
    meta.insert(K_SCHEME.to_string(), scheme.as_str().to_string());
    let block = match scheme {
        QuantScheme::Int8 => "channel".to_string(),
        QuantScheme::Q4 => Q4_BLOCK.to_string(),
    };
    meta.insert(K_BLOCK.to_string(), block);
    // Plan: (name, dtype, shape) of every stored tensor, in write order.
    let mut names: Vec<&str> = src.tensor_names();
    names.sort_unstable();
    let mut plan: Vec<(String, DType, Vec<usize>, Option<&str>)> = Vec::new();
    let (mut quantized, mut kept) = (0, 0);
    for name in &names {
        let v = src.tensor(name).ok_or_else(|| QuantFileError::Metadata {
            key: name.to_string(),
            reason: "listed but unreadable".into(),
        })?;
        if v.shape.len() == 2 && v.dtype.is_float() && quantizable(name, islands) {
            let (out, inp) = (v.shape[0], v.shape[1]);
            let nb = Q4Linear::blocks_for(inp);
            let (d, ds, s, ss) = match scheme {
                QuantScheme::Int8 => (DType::I8, vec![out, inp], DType::F32, vec![out]),
                QuantScheme::Q4 => (DType::U8, vec![out, nb * 16], DType::F16, vec![out, nb]),
            };
            let m = match scheme {
                QuantScheme::Int8 => format!("int8 {out} {inp}"),
                QuantScheme::Q4 => format!("q4 {Q4_BLOCK} {out} {inp}"),
            };
            meta.insert(format!("{K_TENSOR}{name}"), m);
            plan.push((name.to_string(), d, ds, Some(name)));
            plan.push((format!("{name}{SCALE_SUFFIX}"), s, ss, None));
            quantized += 1;
        } else {
            plan.push((name.to_string(), v.dtype, v.shape.to_vec(), None));
            kept += 1;
        }
    }
    let entries: Vec<(&str, DType, &[usize])> = plan
        .iter()
        .map(|(n, d, s, _)| (n.as_str(), *d, s.as_slice()))
        .collect();
    let (header, data_len) =
        header_bytes(&entries, Some(&meta)).map_err(|e| QuantFileError::Metadata {
            key: "header".into(),
            reason: format!("{e}"),
        })?;
    let path = out_dir.join(FILE);
    let mut f = BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io(&path))?);
    f.write_all(&header).map_err(io(&path))?;
    let mut i = 0;
    while i < plan.len() {
        let (name, _, _, q) = &plan[i];
        let v = src
            .tensor(q.unwrap_or(name))
            .ok_or_else(|| QuantFileError::Metadata {
                key: name.clone(),
                reason: "listed but unreadable".into(),
            })?;
        if q.is_none() {
            f.write_all(v.data).map_err(io(&path))?;
            i += 1;
            continue;
        }
        let w = v.to_f32_vec().ok_or_else(|| {
            QuantFileError::Backend(BackendError::UnsupportedDtype {
                tensor: name.clone(),
                dtype: v.dtype,
            })
        })?;
        let (out, inp) = (v.shape[0], v.shape[1]);
        let qerr = |source| QuantFileError::Quant {
            tensor: name.clone(),
            source,
        };
        match scheme {
            QuantScheme::Int8 => {
                let (d, s) = Int8Linear::quantize_parts(&w, out, inp).map_err(qerr)?;
                f.write_all(&d).map_err(io(&path))?;
                let sb: Vec<u8> = s.iter().flat_map(|x| x.to_le_bytes()).collect();
                f.write_all(&sb).map_err(io(&path))?;
            }
            QuantScheme::Q4 => {
                let (d, s) = Q4Linear::quantize_parts(&w, out, inp).map_err(qerr)?;
                f.write_all(&d).map_err(io(&path))?;
                let sb: Vec<u8> = s.iter().flat_map(|x| x.to_le_bytes()).collect();
                f.write_all(&sb).map_err(io(&path))?;
            }
        }
        i += 2;
    }
    f.flush().map_err(io(&path))?;
    drop(f);
    let cfg_path = out_dir.join("config.json");
    fs::write(&cfg_path, cfg.to_json()).map_err(io(&cfg_path))?;
    if let Some(dir) = side_dir {
        for s in SIDE_FILES {
            let p = dir.join(s);
            if p.is_file() {
                fs::copy(&p, out_dir.join(s)).map_err(io(&p))?;
            }
        }
    }
    Ok(QuantSummary {
        quantized,
        kept,
        file_bytes: header.len() as u64 + data_len,
    })
}

/// Quantizes the checkpoint directory `src_dir` into `out_dir`.
pub fn quantize_dir(
    src_dir: &Path,
    out_dir: &Path,
    scheme: QuantScheme,
    islands: &Islands,
) -> Result<QuantSummary, QuantFileError> {
    let ck = Checkpoint::open(src_dir)?;
    write_quantized(&ck, ck.config(), Some(src_dir), out_dir, scheme, islands)
}

#[derive(Debug, Clone)]
struct Entry {
    scheme: QuantScheme,
    /// Logical `[out, in]`.
    shape: [usize; 2],
}

/// An opened quantized checkpoint (memory-mapped; metadata and every quantized tensor's
/// data and scale shapes checked at open).
#[derive(Debug)]
pub struct QuantCheckpoint {
    config: T5Config,
    file: MappedFile,
    scheme: QuantScheme,
    entries: BTreeMap<String, Entry>,
}

impl ByteOwner for QuantCheckpoint {
    fn bytes(&self) -> &[u8] {
        self.file.bytes()
    }
}

fn meta_err(key: &str, reason: impl Into<String>) -> QuantFileError {
    QuantFileError::Metadata {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Whether `dir/model.safetensors` is a quantized checkpoint (reads only the header).
pub fn is_quantized(dir: &Path) -> bool {
    Checkpoint::open_file(&dir.join(FILE))
        .map(|f| f.header().metadata.contains_key(K_FORMAT))
        .unwrap_or(false)
}

impl QuantCheckpoint {
    /// Opens `dir` (`config.json` + `model.safetensors`) and checks its metadata.
    pub fn open(dir: &Path) -> Result<Arc<QuantCheckpoint>, QuantFileError> {
        let config = read_config(dir)?;
        let path = dir.join(FILE);
        let file = Checkpoint::open_file(&path)?;
        Self::from_file(config, file, &path).map(Arc::new)
    }

    fn from_file(
        config: T5Config,
        file: MappedFile,
        path: &Path,
    ) -> Result<QuantCheckpoint, QuantFileError> {
        let meta = &file.header().metadata;
        let ver = meta
            .get(K_FORMAT)
            .ok_or_else(|| QuantFileError::NotQuantized {
                path: path.to_path_buf(),
            })?;
        if ver != FORMAT_VERSION {
            return Err(QuantFileError::Version { found: ver.clone() });
        }
        let scheme_s = meta
            .get(K_SCHEME)
            .ok_or_else(|| meta_err(K_SCHEME, "missing"))?;
        let scheme = QuantScheme::parse(scheme_s)
            .ok_or_else(|| meta_err(K_SCHEME, format!("unknown scheme `{scheme_s}`")))?;
        let block_s = meta
            .get(K_BLOCK)
            .ok_or_else(|| meta_err(K_BLOCK, "missing"))?;
        match scheme {
            QuantScheme::Int8 if block_s != "channel" => {
                return Err(meta_err(
                    K_BLOCK,
                    format!("int8 is per channel, got `{block_s}`"),
                ));
            }
            QuantScheme::Q4 => {
                let b: usize = block_s
                    .parse()
                    .map_err(|_| meta_err(K_BLOCK, format!("not a number: `{block_s}`")))?;
                if b != Q4_BLOCK {
                    return Err(QuantFileError::BlockSize {
                        tensor: "*".into(),
                        block: b,
                    });
                }
            }
            _ => {}
        }
        let mut entries = BTreeMap::new();
        for (k, v) in meta {
            let Some(name) = k.strip_prefix(K_TENSOR) else {
                continue;
            };
            let parts: Vec<&str> = v.split(' ').collect();
            let num = |s: &str| {
                s.parse::<usize>()
                    .map_err(|_| meta_err(k, format!("not a number: `{s}` in `{v}`")))
            };
            let (sch, out, inp) = match parts.as_slice() {
                ["int8", o, i] => (QuantScheme::Int8, num(o)?, num(i)?),
                ["q4", b, o, i] => {
                    let b = num(b)?;
                    if b != Q4_BLOCK {
                        return Err(QuantFileError::BlockSize {
                            tensor: name.to_string(),
                            block: b,
                        });
                    }
                    (QuantScheme::Q4, num(o)?, num(i)?)
                }
                _ => return Err(meta_err(k, format!("malformed `{v}`"))),
            };
            if sch != scheme {
                return Err(meta_err(
                    k,
                    format!(
                        "scheme `{}` contradicts the file's `{}`",
                        sch.as_str(),
                        scheme.as_str()
                    ),
                ));
            }
            let nb = Q4Linear::blocks_for(inp);
            let (dd, ds, sd, ss) = match sch {
                QuantScheme::Int8 => (DType::I8, vec![out, inp], DType::F32, vec![out]),
                QuantScheme::Q4 => (DType::U8, vec![out, nb * 16], DType::F16, vec![out, nb]),
            };
            let scale_name = format!("{name}{SCALE_SUFFIX}");
            for (t, d, s) in [(name, dd, &ds), (scale_name.as_str(), sd, &ss)] {
                let got = file
                    .tensor(t)
                    .map_or("nothing".to_string(), |v| desc(v.dtype, v.shape));
                if got != desc(d, s) {
                    return Err(QuantFileError::TensorShape {
                        tensor: t.to_string(),
                        expected: desc(d, s),
                        got,
                    });
                }
            }
            entries.insert(
                name.to_string(),
                Entry {
                    scheme: sch,
                    shape: [out, inp],
                },
            );
        }
        // Every integer tensor must be described by the metadata.
        for (name, info) in &file.header().tensors {
            if matches!(info.dtype, DType::I8 | DType::U8) && !entries.contains_key(name) {
                return Err(meta_err(
                    &format!("{K_TENSOR}{name}"),
                    format!("missing for {} tensor `{name}`", info.dtype.as_str()),
                ));
            }
        }
        Ok(QuantCheckpoint {
            config,
            file,
            scheme,
            entries,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &T5Config {
        &self.config
    }

    /// The scheme.
    pub fn scheme(&self) -> QuantScheme {
        self.scheme
    }

    /// Bytes of the weights file.
    pub fn file_bytes(&self) -> usize {
        self.file.bytes().len()
    }

    /// A backend that reads this checkpoint's quantized weights in place.
    pub fn backend(self: &Arc<Self>, inner: FastCpuBackend) -> QuantCpuBackend {
        QuantCpuBackend::with_source(inner, Arc::new(Resolver(self.clone())))
    }

    /// Opens and loads the model on `inner` (quantized weights read from the map).
    pub fn load_model(
        dir: &Path,
        inner: FastCpuBackend,
    ) -> Result<T5Model<QuantCpuBackend>, QuantFileError> {
        let ck = Self::open(dir)?;
        T5Model::load(ck.backend(inner), &*ck, ck.config()).map_err(QuantFileError::Model)
    }

    fn range(&self, name: &str) -> Option<core::ops::Range<usize>> {
        let h = self.file.header();
        let info = h.tensors.get(name)?;
        Some(h.data_start + info.begin..h.data_start + info.end)
    }
}

impl TensorSource for QuantCheckpoint {
    fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        let v = self.file.tensor(name)?;
        match self.entries.get_key_value(name) {
            Some((_, e)) => Some(TensorView {
                shape: &e.shape,
                ..v
            }),
            None => Some(v),
        }
    }

    fn tensor_names(&self) -> Vec<&str> {
        self.file
            .tensor_names()
            .into_iter()
            .filter(|n| !n.ends_with(SCALE_SUFFIX))
            .collect()
    }
}

struct Resolver(Arc<QuantCheckpoint>);

impl QuantResolver for Resolver {
    fn resolve(&self, name: &str) -> Result<QLinear, BackendError> {
        let ck = &self.0;
        let bad = |reason: String| BackendError::BadWeight {
            tensor: name.into(),
            reason,
        };
        let e = ck
            .entries
            .get(name)
            .ok_or_else(|| bad("an integer tensor without quantization metadata".into()))?;
        let range = ck.range(name).ok_or_else(|| bad("missing".into()))?;
        let scales = ck
            .file
            .tensor(&format!("{name}{SCALE_SUFFIX}"))
            .ok_or_else(|| bad("scales missing".into()))?;
        let owner: Arc<dyn ByteOwner> = ck.clone();
        let bytes = WeightBytes::Shared(owner, range);
        let [out, inp] = e.shape;
        let r = match e.scheme {
            QuantScheme::Int8 => {
                let s = scales
                    .data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                Int8Linear::from_parts(out, inp, bytes, s).map(QLinear::Int8)
            }
            QuantScheme::Q4 => {
                let s = scales
                    .data
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                Q4Linear::from_parts(out, inp, Q4_BLOCK, bytes, s).map(QLinear::Q4)
            }
        };
        r.map_err(|e| bad(format!("{e}")))
    }
}
