//! Generation: greedy decoding, beam search and sampling over padded batches, with HF's
//! logits processors, constrained decoding and streaming.
//!
//! Deterministic modes (greedy, beam search) follow HF transformers 4.46's `generate`
//! token for token (`_sample` with `do_sample=False`, `_beam_search`, `BeamSearchScorer`),
//! including the order of the logits processors; the tests compare with HF outputs
//! written by `scripts/make_generate_fixtures.py`.
//!
//! # Defaults
//!
//! T0 ships no `generation_config.json`; HF then silently stops at `max_length = 20`.
//! Ours ([`GenerateOptions::default`]) are stated, not inherited: at most **64** new
//! tokens (EOS included), greedy (`num_beams = 1`, `do_sample = false`), one sequence per
//! input, no penalties. The beam and sampling defaults equal HF's `GenerationConfig`
//! defaults (`length_penalty = 1.0`, `early_stopping = false`, `temperature = 1.0`,
//! `top_k = 50`, `top_p = 1.0`), so switching `num_beams` or `do_sample` on behaves as in
//! HF.
//!
//! # How the batch runs
//!
//! * The encoder runs once per input. Beams (and the `num_return_sequences` samples of one
//!   input) read the input's cross-attention K/V through
//!   [`crate::backend::AttentionParams::kv_group`]: it is never copied per beam.
//! * Self-attention caches are preallocated for `max_new_tokens` positions; beam search
//!   reorders them in place every step ([`crate::backend::Backend::reorder_seqs`]).
//! * When every sequence of an input has finished (EOS, or a beam search that is done),
//!   the input leaves the batch: its encoder output, cross K/V and cache rows are dropped
//!   ([`crate::backend::Backend::gather_seqs`]) and no more decoder work is spent on it.
//!   Within an input still running, finished samples are fed padding, as HF does.
//! * Scores are processed on the host, one row of the vocabulary at a time; plain greedy
//!   decoding without processors keeps the arg-max on the backend
//!   ([`crate::backend::Backend::argmax`], NaN detected through
//!   [`crate::backend::Backend::log_softmax_gather`] of the picks): only ids and one float
//!   per row cross to the host.
//! * NaN logits are an error ([`GenerateError::NonFiniteLogits`]), never a token.
//!
//! ```
//! use t0_core::backend::CpuBackend;
//! use t0_core::generate::{EarlyStopping, GenerateOptions};
//! # use t0_core::{config::T5Config, model::T5Model, safetensors::SafeTensors};
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/models/v11_gelu_untied");
//! # let cfg = T5Config::from_json(&std::fs::read_to_string(format!("{dir}/config.json")).unwrap()).unwrap();
//! # let bytes = std::fs::read(format!("{dir}/model.safetensors")).unwrap();
//! # let model = T5Model::load(CpuBackend::new(), &SafeTensors::parse(&bytes)?, &cfg)?;
//! let opts = GenerateOptions {
//!     max_new_tokens: 8,
//!     num_beams: 4,
//!     num_return_sequences: 2,
//!     early_stopping: EarlyStopping::Never,
//!     ..Default::default()
//! };
//! let out = model.generate(&[vec![5u32, 17, 42]], &opts)?;
//! assert_eq!(out[0].len(), 2);
//! assert!(out[0][0].score.unwrap() >= out[0][1].score.unwrap());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod beam;
mod constraints;
mod error;
mod processors;
pub mod sample;
pub mod stream;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::str::FromStr;

pub use constraints::Trie;
pub use error::GenerateError;
pub use sample::{Rng, Warpers};

use crate::backend::Backend;
use crate::model::{DecoderCache, EncoderOutput, ModelError, T5Model};
use beam::{BeamHyps, Candidate, top_candidates};
use processors::Processors;

