//! Sampling: the seeded PRNG, the warpers (temperature, top-k, top-p, as HF 4.46's
//! `TemperatureLogitsWarper`, `TopKLogitsWarper`, `TopPLogitsWarper`) and the draw.
//!
//! # The random numbers
//!
//! [`Rng`] is xoshiro256\*\* (Blackman & Vigna), seeded through SplitMix64. Every output
//! sequence has its own stream, derived from `(seed, input index, return index)` only, so
//! a sequence's samples do not depend on the batch it is in, on which other sequences
//! have finished, or on the number of threads. A draw uses one `u64`: the top 53 bits
//! give a uniform `u ∈ [0, 1)`, and the token is the first whose cumulative probability
//! (in f64, over the processed distribution) exceeds `u · total`.

use alloc::vec::Vec;

/// The seeded generator (xoshiro256\*\*; see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        Rng {
            s: [
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
                splitmix64(&mut x),
            ],
        }
    }

    /// The stream of output sequence `(input, ret)` under `seed`.
    pub fn for_sequence(seed: u64, input: usize, ret: usize) -> Self {
        let mut x = seed;
        let a = splitmix64(&mut x);
        let mut y = a ^ (input as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        let b = splitmix64(&mut y);
        let mut z = b ^ (ret as u64).wrapping_mul(0x8CB9_2BA7_2F3D_8DD7);
        Rng::new(splitmix64(&mut z))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }

    /// A uniform `f64` in `[0, 1)` (53 bits).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The sampling warpers, in HF's order: temperature, top-k, top-p.
#[derive(Debug, Clone, Copy)]
pub struct Warpers {
    /// Divides the scores (`1.0`: off).
    pub temperature: f32,
    /// Keeps the `k` best scores and ties with the `k`-th (`0`: off).
    pub top_k: usize,
    /// Keeps the smallest set of best tokens whose probability reaches `top_p` (`1.0`: off).
    pub top_p: f32,
}

impl Warpers {
    /// Applies the warpers to one row of (processed) logits; removed tokens become -∞.
    /// `order` is scratch space.
    pub fn apply(&self, scores: &mut [f32], order: &mut Vec<u32>) {
        self.apply_keeping(scores, order, 1);
    }

    /// [`Warpers::apply`] keeping at least `min_keep` tokens (HF's `min_tokens_to_keep`:
    /// 2 in beam sampling, so every beam has a non-EOS continuation).
    pub fn apply_keeping(&self, scores: &mut [f32], order: &mut Vec<u32>, min_keep: usize) {
        let min_keep = min_keep.max(1);
        if self.temperature != 1.0 {
            scores.iter_mut().for_each(|s| *s /= self.temperature);
        }
        let v = scores.len();
        if self.top_k != 0 && self.top_k.max(min_keep) < v {
            // threshold = the k-th largest value; remove everything below it.
            order.clear();
            order.extend(0..v as u32);
            let k = self.top_k.max(min_keep);
            order.select_nth_unstable_by(k - 1, |&a, &b| {
                scores[b as usize].total_cmp(&scores[a as usize])
            });
            let thr = scores[order[k - 1] as usize];
            scores
                .iter_mut()
                .filter(|s| **s < thr)
                .for_each(|s| *s = f32::NEG_INFINITY);
        }
        if self.top_p < 1.0 {
            // Sort ascending, cumulative softmax; drop those with cum ≤ 1 − top_p, keeping
            // at least the best token.
            order.clear();
            order.extend(0..v as u32);
            order.sort_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
            let max = scores[*order.last().unwrap_or(&0) as usize];
            let total: f64 = scores.iter().map(|&s| libm::exp((s - max) as f64)).sum();
            let mut cum = 0.0f64;
            let cut = 1.0 - self.top_p as f64;
            for (rank, &t) in order.iter().enumerate() {
                let s = &mut scores[t as usize];
                cum += libm::exp((*s - max) as f64) / total;
                if cum <= cut && rank + min_keep < v {
                    *s = f32::NEG_INFINITY;
                } else {
                    break;
                }
            }
        }
    }
}

/// `softmax(scores)` as f64 probabilities into `probs`; `false` if no score is finite.
pub fn softmax(scores: &[f32], probs: &mut Vec<f64>) -> bool {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    probs.clear();
    if max == f32::NEG_INFINITY || max.is_nan() {
        return false;
    }
    probs.extend(scores.iter().map(|&s| libm::exp((s - max) as f64)));
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    true
}

/// Draws `k` distinct flat indices from the softmax of `scores` without replacement
/// (torch's `multinomial(probs, k, replacement=False)`), then orders them by score, best
/// first (beam sampling). Fewer than `k` tokens with non-zero probability: the rest are
/// the best remaining scores.
pub fn draw_distinct(
    scores: &[f32],
    k: usize,
    rng: &mut Rng,
    probs: &mut Vec<f64>,
    out: &mut Vec<usize>,
) {
    out.clear();
    if !softmax(scores, probs) {
        return;
    }
    for _ in 0..k {
        if probs.iter().all(|&p| p <= 0.0) {
            break;
        }
        let i = draw(probs, rng);
        probs[i] = 0.0;
        out.push(i);
    }
    if out.len() < k {
        let mut rest: Vec<usize> = (0..scores.len()).filter(|i| !out.contains(i)).collect();
        rest.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        out.extend(rest.into_iter().take(k - out.len()));
    }
    out.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
}

/// Draws an index from `probs` (non-negative, summing to about 1) with one `u64` of `rng`.
pub fn draw(probs: &[f64], rng: &mut Rng) -> usize {
    let total: f64 = probs.iter().sum();
    let u = rng.next_f64() * total;
    let mut cum = 0.0;
    let mut last = 0;
    for (i, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            cum += p;
            last = i;
            if u < cum {
                return i;
            }
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible_and_streams_differ() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = Rng::for_sequence(7, 0, 0);
        let mut y = Rng::for_sequence(7, 0, 1);
        let mut z = Rng::for_sequence(7, 1, 0);
        let (p, q, r) = (x.next_u64(), y.next_u64(), z.next_u64());
        assert!(p != q && q != r && p != r);
        let f = Rng::new(1).next_f64();
        assert!((0.0..1.0).contains(&f));
    }

    #[test]
    fn top_k_keeps_ties_and_top_p_keeps_best() {
        let w = Warpers {
            temperature: 1.0,
            top_k: 2,
            top_p: 1.0,
        };
        let mut s = [1.0, 3.0, 2.0, 2.0, 0.0];
        w.apply(&mut s, &mut Vec::new());
        assert_eq!(s.iter().filter(|x| x.is_finite()).count(), 3);
        let w = Warpers {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.01,
        };
        let mut s = [1.0, 3.0, 2.0];
        w.apply(&mut s, &mut Vec::new());
        assert_eq!(s, [f32::NEG_INFINITY, 3.0, f32::NEG_INFINITY]);
        let w = Warpers {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.8,
        };
        // probs ≈ [0.09, 0.67, 0.24]: keep the two best (0.67 < 0.8).
        let mut s = [1.0, 3.0, 2.0];
        w.apply(&mut s, &mut Vec::new());
        assert_eq!(s, [f32::NEG_INFINITY, 3.0, 2.0]);
    }

    /// Chi-square goodness of fit of 40 000 draws against the softmax of 8 logits, fixed
    /// seed (deterministic, not flaky): the statistic must stay below the 0.999 quantile
    /// of χ²(7) = 24.32.
    #[test]
    fn draws_follow_the_softmax() {
        let logits = [0.1f32, 1.3, -0.7, 2.0, 0.0, 0.9, -2.0, 1.1];
        let mut probs = Vec::new();
        assert!(softmax(&logits, &mut probs));
        let n = 40_000;
        let mut counts = [0usize; 8];
        let mut rng = Rng::new(12345);
        for _ in 0..n {
            counts[draw(&probs, &mut rng)] += 1;
        }
        let chi2: f64 = counts
            .iter()
            .zip(&probs)
            .map(|(&c, &p)| {
                let e = p * n as f64;
                (c as f64 - e) * (c as f64 - e) / e
            })
            .sum();
        assert!(chi2 < 24.32, "chi2 {chi2}, counts {counts:?}");
    }

    #[test]
    fn distinct_draws_are_distinct_and_sorted() {
        let scores = [0.0f32, 2.0, f32::NEG_INFINITY, 1.0, -1.0];
        let (mut probs, mut out) = (Vec::new(), Vec::new());
        let mut rng = Rng::new(3);
        draw_distinct(&scores, 4, &mut rng, &mut probs, &mut out);
        let mut sorted = out.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 3, 4]);
        assert!(out.windows(2).all(|w| scores[w[0]] >= scores[w[1]]));
        // More than the non-zero ones: the -inf token comes last.
        draw_distinct(&scores, 5, &mut rng, &mut probs, &mut out);
        assert_eq!(out.last(), Some(&2));
    }

    #[test]
    fn excluded_tokens_are_never_drawn() {
        let w = Warpers {
            temperature: 0.7,
            top_k: 3,
            top_p: 0.9,
        };
        let base = [0.3f32, 2.0, -1.0, 1.9, 1.8, 0.5, 1.7, -0.2];
        let mut s = base;
        w.apply(&mut s, &mut Vec::new());
        let mut probs = Vec::new();
        softmax(&s, &mut probs);
        let mut rng = Rng::new(9);
        for _ in 0..5000 {
            let t = draw(&probs, &mut rng);
            assert!(s[t].is_finite(), "drew excluded token {t}");
        }
    }
}
