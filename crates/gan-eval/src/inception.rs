//! Scores computed from the classifier's class probabilities.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::EvalError;

/// The classifier's Inception Score: `exp(E_x KL(p(y|x) ‖ p(y)))`. 1 for uninformative or
/// single-class predictions, up to the number of classes for confident, balanced ones.
pub fn inception_score(probs: &Tensor) -> Result<f64, EvalError> {
    let p = probs.f_to_kind(Kind::Double)?.f_clamp_min(1e-12)?;
    let marginal = p.f_mean_dim(0, true, Kind::Double)?;
    let kl = p
        .f_mul(&p.f_log()?.f_sub(&marginal.f_log()?)?)?
        .f_sum_dim_intlist(1, false, Kind::Double)?;
    Ok(kl.f_mean(Kind::Double)?.double_value(&[]).exp())
}

/// How the samples spread over the ten digits, by predicted class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeCoverage {
    /// Samples predicted as each class.
    pub histogram: Vec<i64>,
    /// Classes with at least 5% of the samples.
    pub modes: usize,
    /// KL divergence of the predicted-class distribution from uniform (0 = perfectly even).
    pub kl_to_uniform: f64,
}

pub fn mode_coverage(probs: &Tensor) -> Result<ModeCoverage, EvalError> {
    let classes = probs.size()[1];
    let predicted = probs.f_argmax(1, false)?;
    let histogram = Vec::<i64>::try_from(predicted.f_bincount::<Tensor>(None, classes)?)?;
    let n: i64 = histogram.iter().sum();
    let fractions: Vec<f64> = histogram
        .iter()
        .map(|&c| c as f64 / n.max(1) as f64)
        .collect();
    let modes = fractions.iter().filter(|&&f| f >= 0.05).count();
    let uniform = 1.0 / classes as f64;
    let kl_to_uniform = fractions
        .iter()
        .filter(|&&f| f > 0.0)
        .map(|&f| f * (f / uniform).ln())
        .sum();
    Ok(ModeCoverage {
        histogram,
        modes,
        kl_to_uniform,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn uniform_predictions_score_one() {
        let p = Tensor::full([100, 10], 0.1, (Kind::Float, Device::Cpu));
        assert!((inception_score(&p).unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn confident_balanced_predictions_score_the_class_count() {
        let labels = Tensor::arange(1000, (Kind::Int64, Device::Cpu)).remainder(10);
        let p = labels.one_hot(10).to_kind(Kind::Float);
        assert!((inception_score(&p).unwrap() - 10.0).abs() < 1e-6);
        let c = mode_coverage(&p).unwrap();
        assert_eq!(c.histogram, vec![100; 10]);
        assert_eq!(c.modes, 10);
        assert!(c.kl_to_uniform.abs() < 1e-12);
    }

    #[test]
    fn one_class_is_one_mode() {
        let p = Tensor::zeros([50], (Kind::Int64, Device::Cpu))
            .one_hot(10)
            .to_kind(Kind::Float);
        let c = mode_coverage(&p).unwrap();
        assert_eq!(c.modes, 1);
        assert!((c.kl_to_uniform - 10f64.ln()).abs() < 1e-12);
        assert!((inception_score(&p).unwrap() - 1.0).abs() < 1e-6);
    }
}
