//! How pixel bytes map to model inputs, and back.

use serde::{Deserialize, Serialize};

/// The range pixels are scaled to. Sigmoid generators want [0, 1]; tanh generators [-1, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    /// `byte / 255`: the tutorial's choice, matching a sigmoid output.
    ZeroOne,
    /// `byte / 127.5 - 1`: matching a tanh output.
    MinusOneToOne,
}

impl Scaling {
    /// `(scale, offset)` such that `value = byte * scale + offset`.
    pub fn affine(self) -> (f64, f64) {
        match self {
            Scaling::ZeroOne => (1.0 / 255.0, 0.0),
            Scaling::MinusOneToOne => (1.0 / 127.5, -1.0),
        }
    }

    /// Scales one pixel byte.
    pub fn to_value(self, byte: u8) -> f32 {
        let (scale, offset) = self.affine();
        (f64::from(byte) * scale + offset) as f32
    }

    /// The inverse of [`Scaling::to_value`], rounding and clamping to a byte; NaN maps to 0.
    pub fn to_byte(self, value: f32) -> u8 {
        let (scale, offset) = self.affine();
        let byte = ((f64::from(value) - offset) / scale).round();
        if byte.is_nan() {
            0
        } else {
            byte.clamp(0.0, 255.0) as u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_round_trip() {
        assert_eq!(Scaling::ZeroOne.to_value(0), 0.0);
        assert_eq!(Scaling::ZeroOne.to_value(255), 1.0);
        assert_eq!(Scaling::MinusOneToOne.to_value(0), -1.0);
        assert_eq!(Scaling::MinusOneToOne.to_value(255), 1.0);
        for s in [Scaling::ZeroOne, Scaling::MinusOneToOne] {
            for b in 0..=255u8 {
                assert_eq!(s.to_byte(s.to_value(b)), b);
            }
            assert_eq!(s.to_byte(f32::NAN), 0);
            assert_eq!(s.to_byte(9.0), 255);
            assert_eq!(s.to_byte(-9.0), 0);
        }
    }
}
