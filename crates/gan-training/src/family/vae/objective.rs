//! The VAE's objective in nats: the Bernoulli log-likelihood of an image summed over its
//! pixels, the Gaussian KL term in closed form, and the importance-weighted bound of Burda et
//! al. Every function returns one value per image; batches are averaged by the caller, so
//! the ELBO keeps the scale the literature reports (nats per image, not per pixel).

use tch::{Reduction, Tensor};

/// `ln(2π)`.
const LN_TAU: f64 = 1.837_877_066_409_345_5;

/// `log p(x | z)` per image for Bernoulli pixels with these `logits`, summed over every
/// pixel: `(N, …)` → `(N,)`. `targets` are in `[0, 1]` (binary, or intensities as the
/// continuous relaxation).
pub fn bernoulli_log_likelihood(logits: &Tensor, targets: &Tensor) -> Tensor {
    let per_pixel =
        logits.binary_cross_entropy_with_logits::<Tensor>(targets, None, None, Reduction::None);
    -per_pixel.flatten(1, -1).sum_dim_intlist(1, false, None)
}

/// `KL(N(mean, exp(log_var)) ‖ N(0, I))` per row, summed over latent dimensions: `(N, D)` →
/// `(N,)`.
pub fn gaussian_kl(mean: &Tensor, log_var: &Tensor) -> Tensor {
    ((mean.square() + log_var.exp() - 1.0 - log_var) * 0.5).sum_dim_intlist(-1, false, None)
}

/// `log N(z; mean, exp(log_var))` summed over the last dimension.
pub fn log_normal(z: &Tensor, mean: &Tensor, log_var: &Tensor) -> Tensor {
    let squared = (z - mean).square() * (-log_var).exp();
    ((squared + log_var + LN_TAU) * -0.5).sum_dim_intlist(-1, false, None)
}

/// `log N(z; 0, I)` summed over the last dimension.
pub fn log_standard_normal(z: &Tensor) -> Tensor {
    ((z.square() + LN_TAU) * -0.5).sum_dim_intlist(-1, false, None)
}

/// `z = mean + exp(log_var / 2) · noise`: differentiable in `mean` and `log_var`.
pub fn reparameterize(mean: &Tensor, log_var: &Tensor, noise: &Tensor) -> Tensor {
    mean + (log_var * 0.5).exp() * noise
}

