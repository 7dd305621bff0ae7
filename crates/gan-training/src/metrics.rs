//! `metrics.csv`: one row per step, appended as training goes and cut back on resume. The
//! columns between `step` and `elapsed_s` are the family's metrics (`d_loss,d_acc,g_loss` for
//! a GAN). When evaluation is on, rows of evaluated steps also carry FID, IS, modes,
//! precision and recall, and for a conditional model the label accuracy (other rows leave
//! those fields empty).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use gan_eval::EvalReport;

use crate::atomic::write_atomic;
use crate::error::TrainError;
use crate::family::Metric;
use crate::likelihood::LikelihoodReport;

/// The values of one step, named by [`crate::Trainer::metrics`].
#[derive(Debug, Clone, PartialEq)]
pub struct StepMetrics {
    /// Completed steps, counting this one (1-based).
    pub step: u64,
    /// One value per metric of the family, in its order.
    pub values: Vec<f64>,
}

impl StepMetrics {
    /// `D loss 0.6107 | D acc 63.28% | G loss 1.0605`.
    pub fn describe(&self, metrics: &[Metric]) -> String {
        metrics
            .iter()
            .zip(&self.values)
            .map(|(m, v)| {
                if m.percent {
                    format!("{} {:.2}%", m.label, 100.0 * v)
                } else {
                    format!("{} {v:.4}", m.label)
                }
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

pub const EVAL_COLUMNS: [&str; 5] = ["fid", "inception_score", "modes", "precision", "recall"];
/// The column after [`EVAL_COLUMNS`] in runs of a conditional model.
pub const LABEL_ACCURACY_COLUMN: &str = "label_acc";

/// The columns after those in runs of a likelihood model that evaluate: the held-out ELBO and
/// the importance-weighted negative log-likelihood, nats per image.
pub const LIKELIHOOD_COLUMNS: [&str; 2] = ["test_elbo", "test_nll"];

/// Which evaluation columns a metrics file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalColumns {
    None,
    /// [`EVAL_COLUMNS`].
    Unlabelled,
    /// [`EVAL_COLUMNS`] and [`LABEL_ACCURACY_COLUMN`].
    Labelled,
}

/// The header line for a family's `metrics` and the evaluation columns (with
/// [`LIKELIHOOD_COLUMNS`] when `likelihood`).
pub fn header(metrics: &[Metric], eval: EvalColumns, likelihood: bool) -> String {
    let mut columns = vec!["step"];
    columns.extend(metrics.iter().map(|m| m.key));
    columns.push("elapsed_s");
    if eval != EvalColumns::None {
        columns.extend(EVAL_COLUMNS);
    }
    if eval == EvalColumns::Labelled {
        columns.push(LABEL_ACCURACY_COLUMN);
    }
    if likelihood {
        columns.extend(LIKELIHOOD_COLUMNS);
    }
    columns.join(",")
}

/// One parsed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub step: u64,
    /// The family's metrics, in the order of [`Table::columns`].
    pub values: Vec<f64>,
    pub elapsed_s: f64,
    /// FID, Inception Score, modes, precision, recall.
    pub eval: Option<[f64; 5]>,
    /// Share of samples read as the digit asked for (conditional models).
    pub label_accuracy: Option<f64>,
    /// Held-out ELBO and negative log-likelihood (likelihood models).
    pub likelihood: Option<[f64; 2]>,
}

/// A parsed metrics file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The family's metric keys, as in the header.
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    /// `(step, value)` of the column `key`, if the file has it.
    pub fn series(&self, key: &str) -> Option<Vec<(f64, f64)>> {
        let i = self.columns.iter().position(|c| c == key)?;
        Some(
            self.rows
                .iter()
                .map(|r| (r.step as f64, r.values[i]))
                .collect(),
        )
    }
}

/// Appends rows to a metrics file.
pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
    eval: EvalColumns,
    likelihood: bool,
}

