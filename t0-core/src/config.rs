//! The T5-family model configuration: a validated mirror of HF's `config.json`.
//!
//! Defaults follow `transformers.T5Config` (4.x): missing fields take HF's defaults, with
//! `num_decoder_layers` falling back to `num_layers` and `tie_word_embeddings` to `true`.

use alloc::string::{String, ToString};
use core::fmt;

use serde::Deserialize;

/// The feed-forward block variant (`feed_forward_proj` in `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedForwardProj {
    /// T5 v1.0: `wo(relu(wi(x)))`.
    Relu,
    /// T5 v1.1 / T0 / Flan-T5: `wo(gelu_new(wi_0(x)) * wi_1(x))` with the tanh GELU.
    GatedGelu,
    /// `wo(silu(wi_0(x)) * wi_1(x))`.
    GatedSilu,
}

impl FeedForwardProj {
    /// Parses the `config.json` spelling (`relu`, `gated-gelu`, `gated-silu`).
    pub fn parse(s: &str) -> Result<Self, ConfigError> {
        match s {
            "relu" => Ok(Self::Relu),
            "gated-gelu" => Ok(Self::GatedGelu),
            "gated-silu" => Ok(Self::GatedSilu),
            other => Err(ConfigError::UnsupportedFeedForward(other.to_string())),
        }
    }

    /// Whether the block has two input projections (`wi_0`, `wi_1`) instead of one (`wi`).
    pub fn is_gated(self) -> bool {
        !matches!(self, Self::Relu)
    }

    /// The `config.json` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Relu => "relu",
            Self::GatedGelu => "gated-gelu",
            Self::GatedSilu => "gated-silu",
        }
    }
}

/// A validated T5 configuration. Construct with [`T5Config::from_json`] or a preset.
#[derive(Debug, Clone, PartialEq)]
pub struct T5Config {
    /// Hidden size.
    pub d_model: usize,
    /// Feed-forward inner size.
    pub d_ff: usize,
    /// Size of each attention head (heads × d_kv need not equal d_model).
    pub d_kv: usize,
    /// Attention heads per layer.
    pub num_heads: usize,
    /// Encoder layers.
    pub num_layers: usize,
    /// Decoder layers (defaults to `num_layers`).
    pub num_decoder_layers: usize,
    /// Rows of the embedding matrix (and of `lm_head`).
    pub vocab_size: usize,
    /// Relative-position buckets.
    pub relative_attention_num_buckets: usize,
    /// Distance beyond which relative positions share the last bucket.
    pub relative_attention_max_distance: usize,
    /// RMS norm epsilon.
    pub layer_norm_epsilon: f32,
    /// Feed-forward variant.
    pub feed_forward_proj: FeedForwardProj,
    /// Whether `lm_head` shares the embedding (then logits are scaled by `d_model^-0.5`).
    pub tie_word_embeddings: bool,
    /// First decoder input token.
    pub decoder_start_token_id: u32,
    /// End-of-sequence token.
    pub eos_token_id: u32,
    /// Padding token.
    pub pad_token_id: u32,
}