/// When beam search stops (HF's `early_stopping`: `True`, `False`, `"never"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EarlyStopping {
    /// HF `False` (the default): stop an input when its worst kept hypothesis beats what
    /// the best running beam could reach at the current length.
    #[default]
    Heuristic,
    /// HF `True`: stop an input as soon as `num_beams` hypotheses have finished.
    OnceComplete,
    /// HF `"never"`: the canonical rule — stop only when no running beam can beat the kept
    /// hypotheses even at `max_new_tokens` (for `length_penalty > 0`).
    Never,
}

impl FromStr for EarlyStopping {
    type Err = GenerateError;
    /// `true`, `false` or `never` (HF's values).
    fn from_str(s: &str) -> Result<Self, GenerateError> {
        match s {
            "true" | "True" => Ok(EarlyStopping::OnceComplete),
            "false" | "False" => Ok(EarlyStopping::Heuristic),
            "never" => Ok(EarlyStopping::Never),
            _ => Err(GenerateError::InvalidOption {
                option: "early_stopping",
                reason: alloc::format!("`{s}` is not one of true, false, never"),
            }),
        }
    }
}

/// Options of [`T5Model::generate`] (HF `generate` names). Build with
/// `GenerateOptions { .., ..Default::default() }`; see the [module docs](self) for the
/// defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Most tokens generated per sequence, EOS included (default 64; HF's implicit default
    /// for T0, which ships no `generation_config.json`, is `max_length = 20`, i.e. 19 new
    /// tokens). Must not exceed the model's `max_target_tokens`.
    pub max_new_tokens: usize,
    /// EOS is banned until this many tokens are generated (HF's `min_new_tokens`; default 0).
    pub min_new_tokens: usize,
    /// Beams per input (default 1: no beam search). Must be ≥ 1.
    pub num_beams: usize,
    /// Beam hypotheses are ranked by `sum of log-probs / length^length_penalty` (default
    /// 1.0; > 0 favours longer, < 0 shorter sequences).
    pub length_penalty: f64,
    /// When beam search stops (default [`EarlyStopping::Heuristic`], HF's `False`).
    pub early_stopping: EarlyStopping,
    /// Sequences returned per input (default 1): the best hypotheses of beam search
    /// (≤ `num_beams`), or independent samples. Greedy decoding returns exactly one.
    pub num_return_sequences: usize,
    /// Sample instead of taking the best token (default false). With `num_beams > 1`:
    /// HF's beam sampling (each step draws `2·num_beams` candidates without replacement
    /// from the softmax of the warped beam scores; warpers keep at least 2 tokens).
    pub do_sample: bool,
    /// Sampling temperature (default 1.0; must be > 0 when sampling).
    pub temperature: f32,
    /// Sample from the `top_k` best tokens only (default 50, HF's default; 0: off).
    pub top_k: usize,
    /// Nucleus sampling: the smallest set of best tokens whose probability reaches `top_p`
    /// (default 1.0: off; must be in (0, 1]).
    pub top_p: f32,
    /// Seed of the sampling RNG (default 0); see [`sample`] for the streams.
    pub seed: u64,
    /// HF's `repetition_penalty` (default 1.0: off; > 0): scores of tokens already in the
    /// sequence (decoder start included) are divided by it when positive, multiplied
    /// when negative.
    pub repetition_penalty: f32,
    /// No n-gram of this size occurs twice (default 0: off).
    pub no_repeat_ngram_size: usize,
    /// Token sequences never to generate (HF's `bad_words_ids`; `[eos]` is ignored, as
    /// HF does). Default none.
    pub bad_words_ids: Vec<Vec<u32>>,
    /// Force EOS as the last token when `max_new_tokens` is reached (HF's
    /// `forced_eos_token_id` = EOS; default false, as T0's config has none).
    pub forced_eos: bool,
    /// Constrain every output to one of these token sequences (a trie; see [`Trie`]).
    /// Default none. An empty set is an error.
    pub constraints: Option<Vec<Vec<u32>>>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: 64,
            min_new_tokens: 0,
            num_beams: 1,
            length_penalty: 1.0,
            early_stopping: EarlyStopping::Heuristic,
            num_return_sequences: 1,
            do_sample: false,
            temperature: 1.0,
            top_k: 50,
            top_p: 1.0,
            seed: 0,
            repetition_penalty: 1.0,
            no_repeat_ngram_size: 0,
            bad_words_ids: Vec::new(),
            forced_eos: false,
            constraints: None,
        }
    }
}

