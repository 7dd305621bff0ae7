//! The GAN's losses and metrics, on discriminator scores, and WGAN-GP's gradient penalty.

use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

/// What D and G minimise, as a function of D's scores `s` (a logit for BCE).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum GanLoss {
    /// Binary cross-entropy, G maximising log D(G(z)) (Goodfellow et al.'s non-saturating
    /// form): D `−log σ(s_real) − log(1 − σ(s_fake))`, G `−log σ(s_fake)`.
    #[default]
    NonSaturating,
    /// D `max(0, 1 − s_real) + max(0, 1 + s_fake)`, G `−s_fake` (SAGAN, BigGAN).
    Hinge,
    /// LSGAN with targets 0 and 1: D `½(s_real − 1)² + ½ s_fake²`, G `½(s_fake − 1)²`.
    LeastSquares,
    /// WGAN-GP (Gulrajani et al. 2017): the critic `s_fake − s_real` plus `gradient_penalty`
    /// times `(‖∇ₓ D(x̂)‖ − 1)²` at points `x̂` between real and fake images; G `−s_fake`.
    Wasserstein { gradient_penalty: f64 },
}

impl GanLoss {
    pub fn is_non_saturating(&self) -> bool {
        *self == GanLoss::NonSaturating
    }

    /// The penalty's weight, for the Wasserstein loss.
    pub fn penalty_weight(&self) -> Option<f64> {
        match self {
            GanLoss::Wasserstein { gradient_penalty } => Some(*gradient_penalty),
            _ => None,
        }
    }

    /// D's loss on scores of real images, averaged.
    pub fn real(&self, scores: &Tensor) -> Tensor {
        match self {
            GanLoss::NonSaturating => bce_with_logits(scores, &scores.ones_like()),
            GanLoss::Hinge => (scores.neg() + 1.0).relu().mean(Kind::Float),
            GanLoss::LeastSquares => 0.5 * (scores - 1.0).square().mean(Kind::Float),
            GanLoss::Wasserstein { .. } => -scores.mean(Kind::Float),
        }
    }

    /// D's loss on scores of fake images, averaged.
    pub fn fake(&self, scores: &Tensor) -> Tensor {
        match self {
            GanLoss::NonSaturating => bce_with_logits(scores, &scores.zeros_like()),
            GanLoss::Hinge => (scores + 1.0).relu().mean(Kind::Float),
            GanLoss::LeastSquares => 0.5 * scores.square().mean(Kind::Float),
            GanLoss::Wasserstein { .. } => scores.mean(Kind::Float),
        }
    }

    /// G's loss on D's scores of its images, averaged.
    pub fn generator(&self, scores: &Tensor) -> Tensor {
        match self {
            GanLoss::NonSaturating => bce_with_logits(scores, &scores.ones_like()),
            GanLoss::Hinge | GanLoss::Wasserstein { .. } => -scores.mean(Kind::Float),
            GanLoss::LeastSquares => 0.5 * (scores - 1.0).square().mean(Kind::Float),
        }
    }

