//! Seeded random-weight checkpoints for any [`T5Config`], for tests and benchmarks.
//!
//! Each tensor's values depend only on the seed and the tensor's name (never on the dtype,
//! the layout or the sharding), so F32, BF16 and sharded copies of one model agree up to
//! rounding. Matrices are uniform with standard deviation `1/sqrt(fan_in)` (fan-in = the
//! last dimension, the `in_features` of a `torch.nn.Linear`); layer-norm weights are
//! `1 ± 0.1` uniform. Values come from one xorshift64 step per element: a T0_3B-sized
//! checkpoint (2.85 G elements) generates in seconds.
//!
//! ```
//! use t0_core::{config::T5Config, random::random_checkpoint, safetensors::SafeTensors};
//! use t0_core::tensor::DType;
//! let mut cfg = T5Config::t0_base();
//! (cfg.d_model, cfg.d_ff, cfg.num_heads, cfg.d_kv, cfg.vocab_size) = (16, 32, 2, 8, 50);
//! (cfg.num_layers, cfg.num_decoder_layers) = (1, 1);
//! let bytes = random_checkpoint(&cfg, 7, DType::BF16);
//! let st = SafeTensors::parse(&bytes).unwrap();
//! t0_core::weights::verify(&st, &cfg).unwrap();
//! ```

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::config::T5Config;
use crate::safetensors::header_bytes;
use crate::tensor::DType;
use crate::weights::{TensorSpec, expected_tensors};

/// The element generator of one tensor.
#[derive(Debug, Clone)]
pub struct TensorRng {
    state: u64,
    offset: f32,
    /// Half-width of the uniform distribution, pre-multiplied by 2^-23.
    scale: f32,
}

/// FNV-1a of the name, mixed with the seed by splitmix64: the per-tensor stream seed.
pub fn tensor_seed(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    // xorshift's state must be non-zero.
    if z == 0 { 0x2545_f491_4f6c_dd1d } else { z }
}

impl TensorRng {
    /// The generator for the tensor `spec` under `seed`.
    pub fn new(seed: u64, spec: &TensorSpec) -> Self {
        let fan_in = spec.shape.last().copied().unwrap_or(1).max(1);
        let (offset, half_width) = if spec.name.ends_with("layer_norm.weight") {
            (1.0, 0.1)
        } else {
            // Uniform on [-a, a] has standard deviation a / sqrt(3).
            (0.0, libm::sqrtf(3.0 / fan_in as f32))
        };
        TensorRng {
            state: tensor_seed(seed, &spec.name),
            offset,
            scale: half_width / (1u32 << 23) as f32,
        }
    }

    /// The next value.
    #[inline]
    pub fn next_f32(&mut self) -> f32 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        // 24 random bits, centred: an integer in [-2^23, 2^23), exact in f32.
        let centred = (x >> 40) as i32 - (1 << 23);
        self.offset + centred as f32 * self.scale
    }

    /// Appends the next `n` values encoded as `dtype` (little-endian) to `out`.
    /// Integer dtypes get the values rounded and saturated to the type's range.
    pub fn fill(&mut self, dtype: DType, n: usize, out: &mut Vec<u8>) {
        out.reserve(n.saturating_mul(dtype.size()));
        match dtype {
            DType::F32 => {
                (0..n).for_each(|_| out.extend_from_slice(&self.next_f32().to_le_bytes()))
            }
            DType::F16 => (0..n).for_each(|_| {
                out.extend_from_slice(&half::f16::from_f32(self.next_f32()).to_le_bytes())
            }),
            DType::BF16 => (0..n).for_each(|_| {
                out.extend_from_slice(&half::bf16::from_f32(self.next_f32()).to_le_bytes())
            }),
            DType::I8 => (0..n).for_each(|_| {
                out.push((libm::roundf(self.next_f32() * 127.0).clamp(-127.0, 127.0) as i8) as u8)
            }),
            DType::U8 => (0..n).for_each(|_| {
                out.push(libm::roundf(self.next_f32() * 127.0 + 128.0).clamp(0.0, 255.0) as u8)
            }),
        }
    }
}

/// The values of one tensor, as f32 (what the F32 checkpoint stores; other dtypes store
/// these rounded).
pub fn random_tensor(seed: u64, spec: &TensorSpec) -> Vec<f32> {
    let mut rng = TensorRng::new(seed, spec);
    let n: usize = spec.shape.iter().product();
    (0..n).map(|_| rng.next_f32()).collect()
}

/// The `__metadata__` written into every random checkpoint (`format: pt`, which
/// `transformers` requires to load a safetensors file).
pub fn metadata() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    m.insert("format".to_string(), "pt".to_string());
    m
}

