//! Scores of samples drawn with requested classes: does each show the digit asked for, and
//! how close is each class's set to that class's real images.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How one requested class came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub digit: u8,
    /// Samples asked to show this digit.
    pub samples: usize,
    /// Share of them the classifier reads as this digit.
    pub label_accuracy: f64,
    /// Fréchet distance (LeNet features) to the reference images of this digit; `None` below
    /// [`crate::MIN_CLASS_SAMPLES`] samples (or reference images). With about 1,000 samples a class,
    /// values sit above the all-class FID (a smaller set's distance is biased upwards).
    pub frechet_distance: Option<f64>,
}

/// Label-aware scores of a labelled sample set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelScores {
    /// Share of all samples the classifier reads as the digit asked for.
    pub label_accuracy: f64,
    /// One entry per digit, 0 to 9.
    pub classes: Vec<ClassScore>,
}

impl fmt::Display for LabelScores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "label accuracy           {:.2}%  the digit asked for, as the classifier reads it",
            100.0 * self.label_accuracy
        )?;
        write!(f, "per digit                samples  accuracy  FID (LeNet)")?;
        for class in &self.classes {
            let fid = class
                .frechet_distance
                .map_or_else(|| "-".to_owned(), |d| format!("{d:.3}"));
            write!(
                f,
                "\n  {}                      {:>7}  {:>7.2}%  {fid:>11}",
                class.digit,
                class.samples,
                100.0 * class.label_accuracy
            )?;
        }
        Ok(())
    }
}