    /// Checks the settings; the error names the field.
    pub fn validate(&self) -> Result<(), crate::TrainError> {
        match self {
            GanLoss::Wasserstein { gradient_penalty }
                if !(gradient_penalty.is_finite() && *gradient_penalty >= 0.0) =>
            {
                Err(crate::TrainError::invalid(
                    "loss.gradient_penalty",
                    gradient_penalty,
                    "must be a finite weight ≥ 0 (WGAN-GP uses 10)",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// `x̂ = ε·real + (1 − ε)·fake` with one `ε` per sample, `coefficients` of shape `(N,)`:
/// each point lies on the segment between its real and its fake image.
pub fn interpolate(real: &Tensor, fake: &Tensor, coefficients: &Tensor) -> Tensor {
    let mut shape = vec![-1i64];
    shape.extend(std::iter::repeat_n(1, real.dim() - 1));
    let eps = coefficients.view(shape.as_slice());
    fake + eps * (real - fake)
}

/// `mean over samples of (‖∇ₓ critic(x̂)‖₂ − 1)²`, the norm per sample over all of its
/// values, at `x̂ = interpolate(real, fake, coefficients)`. The gradient is taken with
/// `create_graph`, so the penalty can itself be differentiated with respect to the critic's
/// parameters (a double backward); `critic` must therefore run on autograd alone.
pub fn gradient_penalty(
    critic: impl FnOnce(&Tensor) -> Tensor,
    real: &Tensor,
    fake: &Tensor,
    coefficients: &Tensor,
) -> Tensor {
    let points = interpolate(&real.detach(), &fake.detach(), coefficients).set_requires_grad(true);
    let scores = critic(&points);
    let kind = points.kind();
    let grads = Tensor::run_backward(&[scores.sum(kind)], &[&points], true, true);
    let norms = grads[0]
        .flatten(1, -1)
        .square()
        .sum_dim_intlist(1, false, kind)
        .sqrt();
    (norms - 1.0).square().mean(kind)
}

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
    use tch::Device;

    /// Each loss at hand-computed scores.
    #[test]
    fn losses_match_their_formulas() {
        let s = Tensor::from_slice(&[-2.0f32, 0.5, 3.0]).view([3, 1]);
        let close = |t: Tensor, want: f64| {
            let got = t.double_value(&[]);
            assert!((got - want).abs() < 1e-6, "{got} ≠ {want}");
        };
        let softplus = |x: f64| (1.0 + x.exp()).ln();
        close(
            GanLoss::NonSaturating.real(&s),
            (softplus(2.0) + softplus(-0.5) + softplus(-3.0)) / 3.0,
        );
        close(
            GanLoss::NonSaturating.fake(&s),
            (softplus(-2.0) + softplus(0.5) + softplus(3.0)) / 3.0,
        );
        close(GanLoss::Hinge.real(&s), (3.0 + 0.5 + 0.0) / 3.0);
        close(GanLoss::Hinge.fake(&s), (0.0 + 1.5 + 4.0) / 3.0);
        close(GanLoss::Hinge.generator(&s), -1.5 / 3.0);
        close(
            GanLoss::LeastSquares.real(&s),
            0.5 * (9.0 + 0.25 + 4.0) / 3.0,
        );
        close(
            GanLoss::LeastSquares.fake(&s),
            0.5 * (4.0 + 0.25 + 9.0) / 3.0,
        );
        let w = GanLoss::Wasserstein {
            gradient_penalty: 10.0,
        };
        close(w.real(&s), -1.5 / 3.0);
        close(w.fake(&s), 1.5 / 3.0);
        close(w.generator(&s), -1.5 / 3.0);
    }

    fn images(rng: &gan_data::DeviceRng, stream: u64) -> Tensor {
        rng.normal(stream, &[3, 2, 4, 5], Device::Cpu)
            .unwrap()
            .to_kind(Kind::Double)
    }

    /// A linear critic `⟨w, x⟩` has gradient `w` everywhere: the penalty is `(‖w‖ − 1)²`.
    #[test]
    fn penalty_of_a_linear_critic_is_its_closed_form() {
        let rng = gan_data::DeviceRng::new(5);
        let (real, fake) = (images(&rng, 1), images(&rng, 2));
        let w = images(&rng, 3).get(0);
        let eps = Tensor::from_slice(&[0.1f64, 0.5, 0.9]);
        let critic = |x: &Tensor| {
            (x * &w)
                .flatten(1, -1)
                .sum_dim_intlist(1, true, Kind::Double)
        };
        let penalty = gradient_penalty(critic, &real, &fake, &eps).double_value(&[]);
        let norm = w.square().sum(Kind::Double).sqrt().double_value(&[]);
        assert!((penalty - (norm - 1.0).powi(2)).abs() < 1e-9, "{penalty}");
    }

    /// A quadratic critic `½‖x‖²` has gradient `x̂`: the penalty is the mean of
    /// `(‖x̂ᵢ‖ − 1)²` with `x̂ᵢ` on the segment of sample i, and its norm over all of the
    /// sample's values. Drawing ε per value, or taking the norm over channels only, gives
    /// other numbers, which this closed form catches.
    #[test]
    fn penalty_takes_one_coefficient_and_one_norm_per_sample() {
        let rng = gan_data::DeviceRng::new(6);
        let (real, fake) = (images(&rng, 1), images(&rng, 2));
        let eps = Tensor::from_slice(&[0.2f64, 0.7, 0.4]);
        let critic = |x: &Tensor| {
            0.5 * x
                .square()
                .flatten(1, -1)
                .sum_dim_intlist(1, true, Kind::Double)
        };
        let penalty = gradient_penalty(critic, &real, &fake, &eps).double_value(&[]);
        let mut expected = 0.0;
        for i in 0..3 {
            let e = eps.double_value(&[i]);
            let point = real.get(i) * e + fake.get(i) * (1.0 - e);
            let norm = point.square().sum(Kind::Double).sqrt().double_value(&[]);
            expected += (norm - 1.0).powi(2) / 3.0;
        }
        assert!((penalty - expected).abs() < 1e-9, "{penalty} ≠ {expected}");
        let points = interpolate(&real, &fake, &eps);
        for i in 0..3 {
            // On the segment: (x̂ − fake) = ε (real − fake) with a single ε for the sample.
            let along = (points.get(i) - fake.get(i)) / (real.get(i) - fake.get(i));
            let spread = (along.max() - along.min()).double_value(&[]);
            assert!(spread < 1e-9, "sample {i} mixes with several coefficients");
        }
        // The per-channel norm (the bug of several public versions) differs here.
        let channel_norms = points
            .square()
            .sum_dim_intlist(&[2i64, 3][..], false, Kind::Double)
            .sqrt();
        let wrong = (channel_norms - 1.0)
            .square()
            .mean(Kind::Double)
            .double_value(&[]);
        assert!((wrong - expected).abs() > 1e-3);
    }

    /// The penalty's derivative in a critic parameter (a double backward through a
    /// convolution and a LeakyReLU) matches central finite differences.
    #[test]
    fn penalty_gradient_matches_finite_differences() {
        let rng = gan_data::DeviceRng::new(8);
        let (real, fake) = (images(&rng, 1), images(&rng, 2));
        let eps = Tensor::from_slice(&[0.3f64, 0.6, 0.8]);
        let kernel = (rng.normal(4, &[3, 2, 3, 3], Device::Cpu).unwrap() * 0.3)
            .to_kind(Kind::Double)
            .set_requires_grad(true);
        let leaky = gan_models::Activation::LeakyRelu { slope: 0.2 };
        let penalty_at = |k: &Tensor| {
            let critic = |x: &Tensor| {
                leaky
                    .apply(&x.conv2d(k, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1))
                    .square()
                    .flatten(1, -1)
                    .sum_dim_intlist(1, true, Kind::Double)
            };
            gradient_penalty(critic, &real, &fake, &eps)
        };
        let analytic = Tensor::run_backward(&[penalty_at(&kernel)], &[&kernel], false, false)
            .pop()
            .unwrap();
        let h = 1e-6;
        for index in [[0i64, 0, 0, 0], [1, 1, 2, 1], [2, 0, 1, 2]] {
            let bump = |delta: f64| {
                let k = kernel.detach().copy();
                let _ = k
                    .get(index[0])
                    .get(index[1])
                    .get(index[2])
                    .get(index[3])
                    .g_add_scalar_(delta);
                penalty_at(&k).double_value(&[])
            };
            let numeric = (bump(h) - bump(-h)) / (2.0 * h);
            let exact = analytic.double_value(&index);
            assert!(
                (numeric - exact).abs() < 1e-5 * (1.0 + exact.abs()),
                "at {index:?}: finite differences {numeric}, double backward {exact}"
            );
        }
    }

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
