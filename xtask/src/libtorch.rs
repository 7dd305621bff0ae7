//! `cargo xtask fetch-libtorch`: libtorch without exported variables.
//!
//! PyTorch's wheel from PyPI carries libtorch (`torch/lib`, `torch/include`). It is installed
//! into a venv in a per-user cache shared by all checkouts, and `.libtorch` in the project root
//! is linked to it; `.cargo/config.toml` sets `LIBTORCH` to that link for every cargo command,
//! unless `LIBTORCH` or `LIBTORCH_USE_PYTORCH` is already exported.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The libtorch release tch 0.24 is built for.
pub const TORCH_VERSION: &str = "2.11.0";
/// The link `.cargo/config.toml` points `LIBTORCH` at, relative to the project root.
pub const LINK: &str = ".libtorch";

#[derive(clap::Args, Clone, Debug, Default)]
pub struct FetchArgs {
    /// Use an official libtorch zip (a file or an http(s) URL) instead of PyPI's wheel.
    #[arg(long, value_name = "FILE|URL")]
    pub from_zip: Option<String>,
    /// Reinstall even if an installation is already there.
    #[arg(long)]
    pub force: bool,
}

/// Makes libtorch available; returns its directory (the one holding `lib/` and `include/`).
pub fn fetch(args: &FetchArgs) -> Result<PathBuf> {
    let started = Instant::now();
    if let Some(dir) = user_choice()? {
        return Ok(dir);
    }
    let cache = gan_data::paths::cache_dir()
        .context("no cache directory: set HOME or XDG_CACHE_HOME")?
        .join("gan-rs");
    let dir = match &args.from_zip {
        Some(zip) => install_zip(
            zip,
            &cache.join(format!("libtorch-{TORCH_VERSION}-zip")),
            args.force,
        )?,
        None => install_wheel(&cache.join(format!("libtorch-{TORCH_VERSION}")), args.force)?,
    };
    link(&dir)?;
    eprintln!(
        "xtask: libtorch {TORCH_VERSION} at {} ({}, linked from {LINK}) in {:.1?}",
        dir.display(),
        human_bytes(disk_usage(&install_root(&dir))),
        started.elapsed()
    );
    Ok(dir)
}

/// A libtorch the user chose by exporting `LIBTORCH` or `LIBTORCH_USE_PYTORCH`.
fn user_choice() -> Result<Option<PathBuf>> {
    if std::env::var_os("LIBTORCH_USE_PYTORCH").is_some() {
        eprintln!("xtask: LIBTORCH_USE_PYTORCH is set; tch will use the active Python's torch");
        return Ok(Some(PathBuf::new()));
    }
    let Some(value) = std::env::var_os("LIBTORCH") else {
        return Ok(None);
    };
    let ours = std::env::current_dir()?.join(LINK);
    if Path::new(&value) == ours {
        // Set by .cargo/config.toml, not by the user.
        return Ok(None);
    }
    let dir = PathBuf::from(value);
    if !dir.join("lib").is_dir() || !dir.join("include").is_dir() {
        bail!(
            "LIBTORCH={} has no lib/ and include/; unset it to let xtask install libtorch, or point it at a libtorch {TORCH_VERSION} directory",
            dir.display()
        );
    }
    eprintln!("xtask: using LIBTORCH={} (exported)", dir.display());
    Ok(Some(dir))
}

