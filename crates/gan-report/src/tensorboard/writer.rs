//! Appending events to a new event file in a run's `tb/` directory.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::crc32c::masked_crc32c;
use super::proto::{event, Payload};
use crate::error::ReportError;

/// One event file. Each writer starts a file of its own (a resumed run adds one), as
/// TensorBoard expects; it reads all files of a directory as one run.
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl EventWriter {
    /// A new `events.out.tfevents.<time>.<host>.<pid>` in `dir` (created if needed), opened
    /// with its file-version event.
    pub fn create(dir: &Path) -> Result<EventWriter, ReportError> {
        std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
        let host = std::fs::read_to_string("/etc/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or_else(|| "localhost".into());
        let path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}",
            now() as u64,
            std::process::id()
        ));
        let file = File::create(&path).map_err(|e| ReportError::io(&path, e))?;
        let mut writer = EventWriter {
            path,
            out: BufWriter::new(file),
        };
        writer.write(0, &Payload::FileVersion("brain.Event:2"))?;
        Ok(writer)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Several scalars of one step, in one event.
    pub fn scalars(&mut self, step: u64, values: &[(String, f64)]) -> Result<(), ReportError> {
        let values: Vec<(String, f32)> = values
            .iter()
            .map(|(tag, v)| (tag.clone(), *v as f32))
            .collect();
        self.write(step, &Payload::Scalars(&values))
    }

    /// A PNG picture of `width × height` pixels.
    pub fn image(
        &mut self,
        tag: &str,
        step: u64,
        png: &[u8],
        width: u32,
        height: u32,
    ) -> Result<(), ReportError> {
        self.write(
            step,
            &Payload::Image {
                tag,
                png,
                width,
                height,
            },
        )
    }

    /// Marks a restart at `step` (a resumed run): TensorBoard discards what earlier files
    /// hold from this step on, since the run replays those steps.
    pub fn restart_at(&mut self, step: u64) -> Result<(), ReportError> {
        self.write(step, &Payload::SessionStart)
    }

    /// Pushes buffered events to the file.
    pub fn flush(&mut self) -> Result<(), ReportError> {
        self.out.flush().map_err(|e| ReportError::io(&self.path, e))
    }

    fn write(&mut self, step: u64, payload: &Payload<'_>) -> Result<(), ReportError> {
        let data = event(now(), step as i64, payload);
        let length = (data.len() as u64).to_le_bytes();
        let mut record = Vec::with_capacity(data.len() + 16);
        record.extend_from_slice(&length);
        record.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
        record.extend_from_slice(&data);
        record.extend_from_slice(&masked_crc32c(&data).to_le_bytes());
        self.out
            .write_all(&record)
            .map_err(|e| ReportError::io(&self.path, e))
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a file into its records' payloads, checking both CRCs of each.
    fn records(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let length = &bytes[at..at + 8];
            let n = u64::from_le_bytes(length.try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
            assert_eq!(crc, masked_crc32c(length));
            let data = &bytes[at + 12..at + 12 + n];
            let crc = u32::from_le_bytes(bytes[at + 12 + n..at + 16 + n].try_into().unwrap());
            assert_eq!(crc, masked_crc32c(data));
            out.push(data.to_vec());
            at += 16 + n;
        }
        out
    }

    #[test]
    fn records_are_framed_with_checked_lengths_and_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.scalars(3, &[("loss/d".into(), 0.5), ("loss/g".into(), 1.5)])
            .unwrap();
        w.image("samples", 3, &[0x89, b'P', b'N', b'G'], 2, 2)
            .unwrap();
        w.restart_at(2).unwrap();
        w.flush().unwrap();
        let name = w.path().file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("events.out.tfevents."), "{name}");
        let payloads = records(&std::fs::read(w.path()).unwrap());
        assert_eq!(payloads.len(), 4);
        assert!(payloads[0].ends_with(b"brain.Event:2"));
        assert!(payloads[1].windows(6).any(|w| w == b"loss/g"));
    }
}
