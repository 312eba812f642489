//! Rank classification: the log-likelihood of each answer choice given an input, with ONE
//! encoder pass shared by all choices and ONE batched decoder pass over the choices.
//!
//! Every engine we know re-runs the encoder once per choice (t-zero duplicates the input
//! per choice); here the choices' decoder sequences read the same cross-attention K/V
//! through [`crate::backend::AttentionParams::kv_group`], without copies.

use alloc::vec::Vec;

use crate::backend::Backend;
use crate::model::{ModelError, T5Model};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScoreOptions {
    /// Sum or mean of token log-probabilities.
    pub reduction: Reduction,
    /// Truncation override: `Some((max_input, max_choice))` truncates the input to its first
    /// `max_input` tokens and each choice to `max_choice` tokens (keeping a final EOS), as
    /// the T0 evaluation does; `None` applies the model's [`crate::model::InputLimits`].
    pub truncate_to: Option<(usize, usize)>,
}

impl ScoreOptions {
    /// The t-zero evaluation's settings: summed log-probs, input truncated to 1024 tokens,
    /// choices to 256. The caller tokenizes the input **without** EOS and every choice
    /// **with** EOS (as t-zero's `run_eval.py` does).
    pub fn t_zero() -> Self {
        ScoreOptions {
            reduction: Reduction::Sum,
            truncate_to: Some((1024, 256)),
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
        if choices.is_empty() {
            return Err(ModelError::NoChoices);
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
        let eos = self.config().eos_token_id;
        let mut targets: Vec<&[u32]> = Vec::with_capacity(choices.len());
        let mut last_eos: Vec<bool> = Vec::with_capacity(choices.len());
        for (index, c) in choices.iter().enumerate() {
            let c = c.as_ref();
            if c.is_empty() {
                return Err(ModelError::EmptyChoice { index });
            }
            self.check_ids(c)?;
            if c.len() > max_choice {
                if !truncate {
                    return Err(ModelError::TargetTooLong {
                        len: c.len(),
                        max: max_choice,
                    });
                }
                // HF tokenizers truncate before appending EOS: keep it at the end.
                let keep_eos = c.last() == Some(&eos);
                targets.push(&c[..if keep_eos { max_choice - 1 } else { max_choice }]);
                last_eos.push(keep_eos);
            } else {
                targets.push(c);
                last_eos.push(false);
            }
        }
        let enc = self.encode_with(&[input_ids], max_in, truncate)?;

        // One decoder batch: choice i = [start, t0 .. t(n-2)] predicting [t0 .. t(n-1)],
        // padded on the right to the longest choice.
        let n = choices.len();
        let t_len = targets
            .iter()
            .zip(&last_eos)
            .map(|(t, &e)| t.len() + e as usize)
            .max()
            .unwrap_or(1);
        let cfg = self.config();
        let mut dec = Vec::with_capacity(n * t_len);
        let mut gold = Vec::with_capacity(n * t_len);
        for (t, &e) in targets.iter().zip(&last_eos) {
            let mut full: Vec<u32> = t.to_vec();
            if e {
                full.push(eos);
            }
            dec.push(cfg.decoder_start_token_id);
            dec.extend_from_slice(&full[..full.len() - 1]);
            gold.extend_from_slice(&full);
            for _ in full.len()..t_len {
                dec.push(cfg.pad_token_id);
                gold.push(u32::MAX); // padded position: contributes 0
            }
        }
        let logits = self.decode_logits(&enc, &dec, n, None)?;
        let logp = self.backend().log_softmax_gather(&logits, &gold)?;
        let mut scores = Vec::with_capacity(n);
        for (i, row) in logp.chunks(t_len).enumerate() {
            let len = targets[i].len() + last_eos[i] as usize;
            // Sum in f64 so long choices lose nothing to accumulation order.
            let sum: f64 = row[..len].iter().map(|&v| v as f64).sum();
            scores.push(match opts.reduction {
                Reduction::Sum => sum as f32,
                Reduction::Mean => (sum / len as f64) as f32,
            });
        }
        Ok(scores)
    }
}
