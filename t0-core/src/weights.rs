//! The tensors a T5-family checkpoint must hold, under Hugging Face's names, and the check
//! that a [`TensorSource`] holds them with the shapes a [`T5Config`] implies.
//!
//! Names follow `transformers.T5ForConditionalGeneration` (4.x). Weight matrices are stored
//! `[out_features, in_features]` as `torch.nn.Linear` keeps them.
//!
//! ```
//! use t0_core::{config::T5Config, weights::expected_tensors};
//! let specs = expected_tensors(&T5Config::t0_3b());
//! assert_eq!(specs[0].name, "shared.weight");
//! assert_eq!(specs[0].shape, vec![32128, 2048]);
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::config::T5Config;
use crate::tensor::{DType, TensorSource, TensorView};

/// One tensor a model needs: its canonical name and exact shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// Canonical Hugging Face name (e.g. `encoder.block.0.layer.0.SelfAttention.q.weight`).
    pub name: String,
    /// Exact shape, outermost first.
    pub shape: Vec<usize>,
}

/// Names under which the token embedding may be stored, canonical name first.
pub const SHARED_ALIASES: [&str; 3] = [
    "shared.weight",
    "encoder.embed_tokens.weight",
    "decoder.embed_tokens.weight",
];

/// Why a checkpoint's tensors do not fit its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WeightsError {
    /// A tensor the configuration requires is absent (under every accepted alias).
    Missing {
        /// Canonical name.
        tensor: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
    },
    /// The tensor is present with another shape.
    WrongShape {
        /// The name it was found under.
        tensor: String,
        /// The shape the configuration implies.
        expected: Vec<usize>,
        /// The shape stored.
        actual: Vec<usize>,
        /// The `config.json` fields that determine the expected shape.
        fields: &'static str,
    },
    /// The tensor is stored in a dtype the model cannot compute from.
    NotFloat {
        /// The name it was found under.
        tensor: String,
        /// The stored dtype.
        dtype: DType,
    },
    /// A weight is NaN or infinite (reported by [`check_finite`] only; loading accepts it).
    NonFinite {
        /// The name it was found under.
        tensor: String,
        /// Flat index of the first such element.
        index: usize,
        /// `NaN`, `+inf` or `-inf`.
        value: &'static str,
    },
    /// The checkpoint holds a layer the configuration does not have (`num_layers` or
    /// `num_decoder_layers` too small for the weights).
    ExtraLayer {
        /// A tensor of that layer.
        tensor: String,
        /// `num_layers` or `num_decoder_layers`.
        field: &'static str,
        /// The configured layer count.
        configured: usize,
    },
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightsError::Missing { tensor, expected } => {
                write!(f, "tensor `{tensor}` {expected:?} is missing")?;
                if tensor == SHARED_ALIASES[0] {
                    write!(
                        f,
                        " (also looked for `{}` and `{}`)",
                        SHARED_ALIASES[1], SHARED_ALIASES[2]
                    )?;
                }
                Ok(())
            }
            WeightsError::WrongShape {
                tensor,
                expected,
                actual,
                fields,
            } => write!(
                f,
                "tensor `{tensor}` has shape {actual:?}, but config.json implies {expected:?} \
                 ([{fields}]): the config does not match the weights"
            ),
            WeightsError::NotFloat { tensor, dtype } => write!(
                f,
                "tensor `{tensor}` is stored as {}, expected a float dtype (F32, F16 or BF16)",
                dtype.as_str()
            ),
            WeightsError::NonFinite {
                tensor,
                index,
                value,
            } => write!(f, "tensor `{tensor}` holds {value} at flat index {index}"),
            WeightsError::ExtraLayer {
                tensor,
                field,
                configured,
            } => write!(
                f,
                "tensor `{tensor}` belongs to a layer beyond config.json's {field} = {configured}: \
                 the config does not match the weights"
            ),
        }
    }
}

impl core::error::Error for WeightsError {}

fn spec(name: String, shape: Vec<usize>) -> TensorSpec {
    TensorSpec { name, shape }
}

