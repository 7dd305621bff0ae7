//! The GAN's losses and metrics, on discriminator logits.

use tch::{Kind, Reduction, Tensor};

/// Binary cross-entropy of `sigmoid(logits)` against `targets`, averaged, computed stably from
/// the logits (equal to a sigmoid followed by BCE, without its overflow at large |logit|).
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> Tensor {
    logits.binary_cross_entropy_with_logits::<Tensor>(targets, None, None, Reduction::Mean)
}

/// Fraction of logits on the side of 0 that `targets` (0 or 1) says: the threshold-0.5
/// accuracy of the probabilities.
pub fn accuracy(logits: &Tensor, targets: &Tensor) -> Tensor {
    logits
        .gt(0.0)
        .to_kind(Kind::Float)
        .eq_tensor(targets)
        .to_kind(Kind::Float)
        .mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_sigmoid_then_bce_and_stays_finite() {
        let logits = Tensor::from_slice(&[-3.0f32, -0.5, 0.0, 0.7, 4.0]).view([5, 1]);
        let targets = Tensor::from_slice(&[0.0f32, 1.0, 1.0, 0.0, 1.0]).view([5, 1]);
        let direct =
            logits
                .sigmoid()
                .binary_cross_entropy::<Tensor>(&targets, None, Reduction::Mean);
        let stable = bce_with_logits(&logits, &targets);
        assert!((direct.double_value(&[]) - stable.double_value(&[])).abs() < 1e-6);
        let extreme = Tensor::from_slice(&[-200.0f32]).view([1, 1]);
        let ones = Tensor::ones([1, 1], (Kind::Float, tch::Device::Cpu));
        let loss = bce_with_logits(&extreme, &ones).double_value(&[]);
        assert!((loss - 200.0).abs() < 1e-3, "{loss}");
    }

    #[test]
    fn accuracy_thresholds_at_one_half() {
        let logits = Tensor::from_slice(&[-1.0f32, 2.0, 0.5, -0.1]).view([4, 1]);
        let ones = Tensor::ones([4, 1], (Kind::Float, tch::Device::Cpu));
        assert_eq!(accuracy(&logits, &ones).double_value(&[]), 0.5);
        assert_eq!(accuracy(&logits, &ones.zeros_like()).double_value(&[]), 0.5);
    }
}
