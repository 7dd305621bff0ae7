//! The distribution a VAE's samples decode: `N(0, I)`, the prior it was trained with, or a
//! Gaussian mixture fitted ex post to the codes the encoder gives training images (Ghosh et
//! al. 2020, "From variational to deterministic autoencoders"; Dai & Wipf 2019). The
//! encoder's codes do not fill `N(0, I)` evenly (some directions are barely used, digits
//! cluster), so decoding draws from it visits codes no training image has, which decode to
//! blends; a mixture fitted to the codes does not. Training and the likelihood estimates keep
//! `N(0, I)`: the fitted prior changes what samples, not what is trained or scored in nats.

use serde::{Deserialize, Serialize};
use tch::nn::Path;
use tch::{Kind, Tensor};

use crate::error::TrainError;

/// Which prior samples (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PriorConfig {
    /// `N(0, I)`, as trained.
    #[default]
    StandardNormal,
    /// A Gaussian mixture with full covariances, fitted by expectation–maximisation to the
    /// encoder means of up to `fit_images` training images whenever the model samples or
    /// is saved. The fit is a function of the weights and the data alone, so a resumed run
    /// fits what an uninterrupted one would.
    FittedMixture {
        components: i64,
        /// Training images encoded for the fit (the first ones of the set).
        fit_images: i64,
    },
}

impl PriorConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        if let PriorConfig::FittedMixture {
            components,
            fit_images,
        } = *self
        {
            if !(1..=256).contains(&components) {
                return Err(TrainError::invalid(
                    "prior.components",
                    components,
                    "must be in 1..=256",
                ));
            }
            if fit_images < 10 * components {
                return Err(TrainError::invalid(
                    "prior.fit_images",
                    fit_images,
                    format!("must be at least 10 per component ({})", 10 * components),
                ));
            }
        }
        Ok(())
    }

    pub fn is_standard_normal(&self) -> bool {
        *self == PriorConfig::StandardNormal
    }
}

/// The prior a run samples from when its config asks for a fitted one: the mixture and how
/// many training images it is fitted to.
#[derive(Debug)]
pub struct FittedPrior {
    pub mixture: Mixture,
    pub fit_images: i64,
}

impl FittedPrior {
    /// The fitted prior `config` asks for, held under `path`; none for `N(0, I)`.
    pub fn for_config(config: PriorConfig, path: &Path, latent_dim: i64) -> Option<FittedPrior> {
        match config {
            PriorConfig::StandardNormal => None,
            PriorConfig::FittedMixture {
                components,
                fit_images,
            } => Some(FittedPrior {
                mixture: Mixture::new(path, components, latent_dim),
                fit_images,
            }),
        }
    }
}

/// EM passes at most; the fit stops sooner once the mean log-density gains less than
/// [`TOLERANCE`] nats in a pass (scikit-learn's default).
const MAX_ITERATIONS: usize = 100;
const TOLERANCE: f64 = 1e-3;
/// Added to every covariance's diagonal so no component collapses onto a few codes.
const COVARIANCE_FLOOR: f64 = 1e-6;

/// A Gaussian mixture over the latent space held in a var store (so checkpoints carry it):
/// `weights` `(K,)`, `means` `(K, D)`, and the lower Cholesky factors `scales` `(K, D, D)`
/// of the covariances. Starts as one component at `N(0, I)`'s place (all components equal).
#[derive(Debug)]
pub struct Mixture {
    weights: Tensor,
    means: Tensor,
    scales: Tensor,
}

impl Mixture {
    pub fn new(path: &Path, components: i64, latent_dim: i64) -> Mixture {
        let eye = Tensor::eye(latent_dim, (Kind::Float, path.device()))
            .unsqueeze(0)
            .repeat([components, 1, 1]);
        let weights = path.zeros_no_train("weights", &[components]);
        let scales = path.zeros_no_train("scales", &[components, latent_dim, latent_dim]);
        tch::no_grad(|| {
            let _ = weights.shallow_clone().fill_(1.0 / components as f64);
            scales.shallow_clone().copy_(&eye);
        });
        Mixture {
            weights,
            means: path.zeros_no_train("means", &[components, latent_dim]),
            scales,
        }
    }