/// One generated sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated ids, without the decoder start token, ending with EOS when the
    /// sequence finished before `max_new_tokens`.
    pub tokens: Vec<u32>,
    /// Beam search: HF's `sequences_scores` (`sum of processed log-probs /
    /// length^length_penalty`). `None` for greedy decoding and sampling.
    pub score: Option<f32>,
}

/// A callback receiving every token as it is chosen: `(input index, return index, id)`.
/// Streaming works with greedy decoding and sampling (beam search decides its tokens at
/// the end). See [`stream::TextStreamer`] for text.
pub type OnToken<'a> = &'a mut dyn FnMut(usize, usize, u32);

fn invalid(option: &'static str, reason: String) -> GenerateError {
    GenerateError::InvalidOption { option, reason }
}

impl GenerateOptions {
    /// Checks the options against each other and the model's vocabulary and limits.
    pub fn validate(&self, vocab_size: usize, max_target: usize) -> Result<(), GenerateError> {
        if self.max_new_tokens > max_target {
            return Err(ModelError::TargetTooLong {
                len: self.max_new_tokens,
                max: max_target,
            }
            .into());
        }
        if self.min_new_tokens > self.max_new_tokens {
            return Err(invalid(
                "min_new_tokens",
                alloc::format!(
                    "{} exceeds max_new_tokens {}",
                    self.min_new_tokens,
                    self.max_new_tokens
                ),
            ));
        }
        if self.num_beams == 0 {
            return Err(invalid("num_beams", "must be at least 1".into()));
        }
        if self.num_return_sequences == 0 {
            return Err(invalid("num_return_sequences", "must be at least 1".into()));
        }
        if self.num_beams > 1 && self.num_return_sequences > self.num_beams {
            return Err(invalid(
                "num_return_sequences",
                alloc::format!(
                    "{} exceeds num_beams {} (beam search returns its best hypotheses)",
                    self.num_return_sequences,
                    self.num_beams
                ),
            ));
        }
        if self.num_beams == 1 && !self.do_sample && self.num_return_sequences != 1 {
            return Err(invalid(
                "num_return_sequences",
                "greedy decoding returns one sequence; use num_beams or do_sample".into(),
            ));
        }
        if !self.length_penalty.is_finite() {
            return Err(invalid("length_penalty", "must be finite".into()));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(invalid(
                "top_p",
                alloc::format!("{} is outside (0, 1]", self.top_p),
            ));
        }
        if self.do_sample && !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(invalid(
                "temperature",
                alloc::format!(
                    "{} must be a positive number when sampling",
                    self.temperature
                ),
            ));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return Err(invalid(
                "repetition_penalty",
                alloc::format!("{} must be a positive number", self.repetition_penalty),
            ));
        }
        let check_ids = |option: &'static str, seqs: &[Vec<u32>]| {
            for (i, s) in seqs.iter().enumerate() {
                if s.is_empty() {
                    return Err(invalid(option, alloc::format!("sequence {i} is empty")));
                }
                if let Some(&t) = s.iter().find(|&&t| t as usize >= vocab_size) {
                    return Err(invalid(
                        option,
                        alloc::format!("token {t} is not below vocab_size {vocab_size}"),
                    ));
                }
            }
            Ok(())
        };
        check_ids("bad_words_ids", &self.bad_words_ids)?;
        if let Some(c) = &self.constraints {
            if c.is_empty() {
                return Err(GenerateError::EmptyConstraints);
            }
            if let Some(i) = c.iter().position(|s| s.is_empty()) {
                return Err(GenerateError::EmptyConstraint { index: i });
            }
            check_ids("constraints", c)?;
        }
        Ok(())
    }
}

