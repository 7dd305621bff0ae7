//! Feature statistics and the Fréchet distance between two Gaussians.

use tch::{Kind, Tensor};

use crate::error::EvalError;

/// Mean and covariance of a set of feature vectors, in f64.
#[derive(Debug)]
pub struct Gaussian {
    pub mean: Tensor,
    pub cov: Tensor,
}

impl Gaussian {
    /// From features `(N, D)`, `N ≥ 2` (unbiased covariance).
    pub fn fit(features: &Tensor) -> Result<Gaussian, EvalError> {
        let x = features.f_to_kind(Kind::Double)?;
        let n = x.size()[0];
        if n < 2 {
            return Err(EvalError::TooFew {
                what: "a covariance",
                needed: 2,
                got: n as usize,
            });
        }
        let mean = x.f_mean_dim(0, false, Kind::Double)?;
        let centered = x.f_sub(&mean)?;
        let cov = centered
            .f_tr()?
            .f_matmul(&centered)?
            .f_div_scalar((n - 1) as f64)?;
        Ok(Gaussian { mean, cov })
    }
}

/// Square root of a symmetric positive semi-definite matrix (eigenvalues clamped at 0 so
/// rounding noise cannot produce NaN).
fn sqrt_psd(m: &Tensor) -> Result<Tensor, EvalError> {
    let (values, vectors) = symmetrize(m)?.f_linalg_eigh("L")?;
    let roots = values.f_clamp_min(0.0)?.f_sqrt()?;
    Ok(vectors
        .f_mul(&roots.f_unsqueeze(0)?)?
        .f_matmul(&vectors.f_tr()?)?)
}

fn symmetrize(m: &Tensor) -> Result<Tensor, EvalError> {
    Ok(m.f_add(&m.f_tr()?)?.f_mul_scalar(0.5)?)
}

/// Fréchet distance `|μ₁-μ₂|² + Tr(Σ₁) + Tr(Σ₂) - 2 Tr((Σ₁Σ₂)^½)`.
///
/// `Tr((Σ₁Σ₂)^½)` is the trace of the square root of the symmetric PSD matrix
/// `Σ₁^½ Σ₂ Σ₁^½`, which has the same eigenvalues as `Σ₁Σ₂`: only symmetric
/// eigendecompositions are needed (no complex parts, no iterative `sqrtm`).
pub fn frechet_distance(a: &Gaussian, b: &Gaussian) -> Result<f64, EvalError> {
    let diff = a.mean.f_sub(&b.mean)?;
    let mean_term = diff.f_dot(&diff)?.double_value(&[]);
    let root_a = sqrt_psd(&a.cov)?;
    let middle = symmetrize(&root_a.f_matmul(&b.cov)?.f_matmul(&root_a)?)?;
    let cross = middle
        .f_linalg_eigvalsh("L")?
        .f_clamp_min(0.0)?
        .f_sqrt()?
        .f_sum(Kind::Double)?
        .double_value(&[]);
    let trace = |t: &Tensor| -> Result<f64, EvalError> { Ok(t.f_trace()?.double_value(&[])) };
    Ok((mean_term + trace(&a.cov)? + trace(&b.cov)? - 2.0 * cross).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    const F64: (Kind, Device) = (Kind::Double, Device::Cpu);

    fn gaussian_features(n: i64, d: i64, shift: f64, seed: u64) -> Tensor {
        let rng = gan_data::DeviceRng::new(seed);
        rng.normal(0, &[n, d], Device::Cpu)
            .unwrap()
            .to_kind(Kind::Double)
            + shift
    }

    #[test]
    fn identical_sets_are_at_distance_zero() {
        let g = Gaussian::fit(&gaussian_features(2000, 8, 0.0, 1)).unwrap();
        assert!(frechet_distance(&g, &g).unwrap().abs() < 1e-9);
    }

    #[test]
    fn a_mean_shift_costs_its_square() {
        // Same covariance, means d apart along each of 4 axes: distance 4·d².
        let a = Gaussian {
            mean: Tensor::zeros([4], F64),
            cov: Tensor::eye(4, F64),
        };
        let b = Gaussian {
            mean: Tensor::full([4], 1.5, F64),
            cov: Tensor::eye(4, F64),
        };
        assert!((frechet_distance(&a, &b).unwrap() - 4.0 * 2.25).abs() < 1e-9);
    }

    #[test]
    fn diagonal_covariances_have_the_closed_form() {
        // For diagonal Σ: Σ_i (√a_i - √b_i)².
        let a = Gaussian {
            mean: Tensor::zeros([3], F64),
            cov: Tensor::from_slice(&[1.0f64, 4.0, 9.0]).diag(0),
        };
        let b = Gaussian {
            mean: Tensor::zeros([3], F64),
            cov: Tensor::from_slice(&[4.0f64, 4.0, 1.0]).diag(0),
        };
        let expected = 1.0 + 0.0 + 4.0;
        assert!((frechet_distance(&a, &b).unwrap() - expected).abs() < 1e-9);
    }

    #[test]
    fn symmetric_and_matches_a_direct_computation() {
        let a = Gaussian::fit(&gaussian_features(500, 3, 0.0, 2)).unwrap();
        let mix =
            Tensor::from_slice(&[1.0f64, 0.5, 0.0, 0.0, 2.0, 0.3, 0.1, 0.0, 0.7]).view([3, 3]);
        let b = Gaussian::fit(&gaussian_features(500, 3, 0.3, 3).matmul(&mix)).unwrap();
        let ab = frechet_distance(&a, &b).unwrap();
        let ba = frechet_distance(&b, &a).unwrap();
        assert!((ab - ba).abs() < 1e-9, "{ab} vs {ba}");
        // Direct: the eigenvalues of the (non-symmetric) product Σ₁Σ₂ are real and
        // non-negative; find them by general eigendecomposition.
        let product = a.cov.matmul(&b.cov);
        let (values, _) = product.linalg_eig();
        let real = values.real();
        let cross: f64 = Vec::<f64>::try_from(&real)
            .unwrap()
            .iter()
            .map(|v| v.max(0.0).sqrt())
            .sum();
        let diff = &a.mean - &b.mean;
        let direct = diff.dot(&diff).double_value(&[])
            + a.cov.trace().double_value(&[])
            + b.cov.trace().double_value(&[])
            - 2.0 * cross;
        assert!(
            (ab - direct).abs() < 1e-8 * direct.max(1.0),
            "{ab} vs {direct}"
        );
    }
}