    /// Fits the mixture to `codes` `(N, D)` by EM in double precision, starting from
    /// components centred on evenly spaced codes with the codes' covariance. Returns the
    /// mean log-density of the codes under the fit.
    pub fn fit(&self, codes: &Tensor) -> Result<f64, TrainError> {
        let x = codes.to_kind(Kind::Double);
        let [n, d] = x.size()[..] else {
            unreachable!("codes are (N, D)")
        };
        let k = self.weights.size()[0];
        let device = x.device();
        let starts = Tensor::arange(k, (Kind::Int64, device)) * (n / k);
        let mut means = x.index_select(0, &starts);
        let centred = &x - x.mean_dim(0, true, Kind::Double);
        let covariance = centred.transpose(0, 1).mm(&centred) / n as f64
            + Tensor::eye(d, (Kind::Double, device)) * COVARIANCE_FLOOR;
        let mut scales = covariance
            .f_linalg_cholesky(false)
            .map_err(|e| not_fitted(format!("the codes' covariance: {e}")))?
            .unsqueeze(0)
            .repeat([k, 1, 1]);
        let mut log_weights = Tensor::full([k], -(k as f64).ln(), (Kind::Double, device));
        let mut previous = f64::NEG_INFINITY;
        let mut mean_log_density = previous;
        let eye = Tensor::eye(d, (Kind::Double, device)).unsqueeze(0);
        for iteration in 0..MAX_ITERATIONS {
            let joint = component_log_densities(&x, &means, &scales)? + log_weights.unsqueeze(0);
            let per_code = joint.logsumexp([1], true);
            mean_log_density = per_code.mean(Kind::Double).double_value(&[]);
            if !mean_log_density.is_finite() {
                return Err(not_fitted(format!(
                    "the mean log-density became {mean_log_density}"
                )));
            }
            let responsibilities = (joint - per_code).exp().transpose(0, 1).contiguous();
            let counts = responsibilities.sum_dim_intlist(1, false, Kind::Double) + 1e-10;
            means = responsibilities.mm(&x) / counts.unsqueeze(1);
            // Σ_k = Σ_n r_nk x_n x_nᵀ / N_k − μ_k μ_kᵀ: one pass over the codes per component.
            let second_moments = (responsibilities.unsqueeze(2) * x.unsqueeze(0))
                .transpose(1, 2)
                .matmul(&x)
                / counts.view([k, 1, 1]);
            let covariances = second_moments - means.unsqueeze(2).bmm(&means.unsqueeze(1))
                + &eye * COVARIANCE_FLOOR;
            scales = covariances
                .f_linalg_cholesky(false)
                .map_err(|e| not_fitted(format!("a component's covariance: {e}")))?;
            log_weights = (counts / n as f64).log();
            if mean_log_density - previous < TOLERANCE {
                tracing::debug!(iteration, "EM converged");
                break;
            }
            previous = mean_log_density;
        }
        tch::no_grad(|| {
            self.weights
                .shallow_clone()
                .copy_(&log_weights.exp().to_kind(Kind::Float));
            self.means
                .shallow_clone()
                .copy_(&means.to_kind(Kind::Float));
            self.scales
                .shallow_clone()
                .copy_(&scales.to_kind(Kind::Float));
        });
        Ok(mean_log_density)
    }

    /// Maps standard-normal `noise` `(N, D)` to draws from the mixture, one per row and a
    /// function of that row alone: `Φ(noise₀)` picks the component by the cumulative
    /// weights, its position within the component's interval (uniform, independent of the
    /// pick) becomes that component's first normal coordinate, and the component's mean and
    /// scale transform the row.
    pub fn transform(&self, noise: &Tensor) -> Tensor {
        let device = noise.device();
        let e = noise.to_kind(Kind::Double);
        let weights = self.weights.to_device(device).to_kind(Kind::Double);
        let upper = weights.cumsum(0, Kind::Double);
        let k = weights.size()[0];
        let u = (e.select(1, 0) / -std::f64::consts::SQRT_2).erfc() * 0.5;
        let component = u
            .unsqueeze(1)
            .ge_tensor(&upper.unsqueeze(0))
            .sum_dim_intlist(1, false, Kind::Int64)
            .clamp_max(k - 1);
        let lower = &upper - &weights;
        let within = ((&u - lower.index_select(0, &component))
            / weights.index_select(0, &component))
        .clamp(1e-12, 1.0 - 1e-12);
        let first = (within * 2.0 - 1.0).erfinv() * std::f64::consts::SQRT_2;
        let e = Tensor::cat(&[first.unsqueeze(1), e.narrow(1, 1, e.size()[1] - 1)], 1);
        let means = self.means.to_device(device).to_kind(Kind::Double);
        let scales = self.scales.to_device(device).to_kind(Kind::Double);
        let z = means.index_select(0, &component)
            + scales
                .index_select(0, &component)
                .bmm(&e.unsqueeze(2))
                .squeeze_dim(2);
        z.to_kind(noise.kind())
    }
}

