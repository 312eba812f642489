//! Greedy generation over a padded batch, with a preallocated KV cache and per-sequence
//! stop at EOS (the behaviour of HF's `generate(do_sample=False, num_beams=1)`).

use alloc::vec;
use alloc::vec::Vec;

use crate::backend::Backend;
use crate::model::{ModelError, T5Model};

/// Options of [`T5Model::generate_greedy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Most tokens generated per sequence, EOS included (default 64; HF's implicit default
    /// for T0, which ships no `generation_config.json`, is `max_length = 20`, i.e. 19 new
    /// tokens). Must not exceed the model's `max_target_tokens`.
    pub max_new_tokens: usize,
    /// EOS is banned until this many tokens are generated (HF's `min_new_tokens`; default 0).
    pub min_new_tokens: usize,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            max_new_tokens: 64,
            min_new_tokens: 0,
        }
    }
}

impl<B: Backend> T5Model<B> {
    /// Greedy decoding of every input (any lengths; batched and masked). Returns, per input,
    /// the generated ids without the decoder start token, ending with EOS when the model
    /// produced one within `max_new_tokens`. A sequence that has finished is fed padding
    /// while the others continue, as HF does; it never influences them.
    pub fn generate_greedy<S: AsRef<[u32]>>(
        &self,
        inputs: &[S],
        opts: &GenerateOptions,
    ) -> Result<Vec<Vec<u32>>, ModelError> {
        let max_t = self.limits().max_target_tokens;
        if opts.max_new_tokens > max_t {
            return Err(ModelError::TargetTooLong {
                len: opts.max_new_tokens,
                max: max_t,
            });
        }
        if opts.min_new_tokens > opts.max_new_tokens {
            return Err(ModelError::InvalidOption {
                option: "min_new_tokens",
                reason: alloc::format!(
                    "{} exceeds max_new_tokens {}",
                    opts.min_new_tokens,
                    opts.max_new_tokens
                ),
            });
        }
        let enc = self.encode(inputs)?;
        let batch = enc.batch();
        let mut out = vec![Vec::new(); batch];
        if opts.max_new_tokens == 0 {
            return Ok(out);
        }
        let cfg = self.config();
        let (eos, pad) = (cfg.eos_token_id, cfg.pad_token_id);
        let mut cache = self.new_cache(batch, opts.max_new_tokens)?;
        let mut cur = vec![cfg.decoder_start_token_id; batch];
        let mut done = vec![false; batch];
        for step in 0..opts.max_new_tokens {
            let logits = self.decode_logits(&enc, &cur, batch, Some(&mut cache))?;
            let suppress = (step < opts.min_new_tokens).then_some(eos);
            let next = self.backend().argmax(&logits, suppress)?;
            for b in 0..batch {
                if done[b] {
                    cur[b] = pad;
                    continue;
                }
                let t = next.get(b).copied().unwrap_or(pad);
                out[b].push(t);
                cur[b] = t;
                done[b] = t == eos;
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        Ok(out)
    }
}
