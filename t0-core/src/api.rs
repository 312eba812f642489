//! The high-level API: a model directory in, text out.
//!
//! [`Model::load`] finds `config.json`, the weights (`model.safetensors` or a sharded
//! index) and the tokenizer (`spiece.model` or `tokenizer.json`) in one directory;
//! [`Model::generate`] and [`Model::score`] take and return text. [`Model::encode`] runs
//! the encoder once so that several [`Model::score_encoded`] / [`Model::generate_encoded`]
//! calls reuse its output.
//!
//! ```
//! use t0_core::{GenerateOptions, LoadOptions, Model, ScoreOptions};
//! # let fx = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
//! # let dir = format!("{fx}/models/t5style_4k");
//! # let spm = format!("{fx}/tokenizer/t5style-4k.model");
//! // A T0 directory holds its `spiece.model`; this tiny fixture names it explicitly.
//! let opts = LoadOptions { tokenizer: Some(spm.into()), ..LoadOptions::default() };
//! let model = Model::load(&dir, &opts)?;
//!
//! let ranking = model.score("Is the sky blue? Yes or no?", &["Yes", "No"], &ScoreOptions::t_zero())?;
//! assert_eq!(ranking.scores.len(), 2);
//! assert!(ranking.best < 2);
//! assert!((ranking.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
//!
//! let out = model.generate("Translate to French: cat", &GenerateOptions { max_new_tokens: 5, ..Default::default() })?;
//! assert!(out.ids.len() <= 5);
//!
//! // One encoder pass, several questions about the same input.
//! let enc = model.encode("Is the sky blue? Yes or no?", false)?;
//! let again = model.score_encoded(&enc, &["Yes", "No"], &ScoreOptions::t_zero())?;
//! assert_eq!(again.scores, ranking.scores);
//! # Ok::<(), t0_core::api::ApiError>(())
//! ```
//!
//! Thread safety: a [`Model`] is `Send + Sync`; every method takes `&self`, so one loaded
//! model can serve several threads at once.

use std::fmt;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::backend::{Backend, FastCpuBackend};
use crate::generate::GenerateOptions;
use crate::loader::{Checkpoint, LoadError};
use crate::model::{EncoderOutput, InputLimits, ModelError, T5Model};
use crate::score::ScoreOptions;
use crate::tokenizer::{Tokenizer, TokenizerError};

/// Which backend runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BackendKind {
    /// The CPU backend on t0-kernels' SIMD kernels ([`FastCpuBackend`]: AVX-512, AVX2+FMA,
    /// NEON or scalar, chosen at run time; threads from rayon's global pool).
    #[default]
    Cpu,
}

/// Options of [`Model::load`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// The backend (default [`BackendKind::Cpu`]).
    pub backend: BackendKind,
    /// Worker threads; `None` (default) lets the backend decide. The CPU backend runs on
    /// rayon's global pool (size it with `RAYON_NUM_THREADS`), so only `None` is accepted.
    pub threads: Option<usize>,
    /// Longest encoder input in tokens (default 1024, T0's training length).
    pub max_input_tokens: usize,
    /// Longest decoder sequence: an answer choice or `max_new_tokens` (default 512).
    pub max_target_tokens: usize,
    /// Truncate over-long inputs (keep the first tokens) instead of returning an error
    /// (default `false`). Scoring with [`ScoreOptions::t_zero`] always truncates, as T0's
    /// evaluation does.
    pub truncate: bool,
    /// A tokenizer file (`spiece.model` or `tokenizer.json`) to use instead of the one in
    /// the model directory.
    pub tokenizer: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        let l = InputLimits::default();
        LoadOptions {
            backend: BackendKind::Cpu,
            threads: None,
            max_input_tokens: l.max_input_tokens,
            max_target_tokens: l.max_target_tokens,
            truncate: l.truncate,
            tokenizer: None,
        }
    }
}