/// `log N(x; means_k, scales_k scales_kᵀ)` for every code and component: `(N, K)`. With
/// `P_k = scales_k⁻¹`, the Mahalanobis term is `‖P_k x − P_k μ_k‖²`, so all components
/// take one product with the codes.
fn component_log_densities(
    x: &Tensor,
    means: &Tensor,
    scales: &Tensor,
) -> Result<Tensor, TrainError> {
    let [n, d] = x.size()[..] else {
        unreachable!("codes are (N, D)")
    };
    let k = means.size()[0];
    let eye = Tensor::eye(d, (x.kind(), x.device()))
        .unsqueeze(0)
        .expand([k, d, d], false);
    let inverse = Tensor::f_linalg_solve_triangular(scales, &eye, false, true, false)
        .map_err(|e| not_fitted(e.to_string()))?;
    let projected = x.mm(&inverse.permute([2, 0, 1]).reshape([d, k * d]));
    let centres = inverse.bmm(&means.unsqueeze(2)).view([1, k, d]);
    let mahalanobis = (projected.view([n, k, d]) - centres)
        .square()
        .sum_dim_intlist(2, false, Kind::Double);
    let log_det = scales
        .diagonal(0, 1, 2)
        .log()
        .sum_dim_intlist(1, false, Kind::Double)
        * 2.0;
    let ln_tau = (2.0 * std::f64::consts::PI).ln();
    Ok((mahalanobis + log_det.unsqueeze(0) + d as f64 * ln_tau) * -0.5)
}