fn header_for(specs: &[TensorSpec], dtype: DType) -> (Vec<u8>, u64) {
    let entries: Vec<(&str, DType, &[usize])> = specs
        .iter()
        .map(|s| (s.name.as_str(), dtype, s.shape.as_slice()))
        .collect();
    // A validated config's shapes cannot overflow u64 (each dimension is capped).
    header_bytes(&entries, Some(&metadata())).unwrap_or_default()
}

/// A whole random checkpoint as safetensors bytes, tensors in model order
/// ([`expected_tensors`]). Holds everything in memory: for small models only (use
/// `write_random_checkpoint` for large ones).
pub fn random_checkpoint(cfg: &T5Config, seed: u64, dtype: DType) -> Vec<u8> {
    let specs = expected_tensors(cfg);
    let (mut out, data_len) = header_for(&specs, dtype);
    out.reserve(usize::try_from(data_len).unwrap_or(0));
    for s in &specs {
        TensorRng::new(seed, s).fill(dtype, s.shape.iter().product(), &mut out);
    }
    out
}

#[cfg(feature = "std")]
pub use self::write::{
    write_random_checkpoint, write_random_checkpoint_sharded, write_sparse_checkpoint,
};

#[cfg(feature = "std")]
mod write {
    use std::fs::{self, File};
    use std::io::{BufWriter, Write};
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::loader::{CONFIG_FILE, INDEX_FILE, LoadError, SINGLE_FILE};
    use crate::safetensors::index::ShardIndex;

    /// Elements generated per write.
    const CHUNK: usize = 1 << 18;

