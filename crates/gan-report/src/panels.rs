//! A run's metrics as chart panels: the family's curves, then the evaluations.

use gan_training::metrics::Table;
use gan_training::Metric;
use gan_viz::{Curve, Panel};

/// One panel per distinct [`Metric::panel`] of the family (in first-use order), plus FID and
/// precision/recall (and label accuracy, for a conditional model) when the run was evaluated,
/// and the held-out negative ELBO and NLL of a likelihood model.
///
/// Without the family's metrics (a run whose config is unreadable) each column of the file
/// gets a panel of its own.
pub fn chart_panels(table: &Table, family_metrics: Option<&[Metric]>) -> Vec<Panel> {
    let mut panels: Vec<Panel> = Vec::new();
    let named: Vec<(&str, &str, &str)> = match family_metrics {
        Some(metrics) => metrics.iter().map(|m| (m.key, m.label, m.panel)).collect(),
        None => table
            .columns
            .iter()
            .map(|c| (c.as_str(), c.as_str(), c.as_str()))
            .collect(),
    };
    for (key, label, panel_label) in named {
        let Some(points) = table.series(key) else {
            continue;
        };
        let curve = Curve::new(label, points);
        match panels.iter_mut().find(|p| p.y_label == panel_label) {
            Some(panel) => panel.curves.push(curve),
            None => panels.push(Panel {
                y_label: panel_label.into(),
                curves: vec![curve],
            }),
        }
    }
    let evaluated: Vec<(f64, [f64; 5])> = table
        .rows
        .iter()
        .filter_map(|r| r.eval.map(|e| (r.step as f64, e)))
        .collect();
    if !evaluated.is_empty() {
        let series = |i: usize| {
            evaluated
                .iter()
                .map(|(s, e)| (*s, e[i]))
                .collect::<Vec<_>>()
        };
        panels.push(Panel {
            y_label: "FID (LeNet)".into(),
            curves: vec![Curve::new("FID (LeNet features)", series(0))],
        });
        let mut shares = vec![
            Curve::new("precision", series(3)),
            Curve::new("recall", series(4)),
        ];
        let label_accuracy: Vec<(f64, f64)> = table
            .rows
            .iter()
            .filter_map(|r| r.label_accuracy.map(|a| (r.step as f64, a)))
            .collect();
        if !label_accuracy.is_empty() {
            shares.push(Curve::new("label accuracy", label_accuracy));
        }
        let y_label = if shares.len() > 2 {
            "precision / recall / label accuracy"
        } else {
            "precision / recall"
        };
        panels.push(Panel {
            y_label: y_label.into(),
            curves: shares,
        });
    }
    let held_out: Vec<(f64, [f64; 2])> = table
        .rows
        .iter()
        .filter_map(|r| r.likelihood.map(|l| (r.step as f64, l)))
        .collect();
    if !held_out.is_empty() {
        let negative_elbo = held_out.iter().map(|(s, l)| (*s, -l[0])).collect();
        let nll = held_out.iter().map(|(s, l)| (*s, l[1])).collect();
        panels.push(Panel {
            y_label: "held-out nats per image".into(),
            curves: vec![
                Curve::new("−ELBO", negative_elbo),
                Curve::new("NLL (importance-weighted)", nll),
            ],
        });
    }
    panels
}

#[cfg(test)]
mod tests {
    use super::*;
    use gan_training::metrics::Row;

    fn row(step: u64, eval: Option<[f64; 5]>) -> Row {
        Row {
            step,
            values: vec![0.5, 0.9, 1.5],
            elapsed_s: step as f64,
            eval,
            label_accuracy: None,
            likelihood: None,
        }
    }

    #[test]
    fn family_metrics_share_panels_and_evaluations_add_two() {
        let table = Table {
            columns: vec!["d_loss".into(), "d_acc".into(), "g_loss".into()],
            rows: vec![row(1, None), row(2, Some([3.0, 9.0, 10.0, 0.8, 0.7]))],
        };
        let mlp = gan_training::TrainConfig::preset("mlp").unwrap();
        let panels = chart_panels(&table, Some(mlp.model.metrics()));
        let labels: Vec<&str> = panels.iter().map(|p| p.y_label.as_str()).collect();
        assert_eq!(labels.len(), 4, "{labels:?}");
        assert_eq!(panels[0].curves.len(), 2, "D and G loss share a panel");
        assert_eq!(labels[2], "FID (LeNet)");
        let unnamed = chart_panels(&table, None);
        assert_eq!(
            unnamed.len(),
            5,
            "one panel per column, then the evaluations"
        );
        assert_eq!(unnamed[1].y_label, "d_acc");
    }
}
