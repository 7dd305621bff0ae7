//! Spectral normalisation (Miyato et al. 2018): a weight divided by an estimate of its
//! largest singular value σ, so the layer is about 1-Lipschitz.
//!
//! σ is estimated by power iteration on the weight as a matrix (rows: output units). The
//! vectors `u` and `v` live in the var store as non-trainable tensors (`weight_u`,
//! `weight_v`), so checkpoints carry them and a resumed run continues the same estimate.
//! Forward passes use the current vectors without changing them; the family advances the
//! estimate by one iteration per training step, before the step's first forward pass.

use gan_data::DeviceRng;
use tch::{nn, Kind, Tensor};

/// Iterations at construction, so the first steps see a converged estimate (PyTorch's
/// `spectral_norm` does the same).
const INITIAL_ITERATIONS: usize = 15;
const EPS: f64 = 1e-12;

/// The power-iteration state of one weight.
#[derive(Debug)]
pub struct SpectralNorm {
    u: Tensor,
    v: Tensor,
}

impl SpectralNorm {
    /// `u` and `v` for `weight` under `p`, drawn from `rng`'s `stream` and iterated until
    /// they settle.
    pub(crate) fn new(p: &nn::Path, weight: &Tensor, rng: &DeviceRng, stream: u64) -> Self {
        let matrix = as_matrix(weight);
        let (rows, cols) = (matrix.size()[0], matrix.size()[1]);
        let draw = rng
            .normal(stream, &[rows], p.device())
            .expect("normal draw on the var store's device");
        let spectral = SpectralNorm {
            u: p.zeros_no_train("weight_u", &[rows]),
            v: p.zeros_no_train("weight_v", &[cols]),
        };
        tch::no_grad(|| {
            let mut u = spectral.u.shallow_clone();
            u.copy_(&normalized(&draw));
        });
        for _ in 0..INITIAL_ITERATIONS {
            spectral.power_iteration(weight);
        }
        spectral
    }

    /// `v ← Wᵀu / ‖Wᵀu‖`, then `u ← Wv / ‖Wv‖`.
    pub fn power_iteration(&self, weight: &Tensor) {
        tch::no_grad(|| {
            let matrix = as_matrix(weight);
            let v = normalized(&matrix.tr().mv(&self.u));
            let u = normalized(&matrix.mv(&v));
            let (mut u_var, mut v_var) = (self.u.shallow_clone(), self.v.shallow_clone());
            v_var.copy_(&v);
            u_var.copy_(&u);
        });
    }

    /// The estimate `σ = uᵀ W v`, differentiable in `W` (u and v are constants).
    pub fn sigma(&self, weight: &Tensor) -> Tensor {
        self.u.dot(&as_matrix(weight).mv(&self.v))
    }

    /// `W / σ`.
    pub fn normalize(&self, weight: &Tensor) -> Tensor {
        weight / self.sigma(weight)
    }
}

/// A weight `(out, …)` as the matrix `(out, rest)` whose spectral norm is meant.
fn as_matrix(weight: &Tensor) -> Tensor {
    weight.flatten(1, -1)
}

fn normalized(x: &Tensor) -> Tensor {
    x / x.norm().to_kind(Kind::Float).clamp_min(EPS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::VarStore;
    use tch::Device;

    /// After its initial iterations the estimate is the largest singular value from an SVD,
    /// for a dense matrix and for a convolution's 4-d weight.
    #[test]
    fn estimate_matches_the_largest_singular_value() {
        let rng = DeviceRng::new(7);
        for shape in [vec![32i64, 64], vec![16, 8, 4, 4]] {
            let vs = VarStore::new(Device::Cpu);
            let weight = rng.normal(1, &shape, Device::Cpu).unwrap();
            let spectral = SpectralNorm::new(&vs.root(), &weight, &rng, 2);
            for _ in 0..50 {
                spectral.power_iteration(&weight);
            }
            let sigma = spectral.sigma(&weight).double_value(&[]);
            let largest = weight.flatten(1, -1).svd(true, false).1.double_value(&[0]);
            assert!(
                (sigma - largest).abs() < 1e-3 * largest,
                "{shape:?}: power iteration {sigma}, SVD {largest}"
            );
            let normalized = spectral.normalize(&weight).flatten(1, -1);
            let top = normalized.svd(true, false).1.double_value(&[0]);
            assert!((top - 1.0).abs() < 1e-3, "{top}");
            let names: Vec<String> = vs.variables().into_keys().collect();
            assert!(
                names.contains(&"weight_u".to_owned()) && names.contains(&"weight_v".to_owned())
            );
            assert!(
                vs.trainable_variables().is_empty(),
                "u and v must not be trained"
            );
        }
    }

    /// Forward passes read the vectors without moving them; one power iteration moves them.
    #[test]
    fn only_power_iteration_moves_the_vectors() {
        let rng = DeviceRng::new(3);
        let vs = VarStore::new(Device::Cpu);
        let weight = rng.normal(1, &[8, 12], Device::Cpu).unwrap();
        let spectral = SpectralNorm::new(&vs.root(), &weight, &rng, 2);
        let before = spectral.u.copy();
        let _ = spectral.normalize(&weight);
        assert!(spectral.u.equal(&before));
        let changed = weight + 0.5 * rng.normal(4, &[8, 12], Device::Cpu).unwrap();
        spectral.power_iteration(&changed);
        assert!(!spectral.u.equal(&before));
    }
}