/// Per-step host buffers.
struct Scratch {
    ids: Vec<u32>,
    order: Vec<u32>,
    probs: Vec<f64>,
}

impl<B: Backend> T5Model<B> {
    /// Greedy decoding of every input (any lengths; batched and masked). Returns, per input,
    /// the generated ids without the decoder start token, ending with EOS when the model
    /// produced one within `max_new_tokens`. `num_beams` and `do_sample` are ignored
    /// (treated as 1 and false); the processors in `opts` apply. A finished sequence leaves
    /// the batch; it never influences the others.
    pub fn generate_greedy<S: AsRef<[u32]>>(
        &self,
        inputs: &[S],
        opts: &GenerateOptions,
    ) -> Result<Vec<Vec<u32>>, ModelError> {
        let o = GenerateOptions {
            num_beams: 1,
            do_sample: false,
            num_return_sequences: 1,
            ..opts.clone()
        };
        match self.generate(inputs, &o) {
            Ok(v) => Ok(v
                .into_iter()
                .map(|mut g| g.pop().map(|g| g.tokens).unwrap_or_default())
                .collect()),
            Err(GenerateError::Model(e)) => Err(e),
            Err(GenerateError::InvalidOption { option, reason }) => {
                Err(ModelError::InvalidOption { option, reason })
            }
            Err(e) => Err(ModelError::InvalidOption {
                option: "generate",
                reason: alloc::format!("{e}"),
            }),
        }
    }

    /// Generates for every input (any lengths; padded and masked internally) with greedy
    /// decoding, beam search or sampling as `opts` say. Returns, per input,
    /// `num_return_sequences` generations (best first for beam search).
    pub fn generate<S: AsRef<[u32]>>(
        &self,
        inputs: &[S],
        opts: &GenerateOptions,
    ) -> Result<Vec<Vec<Generation>>, GenerateError> {
        self.generate_with(inputs, opts, None)
    }

    /// [`T5Model::generate`] calling `on_token` with every token as it is chosen (greedy
    /// and sampling only; with beam search a callback is an error).
    pub fn generate_with<S: AsRef<[u32]>>(
        &self,
        inputs: &[S],
        opts: &GenerateOptions,
        on_token: Option<OnToken<'_>>,
    ) -> Result<Vec<Vec<Generation>>, GenerateError> {
        let cfg = self.config();
        opts.validate(cfg.vocab_size, self.limits().max_target_tokens)?;
        if opts.num_beams > 1 && on_token.is_some() {
            return Err(invalid(
                "stream",
                "beam search cannot stream: its tokens are final only at the end".into(),
            ));
        }
        let trie = match &opts.constraints {
            Some(c) => Some(Trie::new(c)?),
            None => None,
        };
        let eos = cfg.eos_token_id;
        let procs = Processors {
            repetition_penalty: opts.repetition_penalty,
            no_repeat_ngram_size: opts.no_repeat_ngram_size,
            bad_words: opts
                .bad_words_ids
                .iter()
                .filter(|w| w.as_slice() != [eos])
                .map(|w| w.as_slice())
                .collect(),
            min_new_tokens: opts.min_new_tokens,
            max_new_tokens: opts.max_new_tokens,
            forced_eos: opts.forced_eos,
            trie: trie.as_ref(),
            eos,
        };
        let enc = self.encode(inputs)?;
        if opts.max_new_tokens == 0 {
            let n = opts.num_return_sequences;
            let empty = Generation {
                tokens: Vec::new(),
                score: (opts.num_beams > 1).then_some(0.0),
            };
            return Ok(vec![vec![empty; n]; enc.batch()]);
        }
        if opts.num_beams > 1 {
            self.beam_search(enc, opts, &procs)
        } else {
            self.sample_or_greedy(enc, opts, &procs, on_token)
        }
    }