/// Pushes one attention block's projections (`q`, `k`, `v`: `[inner, d_model]`; `o`:
/// `[d_model, inner]`).
fn attention(out: &mut Vec<TensorSpec>, prefix: &str, cfg: &T5Config) {
    let (d, inner) = (cfg.d_model, cfg.inner_dim());
    for p in ["q", "k", "v"] {
        out.push(spec(format!("{prefix}.{p}.weight"), vec![inner, d]));
    }
    out.push(spec(format!("{prefix}.o.weight"), vec![d, inner]));
}

/// Pushes one feed-forward block (`wi` or `wi_0`/`wi_1`: `[d_ff, d_model]`; `wo`:
/// `[d_model, d_ff]`).
fn feed_forward(out: &mut Vec<TensorSpec>, prefix: &str, cfg: &T5Config) {
    let (d, ff) = (cfg.d_model, cfg.d_ff);
    if cfg.feed_forward_proj.is_gated() {
        out.push(spec(format!("{prefix}.wi_0.weight"), vec![ff, d]));
        out.push(spec(format!("{prefix}.wi_1.weight"), vec![ff, d]));
    } else {
        out.push(spec(format!("{prefix}.wi.weight"), vec![ff, d]));
    }
    out.push(spec(format!("{prefix}.wo.weight"), vec![d, ff]));
}

/// Every tensor the model described by `cfg` reads, in model order (embedding, encoder
/// blocks, encoder final norm, decoder blocks, decoder final norm, `lm_head` when untied).
pub fn expected_tensors(cfg: &T5Config) -> Vec<TensorSpec> {
    let d = cfg.d_model;
    let mut out = Vec::new();
    out.push(spec(SHARED_ALIASES[0].to_string(), vec![cfg.vocab_size, d]));
    for (stack, layers) in [
        ("encoder", cfg.num_layers),
        ("decoder", cfg.num_decoder_layers),
    ] {
        for i in 0..layers {
            let b = format!("{stack}.block.{i}.layer");
            attention(&mut out, &format!("{b}.0.SelfAttention"), cfg);
            if i == 0 {
                out.push(spec(
                    format!("{b}.0.SelfAttention.relative_attention_bias.weight"),
                    vec![cfg.relative_attention_num_buckets, cfg.num_heads],
                ));
            }
            out.push(spec(format!("{b}.0.layer_norm.weight"), vec![d]));
            let ff_layer = if stack == "decoder" {
                attention(&mut out, &format!("{b}.1.EncDecAttention"), cfg);
                out.push(spec(format!("{b}.1.layer_norm.weight"), vec![d]));
                2
            } else {
                1
            };
            feed_forward(&mut out, &format!("{b}.{ff_layer}.DenseReluDense"), cfg);
            out.push(spec(format!("{b}.{ff_layer}.layer_norm.weight"), vec![d]));
        }
        out.push(spec(format!("{stack}.final_layer_norm.weight"), vec![d]));
    }
    if !cfg.tie_word_embeddings {
        out.push(spec("lm_head.weight".to_string(), vec![cfg.vocab_size, d]));
    }
    out
}

/// Every name under which the tensor called `name` may be stored (canonical name first),
/// or an empty slice when it has no aliases.
pub fn aliases(name: &str) -> &'static [&'static str] {
    if SHARED_ALIASES.contains(&name) {
        &SHARED_ALIASES
    } else {
        &[]
    }
}

/// Looks `name` up in `src`, trying the known aliases (`shared.weight` may be stored as
/// `encoder.embed_tokens.weight` or `decoder.embed_tokens.weight`).
pub fn resolve<'a, S: TensorSource + ?Sized>(src: &'a S, name: &str) -> Option<TensorView<'a>> {
    if let Some(t) = src.tensor(name) {
        return Some(t);
    }
    aliases(name)
        .iter()
        .filter(|a| **a != name)
        .find_map(|a| src.tensor(a))
}

