//! `gan train --json`: one JSON object per line on standard output for each event of a run,
//! for scripts (the fields are listed in docs/cli.md).

use std::io::Write;

/// Prints `event` as one line and flushes it, so a reader sees it when it happens. A closed
/// standard output (the reader went away) is not the run's problem: the line is dropped.
pub fn emit(event: serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{event}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::debug!("standard output closed; event dropped");
    }
}
