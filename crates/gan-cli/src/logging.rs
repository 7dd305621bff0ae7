//! Logging: `RUST_LOG`-filtered lines on stderr, and everything at info level into the run's
//! `train.log` once a run directory is known.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The log file, empty until [`LogFile::open`] is called.
#[derive(Clone, Default)]
pub struct LogFile(Arc<Mutex<Option<File>>>);

impl LogFile {
    /// Appends the log to `path` from now on.
    pub fn open(&self, path: &Path) -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        *self.0.lock().expect("log lock") = Some(file);
        Ok(())
    }
}

pub struct LogFileWriter(Arc<Mutex<Option<File>>>);

impl Write for LogFileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock().expect("log lock").as_mut() {
            Some(file) => file.write(buf),
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.lock().expect("log lock").as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = LogFileWriter;
    fn make_writer(&'a self) -> Self::Writer {
        LogFileWriter(Arc::clone(&self.0))
    }
}

/// Installs the global subscriber; returns the handle that later points it at a file.
pub fn init() -> LogFile {
    let file = LogFile::default();
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")));
    let to_file = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(file.clone())
        .with_filter(EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(stderr)
        .with(to_file)
        .init();
    file
}
