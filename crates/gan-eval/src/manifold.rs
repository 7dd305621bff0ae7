//! Precision and recall of the sample manifold (Kynkäänniemi et al. 2019).
//!
//! Each set's manifold is the union of balls around its points, each ball reaching the
//! point's k-th nearest neighbour in the same set. Precision: the fraction of generated
//! points inside the real manifold (realism). Recall: the fraction of real points inside the
//! generated manifold (diversity).

use tch::{Kind, Tensor};

use crate::error::EvalError;

const CHUNK: i64 = 1024;

/// `(precision, recall)` with neighbourhoods of the `k`-th nearest neighbour.
pub fn precision_recall(real: &Tensor, fake: &Tensor, k: i64) -> Result<(f64, f64), EvalError> {
    let real = real.f_to_kind(Kind::Float)?;
    let fake = fake.f_to_kind(Kind::Float)?;
    for (what, set) in [("real features", &real), ("generated features", &fake)] {
        let n = set.size()[0] as usize;
        if n <= k as usize {
            return Err(EvalError::TooFew {
                what,
                needed: k as usize + 1,
                got: n,
            });
        }
    }
    let real_radii = kth_neighbour_distances(&real, k)?;
    let fake_radii = kth_neighbour_distances(&fake, k)?;
    let precision = fraction_covered(&fake, &real, &real_radii)?;
    let recall = fraction_covered(&real, &fake, &fake_radii)?;
    Ok((precision, recall))
}

/// For each point, the distance to its k-th nearest other point in the same set.
fn kth_neighbour_distances(points: &Tensor, k: i64) -> Result<Tensor, EvalError> {
    let n = points.size()[0];
    let mut radii = Vec::new();
    for start in (0..n).step_by(CHUNK as usize) {
        let rows = points.f_narrow(0, start, CHUNK.min(n - start))?;
        let d = Tensor::f_cdist(&rows, points, 2.0, None::<i64>)?;
        // The smallest distance is the point itself (0); the k-th neighbour is at k.
        let (values, _) = d.f_topk(k + 1, 1, false, true)?;
        radii.push(values.f_select(1, k)?);
    }
    Ok(Tensor::f_cat(&radii, 0)?)
}

/// Fraction of `queries` within `radii[j]` of some `centers[j]`.
fn fraction_covered(queries: &Tensor, centers: &Tensor, radii: &Tensor) -> Result<f64, EvalError> {
    let n = queries.size()[0];
    let mut inside = 0i64;
    for start in (0..n).step_by(CHUNK as usize) {
        let rows = queries.f_narrow(0, start, CHUNK.min(n - start))?;
        let d = Tensor::f_cdist(&rows, centers, 2.0, None::<i64>)?;
        let covered = d.f_le_tensor(&radii.f_unsqueeze(0)?)?.f_any_dim(1, false)?;
        inside += covered.f_sum(Kind::Int64)?.int64_value(&[]);
    }
    Ok(inside as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn cloud(n: i64, shift: f64, seed: u64) -> Tensor {
        gan_data::DeviceRng::new(seed)
            .normal(0, &[n, 4], Device::Cpu)
            .unwrap()
            + shift
    }

    #[test]
    fn same_distribution_has_high_precision_and_recall() {
        let (p, r) = precision_recall(&cloud(1500, 0.0, 1), &cloud(1500, 0.0, 2), 3).unwrap();
        assert!(p > 0.8 && r > 0.8, "{p} {r}");
    }

    #[test]
    fn far_away_samples_have_neither() {
        let (p, r) = precision_recall(&cloud(500, 0.0, 1), &cloud(500, 50.0, 2), 3).unwrap();
        assert_eq!((p, r), (0.0, 0.0));
    }

    #[test]
    fn a_collapsed_generator_is_precise_but_recalls_little() {
        // All samples near one real point: inside the real manifold, covering little of it.
        let real = cloud(1000, 0.0, 1);
        let fake = real.narrow(0, 0, 1).repeat([200, 1]) + cloud(200, 0.0, 3) * 0.01;
        let (p, r) = precision_recall(&real, &fake, 3).unwrap();
        assert!(p > 0.95 && r < 0.05, "{p} {r}");
    }

    #[test]
    fn too_few_points_is_an_error() {
        assert!(precision_recall(&cloud(3, 0.0, 1), &cloud(10, 0.0, 2), 3).is_err());
    }
}
