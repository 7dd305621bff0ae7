//! What a GAN step reports, which depends on its loss.

use super::GanConfig;
use crate::family::Metric;
use crate::loss::GanLoss;

impl GanConfig {
    /// What a step reports, which depends on the loss.
    pub fn metrics(&self) -> &'static [Metric] {
        match self.loss {
            GanLoss::NonSaturating if self.gradient_penalty.is_some() => PENALIZED_METRICS,
            GanLoss::NonSaturating => METRICS,
            GanLoss::Hinge => HINGE_METRICS,
            GanLoss::LeastSquares => LEAST_SQUARES_METRICS,
            GanLoss::Wasserstein { .. } => WASSERSTEIN_METRICS,
        }
    }
}

/// The non-saturating (BCE) loss's metrics.
pub(super) const METRICS: &[Metric] = &[
    Metric {
        key: "d_loss",
        label: "D loss",
        panel: "loss (BCE)",
        percent: false,
    },
    Metric {
        key: "d_acc",
        label: "D acc",
        panel: "D accuracy",
        percent: true,
    },
    Metric {
        key: "g_loss",
        label: "G loss",
        panel: "loss (BCE)",
        percent: false,
    },
];

/// The non-saturating loss's metrics with a gradient penalty.
const PENALIZED_METRICS: &[Metric] = &[METRICS[0], METRICS[1], PENALTY, METRICS[2]];

const PENALTY: Metric = Metric {
    key: "penalty",
    label: "GP",
    panel: "gradient penalty (unweighted)",
    percent: false,
};

const fn g_loss(panel: &'static str) -> Metric {
    Metric {
        key: "g_loss",
        label: "G loss",
        panel,
        percent: false,
    }
}

const HINGE_METRICS: &[Metric] = &[
    Metric {
        key: "d_loss",
        label: "D loss",
        panel: "loss (hinge)",
        percent: false,
    },
    g_loss("loss (hinge)"),
];

const LEAST_SQUARES_METRICS: &[Metric] = &[
    Metric {
        key: "d_loss",
        label: "D loss",
        panel: "loss (least squares)",
        percent: false,
    },
    g_loss("loss (least squares)"),
];

const WASSERSTEIN_METRICS: &[Metric] = &[
    Metric {
        key: "critic_loss",
        label: "critic loss",
        panel: "loss (Wasserstein)",
        percent: false,
    },
    Metric {
        key: "wasserstein",
        label: "W estimate",
        panel: "E[D(real)] − E[D(fake)]",
        percent: false,
    },
    PENALTY,
    g_loss("loss (Wasserstein)"),
];
