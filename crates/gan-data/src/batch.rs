//! Seeded, reproducible choice of which examples form each training batch.
//!
//! Batches are a pure function of `(seed, step)`: no hidden state advances between calls, so a
//! resumed run sees exactly the batches an uninterrupted run would have seen.

use serde::{Deserialize, Serialize};

/// How batches are drawn from the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// Fresh uniform indices each step, as the tutorial does (`np.random.randint`).
    WithReplacement,
    /// Each epoch visits every example once, in a fresh seeded order.
    ShuffledEpochs,
}

/// Produces the example indices of batch `step`.
#[derive(Debug, Clone)]
pub struct BatchSampler {
    len: usize,
    batch_size: usize,
    sampling: Sampling,
    seed: u64,
    /// The permutation of the most recently used epoch, kept because consecutive steps share it.
    cached: Option<(u64, Vec<u32>)>,
}

impl BatchSampler {
    /// # Panics
    /// If `len` or `batch_size` is zero, or `len` exceeds `u32::MAX` (callers validate both).
    pub fn new(len: usize, batch_size: usize, sampling: Sampling, seed: u64) -> Self {
        assert!(len > 0, "cannot sample batches from an empty data set");
        assert!(batch_size > 0, "batch size must be positive");
        assert!(u32::try_from(len).is_ok(), "data set too large to index");
        BatchSampler {
            len,
            batch_size,
            sampling,
            seed,
            cached: None,
        }
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Indices (each `< len`) of the examples in batch number `step`.
    pub fn indices(&mut self, step: u64) -> Vec<i64> {
        match self.sampling {
            Sampling::WithReplacement => {
                let mut rng = SplitMix64::new(mix(self.seed, step));
                (0..self.batch_size)
                    .map(|_| rng.below(self.len as u64) as i64)
                    .collect()
            }
            Sampling::ShuffledEpochs => {
                let start = step as u128 * self.batch_size as u128;
                (0..self.batch_size as u128)
                    .map(|i| {
                        let position = start + i;
                        let epoch = (position / self.len as u128) as u64;
                        let offset = (position % self.len as u128) as usize;
                        i64::from(self.permutation(epoch)[offset])
                    })
                    .collect()
            }
        }
    }

    fn permutation(&mut self, epoch: u64) -> &[u32] {
        if self.cached.as_ref().map(|(e, _)| *e) != Some(epoch) {
            let mut order: Vec<u32> = (0..self.len as u32).collect();
            let mut rng = SplitMix64::new(mix(self.seed ^ 0x5eed_e90c, epoch));
            // Fisher-Yates.
            for i in (1..order.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                order.swap(i, j);
            }
            self.cached = Some((epoch, order));
        }
        &self.cached.as_ref().expect("just filled").1
    }
}

/// Combines a seed and a counter into an independent stream seed.
fn mix(seed: u64, counter: u64) -> u64 {
    SplitMix64::new(seed ^ SplitMix64::new(counter).next_u64()).next_u64()
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, passes BigCrush; plenty for sampling.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` without modulo bias (Lemire's multiply-and-reject).
    fn below(&mut self, n: u64) -> u64 {
        let threshold = n.wrapping_neg() % n;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(n);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_batches_different_seed_different_batches() {
        for sampling in [Sampling::WithReplacement, Sampling::ShuffledEpochs] {
            let mut a = BatchSampler::new(1000, 32, sampling, 7);
            let mut b = BatchSampler::new(1000, 32, sampling, 7);
            let mut c = BatchSampler::new(1000, 32, sampling, 8);
            assert_eq!(a.indices(5), b.indices(5));
            assert_ne!(a.indices(5), c.indices(5));
            assert_ne!(a.indices(5), a.indices(6));
            assert!(a.indices(3).iter().all(|&i| (0..1000).contains(&i)));
        }
    }

    #[test]
    fn batches_depend_only_on_step_not_on_call_order() {
        let mut straight = BatchSampler::new(100, 30, Sampling::ShuffledEpochs, 1);
        let expected: Vec<_> = (0..10).map(|s| straight.indices(s)).collect();
        let mut resumed = BatchSampler::new(100, 30, Sampling::ShuffledEpochs, 1);
        for s in (0..10).rev() {
            assert_eq!(resumed.indices(s), expected[s as usize]);
        }
    }

    #[test]
    fn shuffled_epochs_visit_every_example_once_per_epoch() {
        // 10 batches of 30 = 3 epochs of 100, batches straddling epoch boundaries.
        let mut sampler = BatchSampler::new(100, 30, Sampling::ShuffledEpochs, 3);
        let all: Vec<i64> = (0..10).flat_map(|s| sampler.indices(s)).collect();
        for epoch in all.chunks(100) {
            let mut seen = epoch.to_vec();
            seen.sort_unstable();
            assert_eq!(seen, (0..100).collect::<Vec<i64>>());
        }
        assert_ne!(all[..100], all[100..200], "each epoch has its own order");
    }

    #[test]
    fn with_replacement_is_roughly_uniform() {
        let mut sampler = BatchSampler::new(10, 1000, Sampling::WithReplacement, 11);
        let mut counts = [0usize; 10];
        for s in 0..10 {
            for i in sampler.indices(s) {
                counts[i as usize] += 1;
            }
        }
        // 10,000 draws, 1,000 expected per bin, sd ≈ 30: ±150 is five sigmas.
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }
}