/// Why a high-level call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// The model directory could not be opened (the error names the file).
    Load(LoadError),
    /// The tokenizer could not be loaded.
    Tokenizer(TokenizerError),
    /// The model rejected the input or failed to run.
    Model(ModelError),
    /// The tokenizer has more ids than the model's vocabulary: they do not belong together.
    TokenizerMismatch {
        /// Ids of the tokenizer.
        tokenizer_ids: usize,
        /// `vocab_size` of the model.
        vocab_size: usize,
    },
    /// An option is out of range.
    InvalidOption {
        /// The option.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// [`Model::score`] was given no answer choices.
    NoChoices,
    /// Generation options are invalid or generation failed.
    Generate(crate::generate::GenerateError),
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Load(e) => write!(f, "{e}"),
            ApiError::Tokenizer(e) => write!(f, "tokenizer: {e}"),
            ApiError::Model(e) => write!(f, "model: {e}"),
            ApiError::TokenizerMismatch {
                tokenizer_ids,
                vocab_size,
            } => write!(
                f,
                "the tokenizer has {tokenizer_ids} ids but the model's vocab_size is {vocab_size}: \
                 they do not belong together"
            ),
            ApiError::InvalidOption { option, reason } => write!(f, "option {option}: {reason}"),
            ApiError::NoChoices => write!(f, "no answer choices to score"),
            ApiError::Generate(e) => write!(f, "generate: {e}"),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Load(e) => Some(e),
            ApiError::Tokenizer(e) => Some(e),
            ApiError::Model(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LoadError> for ApiError {
    fn from(e: LoadError) -> Self {
        ApiError::Load(e)
    }
}
impl From<crate::generate::GenerateError> for ApiError {
    fn from(e: crate::generate::GenerateError) -> Self {
        ApiError::Generate(e)
    }
}
impl From<TokenizerError> for ApiError {
    fn from(e: TokenizerError) -> Self {
        ApiError::Tokenizer(e)
    }
}
impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        ApiError::Model(e)
    }
}
impl From<crate::backend::BackendError> for ApiError {
    fn from(e: crate::backend::BackendError) -> Self {
        ApiError::Model(ModelError::from(e))
    }
}

/// The answer choices of one input, ranked.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// Each choice's summed (or mean) log-likelihood, in the order given.
    pub scores: Vec<f32>,
    /// `softmax(scores)`: the choices' probabilities relative to each other.
    pub probabilities: Vec<f32>,
    /// Index of the best choice (the first one on ties, as `argmax` in T0's evaluation).
    pub best: usize,
}