/// Upper bounds that reject absurd configs before anything is allocated from them.
pub mod limits {
    /// Largest accepted `d_model`, `d_ff` or `d_kv`.
    pub const MAX_DIM: usize = 1 << 17;
    /// Largest accepted head count.
    pub const MAX_HEADS: usize = 1024;
    /// Largest accepted layer count per stack.
    pub const MAX_LAYERS: usize = 1024;
    /// Largest accepted vocabulary.
    pub const MAX_VOCAB: usize = 1 << 22;
    /// Largest accepted bucket count.
    pub const MAX_BUCKETS: usize = 1024;
    /// Largest accepted relative distance.
    pub const MAX_DISTANCE: usize = 1 << 20;
}

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not JSON, or a field has the wrong JSON type or is missing.
    Json(String),
    /// `feed_forward_proj` names an activation we do not run.
    UnsupportedFeedForward(String),
    /// A field's value is impossible (zero heads, absurd sizes…).
    InvalidField {
        /// The `config.json` field.
        field: &'static str,
        /// The value found.
        value: String,
        /// What is required.
        requirement: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Json(m) => write!(f, "invalid config.json: {m}"),
            ConfigError::UnsupportedFeedForward(s) => write!(
                f,
                "unsupported feed_forward_proj {s:?}: t0 runs \"relu\", \"gated-gelu\" and \"gated-silu\""
            ),
            ConfigError::InvalidField {
                field,
                value,
                requirement,
            } => {
                write!(f, "config field `{field}` = {value}: {requirement}")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// A token id that some configs write as a list (`[1]`).
#[derive(Deserialize)]
#[serde(untagged)]
enum TokenId {
    One(u32),
    Many(alloc::vec::Vec<u32>),
}

impl TokenId {
    fn first(self, field: &'static str) -> Result<u32, ConfigError> {
        match self {
            TokenId::One(v) => Ok(v),
            TokenId::Many(v) => v.first().copied().ok_or(ConfigError::InvalidField {
                field,
                value: "[]".to_string(),
                requirement: "must name at least one token",
            }),
        }
    }
}

/// The raw JSON mirror, every field optional, so defaults apply exactly as in HF.
#[derive(Deserialize)]
struct RawConfig {
    d_model: Option<usize>,
    d_ff: Option<usize>,
    d_kv: Option<usize>,
    num_heads: Option<usize>,
    num_layers: Option<usize>,
    num_decoder_layers: Option<usize>,
    vocab_size: Option<usize>,
    relative_attention_num_buckets: Option<usize>,
    relative_attention_max_distance: Option<usize>,
    layer_norm_epsilon: Option<f64>,
    feed_forward_proj: Option<String>,
    tie_word_embeddings: Option<bool>,
    decoder_start_token_id: Option<TokenId>,
    eos_token_id: Option<TokenId>,
    pad_token_id: Option<TokenId>,
}

fn check(
    field: &'static str,
    value: usize,
    lo: usize,
    hi: usize,
    requirement: &'static str,
) -> Result<(), ConfigError> {
    if value < lo || value > hi {
        return Err(ConfigError::InvalidField {
            field,
            value: value.to_string(),
            requirement,
        });
    }
    Ok(())
}

impl T5Config {
    /// Parses and validates the text of a HF `config.json`.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig =
            serde_json::from_str(text).map_err(|e| ConfigError::Json(e.to_string()))?;
        let num_layers = raw.num_layers.unwrap_or(6);
        let pad = match raw.pad_token_id {
            Some(t) => t.first("pad_token_id")?,
            None => 0,
        };
        let cfg = T5Config {
            d_model: raw.d_model.unwrap_or(512),
            d_ff: raw.d_ff.unwrap_or(2048),
            d_kv: raw.d_kv.unwrap_or(64),
            num_heads: raw.num_heads.unwrap_or(8),
            num_layers,
            num_decoder_layers: raw.num_decoder_layers.unwrap_or(num_layers),
            vocab_size: raw.vocab_size.unwrap_or(32128),
            relative_attention_num_buckets: raw.relative_attention_num_buckets.unwrap_or(32),
            relative_attention_max_distance: raw.relative_attention_max_distance.unwrap_or(128),
            layer_norm_epsilon: raw.layer_norm_epsilon.unwrap_or(1e-6) as f32,
            feed_forward_proj: FeedForwardProj::parse(
                raw.feed_forward_proj.as_deref().unwrap_or("relu"),
            )?,
            tie_word_embeddings: raw.tie_word_embeddings.unwrap_or(true),
            decoder_start_token_id: match raw.decoder_start_token_id {
                Some(t) => t.first("decoder_start_token_id")?,
                None => pad,
            },
            eos_token_id: match raw.eos_token_id {
                Some(t) => t.first("eos_token_id")?,
                None => 1,
            },
            pad_token_id: pad,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks that the configuration describes a model that can exist and be allocated.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use limits::*;
        check("d_model", self.d_model, 1, MAX_DIM, "must be in 1..=131072")?;
        check("d_ff", self.d_ff, 1, MAX_DIM, "must be in 1..=131072")?;
        check("d_kv", self.d_kv, 1, MAX_DIM, "must be in 1..=131072")?;
        check(
            "num_heads",
            self.num_heads,
            1,
            MAX_HEADS,
            "must be in 1..=1024",
        )?;
        check(
            "num_layers",
            self.num_layers,
            1,
            MAX_LAYERS,
            "must be in 1..=1024",
        )?;
        check(
            "num_decoder_layers",
            self.num_decoder_layers,
            1,
            MAX_LAYERS,
            "must be in 1..=1024",
        )?;
        check(
            "vocab_size",
            self.vocab_size,
            2,
            MAX_VOCAB,
            "must be in 2..=4194304",
        )?;
        check(
            "num_heads * d_kv",
            self.num_heads.saturating_mul(self.d_kv),
            1,
            MAX_DIM,
            "the attention inner size must be at most 131072",
        )?;
        let nb = self.relative_attention_num_buckets;
        check(
            "relative_attention_num_buckets",
            nb,
            4,
            MAX_BUCKETS,
            "must be in 4..=1024 (the bidirectional encoder splits the buckets in two halves, each with an exact and a log-spaced part)",
        )?;
        check(
            "relative_attention_max_distance",
            self.relative_attention_max_distance,
            nb / 2 + 1,
            MAX_DISTANCE,
            "must exceed half the bucket count (the largest exact distance) and be at most 1048576",
        )?;
        if !(self.layer_norm_epsilon.is_finite() && self.layer_norm_epsilon >= 0.0) {
            return Err(ConfigError::InvalidField {
                field: "layer_norm_epsilon",
                value: alloc::format!("{}", self.layer_norm_epsilon),
                requirement: "must be finite and non-negative",
            });
        }
        for (field, id) in [
            ("decoder_start_token_id", self.decoder_start_token_id),
            ("eos_token_id", self.eos_token_id),
            ("pad_token_id", self.pad_token_id),
        ] {
            if id as usize >= self.vocab_size {
                return Err(ConfigError::InvalidField {
                    field,
                    value: id.to_string(),
                    requirement: "must be below vocab_size",
                });
            }
        }
        Ok(())
    }

    /// Attention inner size: `num_heads * d_kv`.
    pub fn inner_dim(&self) -> usize {
        self.num_heads * self.d_kv
    }

    /// The T0 architecture (T5 v1.1 LM-adapted) at a given size.
    fn t0_shape(d_model: usize, d_ff: usize, num_heads: usize, layers: usize) -> Self {
        T5Config {
            d_model,
            d_ff,
            d_kv: 64,
            num_heads,
            num_layers: layers,
            num_decoder_layers: layers,
            vocab_size: 32128,
            relative_attention_num_buckets: 32,
            relative_attention_max_distance: 128,
            layer_norm_epsilon: 1e-6,
            feed_forward_proj: FeedForwardProj::GatedGelu,
            tie_word_embeddings: false,
            decoder_start_token_id: 0,
            eos_token_id: 1,
            pad_token_id: 0,
        }
    }

    /// The benchmarks' "base" shape in the T0 architecture (d_model 768, 12+12 layers).
    pub fn t0_base() -> Self {
        Self::t0_shape(768, 2048, 12, 12)
    }

    /// The T0_3B shape (d_model 2048, d_ff 5120, 32 heads, 24+24 layers).
    pub fn t0_3b() -> Self {
        Self::t0_shape(2048, 5120, 32, 24)
    }

    /// The T0 / T0p / T0pp (11B) shape (d_model 4096, d_ff 10240, 64 heads, 24+24 layers).
    pub fn t0pp() -> Self {
        Self::t0_shape(4096, 10240, 64, 24)
    }

    /// Serialises to HF `config.json` text (the fields HF's `T5Config` reads).
    pub fn to_json(&self) -> String {
        alloc::format!(
            concat!(
                "{{\n  \"architectures\": [\"T5ForConditionalGeneration\"],\n",
                "  \"model_type\": \"t5\",\n  \"d_model\": {},\n  \"d_ff\": {},\n  \"d_kv\": {},\n",
                "  \"num_heads\": {},\n  \"num_layers\": {},\n  \"num_decoder_layers\": {},\n",
                "  \"vocab_size\": {},\n  \"relative_attention_num_buckets\": {},\n",
                "  \"relative_attention_max_distance\": {},\n  \"layer_norm_epsilon\": {:e},\n",
                "  \"feed_forward_proj\": \"{}\",\n  \"tie_word_embeddings\": {},\n",
                "  \"decoder_start_token_id\": {},\n  \"eos_token_id\": {},\n  \"pad_token_id\": {},\n",
                "  \"is_encoder_decoder\": true\n}}\n"
            ),
            self.d_model,
            self.d_ff,
            self.d_kv,
            self.num_heads,
            self.num_layers,
            self.num_decoder_layers,
            self.vocab_size,
            self.relative_attention_num_buckets,
            self.relative_attention_max_distance,
            self.layer_norm_epsilon,
            self.feed_forward_proj.as_str(),
            self.tie_word_embeddings,
            self.decoder_start_token_id,
            self.eos_token_id,
            self.pad_token_id,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0_3B_JSON: &str = r#"{
      "architectures": ["T5ForConditionalGeneration"], "d_ff": 5120, "d_kv": 64,
      "d_model": 2048, "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1,
      "feed_forward_proj": "gated-gelu", "gradient_checkpointing": false,
      "initializer_factor": 1.0, "is_encoder_decoder": true, "layer_norm_epsilon": 1e-06,
      "model_type": "t5", "num_decoder_layers": 24, "num_heads": 32, "num_layers": 24,
      "output_past": true, "pad_token_id": 0, "relative_attention_num_buckets": 32,
      "tie_word_embeddings": false, "torch_dtype": "float32", "use_cache": true,
      "vocab_size": 32128
    }"#;

    #[test]
    fn parses_t0_3b_config_equal_to_preset() {
        let cfg = T5Config::from_json(T0_3B_JSON).unwrap();
        assert_eq!(cfg, T5Config::t0_3b());
    }

    #[test]
    fn hf_defaults_apply() {
        let cfg = T5Config::from_json("{}").unwrap();
        assert_eq!(cfg.d_model, 512);
        assert_eq!(cfg.num_decoder_layers, 6);
        assert_eq!(cfg.feed_forward_proj, FeedForwardProj::Relu);
        assert!(cfg.tie_word_embeddings);
        assert_eq!(
            (
                cfg.decoder_start_token_id,
                cfg.eos_token_id,
                cfg.pad_token_id
            ),
            (0, 1, 0)
        );
        assert_eq!(cfg.relative_attention_num_buckets, 32);
        assert_eq!(cfg.relative_attention_max_distance, 128);
    }

    #[test]
    fn decoder_layers_default_to_encoder_layers_and_can_differ() {
        let a = T5Config::from_json(r#"{"num_layers": 3}"#).unwrap();
        assert_eq!(a.num_decoder_layers, 3);
        let b = T5Config::from_json(r#"{"num_layers": 3, "num_decoder_layers": 5}"#).unwrap();
        assert_eq!(b.num_decoder_layers, 5);
    }

    #[test]
    fn token_id_lists_take_the_first() {
        let cfg = T5Config::from_json(r#"{"eos_token_id": [1, 2]}"#).unwrap();
        assert_eq!(cfg.eos_token_id, 1);
    }

    #[test]
    fn rejects_unknown_activation_by_name() {
        let e = T5Config::from_json(r#"{"feed_forward_proj": "gated-swish"}"#).unwrap_err();
        assert_eq!(e, ConfigError::UnsupportedFeedForward("gated-swish".into()));
        assert!(e.to_string().contains("gated-swish"));
    }

    #[test]
    fn rejects_nonsense_fields() {
        for (json, field) in [
            (r#"{"num_heads": 0}"#, "num_heads"),
            (r#"{"d_kv": 0}"#, "d_kv"),
            (r#"{"d_model": 0}"#, "d_model"),
            (
                r#"{"relative_attention_num_buckets": 1}"#,
                "relative_attention_num_buckets",
            ),
            (
                r#"{"relative_attention_num_buckets": 0}"#,
                "relative_attention_num_buckets",
            ),
            (r#"{"num_layers": 1000000000}"#, "num_layers"),
            (r#"{"vocab_size": 0}"#, "vocab_size"),
            (
                r#"{"relative_attention_max_distance": 8}"#,
                "relative_attention_max_distance",
            ),
            (r#"{"eos_token_id": 40000}"#, "eos_token_id"),
            (r#"{"layer_norm_epsilon": -1.0}"#, "layer_norm_epsilon"),
            (r#"{"eos_token_id": []}"#, "eos_token_id"),
        ] {
            match T5Config::from_json(json) {
                Err(ConfigError::InvalidField { field: f, .. }) => assert_eq!(f, field, "{json}"),
                other => panic!("{json}: expected InvalidField({field}), got {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_bad_json_and_wrong_types() {
        assert!(matches!(
            T5Config::from_json("not json"),
            Err(ConfigError::Json(_))
        ));
        assert!(matches!(
            T5Config::from_json(r#"{"d_model": "big"}"#),
            Err(ConfigError::Json(_))
        ));
        assert!(matches!(
            T5Config::from_json(r#"{"d_model": -4}"#),
            Err(ConfigError::Json(_))
        ));
        assert!(matches!(
            T5Config::from_json("[]"),
            Err(ConfigError::Json(_))
        ));
    }

    #[test]
    fn presets_validate_and_round_trip_through_json() {
        for cfg in [T5Config::t0_base(), T5Config::t0_3b(), T5Config::t0pp()] {
            cfg.validate().unwrap();
            assert_eq!(T5Config::from_json(&cfg.to_json()).unwrap(), cfg);
        }
        assert_eq!(T5Config::t0pp().inner_dim(), 4096);
    }
}