fn not_fitted(why: String) -> TrainError {
    TrainError::invalid(
        "prior",
        "fitted-mixture",
        format!("the mixture could not be fitted to the encoder's codes: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn mixture(components: i64, latent_dim: i64) -> (VarStore, Mixture) {
        let vs = VarStore::new(Device::Cpu);
        let m = Mixture::new(&(vs.root() / "prior"), components, latent_dim);
        (vs, m)
    }

    fn mean_of(t: &Tensor) -> f64 {
        t.mean(Kind::Double).double_value(&[])
    }

    /// Codes drawn from two well-separated Gaussians (weights 0.3 and 0.7) give back their
    /// weights, means and spreads.
    #[test]
    fn em_recovers_a_known_mixture() {
        tch::manual_seed(3);
        let a = Tensor::randn([3_000, 2], F64) * 0.5 + Tensor::from_slice(&[-4.0, 0.0]);
        let b = Tensor::randn([7_000, 2], F64) * Tensor::from_slice(&[1.0, 2.0])
            + Tensor::from_slice(&[4.0, 1.0]);
        let codes = Tensor::cat(&[a, b], 0).to_kind(Kind::Float);
        let (_, m) = mixture(2, 2);
        let log_density = m.fit(&codes).unwrap();
        assert!(log_density.is_finite());
        let weights = Vec::<f64>::try_from(m.weights.to_kind(Kind::Double)).unwrap();
        let big = usize::from(weights[1] > weights[0]); // the 0.7 component
        let small = 1 - big;
        assert!((weights[big] - 0.7).abs() < 0.01, "{weights:?}");
        let means = m.means.to_kind(Kind::Double);
        let gap = (means.get(big as i64) - Tensor::from_slice(&[4.0, 1.0]))
            .abs()
            .max();
        assert!(gap.double_value(&[]) < 0.1, "{means}");
        let gap = (means.get(small as i64) - Tensor::from_slice(&[-4.0, 0.0]))
            .abs()
            .max();
        assert!(gap.double_value(&[]) < 0.1, "{means}");
        let scale = m.scales.get(big as i64).to_kind(Kind::Double);
        let covariance = scale.mm(&scale.transpose(0, 1));
        let expected = Tensor::from_slice(&[1.0, 0.0, 0.0, 4.0]).view([2, 2]);
        let gap = (covariance - expected).abs().max().double_value(&[]);
        assert!(gap < 0.2, "covariance off by {gap}");
    }

    /// Standard-normal rows become draws from the mixture: each component is picked as often
    /// as its weight says, and within a component the draw has its mean and covariance (the
    /// first coordinate, which also picked the component, stays standard normal there).
    #[test]
    fn transform_draws_from_the_mixture() {
        let (_, m) = mixture(2, 2);
        tch::no_grad(|| {
            m.weights
                .shallow_clone()
                .copy_(&Tensor::from_slice(&[0.25f32, 0.75]));
            m.means
                .shallow_clone()
                .copy_(&Tensor::from_slice(&[-10.0f32, 0.0, 10.0, 5.0]).view([2, 2]));
            let scales = Tensor::from_slice(&[1.0f32, 0.0, 0.0, 1.0, 2.0, 0.0, 1.0, 0.5]);
            m.scales.shallow_clone().copy_(&scales.view([2, 2, 2]));
        });
        tch::manual_seed(11);
        let noise = Tensor::randn([200_000, 2], (Kind::Float, Device::Cpu));
        let z = m.transform(&noise).to_kind(Kind::Double);
        let right = z.select(1, 0).gt(0.0);
        let share = mean_of(&right.to_kind(Kind::Double));
        assert!((share - 0.75).abs() < 0.005, "share {share}");
        let draws = z.index_select(0, &right.nonzero().squeeze_dim(1));
        let centred = &draws - Tensor::from_slice(&[10.0, 5.0]);
        let covariance = centred.transpose(0, 1).mm(&centred) / draws.size()[0] as f64;
        // L = [[2, 0], [1, 0.5]] → L Lᵀ = [[4, 2], [2, 1.25]].
        let expected = Tensor::from_slice(&[4.0, 2.0, 2.0, 1.25]).view([2, 2]);
        let gap = (&covariance - expected).abs().max().double_value(&[]);
        assert!(gap < 0.05, "{covariance}");
        assert!(mean_of(&centred).abs() < 0.02);
    }

    /// A row's draw depends on that row alone, so chunked generation and grids agree.
    #[test]
    fn transform_is_row_by_row() {
        let (_, m) = mixture(3, 4);
        tch::manual_seed(5);
        let codes = Tensor::randn([300, 4], (Kind::Float, Device::Cpu));
        m.fit(&codes).unwrap();
        let noise = Tensor::randn([10, 4], (Kind::Float, Device::Cpu));
        let all = m.transform(&noise);
        let one = m.transform(&noise.narrow(0, 7, 1));
        assert!(all.narrow(0, 7, 1).allclose(&one, 1e-6, 1e-6, false));
    }

    /// Before any fit every component is `N(0, I)`: the draws are standard normal, and all
    /// coordinates but the first (which also picks the component) are the noise's.
    #[test]
    fn an_unfitted_mixture_is_the_standard_normal() {
        let (_, m) = mixture(4, 3);
        tch::manual_seed(2);
        let noise = Tensor::randn([100_000, 3], (Kind::Float, Device::Cpu));
        let z = m.transform(&noise).to_kind(Kind::Double);
        assert!(z.narrow(1, 1, 2).allclose(
            &noise.narrow(1, 1, 2).to_kind(Kind::Double),
            1e-6,
            1e-6,
            false
        ));
        let first = z.select(1, 0);
        assert!(mean_of(&first).abs() < 0.02);
        assert!((mean_of(&first.square()) - 1.0).abs() < 0.02);
        let correlation = mean_of(&(&first * z.select(1, 1)));
        assert!(correlation.abs() < 0.02, "{correlation}");
    }

    #[test]
    fn bad_settings_are_named() {
        let err = PriorConfig::FittedMixture {
            components: 0,
            fit_images: 100,
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("prior.components"), "{err}");
        let err = PriorConfig::FittedMixture {
            components: 10,
            fit_images: 50,
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("prior.fit_images"), "{err}");
    }
}