/// Installs `torch==TORCH_VERSION` from PyPI into `root/venv`; returns its torch directory.
fn install_wheel(root: &Path, force: bool) -> Result<PathBuf> {
    let venv = root.join("venv");
    let stamp = root.join("installed");
    if !force && stamp.is_file() {
        if let Some(dir) = torch_dir(&venv) {
            if installed_version(&dir).as_deref() == Some(TORCH_VERSION) {
                eprintln!("xtask: libtorch {TORCH_VERSION} already installed");
                return Ok(dir);
            }
        }
    }
    let _ = std::fs::remove_file(&stamp);
    let python = find_python()?;
    if !venv.join("bin").join("python").is_file() {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        eprintln!("xtask: creating a venv at {}", venv.display());
        let status = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .with_context(|| format!("running {python} -m venv"))?;
        if !status.success() {
            let _ = std::fs::remove_dir_all(&venv);
            bail!("`{python} -m venv` failed; install the venv module (Debian/Ubuntu: `apt-get install python3-venv`) and run again");
        }
    }
    eprintln!("xtask: pip install torch=={TORCH_VERSION} (about 4.5 GB with its CUDA libraries; it runs on CPU too)");
    let status = Command::new(venv.join("bin").join("python"))
        .args([
            "-m",
            "pip",
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
        ])
        .arg(format!("torch=={TORCH_VERSION}"))
        .status()
        .context("running pip in the venv")?;
    if !status.success() {
        bail!("pip could not install torch=={TORCH_VERSION} (see its output above); check the network or PyPI access, and ~5 GB of free disk in {}", root.display());
    }
    let dir = torch_dir(&venv).with_context(|| {
        format!(
            "pip succeeded but no torch package is in {}",
            venv.display()
        )
    })?;
    check(&dir)?;
    std::fs::write(&stamp, TORCH_VERSION)
        .with_context(|| format!("writing {}", stamp.display()))?;
    Ok(dir)
}

fn find_python() -> Result<String> {
    for candidate in ["python3", "python"] {
        let ok = Command::new(candidate)
            .args(["-c", "import sys; assert sys.version_info >= (3, 10)"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Ok(candidate.to_owned());
        }
    }
    bail!("no python3 (3.10 or newer) found on PATH; install it with venv and pip (Debian/Ubuntu: `apt-get install python3 python3-venv python3-pip`), or pass --from-zip with an official libtorch zip")
}

/// `venv/lib/python3.X/site-packages/torch`, if there.
fn torch_dir(venv: &Path) -> Option<PathBuf> {
    std::fs::read_dir(venv.join("lib"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("site-packages").join("torch"))
        .find(|p| p.join("lib").is_dir())
}

/// The version a libtorch directory declares: `version.py` (wheel) or `build-version` (zip).
fn installed_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("build-version"))
        .ok()
        .or_else(|| {
            let py = std::fs::read_to_string(dir.join("version.py")).ok()?;
            let line = py.lines().find(|l| l.starts_with("__version__"))?;
            Some(line.split(['\'', '"']).nth(1)?.to_owned())
        })?;
    Some(text.trim().split('+').next()?.to_owned())
}

fn check(dir: &Path) -> Result<()> {
    let version =
        installed_version(dir).with_context(|| format!("{} declares no version", dir.display()))?;
    if version != TORCH_VERSION {
        bail!(
            "{} holds libtorch {version}, but tch 0.24 needs {TORCH_VERSION}",
            dir.display()
        );
    }
    let lib = dir.join("lib");
    for name in ["libtorch_cpu.so", "libc10.so"] {
        if !lib.join(name).is_file() {
            bail!(
                "{} lacks {name}; the installation is incomplete, run with --force",
                lib.display()
            );
        }
    }
    Ok(())
}

/// Unpacks an official libtorch zip into `root`; returns `root/libtorch`.
fn install_zip(source: &str, root: &Path, force: bool) -> Result<PathBuf> {
    let dir = root.join("libtorch");
    if !force && check(&dir).is_ok() {
        eprintln!(
            "xtask: libtorch {TORCH_VERSION} already unpacked in {}",
            root.display()
        );
        return Ok(dir);
    }
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let zip = if source.starts_with("http://") || source.starts_with("https://") {
        let target = root.join("libtorch.zip.part");
        download(source, &target)?;
        target
    } else {
        PathBuf::from(source)
    };
    // Unpack next to the target, then swap, so a failure leaves no half-unpacked libtorch.
    let staging = root.join("staging");
    let _ = std::fs::remove_dir_all(&staging);
    let python = find_python()?;
    let status = Command::new(&python)
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(&staging)
        .status()
        .with_context(|| format!("unpacking {}", zip.display()))?;
    if !status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        bail!("{} is not a readable zip file", zip.display());
    }
    if let Err(err) = check(&staging.join("libtorch")) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(err).with_context(|| format!("checking the libtorch in {}", zip.display()));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(staging.join("libtorch"), &dir)?;
    let _ = std::fs::remove_dir_all(&staging);
    if zip.extension().is_some_and(|e| e == "part") {
        let _ = std::fs::remove_file(&zip);
    }
    // Python's zipfile drops the executable bits; libtorch's shared objects do not need them.
    Ok(dir)
}

