//! Beam search bookkeeping, a line-by-line port of HF transformers 4.46's
//! `BeamHypotheses` and `BeamSearchScorer.process`/`finalize` (generation/beam_search.py)
//! for one input (`num_beam_groups = 1`, one EOS id, `decoder_prompt_len = 1`).
//!
//! Running beam scores are f32 (HF's tensors); hypothesis scores are f64 (HF's Python
//! floats: `sum_logprobs / generated_len ** length_penalty`).

use alloc::vec::Vec;

use super::EarlyStopping;

/// One finished hypothesis.
#[derive(Debug, Clone)]
pub(crate) struct Hyp {
    pub score: f64,
    /// Generated tokens, without the decoder start token and without the EOS.
    pub tokens: Vec<u32>,
    /// Whether it ended with EOS (HF appends EOS in `finalize`).
    pub eos: bool,
}

/// `BeamHypotheses` of one input.
#[derive(Debug)]
pub(crate) struct BeamHyps {
    pub beams: Vec<Hyp>,
    worst: f64,
    num_beams: usize,
    length_penalty: f64,
    early_stopping: EarlyStopping,
    /// HF `max_length` = `max_new_tokens + decoder_prompt_len`.
    max_length: usize,
}

impl BeamHyps {
    pub(crate) fn new(
        num_beams: usize,
        length_penalty: f64,
        early_stopping: EarlyStopping,
        max_length: usize,
    ) -> Self {
        BeamHyps {
            beams: Vec::with_capacity(num_beams + 1),
            worst: 1e9,
            num_beams,
            length_penalty,
            early_stopping,
            max_length,
        }
    }

    /// `BeamHypotheses.add` with `generated_len`.
    pub(crate) fn add(
        &mut self,
        tokens: Vec<u32>,
        sum_logprobs: f32,
        generated_len: usize,
        eos: bool,
    ) {
        let score = sum_logprobs as f64 / libm::pow(generated_len as f64, self.length_penalty);
        if self.beams.len() < self.num_beams || score > self.worst {
            self.beams.push(Hyp { score, tokens, eos });
            if self.beams.len() > self.num_beams {
                // sorted([(s, idx) ...]): by score, then index.
                let mut sorted: Vec<(f64, usize)> = self
                    .beams
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (h.score, i))
                    .collect();
                sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                self.beams.remove(sorted[0].1);
                self.worst = sorted[1].0;
            } else {
                self.worst = self.worst.min(score);
            }
        }
    }

    /// `BeamHypotheses.is_done(best_sum_logprobs, cur_len, decoder_prompt_len = 1)`.
    pub(crate) fn is_done(&self, best_sum_logprobs: f32, cur_len: usize) -> bool {
        if self.beams.len() < self.num_beams {
            return false;
        }
        let best = best_sum_logprobs as f64;
        let lp = self.length_penalty;
        let highest = match self.early_stopping {
            EarlyStopping::OnceComplete => return true,
            EarlyStopping::Heuristic => best / libm::pow((cur_len - 1) as f64, lp),
            EarlyStopping::Never => {
                if lp > 0.0 {
                    best / libm::pow((self.max_length - 1) as f64, lp)
                } else {
                    best / libm::pow((cur_len - 1) as f64, lp)
                }
            }
        };
        self.worst >= highest
    }

    /// `finalize`'s selection: the `n` best hypotheses, best first (a stable sort by score,
    /// then popping from the end, as HF does).
    pub(crate) fn best(mut self, n: usize) -> Vec<Hyp> {
        self.beams.sort_by(|a, b| a.score.total_cmp(&b.score));
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            match self.beams.pop() {
                Some(h) => out.push(h),
                None => break,
            }
        }
        out
    }
}

/// One candidate of a step: `(score, beam, token)`.
pub(crate) type Candidate = (f32, usize, u32);

/// The `k` best `(score, beam, token)` over the beams' rows of `scores` (`num_beams`
/// rows of `vocab`), best first; ties go to the lower flat index (`beam·vocab + token`).
pub(crate) fn top_candidates(scores: &[f32], vocab: usize, k: usize, out: &mut Vec<Candidate>) {
    out.clear();
    // Keep a small sorted list (k is 2·num_beams).
    for (flat, &s) in scores.iter().enumerate() {
        if out.len() == k
            && let Some(&(last, _, _)) = out.last()
            && (s <= last || s.is_nan())
        {
            continue;
        }
        let pos = out.partition_point(|&(x, _, _)| x >= s);
        if pos < k {
            if out.len() == k {
                out.pop();
            }
            out.insert(pos, (s, flat / vocab, (flat % vocab) as u32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_best_n_and_tracks_worst() {
        let mut h = BeamHyps::new(2, 1.0, EarlyStopping::Heuristic, 11);
        h.add(alloc::vec![5], -4.0, 2, true); // -2
        h.add(alloc::vec![6], -3.0, 3, true); // -1
        h.add(alloc::vec![7], -9.0, 3, true); // -3: not added
        assert_eq!(h.beams.len(), 2);
        h.add(alloc::vec![8], -1.0, 2, true); // -0.5: evicts -2
        let best = h.best(2);
        assert_eq!(best[0].tokens, [8]);
        assert_eq!(best[1].tokens, [6]);
    }

    #[test]
    fn done_rules() {
        let mut h = BeamHyps::new(1, 1.0, EarlyStopping::Heuristic, 11);
        assert!(!h.is_done(-1.0, 3));
        h.add(alloc::vec![1], -2.0, 2, true); // -1
        assert!(h.is_done(-2.5, 3)); // -1 >= -1.25
        assert!(!h.is_done(-1.0, 3)); // -1 < -0.5
        let mut n = BeamHyps::new(1, 1.0, EarlyStopping::Never, 11);
        n.add(alloc::vec![1], -2.0, 2, true);
        assert!(!n.is_done(-5.0, 3)); // -1 < -0.5 (max_length - 1 = 10)
        let mut t = BeamHyps::new(1, 1.0, EarlyStopping::OnceComplete, 11);
        t.add(alloc::vec![1], -50.0, 2, true);
        assert!(t.is_done(0.0, 3));
    }

    #[test]
    fn top_candidates_sorted_with_index_ties() {
        let mut out = Vec::new();
        top_candidates(&[1.0, 3.0, 3.0, 0.5, 2.0, -1.0], 3, 3, &mut out);
        assert_eq!(out, [(3.0, 0, 1), (3.0, 0, 2), (2.0, 1, 1)]);
    }
}