    /// Drops finished inputs (`keep`: positions of the groups still running, in order)
    /// from the encoder output and the cache; `w` rows per group.
    fn compact(
        &self,
        enc: &mut EncoderOutput<B>,
        cache: &mut DecoderCache<B>,
        keep: &[usize],
        w: usize,
    ) -> Result<(), GenerateError> {
        let be = self.backend();
        *enc = enc.select(be, keep)?;
        let rows: Vec<usize> = keep
            .iter()
            .flat_map(|&g| (0..w).map(move |j| g * w + j))
            .collect();
        *cache = cache.select(be, &rows)?;
        Ok(())
    }

    fn sample_or_greedy(
        &self,
        mut enc: EncoderOutput<B>,
        opts: &GenerateOptions,
        procs: &Processors<'_>,
        mut on_token: Option<OnToken<'_>>,
    ) -> Result<Vec<Vec<Generation>>, GenerateError> {
        let cfg = self.config();
        let (eos, pad, start) = (
            cfg.eos_token_id,
            cfg.pad_token_id,
            cfg.decoder_start_token_id,
        );
        let vocab = cfg.vocab_size;
        let n_in = enc.batch();
        let w = if opts.do_sample {
            opts.num_return_sequences
        } else {
            1
        };
        let warpers = Warpers {
            temperature: opts.temperature,
            top_k: opts.top_k,
            top_p: opts.top_p,
        };
        // Row state, indexed by input · w + return index (never moves).
        let total = n_in * w;
        let mut seqs: Vec<Vec<u32>> = vec![vec![start]; total];
        let mut done = vec![false; total];
        let mut rngs: Vec<Rng> = (0..total)
            .map(|r| Rng::for_sequence(opts.seed, r / w, r % w))
            .collect();
        // Running groups (inputs), in batch order.
        let mut active: Vec<usize> = (0..n_in).collect();
        let mut cache = self.new_cache(total, opts.max_new_tokens)?;
        let mut cur = vec![start; total];
        let host_path = opts.do_sample || procs.any();
        let mut sc = Scratch {
            ids: Vec::new(),
            order: Vec::new(),
            probs: Vec::new(),
        };
        for step in 0..opts.max_new_tokens {
            let nrows = active.len() * w;
            let logits = self.decode_logits(&enc, &cur, nrows, Some(&mut cache))?;
            let picks: Vec<u32> = if host_path {
                let mut host = self.backend().to_host(&logits)?;
                let mut picks = vec![pad; nrows];
                for (pos, &g) in active.iter().enumerate() {
                    for j in 0..w {
                        let (r, row) = (g * w + j, pos * w + j);
                        if done[r] {
                            continue;
                        }
                        let s = host
                            .get_mut(row * vocab..(row + 1) * vocab)
                            .ok_or_else(|| invalid("logits", "short logits".into()))?;
                        if s.iter().any(|x| x.is_nan()) {
                            return Err(GenerateError::NonFiniteLogits { step, input: g });
                        }
                        procs.apply(&seqs[r], s, &mut sc.ids);
                        let t = if opts.do_sample {
                            warpers.apply(s, &mut sc.order);
                            if !sample::softmax(s, &mut sc.probs) {
                                return Err(GenerateError::NoAllowedToken { step, input: g });
                            }
                            sample::draw(&sc.probs, &mut rngs[r])
                        } else {
                            processors::argmax(s)
                                .ok_or(GenerateError::NoAllowedToken { step, input: g })?
                        };
                        picks[row] = t as u32;
                    }
                }
                picks
            } else {
                let suppress = (step < opts.min_new_tokens).then_some(eos);
                let picks = self.backend().argmax(&logits, suppress)?;
                // NaN check without bringing the logits over: the log-softmax of a row
                // holding NaN (or +inf) is NaN.
                let lp = self.backend().log_softmax_gather(&logits, &picks)?;
                if let Some(row) = lp.iter().position(|x| x.is_nan()) {
                    let input = active.get(row / w).copied().unwrap_or(0);
                    return Err(GenerateError::NonFiniteLogits { step, input });
                }
                picks
            };
            let mut keep = Vec::with_capacity(active.len());
            for (pos, &g) in active.iter().enumerate() {
                let mut running = false;
                for j in 0..w {
                    let (r, row) = (g * w + j, pos * w + j);
                    if done[r] {
                        cur[row] = pad;
                        continue;
                    }
                    let t = picks.get(row).copied().unwrap_or(pad);
                    seqs[r].push(t);
                    cur[row] = t;
                    if let Some(cb) = on_token.as_deref_mut() {
                        cb(g, j, t);
                    }
                    done[r] = t == eos;
                    running |= !done[r];
                }
                if running {
                    keep.push(pos);
                }
            }
            if keep.is_empty() {
                break;
            }
            if keep.len() < active.len() && step + 1 < opts.max_new_tokens {
                self.compact(&mut enc, &mut cache, &keep, w)?;
                cur = keep
                    .iter()
                    .flat_map(|&p| cur[p * w..(p + 1) * w].to_vec())
                    .collect();
                active = keep.iter().map(|&p| active[p]).collect();
            }
        }
        Ok(seqs
            .chunks(w)
            .map(|c| {
                c.iter()
                    .map(|s| Generation {
                        tokens: s[1..].to_vec(),
                        score: None,
                    })
                    .collect()
            })
            .collect())
    }

