//! How a noise level becomes features a network can read.

use tch::{Kind, Tensor};

/// The sinusoidal features of Vaswani et al.'s positions, as diffusion models embed their
/// time: for `t` in [0, 1] (scaled by 1,000, the discrete steps of DDPM, so the fastest
/// frequency still turns between neighbouring steps), `dim / 2` sines then `dim / 2` cosines
/// of geometrically spaced frequencies from 1 down to 1/10,000. `(N,)` → `(N, dim)`.
pub fn sinusoidal_features(t: &Tensor, dim: i64) -> Tensor {
    let half = dim / 2;
    let device = t.device();
    let exponents = Tensor::arange(half, (Kind::Float, device)) * (-(10_000f64.ln()) / half as f64);
    let angles = (t.to_kind(Kind::Float) * 1_000.0).unsqueeze(1) * exponents.exp().unsqueeze(0);
    Tensor::cat(&[angles.sin(), angles.cos()], 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_sines_then_cosines_of_falling_frequencies() {
        let t = Tensor::from_slice(&[0.0f32, 0.001]);
        let f = sinusoidal_features(&t, 8);
        assert_eq!(f.size(), vec![2, 8]);
        let at = |row: i64, col: i64| f.double_value(&[row, col]);
        for col in 0..4 {
            assert_eq!(at(0, col), 0.0);
            assert_eq!(at(0, col + 4), 1.0);
        }
        // t = 0.001 is step 1: the first frequency turns by one radian.
        assert!((at(1, 0) - 1f64.sin()).abs() < 1e-6);
        assert!((at(1, 4) - 1f64.cos()).abs() < 1e-6);
        assert!(at(1, 3).abs() < at(1, 0).abs());
    }
}