/// `log (1/k Σᵢ exp(wᵢ))` over the first dimension of `log_weights` `(k, N)` → `(N,)`: the
/// importance-weighted bound on `log p(x)` (an estimate of it as `k` grows).
pub fn importance_weighted_bound(log_weights: &Tensor) -> Tensor {
    let k = log_weights.size()[0] as f64;
    log_weights.logsumexp([0], false) - k.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{kind, Device, Kind};

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    /// The ELBO of an image under a decoder that says ½ for every pixel is `-784·ln 2` nats
    /// whatever the image: a sum per image. A per-pixel mean (the bug of several public
    /// examples) would give `-ln 2`.
    #[test]
    fn reconstruction_term_is_a_sum_per_image() {
        let logits = Tensor::zeros([3, 1, 28, 28], kind::FLOAT_CPU);
        let images = Tensor::rand([3, 1, 28, 28], kind::FLOAT_CPU).round();
        let ll = bernoulli_log_likelihood(&logits, &images);
        assert_eq!(ll.size(), vec![3]);
        for i in 0..3 {
            let got = ll.double_value(&[i]);
            assert!((got + 784.0 * 2f64.ln()).abs() < 1e-3, "{got}");
        }
        // One confident pixel: exactly its own term changes.
        let sharp = logits.copy();
        let _ = sharp.get(0).get(0).get(0).get(0).fill_(10.0);
        let image = images.get(0).get(0).get(0).double_value(&[0]);
        let want = -783.0 * 2f64.ln()
            + if image == 1.0 {
                -(1.0 + (-10f64).exp()).ln()
            } else {
                -(1.0 + 10f64.exp()).ln()
            };
        let got = bernoulli_log_likelihood(&sharp, &images).double_value(&[0]);
        assert!((got - want).abs() < 1e-3, "{got} vs {want}");
    }

    /// The closed form on numbers worked by hand, and against a Monte Carlo average of
    /// `log q(z) - log p(z)` over draws from q.
    #[test]
    fn kl_matches_its_closed_form_and_monte_carlo() {
        // mean 1, variance 1: ½(1 + 1 - 1 - 0) = ½; mean 0, variance e: ½(0 + e - 1 - 1).
        let mean = Tensor::from_slice(&[1.0f64, 0.0]).view([1, 2]);
        let log_var = Tensor::from_slice(&[0.0f64, 1.0]).view([1, 2]);
        let want = 0.5 + 0.5 * (std::f64::consts::E - 2.0);
        let got = gaussian_kl(&mean, &log_var).double_value(&[0]);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");

        tch::manual_seed(3);
        let mean = Tensor::from_slice(&[0.5f64, -1.0, 2.0]).view([1, 3]);
        let log_var = Tensor::from_slice(&[-1.0f64, 0.3, 0.8]).view([1, 3]);
        let noise = Tensor::randn([400_000, 3], F64);
        let z = reparameterize(&mean, &log_var, &noise);
        let monte_carlo = (log_normal(&z, &mean, &log_var) - log_standard_normal(&z))
            .mean(Kind::Double)
            .double_value(&[]);
        let closed = gaussian_kl(&mean, &log_var).double_value(&[0]);
        assert!(
            (monte_carlo - closed).abs() < 0.01,
            "{monte_carlo} vs {closed}"
        );
    }

    /// A linear-Gaussian model, `z ~ N(0, I₂)`, `x | z ~ N(Wz + b, σ²I₃)`, has the exact
    /// marginal `x ~ N(b, WWᵀ + σ²I)`. With a proposal that is not its posterior, the
    /// importance-weighted estimate approaches it as k grows, and every bound stays below.
    #[test]
    fn importance_weighted_estimate_matches_an_exact_likelihood() {
        tch::manual_seed(7);
        let w = Tensor::from_slice(&[0.8f64, -0.3, 0.2, 1.1, -0.5, 0.4]).view([3, 2]);
        let b = Tensor::from_slice(&[0.1f64, -0.2, 0.3]);
        let sigma2 = 0.25f64;
        let x = Tensor::from_slice(&[0.9f64, 0.4, -0.7]);
        let cov = w.matmul(&w.tr()) + Tensor::eye(3, F64) * sigma2;
        let d = &x - &b;
        let quad = d.dot(&cov.inverse().mv(&d)).double_value(&[]);
        let exact = -0.5 * (3.0 * LN_TAU + cov.logdet().double_value(&[]) + quad);

        // The exact posterior is Gaussian: covariance (I + WᵀW/σ²)⁻¹, mean that times
        // Wᵀ(x - b)/σ². Under it every importance weight equals p(x); the test's proposal is
        // shifted and widened so the estimate must average.
        let post_cov = (Tensor::eye(2, F64) + w.tr().matmul(&w) / sigma2).inverse();
        let post_mean = post_cov.mv(&w.tr().mv(&d)) / sigma2;
        let post_log_var = post_cov.diagonal(0, 0, 1).log();
        let estimate_with = |q_mean: &Tensor, q_log_var: &Tensor, k: i64| {
            let (q_mean, q_log_var) = (q_mean.view([1, 2]), q_log_var.view([1, 2]));
            let z = reparameterize(&q_mean, &q_log_var, &Tensor::randn([k, 2], F64));
            let mean_x = z.matmul(&w.tr()) + &b;
            let log_px_z = log_normal(
                &x.view([1, 3]),
                &mean_x,
                &Tensor::full([k, 3], sigma2.ln(), F64),
            );
            let log_w = log_px_z + log_standard_normal(&z) - log_normal(&z, &q_mean, &q_log_var);
            importance_weighted_bound(&log_w.view([k, 1])).double_value(&[0])
        };
        // A diagonal proposal misses the posterior's correlation, so even it must average.
        let q_mean = &post_mean + 0.3;
        let q_log_var = &post_log_var + 0.5;
        let estimate = |k: i64| estimate_with(&q_mean, &q_log_var, k);
        let big = estimate(200_000);
        assert!((big - exact).abs() < 0.01, "{big} vs exact {exact}");
        let one: f64 = (0..2000).map(|_| estimate(1)).sum::<f64>() / 2000.0;
        assert!(
            one < exact - 0.01,
            "the ELBO {one} should sit below {exact}"
        );
    }

    /// Gradients through the reparameterisation (autograd, fixed noise) equal central finite
    /// differences of the ELBO in the encoder's outputs and in the decoder's weights.
    #[test]
    fn reparameterised_gradient_matches_finite_differences() {
        tch::manual_seed(11);
        let x = Tensor::rand([4, 6], F64).round();
        let noise = Tensor::randn([4, 2], F64);
        let mean = (Tensor::randn([4, 2], F64) * 0.5).set_requires_grad(true);
        let log_var = (Tensor::randn([4, 2], F64) * 0.3).set_requires_grad(true);
        let weight = Tensor::randn([6, 2], F64).set_requires_grad(true);
        let elbo = |mean: &Tensor, log_var: &Tensor, weight: &Tensor| {
            let z = reparameterize(mean, log_var, &noise);
            let logits = z.matmul(&weight.tr());
            (bernoulli_log_likelihood(&logits, &x) - gaussian_kl(mean, log_var)).sum(Kind::Double)
        };
        let grads = Tensor::run_backward(
            &[elbo(&mean, &log_var, &weight)],
            &[&mean, &log_var, &weight],
            false,
            false,
        );
        let h = 1e-6;
        for (which, grad) in grads.iter().enumerate() {
            let n = grad.numel() as i64;
            for i in 0..n {
                let shifted = |delta: f64| {
                    tch::no_grad(|| {
                        let ts = [
                            mean.detach().copy(),
                            log_var.detach().copy(),
                            weight.detach().copy(),
                        ];
                        let flat = ts[which].view([-1]);
                        let _ = flat.get(i).g_add_scalar_(delta);
                        elbo(&ts[0], &ts[1], &ts[2]).double_value(&[])
                    })
                };
                let numeric = (shifted(h) - shifted(-h)) / (2.0 * h);
                let analytic = grad.view([-1]).double_value(&[i]);
                assert!(
                    (numeric - analytic).abs() < 1e-5 * (1.0 + analytic.abs()),
                    "tensor {which}, element {i}: {analytic} vs {numeric}"
                );
            }
        }
    }
}
