//! Rank classification: the log-likelihood of each answer choice given an input, with ONE
//! encoder pass shared by all choices and ONE batched decoder pass over the choices.
//!
//! Every engine we know re-runs the encoder once per choice (t-zero duplicates the input
//! per choice); here the choices' decoder sequences read the same cross-attention K/V
//! through [`crate::backend::AttentionParams::kv_group`], without copies.

use alloc::vec::Vec;

use crate::backend::Backend;
use crate::model::{ModelError, T5Model};

/// Most bytes of f32 logits one scoring decoder pass may hold (256 MiB: 2048 positions of a
/// 32128-token vocabulary). [`T5Model::score_batch`] splits larger work into several passes;
/// results do not depend on the split.
pub const SCORE_LOGITS_BUDGET: usize = 256 << 20;

/// How per-token log-probabilities are combined into a choice's score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Sum over the choice's tokens (T0's evaluation).
    #[default]
    Sum,
    /// Mean over the choice's tokens (length-normalised).
    Mean,
}

/// Options of [`T5Model::score`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreOptions {
    /// Sum or mean of token log-probabilities.
    pub reduction: Reduction,
    /// Truncation override: `Some((max_input, max_choice))` truncates the input to its first
    /// `max_input` tokens and each choice to `max_choice` tokens (keeping a final EOS), as
    /// the T0 evaluation does; `None` applies the model's [`crate::model::InputLimits`].
    pub truncate_to: Option<(usize, usize)>,
    /// Most bytes of f32 logits one decoder pass may hold (default
    /// [`SCORE_LOGITS_BUDGET`]); more work is split into several passes, which changes
    /// nothing in the results.
    pub max_logits_bytes: usize,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            reduction: Reduction::Sum,
            truncate_to: None,
            max_logits_bytes: SCORE_LOGITS_BUDGET,
        }
    }
}

impl ScoreOptions {
    /// The t-zero evaluation's settings: summed log-probs, input truncated to 1024 tokens,
    /// choices to 256. The caller tokenizes the input **without** EOS and every choice
    /// **with** EOS (as t-zero's `run_eval.py` does).
    pub fn t_zero() -> Self {
        ScoreOptions {
            truncate_to: Some((1024, 256)),
            ..Self::default()
        }
    }
}

impl<B: Backend> T5Model<B> {
    /// The score of each answer choice (token ids, teacher-forced after the decoder start
    /// token) given `input_ids`: sum (or mean) of `log_softmax` of the choice's tokens.
    pub fn score<C: AsRef<[u32]>>(
        &self,
        input_ids: &[u32],
        choices: &[C],
        opts: &ScoreOptions,
    ) -> Result<Vec<f32>, ModelError> {
        let mut out = self.score_batch(&[input_ids], &[choices], opts)?;
        Ok(out.pop().unwrap_or_default())
    }

    /// [`T5Model::score`] for several examples at once: one encoder pass over all inputs
    /// (padded batch) and one decoder pass over all choices of all examples; example `e`'s
    /// choices read only example `e`'s encoder output. Returns the scores per example.
    pub fn score_batch<I: AsRef<[u32]>, C: AsRef<[u32]>>(
        &self,
        inputs: &[I],
        choices: &[&[C]],
        opts: &ScoreOptions,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        if inputs.len() != choices.len() {
            return Err(ModelError::InvalidOption {
                option: "choices",
                reason: alloc::format!(
                    "{} inputs but {} lists of choices",
                    inputs.len(),
                    choices.len()
                ),
            });
        }
        let limits = self.limits();
        let (max_in, max_choice, truncate) = match opts.truncate_to {
            Some((i, c)) => (i, c, true),
            None => (
                limits.max_input_tokens,
                limits.max_target_tokens,
                limits.truncate,
            ),
        };
        if max_choice == 0 || max_in == 0 {
            return Err(ModelError::InvalidOption {
                option: "truncate_to",
                reason: "limits must be positive".into(),
            });
        }
        // Every example's targets, validated (and truncated when allowed) before any compute.
        let mut targets: Vec<Vec<Vec<u32>>> = Vec::with_capacity(choices.len());
        for cs in choices {
            targets.push(self.checked_choices(cs, max_choice, truncate)?);
        }
        // Examples are grouped so that no decoder pass holds more than
        // `opts.max_logits_bytes` of logits; one example whose choices alone exceed it is
        // scored in chunks of choices against its single encoder pass.
        let vocab_bytes = self.config().vocab_size.saturating_mul(4).max(1);
        let max_rows = (opts.max_logits_bytes / vocab_bytes).max(1);
        let rows_of = |ex: &[Vec<Vec<u32>>]| {
            let group = ex.iter().map(Vec::len).max().unwrap_or(1);
            let t_len = ex.iter().flatten().map(Vec::len).max().unwrap_or(1);
            ex.len() * group * t_len
        };
        let mut out = Vec::with_capacity(targets.len());
        let mut start = 0;
        while start < targets.len() {
            let mut end = start + 1;
            while end < targets.len() && rows_of(&targets[start..=end]) <= max_rows {
                end += 1;
            }
            let enc = self.encode_with(&inputs[start..end], max_in, truncate)?;
            if end - start == 1 {
                let ex = &targets[start];
                let t_len = ex.iter().map(Vec::len).max().unwrap_or(1);
                let per = (max_rows / t_len).max(1);
                let mut scores = Vec::with_capacity(ex.len());
                for chunk in ex.chunks(per) {
                    let mut s = self.decode_scores(&enc, &[chunk.to_vec()], opts.reduction)?;
                    scores.append(&mut s[0]);
                }
                out.push(scores);
            } else {
                out.append(&mut self.decode_scores(&enc, &targets[start..end], opts.reduction)?);
            }
            start = end;
        }
        Ok(out)
    }

