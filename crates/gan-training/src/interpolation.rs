//! Latent walks: points between two noise vectors (or two digits' class weights), for
//! pictures of how a model's output changes along its latent space.
//!
//! Gaussian noise in many dimensions lies near a sphere of radius √d; the straight line
//! between two draws passes well inside it, where the generator saw no noise in training.
//! Spherical interpolation (White, "Sampling Generative Networks", 2016) stays near the shell.

/// How to move between two points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Interpolation {
    /// Along the great circle, with the norm interpolated linearly (for Gaussian noise).
    #[default]
    Spherical,
    /// Along the straight line (for class weights, or by request).
    Linear,
}

/// The point a fraction `t` (0 = `a`, 1 = `b`) of the way from `a` to `b`.
pub fn interpolate(a: &[f32], b: &[f32], t: f64, how: Interpolation) -> Vec<f32> {
    assert_eq!(
        a.len(),
        b.len(),
        "interpolating vectors of different lengths"
    );
    let lerp = |x: f64, y: f64| x + (y - x) * t;
    if how == Interpolation::Linear {
        return a
            .iter()
            .zip(b)
            .map(|(&x, &y)| lerp(f64::from(x), f64::from(y)) as f32)
            .collect();
    }
    let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na < 1e-12 || nb < 1e-12 {
        return interpolate(a, b, t, Interpolation::Linear);
    }
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let omega = (dot / (na * nb)).clamp(-1.0, 1.0).acos();
    let sin_omega = omega.sin();
    if sin_omega.abs() < 1e-6 {
        // (Anti)parallel: every great circle through them is as good; the line is the limit.
        return interpolate(a, b, t, Interpolation::Linear);
    }
    // Directions along the arc, then the norm blended between the two ends.
    let (wa, wb) = (
        ((1.0 - t) * omega).sin() / sin_omega / na,
        (t * omega).sin() / sin_omega / nb,
    );
    let radius = lerp(na, nb);
    a.iter()
        .zip(b)
        .map(|(&x, &y)| ((wa * f64::from(x) + wb * f64::from(y)) * radius) as f32)
        .collect()
}

/// For each consecutive pair of `points`, `steps` points from the first to the second (both
/// ends included): one row per leg of the walk.
pub fn walk(points: &[Vec<f32>], steps: usize, how: Interpolation) -> Vec<Vec<Vec<f32>>> {
    points
        .windows(2)
        .map(|pair| {
            (0..steps)
                .map(|i| {
                    let t = if steps > 1 {
                        i as f64 / (steps - 1) as f64
                    } else {
                        0.0
                    };
                    interpolate(&pair[0], &pair[1], t, how)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[f32]) -> f64 {
        v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn both_paths_start_and_end_at_the_points() {
        let (a, b) = (vec![1.0f32, 2.0, -1.0], vec![-3.0f32, 0.5, 2.0]);
        for how in [Interpolation::Spherical, Interpolation::Linear] {
            let start = interpolate(&a, &b, 0.0, how);
            let end = interpolate(&a, &b, 1.0, how);
            for (x, y) in start.iter().zip(&a).chain(end.iter().zip(&b)) {
                assert!((x - y).abs() < 1e-5, "{how:?}: {start:?} {end:?}");
            }
        }
    }

    #[test]
    fn spherical_midpoint_of_orthogonal_unit_vectors_stays_on_the_circle() {
        let (a, b) = (vec![1.0f32, 0.0], vec![0.0f32, 1.0]);
        let mid = interpolate(&a, &b, 0.5, Interpolation::Spherical);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!(
            (mid[0] - h).abs() < 1e-6 && (mid[1] - h).abs() < 1e-6,
            "{mid:?}"
        );
        let line = interpolate(&a, &b, 0.5, Interpolation::Linear);
        assert_eq!(line, vec![0.5, 0.5]);
    }

    #[test]
    fn spherical_norm_is_blended_linearly_and_parallel_vectors_fall_back_to_the_line() {
        let (a, b) = (vec![3.0f32, 0.0, 0.0], vec![0.0f32, 0.0, 5.0]);
        let p = interpolate(&a, &b, 0.25, Interpolation::Spherical);
        assert!((norm(&p) - 3.5).abs() < 1e-5, "{p:?}");
        let q = interpolate(&[1.0, 1.0], &[2.0, 2.0], 0.5, Interpolation::Spherical);
        assert!(
            (q[0] - 1.5).abs() < 1e-6 && (q[1] - 1.5).abs() < 1e-6,
            "{q:?}"
        );
    }

    #[test]
    fn a_walk_has_one_row_per_leg() {
        let points = vec![vec![0.0f32], vec![1.0], vec![3.0]];
        let rows = walk(&points, 3, Interpolation::Linear);
        assert_eq!(
            rows,
            vec![
                vec![vec![0.0], vec![0.5], vec![1.0]],
                vec![vec![1.0], vec![2.0], vec![3.0]]
            ]
        );
    }
}