impl MetricsLog {
    /// Opens `path` for a run that has completed `completed` steps: rows after that step
    /// (written after the checkpoint being resumed) are dropped, and so are rows that do not
    /// parse, with a warning ([`check_resumable`] refuses those before a resume starts). The
    /// header names `metrics`, the `eval` columns and, with `likelihood`,
    /// [`LIKELIHOOD_COLUMNS`].
    pub fn open(
        path: &Path,
        completed: u64,
        metrics: &[Metric],
        eval: EvalColumns,
        likelihood: bool,
    ) -> Result<MetricsLog, TrainError> {
        let kept = resumable_rows(path, completed, UnreadableRows::Drop)?;
        let mut text = header(metrics, eval, likelihood);
        text.push('\n');
        for line in kept {
            text.push_str(&line);
            text.push('\n');
        }
        write_atomic(path, text.as_bytes())?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| TrainError::io(path, e))?;
        Ok(MetricsLog {
            path: path.to_owned(),
            out: BufWriter::new(file),
            eval,
            likelihood,
        })
    }

    pub fn append(
        &mut self,
        m: &StepMetrics,
        elapsed_s: f64,
        eval: Option<&EvalReport>,
        likelihood: Option<&LikelihoodReport>,
    ) -> Result<(), TrainError> {
        let mut line = m.step.to_string();
        for value in &m.values {
            line.push_str(&format!(",{value}"));
        }
        line.push_str(&format!(",{elapsed_s:.3}"));
        match eval {
            Some(r) => line.push_str(&format!(
                ",{},{},{},{},{}",
                r.frechet_distance, r.inception_score, r.coverage.modes, r.precision, r.recall
            )),
            None if self.eval != EvalColumns::None => line.push_str(",,,,,"),
            None => {}
        }
        if self.eval == EvalColumns::Labelled {
            line.push(',');
            if let Some(scores) = eval.and_then(|r| r.labels.as_ref()) {
                line.push_str(&scores.label_accuracy.to_string());
            }
        }
        if self.likelihood {
            match likelihood {
                Some(l) => line.push_str(&format!(",{},{}", l.elbo, l.negative_log_likelihood())),
                None => line.push_str(",,"),
            }
        }
        writeln!(self.out, "{line}").map_err(|e| TrainError::io(&self.path, e))
    }

    /// Pushes buffered rows to the file and to disk.
    pub fn flush(&mut self) -> Result<(), TrainError> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|e| TrainError::io(&self.path, e))
    }
}

/// What a resume does with lines of `metrics.csv` that are not metrics rows (damaged by an
/// edit, a copy or a crash) at or before the checkpoint it resumes. Lines past the checkpoint
/// are dropped either way, as the rows of steps it will train again are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnreadableRows {
    /// Refuse to resume, naming the first such line.
    #[default]
    Refuse,
    /// Drop them, with a warning naming each.
    Drop,
}

/// Fails, naming the line, if resuming after `completed` steps would meet a line of `path`
/// that is not a metrics row before reaching that step (unless `unreadable` drops them).
/// Reads only.
pub fn check_resumable(
    path: &Path,
    completed: u64,
    unreadable: UnreadableRows,
) -> Result<(), TrainError> {
    match unreadable {
        UnreadableRows::Refuse => resumable_rows(path, completed, unreadable).map(drop),
        // [`MetricsLog::open`] drops them, warning once for each.
        UnreadableRows::Drop => Ok(()),
    }
}

/// The lines of `path` a run resumed after `completed` steps keeps: its rows up to that step.
fn resumable_rows(
    path: &Path,
    completed: u64,
    unreadable: UnreadableRows,
) -> Result<Vec<String>, TrainError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let way_out = "mend or delete that line, or resume with --drop-bad-metrics to drop the \
                   lines that are not rows";
    let layout = match Layout::of_header(text.lines().next().unwrap_or("")) {
        Ok(layout) => layout,
        Err(why) if unreadable == UnreadableRows::Refuse => {
            return Err(TrainError::BadMetrics {
                path: path.to_owned(),
                line: 1,
                why: format!("{why}; {way_out}"),
            })
        }
        Err(why) => {
            tracing::warn!("{} line 1: {why}; dropping its rows", path.display());
            return Ok(Vec::new());
        }
    };
    let mut kept = Vec::new();
    let mut last_step = 0;
    for (i, line) in text.lines().enumerate().skip(1) {
        match parse_row(line, &layout) {
            Some(row) if row.step > completed => break,
            Some(row) => {
                last_step = row.step;
                kept.push(line.to_owned());
            }
            // Past the checkpoint: a row cut short by a crash, say.
            None if last_step >= completed => break,
            None if unreadable == UnreadableRows::Refuse => {
                return Err(TrainError::BadMetrics {
                    path: path.to_owned(),
                    line: i + 1,
                    why: format!(
                        "not a metrics row: {line:?}, before the checkpoint at step \
                         {completed} that the run resumes from; {way_out}"
                    ),
                });
            }
            None => tracing::warn!(
                "{} line {}: dropping {line:?}, which is not a metrics row",
                path.display(),
                i + 1
            ),
        }
    }
    Ok(kept)
}

