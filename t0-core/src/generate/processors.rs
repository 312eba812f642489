//! Logits processors, applied on the host to one row of scores at a time, in HF
//! transformers 4.46's order (`GenerationMixin._get_logits_processor`):
//! repetition penalty → no-repeat n-gram → bad words → min new tokens → constraints
//! (`prefix_allowed_tokens_fn`) → forced EOS at the last step.
//!
//! Each processor sees the row's decoder ids *including* the decoder start token, as HF's
//! `input_ids` do (so a repetition penalty also applies to token 0, as in HF).

use alloc::vec::Vec;

use super::constraints::Trie;

/// The processors in force for one generation (built from the options once).
pub(crate) struct Processors<'a> {
    pub repetition_penalty: f32,
    pub no_repeat_ngram_size: usize,
    /// Bad-word sequences other than `[eos]` (HF drops that one).
    pub bad_words: Vec<&'a [u32]>,
    pub min_new_tokens: usize,
    pub max_new_tokens: usize,
    pub forced_eos: bool,
    pub trie: Option<&'a Trie>,
    pub eos: u32,
}

impl Processors<'_> {
    /// Whether any processor can change a score (else plain greedy can stay on device).
    pub(crate) fn any(&self) -> bool {
        self.repetition_penalty != 1.0
            || self.no_repeat_ngram_size > 0
            || !self.bad_words.is_empty()
            || self.forced_eos
            || self.trie.is_some()
    }

    /// Applies every processor to `scores` (one row over the vocabulary) for the row whose
    /// decoder ids so far are `ids` (decoder start first). `scratch` is reused storage.
    pub(crate) fn apply(&self, ids: &[u32], scores: &mut [f32], scratch: &mut Vec<u32>) {
        let generated = ids.len().saturating_sub(1);
        if self.repetition_penalty != 1.0 {
            // RepetitionPenaltyLogitsProcessor: gather, scale, scatter (duplicates once).
            scratch.clear();
            scratch.extend_from_slice(ids);
            scratch.sort_unstable();
            scratch.dedup();
            let p = self.repetition_penalty;
            for &t in scratch.iter() {
                if let Some(s) = scores.get_mut(t as usize) {
                    *s = if *s < 0.0 { *s * p } else { *s / p };
                }
            }
        }
        if self.no_repeat_ngram_size > 0 {
            ban_repeated_ngrams(ids, self.no_repeat_ngram_size, scores);
        }
        for w in &self.bad_words {
            // SequenceBiasLogitsProcessor with -inf: a one-token word always; a longer one
            // when the ids end with its prefix (and are at least as long as the word).
            let Some((&last, prefix)) = w.split_last() else {
                continue;
            };
            if w.len() > 1 && (w.len() > ids.len() || !ids.ends_with(prefix)) {
                continue;
            }
            if let Some(s) = scores.get_mut(last as usize) {
                *s = f32::NEG_INFINITY;
            }
        }
        if generated < self.min_new_tokens
            && let Some(s) = scores.get_mut(self.eos as usize)
        {
            *s = f32::NEG_INFINITY;
        }
        if let Some(trie) = self.trie {
            // PrefixConstrainedLogitsProcessor: everything outside the allowed set → -inf.
            scratch.clear();
            trie.allowed(&ids[1.min(ids.len())..], self.eos, scratch);
            let mut keep = scratch.iter().copied().peekable();
            for (t, s) in scores.iter_mut().enumerate() {
                if keep.peek() == Some(&(t as u32)) {
                    keep.next();
                } else {
                    *s = f32::NEG_INFINITY;
                }
            }
        }
        if self.forced_eos && generated + 1 == self.max_new_tokens {
            // ForcedEOSTokenLogitsProcessor at cur_len == max_length - 1.
            scores.iter_mut().for_each(|s| *s = f32::NEG_INFINITY);
            if let Some(s) = scores.get_mut(self.eos as usize) {
                *s = 0.0;
            }
        }
    }
}

/// NoRepeatNGramLogitsProcessor: bans every token that would complete an n-gram already
/// present in `ids` (HF `_calc_banned_ngram_tokens`).
fn ban_repeated_ngrams(ids: &[u32], n: usize, scores: &mut [f32]) {
    let len = ids.len();
    if len + 1 < n {
        return;
    }
    let prefix = &ids[len + 1 - n..];
    for i in 0..(len + 1).saturating_sub(n) {
        if &ids[i..i + n - 1] == prefix
            && let Some(s) = scores.get_mut(ids[i + n - 1] as usize)
        {
            *s = f32::NEG_INFINITY;
        }
    }
}

/// `log_softmax` of one row in place (max-shifted; the sum is accumulated in f64).
pub(crate) fn log_softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return;
    }
    let sum: f64 = row.iter().map(|&x| libm::exp((x - max) as f64)).sum();
    let lse = libm::log(sum) as f32;
    row.iter_mut().for_each(|x| *x = *x - max - lse);
}

/// First index of the largest value (`torch.argmax`), or `None` if no value is above -∞.
pub(crate) fn argmax(row: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &x) in row.iter().enumerate() {
        if x > f32::NEG_INFINITY && best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn procs() -> Processors<'static> {
        Processors {
            repetition_penalty: 1.0,
            no_repeat_ngram_size: 0,
            bad_words: Vec::new(),
            min_new_tokens: 0,
            max_new_tokens: 10,
            forced_eos: false,
            trie: None,
            eos: 1,
        }
    }

    #[test]
    fn repetition_penalty_divides_positive_multiplies_negative() {
        let mut p = procs();
        p.repetition_penalty = 2.0;
        let mut s = [4.0, -1.0, 3.0, -2.0];
        p.apply(&[0, 1, 1, 3], &mut s, &mut Vec::new());
        assert_eq!(s, [2.0, -2.0, 3.0, -4.0]);
    }

    #[test]
    fn ngram_ban_matches_hf_rule() {
        // ids 0 5 6 5: the 2-gram prefix (5) was followed by 6 → ban 6.
        let mut s = [0.0f32; 8];
        ban_repeated_ngrams(&[0, 5, 6, 5], 2, &mut s);
        assert_eq!(s.iter().filter(|x| x.is_infinite()).count(), 1);
        assert!(s[6].is_infinite());
        // Size 3 with only 2 ids: nothing.
        let mut s = [0.0f32; 8];
        ban_repeated_ngrams(&[0, 5], 3, &mut s);
        assert!(s.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn bad_words_forced_eos_and_min_tokens() {
        let mut p = procs();
        let w1 = [3u32];
        let w2 = [5u32, 6];
        p.bad_words = alloc::vec![&w1[..], &w2[..]];
        p.min_new_tokens = 5;
        let mut s = [0.0f32; 8];
        p.apply(&[0, 5], &mut s, &mut Vec::new());
        assert!(s[3].is_infinite() && s[6].is_infinite() && s[1].is_infinite());
        assert!(s[5].is_finite());
        p.forced_eos = true;
        let mut s = [0.0f32; 8];
        p.apply(&[0; 10], &mut s, &mut Vec::new());
        assert_eq!(s[1], 0.0);
        assert_eq!(s.iter().filter(|x| x.is_infinite()).count(), 7);
    }
}
