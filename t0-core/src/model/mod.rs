//! The T5 encoder-decoder, generic over a [`Backend`]: the only code that knows T5's
//! structure. Module paths mirror HF tensor names (`encoder.block.{i}.layer.{j}…`).
//!
//! ```
//! use t0_core::backend::CpuBackend;
//! use t0_core::config::T5Config;
//! use t0_core::model::T5Model;
//! use t0_core::safetensors::SafeTensors;
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/models/v11_gelu_untied");
//! # let cfg = T5Config::from_json(&std::fs::read_to_string(format!("{dir}/config.json")).unwrap()).unwrap();
//! # let bytes = std::fs::read(format!("{dir}/model.safetensors")).unwrap();
//! let st = SafeTensors::parse(&bytes)?;
//! let model = T5Model::load(CpuBackend::new(), &st, &cfg)?;
//! let out = model.generate_greedy(&[vec![5u32, 17, 42]], &Default::default())?;
//! assert_eq!(out.len(), 1);
//! let scores = model.score(&[5, 17, 42], &[vec![7, 1], vec![9, 9, 1]], &Default::default())?;
//! assert!(scores.iter().all(|s| *s < 0.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod attention;
mod decoder;
mod encoder;
mod error;
mod ffn;
pub mod position;
mod weights;

use alloc::vec::Vec;

pub use decoder::DecoderCache;
pub use encoder::EncoderOutput;
pub use error::ModelError;

use crate::backend::Backend;
use crate::config::T5Config;
use crate::tensor::TensorSource;
use decoder::Decoder;
use encoder::Encoder;
use weights::WeightLoader;

/// Length limits applied to every input: longer input is an error, or is truncated when
/// `truncate` is set — never silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Longest encoder input, in tokens (default 1024, T0's training length).
    pub max_input_tokens: usize,
    /// Longest decoder sequence: answer choice, teacher-forced decoder input, or
    /// `max_new_tokens` (default 512).
    pub max_target_tokens: usize,
    /// Truncate over-long inputs and answer choices (keeping the first tokens, and a final
    /// EOS of a choice) instead of returning an error (default `false`).
    pub truncate: bool,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_input_tokens: 1024,
            max_target_tokens: 512,
            truncate: false,
        }
    }
}

/// A loaded T5-family model on backend `B`.
pub struct T5Model<B: Backend> {
    backend: B,
    cfg: T5Config,
    shared: B::Embedding,
    encoder: Encoder<B>,
    decoder: Decoder<B>,
    /// `lm_head.weight`, or `shared.weight` when the embeddings are tied.
    lm_head: B::Linear,
    limits: InputLimits,
}

impl<B: Backend> T5Model<B> {
    /// Loads every tensor the config requires from `src`, checks each shape against `cfg`,
    /// rejects blocks beyond the configured depth, and prepares the weights on `backend`
    /// (F32, BF16 and F16 checkpoints; compute is f32).
    pub fn load<S: TensorSource + ?Sized>(
        backend: B,
        src: &S,
        cfg: &T5Config,
    ) -> Result<Self, ModelError> {
        let w = WeightLoader {
            src,
            backend: &backend,
        };
        w.reject_extra_blocks(cfg.num_layers, cfg.num_decoder_layers)?;
        let (v, d) = (cfg.vocab_size, cfg.d_model);
        let shared_view = w.view("shared.weight", &[v, d])?;
        let shared = backend.prepare_embedding(&shared_view)?;
        // modeling_t5.py 4.46 `T5ForConditionalGeneration.__init__`/`forward`: the head is
        // `shared` when `tie_word_embeddings`, else its own `lm_head`.
        let lm_head = if cfg.tie_word_embeddings {
            backend.prepare_linear(&shared_view)?
        } else {
            w.linear("lm_head.weight", v, d)?
        };
        let encoder = Encoder::load(&w, cfg)?;
        let decoder = Decoder::load(&w, cfg)?;
        Ok(T5Model {
            backend,
            cfg: cfg.clone(),
            shared,
            encoder,
            decoder,
            lm_head,
            limits: InputLimits::default(),
        })
    }

    /// Loads an opened checkpoint directory with its own `config.json`.
    #[cfg(feature = "std")]
    pub fn from_checkpoint(
        backend: B,
        ckpt: &crate::loader::Checkpoint,
    ) -> Result<Self, ModelError> {
        Self::load(backend, ckpt, ckpt.config())
    }

