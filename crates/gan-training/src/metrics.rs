//! `metrics.csv`: one row per step, appended as training goes and cut back on resume.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::error::TrainError;
use crate::trainer::StepMetrics;

pub const HEADER: &str = "step,d_loss,d_acc,g_loss,elapsed_s";

/// Appends rows to a metrics file.
pub struct MetricsLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl MetricsLog {
    /// Opens `path` for a run that has completed `completed` steps: rows after that step
    /// (written after the checkpoint being resumed) are dropped.
    pub fn open(path: &Path, completed: u64) -> Result<MetricsLog, TrainError> {
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
        let mut text = format!("{HEADER}\n");
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
        })
    }

    pub fn append(&mut self, m: &StepMetrics, elapsed_s: f64) -> Result<(), TrainError> {
        writeln!(
            self.out,
            "{},{},{},{},{elapsed_s:.3}",
            m.step, m.d_loss, m.d_acc, m.g_loss
        )
        .map_err(|e| TrainError::io(&self.path, e))
    }

    /// Pushes buffered rows to the file and to disk.
    pub fn flush(&mut self) -> Result<(), TrainError> {
        self.out
            .flush()
            .and_then(|()| self.out.get_ref().sync_data())
            .map_err(|e| TrainError::io(&self.path, e))
    }
}

/// Parses a metrics file into `(step, d_loss, d_acc, g_loss, elapsed_s)` rows.
pub fn read(path: &Path) -> Result<Vec<[f64; 5]>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<f64> = line.split(',').filter_map(|f| f.parse().ok()).collect();
        let row: [f64; 5] = fields.try_into().map_err(|_| TrainError::BadCheckpoint {
            path: path.to_owned(),
            why: format!("line {} is not five numbers: {line:?}", i + 1),
        })?;
        rows.push(row);
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
        let mut log = MetricsLog::open(&path, 0).unwrap();
        for s in 1..=5 {
            log.append(&m(s), s as f64).unwrap();
        }
        log.flush().unwrap();
        drop(log);
        let mut log = MetricsLog::open(&path, 3).unwrap();
        log.append(&m(4), 9.0).unwrap();
        log.flush().unwrap();
        let rows = read(&path).unwrap();
        assert_eq!(
            rows.iter().map(|r| r[0] as u64).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(rows[3], [4.0, 0.5, 0.75, 1.25, 9.0]);
        assert!(std::fs::read_to_string(&path).unwrap().starts_with(HEADER));
    }
}
