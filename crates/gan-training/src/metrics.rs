//! `metrics.csv`: one row per step, appended as training goes and cut back on resume. When
//! evaluation is on, rows of evaluated steps also carry FID, IS, modes, precision and recall
//! (other rows leave those fields empty).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use gan_eval::EvalReport;

use crate::atomic::write_atomic;
use crate::error::TrainError;
use crate::trainer::StepMetrics;

pub const HEADER: &str = "step,d_loss,d_acc,g_loss,elapsed_s";
pub const EVAL_HEADER: &str = ",fid,inception_score,modes,precision,recall";

/// One parsed row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub step: u64,
    pub d_loss: f64,
    pub d_acc: f64,
    pub g_loss: f64,
    pub elapsed_s: f64,
    /// FID, Inception Score, modes, precision, recall.
    pub eval: Option<[f64; 5]>,
}

/// Appends rows to a metrics file.
pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
    with_eval: bool,
}

impl MetricsLog {
    /// Opens `path` for a run that has completed `completed` steps: rows after that step
    /// (written after the checkpoint being resumed) are dropped. `with_eval` adds the
    /// evaluation columns to the header.
    pub fn open(path: &Path, completed: u64, with_eval: bool) -> Result<MetricsLog, TrainError> {
        let kept: Vec<String> = match std::fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .skip(1)
                .filter(|line| {
                    line.split(',')
                        .next()
                        .and_then(|s| s.parse::<u64>().ok())
                        .is_some_and(|step| step <= completed)
                })
                .map(str::to_owned)
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(TrainError::io(path, e)),
        };
        let mut text = format!("{HEADER}{}\n", if with_eval { EVAL_HEADER } else { "" });
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
            with_eval,
        })
    }

    pub fn append(
        &mut self,
        m: &StepMetrics,
        elapsed_s: f64,
        eval: Option<&EvalReport>,
    ) -> Result<(), TrainError> {
        let mut line = format!(
            "{},{},{},{},{elapsed_s:.3}",
            m.step, m.d_loss, m.d_acc, m.g_loss
        );
        match eval {
            Some(r) => line.push_str(&format!(
                ",{},{},{},{},{}",
                r.frechet_distance, r.inception_score, r.coverage.modes, r.precision, r.recall
            )),
            None if self.with_eval => line.push_str(",,,,,"),
            None => {}
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

/// Parses a metrics file.
pub fn read(path: &Path) -> Result<Vec<Row>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let bad = || TrainError::BadCheckpoint {
            path: path.to_owned(),
            why: format!("line {} is not a metrics row: {line:?}", i + 1),
        };
        let fields: Vec<&str> = line.split(',').collect();
        let number = |j: usize| -> Result<f64, TrainError> {
            fields.get(j).and_then(|f| f.parse().ok()).ok_or_else(bad)
        };
        let eval = if fields.len() >= 10 && !fields[5].is_empty() {
            Some([number(5)?, number(6)?, number(7)?, number(8)?, number(9)?])
        } else {
            None
        };
        rows.push(Row {
            step: number(0)? as u64,
            d_loss: number(1)?,
            d_acc: number(2)?,
            g_loss: number(3)?,
            elapsed_s: number(4)?,
            eval,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(step: u64) -> StepMetrics {
        StepMetrics {
            step,
            d_loss: 0.5,
            d_acc: 0.75,
            g_loss: 1.25,
        }
    }

    #[test]
    fn append_then_resume_drops_later_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::open(&path, 0, false).unwrap();
        for s in 1..=5 {
            log.append(&m(s), s as f64, None).unwrap();
        }
        log.flush().unwrap();
        drop(log);
        let mut log = MetricsLog::open(&path, 3, false).unwrap();
        log.append(&m(4), 9.0, None).unwrap();
        log.flush().unwrap();
        let rows = read(&path).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.step).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(rows[3].elapsed_s, 9.0);
        assert_eq!(
            (rows[3].d_loss, rows[3].d_acc, rows[3].g_loss),
            (0.5, 0.75, 1.25)
        );
        assert!(std::fs::read_to_string(&path).unwrap().starts_with(HEADER));
    }

    #[test]
    fn evaluation_columns_are_optional_per_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let mut log = MetricsLog::open(&path, 0, true).unwrap();
        let report = EvalReport {
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
        };
        log.append(&m(1), 1.0, None).unwrap();
        log.append(&m(2), 2.0, Some(&report)).unwrap();
        log.flush().unwrap();
        let rows = read(&path).unwrap();
        assert_eq!(rows[0].eval, None);
        assert_eq!(rows[1].eval, Some([12.5, 8.0, 10.0, 0.5, 0.25]));
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .starts_with(&format!("{HEADER}{EVAL_HEADER}")));
    }
}