    /// Streams one safetensors file holding `specs` to `path` (through `path.tmp`, renamed
    /// when complete, so a failure leaves no half-written file under the real name).
    fn write_file(
        path: &Path,
        specs: &[TensorSpec],
        seed: u64,
        dtype: DType,
    ) -> Result<(), LoadError> {
        let tmp = PathBuf::from(format!("{}.tmp", path.display()));
        let io = |e| LoadError::io(&tmp, e);
        let (header, _) = header_for(specs, dtype);
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io)?);
        w.write_all(&header).map_err(io)?;
        let mut buf = Vec::with_capacity(CHUNK * dtype.size());
        for s in specs {
            let mut rng = TensorRng::new(seed, s);
            let mut left: usize = s.shape.iter().product();
            while left > 0 {
                let n = left.min(CHUNK);
                buf.clear();
                rng.fill(dtype, n, &mut buf);
                w.write_all(&buf).map_err(io)?;
                left -= n;
            }
        }
        w.into_inner()
            .map_err(|e| io(e.into_error()))?
            .sync_all()
            .map_err(io)?;
        fs::rename(&tmp, path).map_err(|e| LoadError::io(path, e))
    }

    fn write_config(dir: &Path, cfg: &T5Config) -> Result<(), LoadError> {
        fs::create_dir_all(dir).map_err(|e| LoadError::io(dir, e))?;
        let p = dir.join(CONFIG_FILE);
        fs::write(&p, cfg.to_json()).map_err(|e| LoadError::io(&p, e))
    }

    /// Writes `config.json` and a random `model.safetensors` into `dir` (created if
    /// needed), streaming tensor by tensor: memory use is a few MB whatever the model size.
    /// The file's bytes equal [`random_checkpoint`]'s.
    pub fn write_random_checkpoint(
        dir: &Path,
        cfg: &T5Config,
        seed: u64,
        dtype: DType,
    ) -> Result<(), LoadError> {
        write_config(dir, cfg)?;
        write_file(&dir.join(SINGLE_FILE), &expected_tensors(cfg), seed, dtype)
    }

    /// Writes `config.json` and a `model.safetensors` whose tensors are all zero, as a
    /// sparse file: a valid header followed by a hole, so a 44 GB T0pp-shaped checkpoint
    /// costs a few kilobytes of disk and no time to write. For open-cost tests and
    /// benchmarks (the file system must support sparse files). Returns the file's length.
    pub fn write_sparse_checkpoint(
        dir: &Path,
        cfg: &T5Config,
        dtype: DType,
    ) -> Result<u64, LoadError> {
        write_config(dir, cfg)?;
        let path = dir.join(SINGLE_FILE);
        let io = |e| LoadError::io(&path, e);
        let (header, data_len) = header_for(&expected_tensors(cfg), dtype);
        let mut f = File::create(&path).map_err(io)?;
        f.write_all(&header).map_err(io)?;
        let len = header.len() as u64 + data_len;
        f.set_len(len).map_err(io)?;
        Ok(len)
    }

    /// Like [`write_random_checkpoint`] but split into shards of at most
    /// `max_shard_bytes` of tensor data each (a larger tensor gets a shard of its own),
    /// named `model-0000i-of-0000n.safetensors`, plus `model.safetensors.index.json`.
    pub fn write_random_checkpoint_sharded(
        dir: &Path,
        cfg: &T5Config,
        seed: u64,
        dtype: DType,
        max_shard_bytes: u64,
    ) -> Result<(), LoadError> {
        write_config(dir, cfg)?;
        let specs = expected_tensors(cfg);
        let mut shards: Vec<Vec<TensorSpec>> = Vec::new();
        let mut size = 0u64;
        for s in specs {
            let bytes = s.shape.iter().product::<usize>() as u64 * dtype.size() as u64;
            match shards.last_mut() {
                Some(cur) if size + bytes <= max_shard_bytes => cur.push(s),
                _ => {
                    shards.push(vec![s]);
                    size = 0;
                }
            }
            size += bytes;
        }
        let n = shards.len();
        let mut weight_map = BTreeMap::new();
        let mut total = 0u64;
        for (i, shard) in shards.iter().enumerate() {
            let name = format!("model-{:05}-of-{:05}.safetensors", i + 1, n);
            for s in shard {
                total += s.shape.iter().product::<usize>() as u64 * dtype.size() as u64;
                weight_map.insert(s.name.clone(), name.clone());
            }
            write_file(&dir.join(&name), shard, seed, dtype)?;
        }
        let index = ShardIndex {
            weight_map,
            total_size: Some(total),
        };
        let p = dir.join(INDEX_FILE);
        fs::write(&p, index.to_json()).map_err(|e| LoadError::io(&p, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safetensors::SafeTensors;
    use crate::tensor::TensorSource;

    fn tiny() -> T5Config {
        let mut c = T5Config::t0_base();
        (c.d_model, c.d_ff, c.num_heads, c.d_kv, c.vocab_size) = (16, 24, 2, 4, 40);
        (c.num_layers, c.num_decoder_layers) = (2, 1);
        c
    }

    #[test]
    fn deterministic_per_seed_and_dtype_independent() {
        let c = tiny();
        let a = random_checkpoint(&c, 1, DType::F32);
        assert_eq!(a, random_checkpoint(&c, 1, DType::F32));
        assert_ne!(a, random_checkpoint(&c, 2, DType::F32));
        let b = random_checkpoint(&c, 1, DType::BF16);
        let h = random_checkpoint(&c, 1, DType::F16);
        let (a, b, h) = (
            SafeTensors::parse(&a).unwrap(),
            SafeTensors::parse(&b).unwrap(),
            SafeTensors::parse(&h).unwrap(),
        );
        crate::weights::verify(&a, &c).unwrap();
        for name in a.tensor_names() {
            let fa = a.tensor(name).unwrap().to_f32_vec().unwrap();
            let fb = b.tensor(name).unwrap().to_f32_vec().unwrap();
            let fh = h.tensor(name).unwrap().to_f32_vec().unwrap();
            for ((x, y), z) in fa.iter().zip(&fb).zip(&fh) {
                assert_eq!(half::bf16::from_f32(*x).to_f32(), *y);
                assert_eq!(half::f16::from_f32(*x).to_f32(), *z);
            }
        }
    }

    #[test]
    fn statistics_follow_fan_in() {
        let spec = TensorSpec {
            name: "encoder.block.0.layer.1.DenseReluDense.wo.weight".into(),
            shape: alloc::vec![256, 400],
        };
        let v = random_tensor(3, &spec);
        let n = v.len() as f64;
        let mean = v.iter().map(|x| *x as f64).sum::<f64>() / n;
        let var = v.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.002, "{mean}");
        assert!((var.sqrt() * 20.0 - 1.0).abs() < 0.02, "std {}", var.sqrt());
        let ln = random_tensor(
            3,
            &TensorSpec {
                name: "encoder.final_layer_norm.weight".into(),
                shape: alloc::vec![1000],
            },
        );
        assert!(ln.iter().all(|x| (0.9..=1.1).contains(x)));
        assert!(ln.iter().any(|x| *x < 0.95) && ln.iter().any(|x| *x > 1.05));
        // Different tensors get different streams.
        let other = TensorSpec {
            name: "encoder.block.1.layer.1.DenseReluDense.wo.weight".into(),
            ..spec.clone()
        };
        assert_ne!(random_tensor(3, &other)[..8], v[..8]);
    }
}