impl Ranking {
    fn new(scores: Vec<f32>) -> Ranking {
        let mut best = 0;
        for (i, s) in scores.iter().enumerate() {
            if *s > scores[best] {
                best = i;
            }
        }
        let max = scores.get(best).copied().unwrap_or(0.0) as f64;
        let exp: Vec<f64> = scores.iter().map(|s| (*s as f64 - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        let probabilities = exp.iter().map(|e| (e / total) as f32).collect();
        Ranking {
            scores,
            probabilities,
            best,
        }
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The model produced EOS.
    Eos,
    /// `max_new_tokens` tokens were generated.
    MaxTokens,
    /// The streaming callback asked to stop.
    Cancelled,
}

/// The output of one generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The decoded text, special tokens dropped.
    pub text: String,
    /// The generated ids (EOS included when produced).
    pub ids: Vec<u32>,
    /// Why it stopped.
    pub stop: StopReason,
}

/// True when `opts` asks for plain greedy decoding (only `max_new_tokens` and
/// `min_new_tokens` set).
fn is_plain_greedy(opts: &GenerateOptions) -> bool {
    let d = GenerateOptions::default();
    opts.num_beams == 1
        && !opts.do_sample
        && opts.num_return_sequences == 1
        && opts.repetition_penalty == d.repetition_penalty
        && opts.no_repeat_ngram_size == 0
        && opts.bad_words_ids.is_empty()
        && !opts.forced_eos
        && opts.constraints.is_none()
}

/// One input run through the encoder ([`Model::encode`]), reusable across calls.
pub struct Encoded {
    ids: Vec<u32>,
    out: EncoderOutput<FastCpuBackend>,
}

impl Encoded {
    /// The encoder's input ids (after truncation).
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }
}

/// A loaded model with its tokenizer.
pub struct Model {
    model: T5Model<FastCpuBackend>,
    tokenizer: Tokenizer,
    dir: PathBuf,
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("dir", &self.dir)
            .field("config", self.model.config())
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Opens a model directory: `config.json`, `model.safetensors` (or
    /// `model.safetensors.index.json` and its shards) and `spiece.model` /
    /// `tokenizer.json` (or [`LoadOptions::tokenizer`]). Weights may be F32, BF16 or F16;
    /// compute is f32.
    pub fn load(dir: impl AsRef<Path>, opts: &LoadOptions) -> Result<Model, ApiError> {
        let dir = dir.as_ref();
        if let Some(t) = opts.threads {
            return Err(ApiError::InvalidOption {
                option: "threads",
                reason: format!(
                    "the CPU backend uses rayon's global pool: set RAYON_NUM_THREADS={t} instead"
                ),
            });
        }
        if opts.max_input_tokens == 0 || opts.max_target_tokens == 0 {
            return Err(ApiError::InvalidOption {
                option: "max_input_tokens/max_target_tokens",
                reason: "must be positive".into(),
            });
        }
        let ckpt = Checkpoint::open(dir)?;
        let tokenizer = match &opts.tokenizer {
            Some(p) => Tokenizer::from_file(p)?,
            None => Tokenizer::from_dir(dir)?,
        };
        let backend = match opts.backend {
            BackendKind::Cpu => FastCpuBackend::new(),
        };
        let mut model = T5Model::from_checkpoint(backend, &ckpt)?;
        let vocab_size = model.config().vocab_size;
        if tokenizer.vocab_size() > vocab_size {
            return Err(ApiError::TokenizerMismatch {
                tokenizer_ids: tokenizer.vocab_size(),
                vocab_size,
            });
        }
        model.set_limits(InputLimits {
            max_input_tokens: opts.max_input_tokens,
            max_target_tokens: opts.max_target_tokens,
            truncate: opts.truncate,
        });
        Ok(Model {
            model,
            tokenizer,
            dir: dir.to_path_buf(),
        })
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The underlying [`T5Model`], for token-level work.
    pub fn t5(&self) -> &T5Model<FastCpuBackend> {
        &self.model
    }

    /// The directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs the encoder on `text` (tokenized with EOS appended when `add_eos`: generation
    /// inputs carry EOS as HF's tokenizer adds it; T0's rank classification tokenizes the
    /// input without it). Over-long input follows [`LoadOptions::truncate`].
    pub fn encode(&self, text: &str, add_eos: bool) -> Result<Encoded, ApiError> {
        let ids = self.tokenizer.encode(text, add_eos);
        self.encode_ids(ids, None)
    }

    fn encode_ids(
        &self,
        mut ids: Vec<u32>,
        truncate_to: Option<usize>,
    ) -> Result<Encoded, ApiError> {
        let l = self.model.limits();
        let (max, truncate) = match truncate_to {
            Some(m) => (m, true),
            None => (l.max_input_tokens, l.truncate),
        };
        let out = self.model.encode_with(&[&ids], max, truncate)?;
        ids.truncate(max);
        Ok(Encoded { ids, out })
    }

    /// Generation from `text` (tokenized with EOS, as HF does): greedy, beam search or
    /// sampling as `opts` say ([`T5Model::generate`]); the first returned sequence.
    pub fn generate(&self, text: &str, opts: &GenerateOptions) -> Result<Generation, ApiError> {
        self.generate_stream(text, opts, |_| ControlFlow::Continue(()))
    }

    /// [`Model::generate`] calling `on_text` with each new piece of text as soon as it is
    /// complete (UTF-8 safe; the pieces concatenate to [`Generation::text`]). With plain
    /// greedy options, returning `ControlFlow::Break(())` stops generation
    /// ([`StopReason::Cancelled`]); the model stays usable. Sampling streams too but runs
    /// to its end (later pieces are not delivered after a break); beam search delivers
    /// its text once, at the end.
    pub fn generate_stream(
        &self,
        text: &str,
        opts: &GenerateOptions,
        mut on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation, ApiError> {
        if is_plain_greedy(opts) {
            let enc = self.encode(text, true)?;
            return self.generate_encoded_stream(&enc, opts, on_text);
        }
        let ids = self.tokenizer.encode(text, true);
        let eos = self.model.config().eos_token_id;
        let mut stream = self.tokenizer.decode_stream();
        let mut out = String::new();
        let mut cancelled = false;
        let mut deliver = |piece: &str, out: &mut String, cancelled: &mut bool| {
            if piece.is_empty() {
                return;
            }
            out.push_str(piece);
            if !*cancelled && on_text(piece).is_break() {
                *cancelled = true;
            }
        };
        let gens = if opts.num_beams > 1 {
            self.model.generate(&[ids], opts)?
        } else {
            let mut on_token = |_input: usize, ret: usize, id: u32| {
                if ret == 0 && id != eos {
                    let piece = stream.push(id);
                    deliver(&piece, &mut out, &mut cancelled);
                }
            };
            self.model
                .generate_with(&[ids], opts, Some(&mut on_token))?
        };
        let first = gens
            .into_iter()
            .next()
            .and_then(|g| g.into_iter().next())
            .map(|g| g.tokens)
            .unwrap_or_default();
        let text = self.tokenizer.decode(&first);
        if opts.num_beams > 1 {
            deliver(&text, &mut out, &mut cancelled);
        } else {
            let tail = stream.finish();
            deliver(&tail, &mut out, &mut cancelled);
        }
        let stop = if first.last() == Some(&eos) {
            StopReason::Eos
        } else {
            StopReason::MaxTokens
        };
        Ok(Generation {
            text,
            ids: first,
            stop,
        })
    }

    /// Greedy generation from an encoder output.
    pub fn generate_encoded(
        &self,
        enc: &Encoded,
        opts: &GenerateOptions,
    ) -> Result<Generation, ApiError> {
        self.generate_encoded_stream(enc, opts, |_| ControlFlow::Continue(()))
    }

    /// Greedy generation from an encoder output, streaming text to `on_text`. Same tokens as
    /// [`T5Model::generate_greedy`] on the same input. Options beyond `max_new_tokens` /
    /// `min_new_tokens` (beam search, sampling, processors) are an error here: use
    /// [`Model::generate`] for them.
    pub fn generate_encoded_stream(
        &self,
        enc: &Encoded,
        opts: &GenerateOptions,
        mut on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Generation, ApiError> {
        if !is_plain_greedy(opts) {
            return Err(ApiError::InvalidOption {
                option: "generate_encoded",
                reason: "beam search, sampling and logits processors run through \
                         Model::generate; an Encoded input supports plain greedy decoding"
                    .into(),
            });
        }
        let max_t = self.model.limits().max_target_tokens;
        if opts.max_new_tokens > max_t {
            return Err(ModelError::TargetTooLong {
                len: opts.max_new_tokens,
                max: max_t,
            }
            .into());
        }
        if opts.min_new_tokens > opts.max_new_tokens {
            return Err(ApiError::InvalidOption {
                option: "min_new_tokens",
                reason: format!(
                    "{} exceeds max_new_tokens {}",
                    opts.min_new_tokens, opts.max_new_tokens
                ),
            });
        }
        let cfg = self.model.config();
        let eos = cfg.eos_token_id;
        let mut ids = Vec::new();
        let mut text = String::new();
        let mut stream = self.tokenizer.decode_stream();
        let mut stop = StopReason::MaxTokens;
        if opts.max_new_tokens > 0 {
            let mut cache = self.model.new_cache(1, opts.max_new_tokens)?;
            let mut cur = cfg.decoder_start_token_id;
            for step in 0..opts.max_new_tokens {
                let logits = self
                    .model
                    .decode_logits(&enc.out, &[cur], 1, Some(&mut cache))?;
                let suppress = (step < opts.min_new_tokens).then_some(eos);
                let next = self.model.backend().argmax(&logits, suppress)?;
                let t = next.first().copied().unwrap_or(eos);
                ids.push(t);
                cur = t;
                if t == eos {
                    stop = StopReason::Eos;
                    break;
                }
                let piece = stream.push(t);
                if !piece.is_empty() {
                    text.push_str(&piece);
                    if on_text(&piece).is_break() {
                        stop = StopReason::Cancelled;
                        break;
                    }
                }
            }
        }
        let tail = stream.finish();
        if !tail.is_empty() {
            text.push_str(&tail);
            if stop != StopReason::Cancelled {
                let _ = on_text(&tail);
            }
        }
        Ok(Generation { text, ids, stop })
    }

    /// Rank classification: the log-likelihood of each answer choice given `text`, as T0's
    /// evaluation computes it — the input tokenized **without** EOS, each choice **with**
    /// EOS; [`ScoreOptions::t_zero`] sums token log-probabilities and truncates the input
    /// to 1024 and the choices to 256 tokens.
    pub fn score<S: AsRef<str>>(
        &self,
        text: &str,
        choices: &[S],
        opts: &ScoreOptions,
    ) -> Result<Ranking, ApiError> {
        let ids = self.tokenizer.encode(text, false);
        let enc = self.encode_ids(ids, opts.truncate_to.map(|(i, _)| i))?;
        self.score_encoded(&enc, choices, opts)
    }

    /// [`Model::score`] against an encoder output (usually of an input encoded without
    /// EOS): the encoder does not run again.
    pub fn score_encoded<S: AsRef<str>>(
        &self,
        enc: &Encoded,
        choices: &[S],
        opts: &ScoreOptions,
    ) -> Result<Ranking, ApiError> {
        if choices.is_empty() {
            return Err(ApiError::NoChoices);
        }
        let l = self.model.limits();
        let (max_choice, truncate) = match opts.truncate_to {
            Some((_, c)) => (c, true),
            None => (l.max_target_tokens, l.truncate),
        };
        if max_choice == 0 {
            return Err(ApiError::InvalidOption {
                option: "truncate_to",
                reason: "limits must be positive".into(),
            });
        }
        let tokens: Vec<Vec<u32>> = choices
            .iter()
            .map(|c| self.tokenizer.encode(c.as_ref(), true))
            .collect();
        let targets = self.model.checked_choices(&tokens, max_choice, truncate)?;
        // Bounded logits per decoder pass, as `T5Model::score_batch` does.
        let vocab_bytes = self.model.config().vocab_size.saturating_mul(4).max(1);
        let max_rows = (opts.max_logits_bytes / vocab_bytes).max(1);
        let t_len = targets.iter().map(Vec::len).max().unwrap_or(1);
        let per = (max_rows / t_len).max(1);
        let mut scores = Vec::with_capacity(targets.len());
        for chunk in targets.chunks(per) {
            let mut s = self
                .model
                .decode_scores(&enc.out, &[chunk.to_vec()], opts.reduction)?;
            scores.append(&mut s[0]);
        }
        Ok(Ranking::new(scores))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Model {
        let fx = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let opts = LoadOptions {
            tokenizer: Some(format!("{fx}/tokenizer/t5style-4k.model").into()),
            ..LoadOptions::default()
        };
        Model::load(format!("{fx}/models/t5style_4k"), &opts).unwrap()
    }

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Model>();
    }

    #[test]
    fn score_equals_token_level_score() {
        let m = fixture();
        let text = "Premise: it rains. Hypothesis: the street is wet. True or false?";
        let choices = ["True", "False", "Neither of them"];
        let r = m.score(text, &choices, &ScoreOptions::t_zero()).unwrap();
        let ids = m.tokenizer().encode(text, false);
        let cs: Vec<Vec<u32>> = choices
            .iter()
            .map(|c| m.tokenizer().encode(c, true))
            .collect();
        let want = m.t5().score(&ids, &cs, &ScoreOptions::t_zero()).unwrap();
        assert_eq!(r.scores, want);
        let best = (0..3).fold(0, |b, i| if want[i] > want[b] { i } else { b });
        assert_eq!(r.best, best);
    }

    #[test]
    fn streaming_generation_equals_batched_greedy() {
        let m = fixture();
        // Stays valid when GenerateOptions gains fields (beam search, sampling).
        #[allow(clippy::needless_update)]
        let opts = GenerateOptions {
            max_new_tokens: 12,
            min_new_tokens: 3,
            ..GenerateOptions::default()
        };
        for text in ["hello world", "Is this a question? Yes or no?", ""] {
            let mut streamed = String::new();
            let g = m
                .generate_stream(text, &opts, |p| {
                    streamed.push_str(p);
                    ControlFlow::Continue(())
                })
                .unwrap();
            let ids = m.tokenizer().encode(text, true);
            let want = m.t5().generate_greedy(&[ids], &opts).unwrap();
            assert_eq!(g.ids, want[0], "{text:?}");
            assert_eq!(g.text, m.tokenizer().decode(&want[0]));
            assert_eq!(streamed, g.text);
        }
    }

    #[test]
    fn beam_search_and_sampling_equal_the_token_level_api() {
        let m = fixture();
        for opts in [
            GenerateOptions {
                max_new_tokens: 10,
                num_beams: 3,
                ..GenerateOptions::default()
            },
            GenerateOptions {
                max_new_tokens: 10,
                do_sample: true,
                seed: 7,
                ..GenerateOptions::default()
            },
        ] {
            let text = "Summarize: the cat sat on the mat.";
            let mut streamed = String::new();
            let g = m
                .generate_stream(text, &opts, |p| {
                    streamed.push_str(p);
                    ControlFlow::Continue(())
                })
                .unwrap();
            let ids = m.tokenizer().encode(text, true);
            let want = m.t5().generate(&[ids], &opts).unwrap();
            assert_eq!(g.ids, want[0][0].tokens);
            assert_eq!(g.text, m.tokenizer().decode(&g.ids));
            assert_eq!(streamed, g.text);
            let enc = m.encode(text, true).unwrap();
            assert!(matches!(
                m.generate_encoded(&enc, &opts),
                Err(ApiError::InvalidOption { .. })
            ));
        }
    }

    #[test]
    fn cancel_stops_and_model_stays_usable() {
        let m = fixture();
        // Stays valid when GenerateOptions gains fields (beam search, sampling).
        #[allow(clippy::needless_update)]
        let opts = GenerateOptions {
            max_new_tokens: 20,
            min_new_tokens: 20,
            ..GenerateOptions::default()
        };
        let g = m
            .generate_stream("abc", &opts, |_| ControlFlow::Break(()))
            .unwrap();
        assert_eq!(g.stop, StopReason::Cancelled);
        assert!(g.ids.len() < 20);
        let full = m.generate("abc", &opts).unwrap();
        assert_eq!(full.ids.len(), 20);
        assert_eq!(full.ids[..g.ids.len()], g.ids[..]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let m = fixture();
        assert!(matches!(
            m.score("x", &[] as &[&str], &ScoreOptions::t_zero()),
            Err(ApiError::NoChoices)
        ));
        // Stays valid when GenerateOptions gains fields (beam search, sampling).
        #[allow(clippy::needless_update)]
        let too_many = GenerateOptions {
            max_new_tokens: 100_000,
            min_new_tokens: 0,
            ..GenerateOptions::default()
        };
        assert!(m.generate("x", &too_many).is_err());
        let e = Model::load("/nonexistent/dir", &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/dir"), "{e}");
        let threads = LoadOptions {
            threads: Some(4),
            ..LoadOptions::default()
        };
        assert!(matches!(
            Model::load("/nonexistent", &threads),
            Err(ApiError::InvalidOption { .. })
        ));
    }
}
