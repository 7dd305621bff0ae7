//! `gan report`: (re)writes a run's `report.html` and optionally opens it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The run directory.
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// Open the page in the default browser (xdg-open, open or start), where there is one.
    #[arg(long)]
    pub open: bool,
}

pub fn run(args: &ReportArgs) -> Result<()> {
    let path = gan_report::write_report(&args.run)
        .with_context(|| format!("writing the report of {}", args.run.display()))?;
    println!("wrote {}", path.display());
    if args.open {
        open_in_browser(&path)?;
    }
    Ok(())
}

/// Hands `path` to the desktop's opener; says what to do where there is none.
pub fn open_in_browser(path: &Path) -> Result<()> {
    let opener: &[&str] = if cfg!(target_os = "macos") {
        &["open"]
    } else if cfg!(windows) {
        &["cmd", "/C", "start", ""]
    } else {
        &["xdg-open"]
    };
    let status = std::process::Command::new(opener[0])
        .args(&opener[1..])
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        _ => anyhow::bail!(
            "no browser could be started here ({} failed); open {} by hand",
            opener[0],
            path.display()
        ),
    }
}