    /// The configuration.
    pub fn config(&self) -> &T5Config {
        &self.cfg
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The length limits in force.
    pub fn limits(&self) -> InputLimits {
        self.limits
    }

    /// Replaces the length limits.
    pub fn set_limits(&mut self, limits: InputLimits) {
        self.limits = limits;
    }

    /// Checks ids against the vocabulary.
    pub(crate) fn check_ids(&self, ids: &[u32]) -> Result<(), ModelError> {
        match ids.iter().find(|&&id| id as usize >= self.cfg.vocab_size) {
            Some(&id) => Err(ModelError::TokenOutOfRange {
                id,
                vocab_size: self.cfg.vocab_size,
            }),
            None => Ok(()),
        }
    }

    /// Validates one encoder input against the limits, truncating if allowed.
    pub(crate) fn checked_input<'a>(
        &self,
        ids: &'a [u32],
        index: usize,
        max: usize,
        truncate: bool,
    ) -> Result<&'a [u32], ModelError> {
        if ids.is_empty() {
            return Err(ModelError::EmptyInput { index });
        }
        self.check_ids(ids)?;
        if ids.len() > max {
            if !truncate {
                return Err(ModelError::InputTooLong {
                    len: ids.len(),
                    max,
                });
            }
            return Ok(&ids[..max]);
        }
        Ok(ids)
    }

    /// Encodes a batch of token-id sequences (of any lengths; padded on the right
    /// internally and masked) and computes the decoder's cross-attention K/V once.
    pub fn encode<S: AsRef<[u32]>>(&self, inputs: &[S]) -> Result<EncoderOutput<B>, ModelError> {
        let l = self.limits;
        self.encode_with(inputs, l.max_input_tokens, l.truncate)
    }

    pub(crate) fn encode_with<S: AsRef<[u32]>>(
        &self,
        inputs: &[S],
        max: usize,
        truncate: bool,
    ) -> Result<EncoderOutput<B>, ModelError> {
        if inputs.is_empty() {
            return Err(ModelError::EmptyBatch);
        }
        let seqs = inputs
            .iter()
            .enumerate()
            .map(|(i, s)| self.checked_input(s.as_ref(), i, max, truncate))
            .collect::<Result<Vec<_>, _>>()?;
        let len = seqs.iter().map(|s| s.len()).max().unwrap_or(0);
        let batch = seqs.len();
        let mut ids = Vec::with_capacity(batch * len);
        for s in &seqs {
            ids.extend_from_slice(s);
            ids.resize(ids.len() + len - s.len(), self.cfg.pad_token_id);
        }
        let lens: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let be = &self.backend;
        let x = be.embed(&self.shared, &ids)?;
        let hidden = self.encoder.forward(be, &self.cfg, x, batch, len, &lens)?;
        let cross = self.decoder.cross_kv(be, &hidden)?;
        Ok(EncoderOutput {
            hidden,
            cross,
            batch,
            len,
            lens,
        })
    }

    /// A decoder KV cache for `batch` sequences of up to `capacity` positions.
    pub fn new_cache(&self, batch: usize, capacity: usize) -> Result<DecoderCache<B>, ModelError> {
        self.decoder
            .new_cache(&self.backend, &self.cfg, batch, capacity)
    }

    /// Runs the decoder on `batch` sequences of `q_len` ids each (`ids.len() == batch·q_len`)
    /// against `enc` and returns the logits `[batch·q_len, vocab]`. With a cache the ids are
    /// the next positions of a running generation; without one they are whole teacher-forced
    /// sequences. `batch` must be a multiple of `enc.batch()`: consecutive groups of
    /// `batch / enc.batch()` sequences share one encoder output.
    pub fn decode_logits(
        &self,
        enc: &EncoderOutput<B>,
        ids: &[u32],
        batch: usize,
        cache: Option<&mut DecoderCache<B>>,
    ) -> Result<B::Tensor, ModelError> {
        if batch == 0 || ids.is_empty() || !ids.len().is_multiple_of(batch) {
            return Err(ModelError::EmptyDecoderInput);
        }
        self.check_ids(ids)?;
        let be = &self.backend;
        let x = be.embed(&self.shared, ids)?;
        let q_len = ids.len() / batch;
        let mut h = self
            .decoder
            .forward(be, &self.cfg, x, batch, q_len, enc, cache)?;
        if self.cfg.tie_word_embeddings {
            // modeling_t5.py 4.46: `sequence_output * (self.model_dim**-0.5)` before a tied head.
            be.scale(&mut h, 1.0 / libm::sqrtf(self.cfg.d_model as f32))?;
        }
        Ok(be.linear(&h, &self.lm_head)?)
    }

    /// Teacher-forced logits of one example: `input_ids` through the encoder, `decoder_ids`
    /// (starting with the decoder start token, as HF's `decoder_input_ids`) through the
    /// decoder. Returns `[decoder_ids.len(), vocab]`, row-major.
    pub fn forward_logits(
        &self,
        input_ids: &[u32],
        decoder_ids: &[u32],
    ) -> Result<Vec<f32>, ModelError> {
        if decoder_ids.is_empty() {
            return Err(ModelError::EmptyDecoderInput);
        }
        let max = self.limits.max_target_tokens;
        if decoder_ids.len() > max {
            return Err(ModelError::TargetTooLong {
                len: decoder_ids.len(),
                max,
            });
        }
        let enc = self.encode(&[input_ids])?;
        let logits = self.decode_logits(&enc, decoder_ids, 1, None)?;
        Ok(self.backend.to_host(&logits)?)
    }
}