    fn beam_search(
        &self,
        mut enc: EncoderOutput<B>,
        opts: &GenerateOptions,
        procs: &Processors<'_>,
    ) -> Result<Vec<Vec<Generation>>, GenerateError> {
        let cfg = self.config();
        let (eos, start) = (cfg.eos_token_id, cfg.decoder_start_token_id);
        let vocab = cfg.vocab_size;
        let n_in = enc.batch();
        let n = opts.num_beams;
        let total = n_in
            .checked_mul(n)
            .ok_or_else(|| invalid("num_beams", "batch × beams overflows".into()))?;
        // Beam state per input g: rows g·n .. g·n + n of `seqs` / `scores` (by input,
        // never compacted; only the decoder batch is).
        let mut seqs: Vec<Vec<u32>> = vec![vec![start]; total];
        let mut beam_scores: Vec<f32> = (0..total)
            .map(|r| if r % n == 0 { 0.0 } else { -1e9 })
            .collect();
        let mut hyps: Vec<BeamHyps> = (0..n_in)
            .map(|_| {
                BeamHyps::new(
                    n,
                    opts.length_penalty,
                    opts.early_stopping,
                    opts.max_new_tokens + 1,
                )
            })
            .collect();
        let mut done = vec![false; n_in];
        let mut active: Vec<usize> = (0..n_in).collect();
        let mut cache = self.new_cache(total, opts.max_new_tokens)?;
        let mut cur = vec![start; total];
        let mut ids = Vec::new();
        let mut cand_scores = vec![0f32; n * vocab];
        let mut cands: Vec<Candidate> = Vec::with_capacity(2 * n);
        let warpers = Warpers {
            temperature: opts.temperature,
            top_k: opts.top_k,
            top_p: opts.top_p,
        };
        let mut rngs: Vec<Rng> = (0..n_in)
            .map(|g| Rng::for_sequence(opts.seed, g, 0))
            .collect();
        let (mut order, mut probs, mut drawn) = (Vec::new(), Vec::new(), Vec::new());
        for step in 0..opts.max_new_tokens {
            let cur_len = step + 2; // HF: input_ids.shape[-1] + 1
            let nrows = active.len() * n;
            let logits = self.decode_logits(&enc, &cur, nrows, Some(&mut cache))?;
            let host = self.backend().to_host(&logits)?;
            // Per running input: the source beam of each new beam (cache reorder) and the
            // new beams' (score, token).
            let mut reorder = Vec::with_capacity(nrows);
            let mut keep = Vec::with_capacity(active.len());
            let mut new_seqs: Vec<Vec<u32>> = Vec::with_capacity(n);
            for (pos, &g) in active.iter().enumerate() {
                for j in 0..n {
                    let row = pos * n + j;
                    let s = &mut cand_scores[j * vocab..(j + 1) * vocab];
                    s.copy_from_slice(
                        host.get(row * vocab..(row + 1) * vocab)
                            .ok_or_else(|| invalid("logits", "short logits".into()))?,
                    );
                    if s.iter().any(|x| x.is_nan()) {
                        return Err(GenerateError::NonFiniteLogits { step, input: g });
                    }
                    processors::log_softmax(s);
                    procs.apply(&seqs[g * n + j], s, &mut ids);
                    if opts.do_sample {
                        warpers.apply_keeping(s, &mut order, 2);
                    }
                    let b = beam_scores[g * n + j];
                    s.iter_mut().for_each(|x| *x += b);
                }
                if opts.do_sample {
                    sample::draw_distinct(
                        &cand_scores,
                        2 * n,
                        &mut rngs[g],
                        &mut probs,
                        &mut drawn,
                    );
                    cands.clear();
                    cands.extend(
                        drawn
                            .iter()
                            .map(|&f| (cand_scores[f], f / vocab, (f % vocab) as u32)),
                    );
                } else {
                    top_candidates(&cand_scores, vocab, 2 * n, &mut cands);
                }
                // BeamSearchScorer.process for this input.
                let mut next: Vec<(f32, u32, usize)> = Vec::with_capacity(n);
                for (rank, &(score, j, t)) in cands.iter().enumerate() {
                    if t == eos {
                        if rank >= n {
                            continue;
                        }
                        let src = &seqs[g * n + j];
                        hyps[g].add(src[1..].to_vec(), score, cur_len - 1, true);
                    } else {
                        next.push((score, t, j));
                    }
                    if next.len() == n {
                        break;
                    }
                }
                if next.len() < n {
                    return Err(GenerateError::NoAllowedToken { step, input: g });
                }
                let best = cands.first().map_or(f32::NEG_INFINITY, |c| c.0);
                done[g] = done[g] || hyps[g].is_done(best, cur_len);
                new_seqs.clear();
                for (j, &(score, t, src)) in next.iter().enumerate() {
                    let mut s = seqs[g * n + src].clone();
                    s.push(t);
                    new_seqs.push(s);
                    beam_scores[g * n + j] = score;
                    cur[pos * n + j] = t;
                    reorder.push(pos * n + src);
                }
                for (j, s) in new_seqs.drain(..).enumerate() {
                    seqs[g * n + j] = s;
                }
                if !done[g] {
                    keep.push(pos);
                }
            }
            cache.reorder(self.backend(), &reorder)?;
            if keep.is_empty() {
                break;
            }
            if keep.len() < active.len() && step + 1 < opts.max_new_tokens {
                self.compact(&mut enc, &mut cache, &keep, n)?;
                cur = keep
                    .iter()
                    .flat_map(|&p| cur[p * n..(p + 1) * n].to_vec())
                    .collect();
                active = keep.iter().map(|&p| active[p]).collect();
            }
        }
        // finalize: inputs not done add their running beams.
        let mut out = Vec::with_capacity(n_in);
        for (g, mut h) in hyps.into_iter().enumerate() {
            if !done[g] {
                for j in 0..n {
                    let s = &seqs[g * n + j];
                    h.add(s[1..].to_vec(), beam_scores[g * n + j], s.len() - 1, false);
                }
            }
            out.push(
                h.best(opts.num_return_sequences)
                    .into_iter()
                    .map(|hyp| {
                        let mut tokens = hyp.tokens;
                        if hyp.eos {
                            tokens.push(eos);
                        }
                        Generation {
                            tokens,
                            score: Some(hyp.score as f32),
                        }
                    })
                    .collect(),
            );
        }
        Ok(out)
    }
}
