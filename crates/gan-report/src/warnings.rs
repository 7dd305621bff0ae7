//! What went wrong in a run, found in its files: a digit the model (nearly) stopped drawing,
//! a discriminator that wins every time, a stop on a non-finite loss or another error, and
//! where training was interrupted and resumed.

use gan_training::history::RunEventKind;

use crate::record::RunRecord;

/// A digit under this share of the samples counts as dropped (uniform is 10%).
pub const COLLAPSE_SHARE: f64 = 0.02;
/// D accuracy at or above this counts as pinned at 100%.
pub const PINNED_ACCURACY: f64 = 0.999;
/// Recorded steps at the end of a run that must all be pinned for the warning.
pub const PINNED_STEPS: usize = 200;

/// One finding, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub title: &'static str,
    pub detail: String,
}

/// Everything worth a warning in `record`, most serious first.
pub fn find(record: &RunRecord) -> Vec<Warning> {
    let mut found = Vec::new();
    stops(record, &mut found);
    collapse(record, &mut found);
    pinned_discriminator(record, &mut found);
    interruptions(record, &mut found);
    found
}

fn stops(record: &RunRecord, found: &mut Vec<Warning>) {
    for e in record
        .history
        .iter()
        .filter(|e| e.event == RunEventKind::Failed)
    {
        found.push(Warning {
            title: "training stopped by an error",
            detail: format!("at step {}: {}", e.step, e.detail),
        });
    }
    let last = record.metrics.as_ref().and_then(|t| {
        t.rows
            .iter()
            .find(|r| r.values.iter().any(|v| !v.is_finite()))
            .map(|r| (t, r))
    });
    if let Some((table, row)) = last {
        let columns: Vec<&str> = table
            .columns
            .iter()
            .zip(&row.values)
            .filter(|(_, v)| !v.is_finite())
            .map(|(c, _)| c.as_str())
            .collect();
        found.push(Warning {
            title: "non-finite loss",
            detail: format!(
                "{} is not finite at step {} (the run stops on NaN or infinity; resume from an \
                 earlier checkpoint with a lower learning rate)",
                columns.join(", "),
                row.step
            ),
        });
    }
}

fn collapse(record: &RunRecord, found: &mut Vec<Warning>) {
    if let Some(e) = &record.evaluation {
        let histogram = &e.report.coverage.histogram;
        let total: i64 = histogram.iter().sum();
        let rare: Vec<String> = histogram
            .iter()
            .enumerate()
            .filter(|(_, &n)| total > 0 && (n as f64 / total as f64) < COLLAPSE_SHARE)
            .map(|(digit, &n)| format!("{digit} ({:.1}%)", 100.0 * n as f64 / total as f64))
            .collect();
        if !rare.is_empty() {
            found.push(Warning {
                title: "mode collapse",
                detail: format!(
                    "digits under {:.0}% of {} samples at step {}: {}",
                    100.0 * COLLAPSE_SHARE,
                    total,
                    e.step,
                    rare.join(", ")
                ),
            });
        }
        return;
    }
    let last_eval = record.metrics.as_ref().and_then(|t| {
        t.rows
            .iter()
            .rev()
            .find_map(|r| r.eval.map(|e| (r.step, e)))
    });
    if let Some((step, eval)) = last_eval {
        if eval[2] < 10.0 {
            found.push(Warning {
                title: "mode collapse",
                detail: format!(
                    "only {} of 10 digits reach 5% of the samples at step {step} (evaluation \
                     during training)",
                    eval[2]
                ),
            });
        }
    }
}

fn pinned_discriminator(record: &RunRecord, found: &mut Vec<Warning>) {
    let Some(table) = &record.metrics else {
        return;
    };
    let Some(at) = table.columns.iter().position(|c| c == "d_acc") else {
        return;
    };
    if table.rows.len() < PINNED_STEPS {
        return;
    }
    let pinned_from = table
        .rows
        .iter()
        .rposition(|r| r.values[at] < PINNED_ACCURACY)
        .map_or(0, |i| i + 1);
    let pinned = table.rows.len() - pinned_from;
    if pinned >= PINNED_STEPS {
        found.push(Warning {
            title: "discriminator accuracy pinned at 100%",
            detail: format!(
                "D told every real from every fake for the last {pinned} recorded steps (from step \
                 {}): G gets almost no gradient and its samples stop improving",
                table.rows[pinned_from].step
            ),
        });
    }
}

fn interruptions(record: &RunRecord, found: &mut Vec<Warning>) {
    for e in &record.history {
        let (title, what) = match e.event {
            RunEventKind::Interrupted => ("interrupted", "interrupted after step"),
            RunEventKind::Resumed => ("resumed", "resumed from the checkpoint of step"),
            _ => continue,
        };
        found.push(Warning {
            title,
            detail: format!("{what} {}", e.step),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gan_training::history::RunEvent;
    use gan_training::metrics::{Row, Table};

    fn record_with(rows: Vec<Row>) -> RunRecord {
        let dir = tempfile::tempdir().unwrap();
        let mut record = RunRecord::read(dir.path()).unwrap();
        record.metrics = Some(Table {
            columns: vec!["d_loss".into(), "d_acc".into(), "g_loss".into()],
            rows,
        });
        record
    }

    fn row(step: u64, d_acc: f64, g_loss: f64) -> Row {
        Row {
            step,
            values: vec![0.1, d_acc, g_loss],
            elapsed_s: step as f64,
            eval: None,
            label_accuracy: None,
            likelihood: None,
        }
    }

    #[test]
    fn a_pinned_discriminator_is_found_only_when_it_stays_pinned() {
        let mut rows: Vec<Row> = (1..=100).map(|s| row(s, 0.8, 1.0)).collect();
        rows.extend((101..=350).map(|s| row(s, 1.0, 9.0)));
        let found = find(&record_with(rows.clone()));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].detail.contains("last 250") && found[0].detail.contains("step 101"));
        rows[300].values[1] = 0.9;
        assert!(find(&record_with(rows)).is_empty());
    }

    #[test]
    fn nan_stops_interruptions_and_few_digits_are_reported() {
        let mut rows = vec![row(1, 0.5, 1.0), row(2, 0.5, f64::NAN)];
        rows[0].eval = Some([50.0, 3.0, 6.0, 0.5, 0.2]);
        let mut record = record_with(rows);
        record.history = vec![
            RunEvent::now(RunEventKind::Started, 0, ""),
            RunEvent::now(RunEventKind::Interrupted, 1, ""),
            RunEvent::now(RunEventKind::Resumed, 1, ""),
            RunEvent::now(RunEventKind::Failed, 2, "g_loss is NaN"),
        ];
        let titles: Vec<&str> = find(&record).iter().map(|w| w.title).collect();
        assert_eq!(
            titles,
            [
                "training stopped by an error",
                "non-finite loss",
                "mode collapse",
                "interrupted",
                "resumed"
            ]
        );
    }
}
