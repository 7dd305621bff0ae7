//! `history.jsonl`: what happened to a run and when, one JSON object per line (started,
//! resumed, finished, interrupted, stopped by an error), so that a report can say where a run
//! was interrupted and resumed, or why it stopped.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunEventKind {
    Started,
    Resumed,
    /// Reached its step count or time budget.
    Finished,
    /// Stopped by Ctrl-C or SIGTERM after a checkpoint.
    Interrupted,
    /// Stopped by an error (a non-finite loss, a full disk, …); `detail` says which.
    Failed,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    pub event: RunEventKind,
    /// Training steps completed when it happened.
    pub step: u64,
    /// Seconds since the Unix epoch.
    pub unix_time: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl RunEvent {
    /// `event` at `step`, now.
    pub fn now(event: RunEventKind, step: u64, detail: impl Into<String>) -> RunEvent {
        let unix_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        RunEvent {
            event,
            step,
            unix_time,
            detail: detail.into(),
        }
    }
}

/// Appends `event` as one line and syncs it (a line is short enough to land whole).
pub fn append(path: &Path, event: &RunEvent) -> Result<(), TrainError> {
    let mut line = serde_json::to_string(event).expect("a RunEvent serializes");
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(|e| TrainError::io(path, e))
}

/// The events of a history file, and a note for each line that is not one (skipped). A
/// missing file is an empty history.
pub fn read(path: &Path) -> Result<(Vec<RunEvent>, Vec<String>), TrainError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let mut events = Vec::new();
    let mut notes = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str(line) {
            Ok(event) => events.push(event),
            Err(e) => notes.push(format!("{} line {}: {e}", path.display(), i + 1)),
        }
    }
    Ok((events, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_and_reads_back_skipping_damaged_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        assert_eq!(read(&path).unwrap(), (vec![], vec![]));
        let started = RunEvent::now(RunEventKind::Started, 0, "");
        let failed = RunEvent::now(RunEventKind::Failed, 120, "D loss is NaN");
        append(&path, &started).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"event\":\"resu")
            .unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"\n")
            .unwrap();
        append(&path, &failed).unwrap();
        let (events, notes) = read(&path).unwrap();
        assert_eq!(events, vec![started, failed]);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("line 2"), "{notes:?}");
    }
}