/// The `config.json` fields that determine a tensor's shape, for error messages.
fn shape_fields(name: &str, cfg: &T5Config) -> &'static str {
    let gated = cfg.feed_forward_proj.is_gated();
    if name.ends_with("relative_attention_bias.weight") {
        "relative_attention_num_buckets, num_heads"
    } else if name.ends_with(".o.weight") {
        "d_model, num_heads * d_kv"
    } else if name.ends_with(".q.weight")
        || name.ends_with(".k.weight")
        || name.ends_with(".v.weight")
    {
        "num_heads * d_kv, d_model"
    } else if name.ends_with(".wo.weight") {
        "d_model, d_ff"
    } else if name.contains(".wi") {
        if gated {
            "d_ff, d_model (gated feed_forward_proj)"
        } else {
            "d_ff, d_model"
        }
    } else if name.ends_with("layer_norm.weight") {
        "d_model"
    } else {
        "vocab_size, d_model"
    }
}

/// The layer index of `encoder.block.N.…` / `decoder.block.N.…`, with its stack.
fn block_index(name: &str) -> Option<(&'static str, usize)> {
    for stack in ["encoder", "decoder"] {
        if let Some(rest) = name
            .strip_prefix(stack)
            .and_then(|r| r.strip_prefix(".block."))
        {
            let digits = rest.split('.').next()?;
            return digits.parse().ok().map(|i| (stack, i));
        }
    }
    None
}

/// Checks that `src` holds every tensor `cfg` requires, with the exact shape and a float
/// dtype, and no layer beyond the configured counts. Extra tensors of other kinds are
/// allowed (checkpoints often carry both `shared.weight` and its aliases).
pub fn verify<S: TensorSource + ?Sized>(src: &S, cfg: &T5Config) -> Result<(), WeightsError> {
    for s in expected_tensors(cfg) {
        let Some(t) = resolve(src, &s.name) else {
            return Err(WeightsError::Missing {
                tensor: s.name,
                expected: s.shape,
            });
        };
        if t.shape != s.shape.as_slice() {
            return Err(WeightsError::WrongShape {
                fields: shape_fields(&s.name, cfg),
                tensor: t.name.to_string(),
                expected: s.shape,
                actual: t.shape.to_vec(),
            });
        }
        if !t.dtype.is_float() {
            return Err(WeightsError::NotFloat {
                tensor: t.name.to_string(),
                dtype: t.dtype,
            });
        }
    }
    let mut names = src.tensor_names();
    names.sort_unstable();
    for name in names {
        if let Some((stack, i)) = block_index(name) {
            let (field, configured) = if stack == "encoder" {
                ("num_layers", cfg.num_layers)
            } else {
                ("num_decoder_layers", cfg.num_decoder_layers)
            };
            if i >= configured {
                return Err(WeightsError::ExtraLayer {
                    tensor: name.to_string(),
                    field,
                    configured,
                });
            }
        }
    }
    Ok(())
}

/// Classifies a non-finite value by its sign and mantissa.
fn non_finite(nan: bool, negative: bool) -> &'static str {
    match (nan, negative) {
        (true, _) => "NaN",
        (false, false) => "+inf",
        (false, true) => "-inf",
    }
}

/// The first non-finite element of a float tensor: (flat index, kind).
fn first_non_finite(t: &TensorView<'_>) -> Option<(usize, &'static str)> {
    match t.dtype {
        DType::F32 => t
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .enumerate()
            .find(|(_, v)| !v.is_finite())
            .map(|(i, v)| (i, non_finite(v.is_nan(), v.is_sign_negative()))),
        DType::F16 | DType::BF16 => {
            // Exponent all ones: F16 0x7c00, BF16 0x7f80; mantissa non-zero means NaN.
            let (exp, mant) = if t.dtype == DType::F16 {
                (0x7c00u16, 0x03ffu16)
            } else {
                (0x7f80, 0x007f)
            };
            t.data
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .enumerate()
                .find(|(_, b)| b & exp == exp)
                .map(|(i, b)| (i, non_finite(b & mant != 0, b & 0x8000 != 0)))
        }
        DType::I8 | DType::U8 => None,
    }
}