    /// One decoder pass over `targets[e][i]` (example `e`, choice `i`) against `enc`
    /// (one encoder sequence per example).
    fn decode_scores(
        &self,
        enc: &crate::model::EncoderOutput<B>,
        targets: &[Vec<Vec<u32>>],
        reduction: Reduction,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        // A batch of `examples × group` sequences: sequence (e, i) is example e's choice
        // i = [start, t0 .. t(n-2)] predicting [t0 .. t(n-1)], right-padded to the longest
        // choice; examples with fewer choices get empty filler sequences.
        let group = targets.iter().map(Vec::len).max().unwrap_or(1);
        let t_len = targets.iter().flatten().map(Vec::len).max().unwrap_or(1);
        let cfg = self.config();
        let rows = targets.len() * group * t_len;
        let mut dec = Vec::with_capacity(rows);
        let mut gold = Vec::with_capacity(rows);
        for ex in targets {
            for i in 0..group {
                let full: &[u32] = ex.get(i).map_or(&[], Vec::as_slice);
                dec.push(cfg.decoder_start_token_id);
                dec.extend_from_slice(full.get(..full.len().saturating_sub(1)).unwrap_or(&[]));
                gold.extend_from_slice(full);
                let filled = full.len().max(1);
                dec.resize(dec.len() + t_len - filled, cfg.pad_token_id);
                // Padded positions contribute 0 (their target is outside the vocabulary).
                gold.resize(gold.len() + t_len - full.len(), u32::MAX);
            }
        }
        let logits = self.decode_logits(enc, &dec, targets.len() * group, None)?;
        let logp = self.backend().log_softmax_gather(&logits, &gold)?;
        let mut out = Vec::with_capacity(targets.len());
        for (e, ex) in targets.iter().enumerate() {
            let mut scores = Vec::with_capacity(ex.len());
            for (i, full) in ex.iter().enumerate() {
                let start = (e * group + i) * t_len;
                let row = &logp[start..start + full.len()];
                // Summed in f64 so long choices lose nothing to accumulation order.
                let sum: f64 = row.iter().map(|&v| v as f64).sum();
                scores.push(match reduction {
                    Reduction::Sum => sum as f32,
                    Reduction::Mean => (sum / full.len() as f64) as f32,
                });
            }
            out.push(scores);
        }
        Ok(out)
    }

    /// Validates one example's choices; truncates over-long ones when allowed, keeping a
    /// final EOS (HF tokenizers truncate before appending EOS).
    fn checked_choices<C: AsRef<[u32]>>(
        &self,
        choices: &[C],
        max_choice: usize,
        truncate: bool,
    ) -> Result<Vec<Vec<u32>>, ModelError> {
        if choices.is_empty() {
            return Err(ModelError::NoChoices);
        }
        let eos = self.config().eos_token_id;
        let mut out = Vec::with_capacity(choices.len());
        for (index, c) in choices.iter().enumerate() {
            let c = c.as_ref();
            if c.is_empty() {
                return Err(ModelError::EmptyChoice { index });
            }
            self.check_ids(c)?;
            if c.len() <= max_choice {
                out.push(c.to_vec());
            } else if !truncate {
                return Err(ModelError::TargetTooLong {
                    len: c.len(),
                    max: max_choice,
                });
            } else if c.last() == Some(&eos) {
                let mut t = c[..max_choice - 1].to_vec();
                t.push(eos);
                out.push(t);
            } else {
                out.push(c[..max_choice].to_vec());
            }
        }
        Ok(out)
    }
}
