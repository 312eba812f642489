//! Measuring what quantization costs: logits relative error and rank-classification choice
//! agreement against a reference model, over random examples (random ids, several
//! choices each), the way `t0`'s rank classification scores them.

use alloc::vec::Vec;

use crate::backend::Backend;
use crate::model::{ModelError, T5Model};
use crate::score::ScoreOptions;

/// Shape of the random examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExampleSpec {
    /// Examples.
    pub examples: usize,
    /// Input tokens per example.
    pub input_len: usize,
    /// Choices per example.
    pub choices: usize,
    /// Tokens per choice (the last one is EOS = 1).
    pub choice_len: usize,
    /// Seed.
    pub seed: u64,
}

/// One random example: input ids and choices.
pub type Example = (Vec<u32>, Vec<Vec<u32>>);

/// Random examples for a vocabulary of `vocab` ids (ids in `[100, min(vocab, 32000))`, or
/// `[2, vocab)` for toy vocabularies).
pub fn random_examples(spec: &ExampleSpec, vocab: usize) -> Vec<Example> {
    let (lo, hi) = if vocab > 1000 {
        (100u64, vocab.min(32000) as u64)
    } else {
        (2, vocab as u64)
    };
    let mut s = spec.seed ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (lo + (s >> 33) % (hi - lo)) as u32
    };
    (0..spec.examples)
        .map(|_| {
            let input = (0..spec.input_len).map(|_| next()).collect();
            let choices = (0..spec.choices)
                .map(|_| {
                    let mut c: Vec<u32> = (0..spec.choice_len.saturating_sub(1))
                        .map(|_| next())
                        .collect();
                    c.push(1);
                    c
                })
                .collect();
            (input, choices)
        })
        .collect()
}

/// A model's results on a set of examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Choice scores per example.
    pub scores: Vec<Vec<f32>>,
    /// Teacher-forced logits of each example's first choice (after the start token).
    pub logits: Vec<Vec<f32>>,
}

/// Runs `model` over `examples`.
pub fn run<B: Backend>(model: &T5Model<B>, examples: &[Example]) -> Result<Results, ModelError> {
    let opts = ScoreOptions::default();
    let mut scores = Vec::with_capacity(examples.len());
    let mut logits = Vec::with_capacity(examples.len());
    for (input, choices) in examples {
        scores.push(model.score(input, choices, &opts)?);
        let mut dec = alloc::vec![0u32];
        dec.extend_from_slice(&choices[0][..choices[0].len() - 1]);
        logits.push(model.forward_logits(input, &dec)?);
    }
    Ok(Results { scores, logits })
}

/// Accuracy of a candidate against a reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Examples compared.
    pub examples: usize,
    /// Fraction of examples whose argmax choice is unchanged.
    pub choice_agreement: f64,
    /// Mean over examples of `‖Δlogits‖₂ / ‖logits‖₂`.
    pub logits_rel_err: f64,
    /// Largest per-example relative error.
    pub logits_rel_err_max: f64,
}

fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// Compares `cand` with `reference` (same examples, same order).
pub fn compare(reference: &Results, cand: &Results) -> Agreement {
    let n = reference.scores.len().min(cand.scores.len());
    let same = (0..n)
        .filter(|&i| argmax(&reference.scores[i]) == argmax(&cand.scores[i]))
        .count();
    let mut sum = 0f64;
    let mut max = 0f64;
    for i in 0..n {
        let (a, b) = (&reference.logits[i], &cand.logits[i]);
        let num: f64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| {
                let d = (x - y) as f64;
                d * d
            })
            .sum();
        let den: f64 = a.iter().map(|x| (*x as f64) * (*x as f64)).sum();
        let e = libm::sqrt(num / den.max(1e-300));
        sum += e;
        max = max.max(e);
    }
    Agreement {
        examples: n,
        choice_agreement: if n == 0 { 1.0 } else { same as f64 / n as f64 },
        logits_rel_err: if n == 0 { 0.0 } else { sum / n as f64 },
        logits_rel_err_max: max,
    }
}