/// Reads every tensor `cfg` requires and reports the first NaN or infinity. This touches
/// all the weights (for a memory-mapped checkpoint: reads the whole file), so it is an
/// explicit, optional check; loading itself accepts non-finite values.
pub fn check_finite<S: TensorSource + ?Sized>(src: &S, cfg: &T5Config) -> Result<(), WeightsError> {
    for s in expected_tensors(cfg) {
        let Some(t) = resolve(src, &s.name) else {
            return Err(WeightsError::Missing {
                tensor: s.name,
                expected: s.shape,
            });
        };
        if let Some((index, value)) = first_non_finite(&t) {
            return Err(WeightsError::NonFinite {
                tensor: t.name.to_string(),
                index,
                value,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FeedForwardProj;
    use crate::safetensors::{SafeTensors, serialize};

    fn tiny(ff: FeedForwardProj, tied: bool) -> T5Config {
        let mut c = T5Config::t0_base();
        c.d_model = 8;
        c.d_ff = 12;
        c.d_kv = 2;
        c.num_heads = 3;
        c.num_layers = 2;
        c.num_decoder_layers = 1;
        c.vocab_size = 10;
        c.relative_attention_num_buckets = 4;
        c.relative_attention_max_distance = 8;
        c.feed_forward_proj = ff;
        c.tie_word_embeddings = tied;
        c.validate().unwrap();
        c
    }

    /// A checkpoint holding `specs` (zero-filled F32), with names renamed by `rename`.
    fn build(specs: &[TensorSpec], rename: impl Fn(&str) -> String, dtype: DType) -> Vec<u8> {
        let owned: Vec<(String, Vec<usize>, Vec<u8>)> = specs
            .iter()
            .map(|s| {
                let n: usize = s.shape.iter().product();
                (
                    rename(&s.name),
                    s.shape.clone(),
                    vec![0u8; n * dtype.size()],
                )
            })
            .collect();
        let entries: Vec<(&str, DType, &[usize], &[u8])> = owned
            .iter()
            .map(|(n, s, d)| (n.as_str(), dtype, s.as_slice(), d.as_slice()))
            .collect();
        serialize(&entries, None)
    }

    #[test]
    fn counts_match_hf_t5_parameter_lists() {
        // HF T5ForConditionalGeneration state_dict minus the tied aliases.
        let c = tiny(FeedForwardProj::GatedGelu, false);
        let specs = expected_tensors(&c);
        // shared + enc(2 blocks × (4 attn + ln + 3 ff + ln) + bias + final)
        //        + dec(1 block × (4 + ln + 4 + ln + 3 + ln) + bias + final) + lm_head
        assert_eq!(specs.len(), 1 + (2 * 9 + 1 + 1) + (14 + 1 + 1) + 1);
        let relu = expected_tensors(&tiny(FeedForwardProj::Relu, true));
        assert_eq!(relu.len(), specs.len() - 3 - 1);
        assert!(relu.iter().all(|s| s.name != "lm_head.weight"));
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        for n in [
            "encoder.block.1.layer.1.DenseReluDense.wi_1.weight",
            "decoder.block.0.layer.1.EncDecAttention.o.weight",
            "decoder.block.0.layer.2.layer_norm.weight",
            "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            "encoder.final_layer_norm.weight",
            "lm_head.weight",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        assert!(
            !names
                .contains(&"encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight")
        );
        let q = specs
            .iter()
            .find(|s| s.name == "encoder.block.0.layer.0.SelfAttention.o.weight")
            .unwrap();
        assert_eq!(q.shape, vec![8, 6]);
    }

    #[test]
    fn verifies_a_complete_checkpoint_and_accepts_aliases() {
        for ff in [FeedForwardProj::Relu, FeedForwardProj::GatedSilu] {
            for tied in [true, false] {
                let c = tiny(ff, tied);
                let specs = expected_tensors(&c);
                for alias in SHARED_ALIASES {
                    for dtype in [DType::F32, DType::BF16, DType::F16] {
                        let bytes = build(
                            &specs,
                            |n| {
                                if n == "shared.weight" {
                                    alias.to_string()
                                } else {
                                    n.to_string()
                                }
                            },
                            dtype,
                        );
                        let st = SafeTensors::parse(&bytes).unwrap();
                        verify(&st, &c).unwrap();
                        assert_eq!(resolve(&st, "shared.weight").unwrap().name, alias);
                    }
                }
            }
        }
    }

    #[test]
    fn reports_missing_wrong_shape_integer_and_extra_layers() {
        let c = tiny(FeedForwardProj::GatedGelu, false);
        let specs = expected_tensors(&c);
        let drop = "decoder.block.0.layer.1.EncDecAttention.k.weight";
        let without: Vec<TensorSpec> = specs.iter().filter(|s| s.name != drop).cloned().collect();
        let bytes = build(&without, |n| n.to_string(), DType::F32);
        let e = verify(&SafeTensors::parse(&bytes).unwrap(), &c).unwrap_err();
        assert_eq!(
            e,
            WeightsError::Missing {
                tensor: drop.into(),
                expected: vec![6, 8]
            }
        );
        assert!(e.to_string().contains(drop));

        // The same weights under a config with another d_model.
        let bytes = build(&specs, |n| n.to_string(), DType::F32);
        let st = SafeTensors::parse(&bytes).unwrap();
        let mut wrong = c.clone();
        wrong.d_model = 16;
        let e = verify(&st, &wrong).unwrap_err();
        match &e {
            WeightsError::WrongShape {
                tensor,
                expected,
                actual,
                ..
            } => {
                assert_eq!(tensor, "shared.weight");
                assert_eq!(
                    (expected.as_slice(), actual.as_slice()),
                    (&[10, 16][..], &[10, 8][..])
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("d_model"), "{e}");

        let mut fewer = c.clone();
        fewer.num_layers = 1;
        let e = verify(&st, &fewer).unwrap_err();
        assert!(
            matches!(&e, WeightsError::ExtraLayer { field: "num_layers", configured: 1, tensor } if tensor.starts_with("encoder.block.1.")),
            "{e:?}"
        );

        let ints = build(&specs, |n| n.to_string(), DType::I8);
        let e = verify(&SafeTensors::parse(&ints).unwrap(), &c).unwrap_err();
        assert_eq!(
            e,
            WeightsError::NotFloat {
                tensor: "shared.weight".into(),
                dtype: DType::I8
            }
        );
    }

    #[test]
    fn non_finite_weights_load_and_are_reported_on_request() {
        let c = tiny(FeedForwardProj::Relu, true);
        let specs = expected_tensors(&c);
        let target = "encoder.block.1.layer.1.DenseReluDense.wo.weight";
        for (dtype, bad, kind) in [
            (DType::F32, f32::NAN.to_le_bytes().to_vec(), "NaN"),
            (DType::F32, f32::NEG_INFINITY.to_le_bytes().to_vec(), "-inf"),
            (
                DType::F16,
                half::f16::INFINITY.to_le_bytes().to_vec(),
                "+inf",
            ),
            (DType::BF16, half::bf16::NAN.to_le_bytes().to_vec(), "NaN"),
            (
                DType::BF16,
                half::bf16::NEG_INFINITY.to_le_bytes().to_vec(),
                "-inf",
            ),
        ] {
            let mut bytes = build(&specs, |n| n.to_string(), dtype);
            let st = SafeTensors::parse(&bytes).unwrap();
            check_finite(&st, &c).unwrap();
            let t = st.tensor(target).unwrap();
            let off = t.data.as_ptr() as usize - bytes.as_ptr() as usize + 5 * dtype.size();
            bytes[off..off + dtype.size()].copy_from_slice(&bad);
            let st = SafeTensors::parse(&bytes).unwrap();
            verify(&st, &c).unwrap();
            assert_eq!(
                check_finite(&st, &c).unwrap_err(),
                WeightsError::NonFinite {
                    tensor: target.into(),
                    index: 5,
                    value: kind
                },
                "{dtype:?}"
            );
        }
    }

    #[test]
    fn aliases_cover_only_the_embedding() {
        assert_eq!(aliases("encoder.embed_tokens.weight").len(), 3);
        assert!(aliases("lm_head.weight").is_empty());
        assert_eq!(
            block_index("decoder.block.17.layer.0.x"),
            Some(("decoder", 17))
        );
        assert_eq!(block_index("encoder.final_layer_norm.weight"), None);
    }
}