/// Parses a metrics file; any line that is not a row is an error naming it.
pub fn read(path: &Path) -> Result<Table, TrainError> {
    let (table, bad_line) = read_partial(path)?;
    match bad_line {
        Some(error) => Err(error),
        None => Ok(table),
    }
}

/// Parses a metrics file as far as it is readable: the rows before the first line that is
/// not a row (a file cut short by a crash, or edited), and the error of that line. A file
/// without a usable header is an error.
pub fn read_partial(path: &Path) -> Result<(Table, Option<TrainError>), TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let bad = |line: usize, why: String| TrainError::BadMetrics {
        path: path.to_owned(),
        line,
        why,
    };
    let header = text.lines().next().unwrap_or("");
    let layout = Layout::of_header(header).map_err(|why| bad(1, why))?;
    let columns: Vec<String> = header.split(',').collect::<Vec<_>>()[1..layout.elapsed_at]
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut rows = Vec::new();
    let mut bad_line = None;
    for (i, line) in text.lines().enumerate().skip(1) {
        match parse_row(line, &layout) {
            Some(row) => rows.push(row),
            None => {
                bad_line = Some(bad(i + 1, format!("not a metrics row: {line:?}")));
                break;
            }
        }
    }
    Ok((Table { columns, rows }, bad_line))
}

/// Where the optional columns sit in a file's header.
struct Layout {
    elapsed_at: usize,
    label_accuracy_at: Option<usize>,
    likelihood_at: Option<usize>,
}

impl Layout {
    /// The layout a header line names, or why it is not a metrics header.
    fn of_header(header: &str) -> Result<Layout, String> {
        let columns: Vec<&str> = header.split(',').collect();
        let Some(elapsed_at) = columns.iter().position(|c| *c == "elapsed_s") else {
            return Err("the header has no elapsed_s column".to_owned());
        };
        if columns[0] != "step" {
            return Err("the header does not start with step".to_owned());
        }
        Ok(Layout {
            elapsed_at,
            label_accuracy_at: columns.iter().position(|c| *c == LABEL_ACCURACY_COLUMN),
            likelihood_at: columns.iter().position(|c| *c == LIKELIHOOD_COLUMNS[0]),
        })
    }
}

