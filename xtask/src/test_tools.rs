//! What the test suite needs besides libtorch and MNIST: TensorBoard's own event loader, for
//! the test that reads back the event files `gan train --tensorboard` writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The version the TensorBoard test was written against.
pub const TENSORBOARD_VERSION: &str = "2.21.0";

/// Tells the tests which Python reads event files.
pub const TEST_PYTHON_ENV: &str = "GAN_TEST_PYTHON";

fn has_tensorboard(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import tensorboard"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs `tensorboard` into the venv that provided libtorch (when there is one and it
/// lacks it) and returns that venv's Python; `None` when libtorch came from elsewhere (the
/// test then uses `python3` from the PATH).
pub fn ensure_tensorboard(torch_dir: &Path) -> Result<Option<PathBuf>> {
    let Some(python) = crate::libtorch::venv_python(torch_dir) else {
        return Ok(None);
    };
    if !has_tensorboard(&python) {
        eprintln!("xtask: pip install tensorboard=={TENSORBOARD_VERSION} (the TensorBoard test reads event files with its loader)");
        let status = Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(format!("tensorboard=={TENSORBOARD_VERSION}"))
            .status()
            .context("running pip in the libtorch venv")?;
        if !status.success() || !has_tensorboard(&python) {
            bail!("pip could not install tensorboard=={TENSORBOARD_VERSION} into {} (see its output above); check PyPI access", python.display());
        }
    }
    Ok(Some(python))
}
