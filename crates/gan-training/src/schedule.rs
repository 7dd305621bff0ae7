//! Learning-rate schedules: the rate at each step as a pure function of the step, so a
//! resumed run follows the schedule an uninterrupted one would without saving any state.

use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Holds the configured rate for `hold_steps` steps, then halves it every `half_life_steps`
/// (smoothly: the factor is `0.5^((step - hold_steps) / half_life_steps)`), never below
/// `min_factor` when that is set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrDecay {
    pub hold_steps: u64,
    pub half_life_steps: u64,
    /// The smallest multiplier the decay reaches; it decays on without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_factor: Option<f64>,
}

impl LrDecay {
    /// The multiplier of the configured rate for the update of step `step` (0-based).
    pub fn factor(&self, step: u64) -> f64 {
        let decayed = match step.checked_sub(self.hold_steps) {
            None | Some(0) => 1.0,
            Some(past) => 0.5f64.powf(past as f64 / self.half_life_steps as f64),
        };
        decayed.max(self.min_factor.unwrap_or(0.0))
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        if self.half_life_steps == 0 {
            return Err(TrainError::invalid(
                "lr_decay.half_life_steps",
                0,
                "must be at least 1 step",
            ));
        }
        if let Some(min) = self.min_factor {
            if !(min > 0.0 && min <= 1.0) {
                return Err(TrainError::invalid(
                    "lr_decay.min_factor",
                    min,
                    "must be in (0, 1]: the smallest fraction of the configured rate",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_then_halves_every_half_life() {
        let decay = LrDecay {
            hold_steps: 100,
            half_life_steps: 50,
            min_factor: None,
        };
        assert_eq!(decay.factor(0), 1.0);
        assert_eq!(decay.factor(100), 1.0);
        assert!((decay.factor(150) - 0.5).abs() < 1e-12);
        assert!((decay.factor(200) - 0.25).abs() < 1e-12);
        assert!(decay.factor(125) < 1.0 && decay.factor(125) > 0.5);
        let zero = LrDecay {
            half_life_steps: 0,
            ..decay
        };
        assert!(zero
            .validate()
            .unwrap_err()
            .to_string()
            .contains("half_life_steps"));
    }

    #[test]
    fn never_decays_below_its_floor() {
        let decay = LrDecay {
            hold_steps: 100,
            half_life_steps: 50,
            min_factor: Some(0.5),
        };
        assert_eq!(decay.factor(100), 1.0);
        assert!(decay.factor(125) > 0.5);
        assert_eq!(decay.factor(150), 0.5);
        assert_eq!(decay.factor(10_000), 0.5);
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let err = LrDecay {
                min_factor: Some(bad),
                ..decay
            }
            .validate()
            .unwrap_err()
            .to_string();
            assert!(err.contains("min_factor"), "{err}");
        }
    }
}