fn parse_row(line: &str, layout: &Layout) -> Option<Row> {
    let fields: Vec<&str> = line.split(',').collect();
    let number = |j: usize| -> Option<f64> { fields.get(j)?.parse().ok() };
    let present = |j: usize| fields.get(j).is_some_and(|f| !f.is_empty());
    let e = layout.elapsed_at + 1;
    let eval = if fields.len() >= e + 5 && present(e) {
        Some([
            number(e)?,
            number(e + 1)?,
            number(e + 2)?,
            number(e + 3)?,
            number(e + 4)?,
        ])
    } else {
        None
    };
    let label_accuracy = match layout.label_accuracy_at {
        Some(j) if present(j) => Some(number(j)?),
        _ => None,
    };
    let likelihood = match layout.likelihood_at {
        Some(j) if present(j) => Some([number(j)?, number(j + 1)?]),
        _ => None,
    };
    Some(Row {
        likelihood,
        step: number(0)? as u64,
        values: (1..layout.elapsed_at).map(number).collect::<Option<_>>()?,
        elapsed_s: number(layout.elapsed_at)?,
        eval,
        label_accuracy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(step: u64) -> StepMetrics {
        StepMetrics {
            step,
            values: vec![0.5, 0.75, 1.25],
        }
    }

    fn gan_metrics() -> &'static [Metric] {
        crate::presets::find("mlp")
            .unwrap()
            .config()
            .model
            .metrics()
    }

    /// A damaged line before the resumed checkpoint is refused (naming the line and the way
    /// out) or dropped when asked; one past it goes with the rows past it.
    #[test]
    fn unreadable_lines_before_the_checkpoint_are_refused_or_dropped_on_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let header = "step,d_loss,d_acc,g_loss,elapsed_s\n";
        std::fs::write(
            &path,
            format!("{header}1,0.5,0.5,0.5,1.0\n2,oops\n3,0.5,0.5,0.5,3.0\n4,0.5,0.5"),
        )
        .unwrap();
        let err = check_resumable(&path, 3, UnreadableRows::Refuse)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("metrics.csv line 3") && err.contains("--drop-bad-metrics"),
            "{err}"
        );
        assert_eq!(
            resumable_rows(&path, 3, UnreadableRows::Drop).unwrap(),
            ["1,0.5,0.5,0.5,1.0", "3,0.5,0.5,0.5,3.0"]
        );
        // Resuming at step 1, line 3 lies past the checkpoint.
        assert_eq!(
            resumable_rows(&path, 1, UnreadableRows::Refuse).unwrap(),
            ["1,0.5,0.5,0.5,1.0"]
        );
        std::fs::write(&path, "garbage\n1,2,3\n").unwrap();
        let err = check_resumable(&path, 1, UnreadableRows::Refuse)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && err.contains("header"), "{err}");
        assert!(resumable_rows(&path, 1, UnreadableRows::Drop)
            .unwrap()
            .is_empty());
        let table_err = read(&path).unwrap_err().to_string();
        assert!(!table_err.contains("checkpoint"), "{table_err}");
    }

    #[test]
    fn append_then_resume_drops_later_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::open(&path, 0, gan_metrics(), EvalColumns::None, false).unwrap();
        for s in 1..=5 {
            log.append(&m(s), s as f64, None, None).unwrap();
        }
        log.flush().unwrap();
        drop(log);
        let mut log = MetricsLog::open(&path, 3, gan_metrics(), EvalColumns::None, false).unwrap();
        log.append(&m(4), 9.0, None, None).unwrap();
        log.flush().unwrap();
        let table = read(&path).unwrap();
        assert_eq!(table.columns, ["d_loss", "d_acc", "g_loss"]);
        let rows = table.rows;
        assert_eq!(
            rows.iter().map(|r| r.step).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(rows[3].elapsed_s, 9.0);
        assert_eq!(rows[3].values, [0.5, 0.75, 1.25]);
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with("step,d_loss,d_acc,g_loss,elapsed_s\n"));
    }

    #[test]
    fn evaluation_columns_are_optional_per_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log =
            MetricsLog::open(&path, 0, gan_metrics(), EvalColumns::Unlabelled, false).unwrap();
        let mut report = EvalReport {
            samples: 10,
            frechet_distance: 12.5,
            inception_score: 8.0,
            coverage: gan_eval::ModeCoverage {
                histogram: vec![1; 10],
                modes: 10,
                kl_to_uniform: 0.0,
            },
            precision: 0.5,
            recall: 0.25,
            labels: None,
        };
        log.append(&m(1), 1.0, None, None).unwrap();
        log.append(&m(2), 2.0, Some(&report), None).unwrap();
        log.flush().unwrap();
        let rows = read(&path).unwrap().rows;
        assert_eq!(rows[0].eval, None);
        assert_eq!(rows[1].eval, Some([12.5, 8.0, 10.0, 0.5, 0.25]));
        assert_eq!(rows[1].label_accuracy, None);
        assert!(std::fs::read_to_string(&path).unwrap().starts_with(
            "step,d_loss,d_acc,g_loss,elapsed_s,fid,inception_score,modes,precision,recall\n"
        ));

        // A conditional run's file ends with the label accuracy.
        let path = dir.path().join("labelled.csv");
        let mut log =
            MetricsLog::open(&path, 0, gan_metrics(), EvalColumns::Labelled, false).unwrap();
        report.labels = Some(gan_eval::LabelScores {
            label_accuracy: 0.875,
            classes: Vec::new(),
        });
        log.append(&m(1), 1.0, None, None).unwrap();
        log.append(&m(2), 2.0, Some(&report), None).unwrap();
        log.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(
            "step,d_loss,d_acc,g_loss,elapsed_s,fid,inception_score,modes,precision,recall,label_acc\n"
        ), "{text}");
        let rows = read(&path).unwrap().rows;
        assert_eq!((rows[0].eval, rows[0].label_accuracy), (None, None));
        assert_eq!(rows[1].label_accuracy, Some(0.875));
    }

    #[test]
    fn likelihood_columns_follow_the_evaluation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::open(&path, 0, gan_metrics(), EvalColumns::None, true).unwrap();
        let report = LikelihoodReport {
            images: 10,
            binarized: true,
            importance_samples: 5,
            dimensions: 784,
            elbo: -95.5,
            log_likelihood: -91.25,
        };
        log.append(&m(1), 1.0, None, None).unwrap();
        log.append(&m(2), 2.0, None, Some(&report)).unwrap();
        log.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("step,d_loss,d_acc,g_loss,elapsed_s,test_elbo,test_nll\n"),
            "{text}"
        );
        let rows = read(&path).unwrap().rows;
        assert_eq!(rows[0].likelihood, None);
        assert_eq!(rows[1].likelihood, Some([-95.5, 91.25]));
    }
}
