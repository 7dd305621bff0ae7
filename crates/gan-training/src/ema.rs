//! An exponential moving average of a part's weights (Polyak averaging), which samples better
//! than the live weights of an adversarially trained generator.
//!
//! The shadow weights live in a var store of their own (a second copy of the network, so it
//! can run); its trainable tensors are views into one flat buffer laid out like the
//! optimizer's, so an update is one `lerp` over the whole network.

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

use crate::error::TrainError;

/// How the shadow network gets its normalisation statistics (BatchNorm running mean and
/// variance), which are not weights and so have no average of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmaNormalization {
    /// Copied from the live network after each update.
    Copy,
    /// Estimated from the shadow network's own activations on a fixed batch of noise, before
    /// it samples or is saved.
    Estimate,
}

/// EMA settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmaConfig {
    /// Weight of the old average per update (0.999 averages over about 1,000 updates).
    pub decay: f64,
    /// The decay used at update `t` (0-based) is `min(decay, (1 + t) / (10 + t))`, so early
    /// averages are not dominated by the random initial weights.
    pub warmup: bool,
    pub normalization: EmaNormalization,
}

impl EmaConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(0.0..1.0).contains(&self.decay) {
            return Err(TrainError::invalid(
                "ema.decay",
                self.decay,
                "must be in [0, 1)",
            ));
        }
        Ok(())
    }

    /// The decay of update number `t` (0-based).
    pub fn decay_at(&self, t: u64) -> f64 {
        if self.warmup {
            self.decay.min((1.0 + t as f64) / (10.0 + t as f64))
        } else {
            self.decay
        }
    }
}

/// The shadow weights of one part.
#[derive(Debug)]
pub struct Ema {
    config: EmaConfig,
    vs: VarStore,
    /// The shadow's trainable tensors, in the optimizer's order, as one buffer.
    flat: Tensor,
    updates: u64,
    /// With [`EmaNormalization::Estimate`]: the statistics predate the last update.
    stale: Cell<bool>,
}

impl Ema {
    /// Starts the average at the live values. `vs` holds a network like the live one;
    /// `layout` is the optimizer's `(name, offset, length)` of each trainable tensor in its
    /// flat buffer `live_flat`.
    pub(crate) fn new(
        config: EmaConfig,
        vs: VarStore,
        live: &VarStore,
        layout: &[(String, i64, i64)],
        live_flat: &Tensor,
    ) -> Ema {
        let flat = live_flat.detach().copy();
        let mut shadow = vs.variables();
        tch::no_grad(|| {
            for (name, offset, len) in layout {
                let t = shadow
                    .get_mut(name)
                    .expect("the shadow network has the same tensors");
                let shape = t.size();
                t.set_data(&flat.narrow(0, *offset, *len).view(shape.as_slice()));
                let _ = t.set_requires_grad(false);
            }
        });
        let ema = Ema {
            config,
            vs,
            flat,
            updates: 0,
            stale: Cell::new(config.normalization == EmaNormalization::Estimate),
        };
        ema.copy_buffers(live);
        ema
    }

    pub fn config(&self) -> &EmaConfig {
        &self.config
    }

    pub fn vars(&self) -> &VarStore {
        &self.vs
    }

    /// Updates applied so far.
    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The shadow's flat buffer and the weight `1 - d` of the next update
    /// (`shadow ← d·shadow + (1 - d)·live`, `d` from [`EmaConfig::decay_at`]), which the
    /// optimizer folds into its pass.
    pub(crate) fn next_update(&self) -> (&Tensor, f64) {
        (&self.flat, 1.0 - self.config.decay_at(self.updates))
    }

    /// Counts an update applied through [`Ema::next_update`]; normalisation statistics as the
    /// config says.
    pub(crate) fn record_update(&mut self, live: &VarStore) {
        self.updates += 1;
        match self.config.normalization {
            EmaNormalization::Copy => self.copy_buffers(live),
            EmaNormalization::Estimate => self.stale.set(true),
        }
    }

    /// True when the normalisation statistics must be estimated before use.
    pub fn is_stale(&self) -> bool {
        self.stale.get()
    }

    pub(crate) fn mark_fresh(&self) {
        self.stale.set(false);
    }

    pub(crate) fn set_updates(&mut self, updates: u64) {
        self.updates = updates;
        // What was restored was saved fresh; a restore of live weights alone is not.
        self.stale.set(false);
    }

    /// Copies the non-trainable tensors (running statistics) from `live`.
    fn copy_buffers(&self, live: &VarStore) {
        let live = live.variables();
        tch::no_grad(|| {
            for (name, mut t) in self.vs.variables() {
                if let Some(src) = live.get(&name).filter(|s| !s.requires_grad()) {
                    t.copy_(src);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_starts_low_and_reaches_the_decay() {
        let c = EmaConfig {
            decay: 0.999,
            warmup: true,
            normalization: EmaNormalization::Copy,
        };
        assert!((c.decay_at(0) - 0.1).abs() < 1e-12);
        assert!((c.decay_at(90) - 91.0 / 100.0).abs() < 1e-12);
        assert_eq!(c.decay_at(1_000_000), 0.999);
        let plain = EmaConfig { warmup: false, ..c };
        assert_eq!(plain.decay_at(0), 0.999);
        assert!(EmaConfig { decay: 1.0, ..c }.validate().is_err());
    }
}
