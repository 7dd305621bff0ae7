//! Seeded, reproducible choice of which examples form each training batch, on the device.
//!
//! Batch `step` is a pure function of `(seed, step)`: no hidden state advances between calls,
//! so a resumed run sees exactly the batches an uninterrupted run would have seen, and the
//! indices are drawn where the data lives (no host↔device traffic per step).

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, TchError, Tensor};

use crate::device_rng::DeviceRng;

/// How batches are drawn from the data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// Fresh uniform indices each step, as the tutorial does (`np.random.randint`).
    WithReplacement,
    /// Each epoch visits every example once, in a fresh seeded order.
    ShuffledEpochs,
}

/// Streams `0..2⁶²` index steps; epochs' permutations use streams above that.
const EPOCH_STREAMS: u64 = 1 << 62;

/// Produces the example indices of batch `step`.
#[derive(Debug)]
pub struct BatchSampler {
    len: i64,
    batch_size: i64,
    sampling: Sampling,
    rng: DeviceRng,
    /// Permutations of the epochs touched most recently, kept because consecutive steps
    /// share them.
    cached: Vec<(u64, Tensor)>,
}

impl BatchSampler {
    /// # Panics
    /// If `len` or `batch_size` is zero, or `len` reaches 2³¹ (callers validate both).
    pub fn new(len: usize, batch_size: usize, sampling: Sampling, seed: u64) -> Self {
        assert!(len > 0, "cannot sample batches from an empty data set");
        assert!(batch_size > 0, "batch size must be positive");
        assert!(len < 1 << 31, "data set too large to index");
        BatchSampler {
            len: len as i64,
            batch_size: batch_size as i64,
            sampling,
            rng: DeviceRng::new(seed),
            cached: Vec::new(),
        }
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size as usize
    }

    /// Indices (`i64`, each `< len`) of the examples in batch number `step`, on `device`.
    pub fn indices(&mut self, step: u64, device: Device) -> Result<Tensor, TchError> {
        match self.sampling {
            Sampling::WithReplacement => self.rng.below(step, self.batch_size, self.len, device),
            Sampling::ShuffledEpochs => {
                let start = step as i128 * self.batch_size as i128;
                let end = start + self.batch_size as i128;
                let len = self.len as i128;
                let mut pieces = Vec::new();
                for epoch in (start / len)..=((end - 1) / len) {
                    let lo = start.max(epoch * len) - epoch * len;
                    let hi = end.min((epoch + 1) * len) - epoch * len;
                    let perm = self.permutation(epoch as u64, device)?;
                    pieces.push(perm.f_narrow(0, lo as i64, (hi - lo) as i64)?);
                }
                Tensor::f_cat(&pieces, 0)
            }
        }
    }

    /// Rows of `data` (any tensor indexed by example along dimension 0) forming batch `step`.
    pub fn batch(&mut self, step: u64, data: &Tensor) -> Result<Tensor, TchError> {
        let indices = self.indices(step, data.device())?;
        data.f_index_select(0, &indices)
    }

    fn permutation(&mut self, epoch: u64, device: Device) -> Result<Tensor, TchError> {
        if let Some((_, perm)) = self
            .cached
            .iter()
            .find(|(e, t)| *e == epoch && t.device() == device)
        {
            return Ok(perm.shallow_clone());
        }
        // Sorting random keys gives a uniform permutation; a stable sort makes ties (two equal
        // 32-bit keys) resolve the same way everywhere.
        let keys = self.rng.bits(EPOCH_STREAMS + epoch, self.len, device)?;
        let (_, perm) = keys.f_sort_stable(true, 0, false)?;
        let perm = perm.f_to_kind(Kind::Int64)?;
        if self.cached.len() >= 2 {
            drop(self.cached.remove(0));
        }
        self.cached.push((epoch, perm.shallow_clone()));
        Ok(perm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(t: Tensor) -> Vec<i64> {
        Vec::<i64>::try_from(&t).unwrap()
    }

    #[test]
    fn same_seed_same_batches_different_seed_different_batches() {
        for sampling in [Sampling::WithReplacement, Sampling::ShuffledEpochs] {
            let mut a = BatchSampler::new(1000, 32, sampling, 7);
            let mut b = BatchSampler::new(1000, 32, sampling, 7);
            let mut c = BatchSampler::new(1000, 32, sampling, 8);
            let a5 = host(a.indices(5, Device::Cpu).unwrap());
            assert_eq!(a5, host(b.indices(5, Device::Cpu).unwrap()));
            assert_ne!(a5, host(c.indices(5, Device::Cpu).unwrap()));
            assert_ne!(a5, host(a.indices(6, Device::Cpu).unwrap()));
            assert!(a5.iter().all(|&i| (0..1000).contains(&i)));
        }
    }

    #[test]
    fn batches_depend_only_on_step_not_on_call_order() {
        let mut straight = BatchSampler::new(100, 30, Sampling::ShuffledEpochs, 1);
        let expected: Vec<_> = (0..10)
            .map(|s| host(straight.indices(s, Device::Cpu).unwrap()))
            .collect();
        let mut resumed = BatchSampler::new(100, 30, Sampling::ShuffledEpochs, 1);
        for s in (0..10).rev() {
            assert_eq!(
                host(resumed.indices(s, Device::Cpu).unwrap()),
                expected[s as usize]
            );
        }
    }

    #[test]
    fn shuffled_epochs_visit_every_example_once_per_epoch() {
        // 10 batches of 30 = 3 epochs of 100, batches straddling epoch boundaries.
        let mut sampler = BatchSampler::new(100, 30, Sampling::ShuffledEpochs, 3);
        let all: Vec<i64> = (0..10)
            .flat_map(|s| host(sampler.indices(s, Device::Cpu).unwrap()))
            .collect();
        for epoch in all.chunks(100) {
            let mut seen = epoch.to_vec();
            seen.sort_unstable();
            assert_eq!(seen, (0..100).collect::<Vec<i64>>());
        }
        assert_ne!(all[..100], all[100..200], "each epoch has its own order");
    }

    #[test]
    fn batch_larger_than_the_data_set() {
        let mut sampler = BatchSampler::new(3, 7, Sampling::ShuffledEpochs, 3);
        let first = host(sampler.indices(0, Device::Cpu).unwrap());
        assert_eq!(first.len(), 7);
        let mut epoch = first[..3].to_vec();
        epoch.sort_unstable();
        assert_eq!(epoch, vec![0, 1, 2]);
    }

    #[test]
    fn with_replacement_is_roughly_uniform() {
        let mut sampler = BatchSampler::new(10, 1000, Sampling::WithReplacement, 11);
        let mut counts = [0usize; 10];
        for s in 0..10 {
            for i in host(sampler.indices(s, Device::Cpu).unwrap()) {
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
