//! How much the scores move with the draw of the images: one generator scored on several
//! noise seeds, or the floor on several subsets of the real images. Near the floor a single
//! draw of 10,000 images moves FID by a good part of the gap being measured, so claims
//! should carry this spread.

use std::fmt;

use serde::Serialize;

use crate::evaluator::EvalReport;

/// One score over several draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub mean: f64,
    /// Sample standard deviation (divisor n − 1); 0 for a single draw.
    pub std: f64,
    pub min: f64,
    pub max: f64,
    pub values: Vec<f64>,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: Vec<f64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
        } else {
            0.0
        };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Spread {
            mean,
            std,
            min,
            max,
            values,
        })
    }
}

/// The headline scores of one source of images over several draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSpread {
    /// What the draws were, e.g. "noise seeds 0..=4".
    pub draws: String,
    pub frechet_distance: Spread,
    pub inception_score: Spread,
    pub precision: Spread,
    pub recall: Spread,
    /// For draws of requested digits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_accuracy: Option<Spread>,
}

impl ScoreSpread {
    /// The spread of `reports`, one per draw that `draws` describes; `None` when there are
    /// no reports.
    pub fn of(draws: impl Into<String>, reports: &[EvalReport]) -> Option<ScoreSpread> {
        let over = |score: fn(&EvalReport) -> f64| Spread::of(reports.iter().map(score).collect());
        let label_accuracy = reports
            .iter()
            .map(|r| r.labels.as_ref().map(|l| l.label_accuracy))
            .collect::<Option<Vec<f64>>>()
            .and_then(Spread::of);
        Some(ScoreSpread {
            draws: draws.into(),
            frechet_distance: over(|r| r.frechet_distance)?,
            inception_score: over(|r| r.inception_score)?,
            precision: over(|r| r.precision)?,
            recall: over(|r| r.recall)?,
            label_accuracy,
        })
    }
}

impl fmt::Display for ScoreSpread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "over {} draws ({}): mean ± std [min, max]",
            self.frechet_distance.values.len(),
            self.draws
        )?;
        let row = |f: &mut fmt::Formatter<'_>, name: &str, s: &Spread, scale: f64| {
            writeln!(
                f,
                "{name:<25}{:.3} ± {:.3}  [{:.3}, {:.3}]",
                scale * s.mean,
                scale * s.std,
                scale * s.min,
                scale * s.max
            )
        };
        row(f, "FID (LeNet features)", &self.frechet_distance, 1.0)?;
        row(f, "Inception Score (LeNet)", &self.inception_score, 1.0)?;
        row(f, "precision (k=3)", &self.precision, 1.0)?;
        row(f, "recall (k=3)", &self.recall, 1.0)?;
        if let Some(accuracy) = &self.label_accuracy {
            row(f, "label accuracy (%)", accuracy, 100.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inception::ModeCoverage;

    fn report(fid: f64) -> EvalReport {
        EvalReport {
            samples: 10,
            frechet_distance: fid,
            inception_score: 9.0,
            coverage: ModeCoverage {
                histogram: vec![1; 10],
                kl_to_uniform: 0.0,
                modes: 10,
            },
            precision: 0.8,
            recall: fid / 10.0,
            labels: None,
        }
    }

    #[test]
    fn mean_sample_std_and_range() {
        let s = Spread::of(vec![1.0, 2.0, 3.0, 6.0]).unwrap();
        assert_eq!(s.mean, 3.0);
        // Squared deviations 4 + 1 + 0 + 9 = 14 over n − 1 = 3.
        assert!((s.std - (14.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!((s.min, s.max), (1.0, 6.0));
        assert_eq!(Spread::of(vec![5.0]).unwrap().std, 0.0);
        assert!(Spread::of(Vec::new()).is_none());
    }

    #[test]
    fn spreads_each_score_over_the_reports() {
        let spread = ScoreSpread::of("noise seeds 0..=1", &[report(1.0), report(3.0)]).unwrap();
        assert_eq!(spread.frechet_distance.mean, 2.0);
        assert_eq!(spread.frechet_distance.values, vec![1.0, 3.0]);
        assert!((spread.recall.mean - 0.2).abs() < 1e-12);
        assert_eq!(spread.inception_score.std, 0.0);
        assert!(spread.label_accuracy.is_none());
        let text = spread.to_string();
        assert!(text.contains("over 2 draws (noise seeds 0..=1)"), "{text}");
        assert!(text.contains("2.000 ± 1.414  [1.000, 3.000]"), "{text}");
        assert!(ScoreSpread::of("none", &[]).is_none());
    }
}