fn download(url: &str, target: &Path) -> Result<()> {
    eprintln!("xtask: downloading {url}");
    let mut response = ureq::get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let mut file =
        std::fs::File::create(target).with_context(|| format!("creating {}", target.display()))?;
    let bar = match response.body().content_length() {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    std::io::copy(
        &mut bar.wrap_read(response.body_mut().as_reader()),
        &mut file,
    )
    .with_context(|| format!("downloading {url}"))?;
    bar.finish_and_clear();
    Ok(())
}

/// Points `.libtorch` at `dir`, replacing an older link.
fn link(dir: &Path) -> Result<()> {
    let link = Path::new(LINK);
    if std::fs::read_link(link).ok().as_deref() == Some(dir) {
        return Ok(());
    }
    if link.symlink_metadata().is_ok() {
        std::fs::remove_file(link).with_context(|| format!("replacing {LINK}"))?;
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir, link).with_context(|| format!("linking {LINK}"))?;
    #[cfg(not(unix))]
    bail!("only Unix-like systems are supported by fetch-libtorch; set LIBTORCH yourself");
    Ok(())
}

/// The directory holding everything installed (venv or unpacked zip), for disk usage.
fn install_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "venv"))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.to_path_buf())
}

fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = path.symlink_metadata() else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| disk_usage(&e.path())).sum())
            .unwrap_or(0)
    } else {
        meta.len()
    }
}

fn human_bytes(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

/// The Python of the venv that provided libtorch, if there is one.
pub fn venv_python(torch_dir: &Path) -> Option<PathBuf> {
    torch_dir
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "venv"))
        .map(|venv| venv.join("bin").join("python"))
        .filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip shaped like the official libtorch archive, made with Python's zipfile.
    fn fake_libtorch_zip(dir: &Path, version: &str) -> PathBuf {
        let root = dir.join("src/libtorch");
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::create_dir_all(root.join("include")).unwrap();
        std::fs::write(root.join("build-version"), format!("{version}+cpu\n")).unwrap();
        for lib in ["libtorch_cpu.so", "libc10.so"] {
            std::fs::write(root.join("lib").join(lib), b"").unwrap();
        }
        let zip = dir.join("libtorch.zip");
        let status = Command::new(find_python().unwrap())
            .args(["-m", "zipfile", "-c"])
            .arg(&zip)
            .arg(&root)
            .status()
            .unwrap();
        assert!(status.success());
        zip
    }

    #[test]
    fn installs_a_libtorch_zip_and_checks_its_version() {
        let tmp = std::env::temp_dir().join(format!("xtask-zip-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let zip = fake_libtorch_zip(&tmp, TORCH_VERSION);
        let target = tmp.join("cache");
        let dir = install_zip(zip.to_str().unwrap(), &target, false).unwrap();
        assert_eq!(dir, target.join("libtorch"));
        assert_eq!(installed_version(&dir).as_deref(), Some(TORCH_VERSION));
        // Second time: already there, nothing unpacked.
        assert_eq!(
            install_zip("/nonexistent.zip", &target, false).unwrap(),
            dir
        );

        let old = fake_libtorch_zip(&tmp.join("old"), "2.1.0");
        let err = install_zip(old.to_str().unwrap(), &tmp.join("cache-old"), false).unwrap_err();
        assert!(format!("{err:#}").contains("2.1.0"), "{err:#}");
        assert!(
            !tmp.join("cache-old/libtorch").exists(),
            "a rejected zip leaves nothing"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn version_from_wheel_and_zip_layouts() {
        let tmp = std::env::temp_dir().join(format!("xtask-ver-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("version.py"), "__version__ = '2.11.0+cu130'\n").unwrap();
        assert_eq!(installed_version(&tmp).as_deref(), Some("2.11.0"));
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
