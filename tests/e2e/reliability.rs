//! Interruptions, crashes, divergence, concurrent runs and damaged files, end to end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gan_tests::TinySetup;

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

/// `gan train` with a small batch on one thread, plus `extra`.
fn train_cmd(s: &TinySetup, run: &Path, extra: &[&str]) -> Command {
    let mut cmd = gan();
    cmd.args(["train", "--device", "cpu", "--threads", "1", "--quiet"])
        .arg("--data-dir")
        .arg(&s.data)
        .args(extra);
    if !extra.contains(&"--resume") {
        cmd.args(["--batch-size", "8", "--out"]).arg(run);
    }
    cmd
}

fn output(mut cmd: impl std::borrow::BorrowMut<Command>) -> Output {
    let cmd = cmd.borrow_mut();
    cmd.output().expect("gan runs")
}

fn metrics_rows(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.csv"))
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
}

/// Starts a long run and waits until it has written at least `rows` metric rows.
fn start_long_run(s: &TinySetup, run: &Path, rows: usize, extra: &[&str]) -> Child {
    let mut cmd = train_cmd(
        s,
        run,
        &[&["--steps", "1000000", "--sample-every", "1000000"], extra].concat(),
    );
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while metrics_rows(run) < rows {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("training ended early: {status}");
        }
        assert!(Instant::now() < deadline, "training made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn newest_checkpoint(run: &Path) -> PathBuf {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    manifests.sort();
    manifests.pop().expect("a checkpoint")
}

fn checkpoint_step(manifest: &Path) -> u64 {
    manifest
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .trim_start_matches("step-")
        .parse()
        .unwrap()
}

#[test]
fn sigint_and_sigterm_checkpoint_print_the_resume_command_and_exit_130_143() {
    let s = TinySetup::new();
    for (name, code) in [("INT", 130), ("TERM", 143)] {
        let run = s.root.join(format!("run-{name}"));
        let child = start_long_run(&s, &run, 5, &["--checkpoint-every", "1000000"]);
        signal(&child, name);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "resume with: gan train --resume {}",
                run.display()
            )),
            "{stderr}"
        );
        let step = checkpoint_step(&newest_checkpoint(&run));
        assert_eq!(
            step as usize,
            metrics_rows(&run),
            "checkpoint is at the last metrics row"
        );
        assert!(!run.join("gan.lock").exists(), "lock released");
        let report = std::fs::read_to_string(run.join("report.html")).unwrap();
        assert!(
            report.contains(&format!("interrupted after step {step}")),
            "the report says where the run was interrupted"
        );
        let resumed = output(train_cmd(
            &s,
            &run,
            &[
                "--resume",
                run.to_str().unwrap(),
                "--steps",
                &(step + 2).to_string(),
            ],
        ));
        assert!(
            resumed.status.success(),
            "{}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        assert_eq!(metrics_rows(&run) as u64, step + 2);
        let report = std::fs::read_to_string(run.join("report.html")).unwrap();
        assert!(report.contains(&format!("resumed from the checkpoint of step {step}")));
    }
}

/// With `--json`, an interruption is one `interrupted` object naming the step, the checkpoint
/// and the command that resumes; it is the last line on standard output.
#[test]
fn sigint_under_json_prints_an_interrupted_event() {
    let s = TinySetup::new();
    let run = s.root.join("json-interrupted");
    let mut child = train_cmd(
        &s,
        &run,
        &[
            "--steps",
            "1000000",
            "--sample-every",
            "1000000",
            "--checkpoint-every",
            "1000000",
            "--json",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while metrics_rows(&run) < 3 {
        assert!(child.try_wait().unwrap().is_none(), "training ended early");
        assert!(Instant::now() < deadline, "training made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    let event: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(event["event"], "interrupted", "{stdout}");
    let checkpoint = newest_checkpoint(&run);
    assert_eq!(event["step"], checkpoint_step(&checkpoint));
    assert_eq!(event["checkpoint"], checkpoint.to_str().unwrap());
    assert_eq!(
        event["resume"],
        format!("gan train --resume {}", run.display())
    );
}

#[test]
fn kill_9_then_resume_matches_an_uninterrupted_run() {
    let s = TinySetup::new();
    let steps = 40;
    let straight = s.root.join("straight");
    let out = output(train_cmd(
        &s,
        &straight,
        &["--steps", &steps.to_string(), "--checkpoint-every", "2"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Three kill points, different on every run (printed, to reproduce a failure).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize;
    let points = [2 + nanos % 9, 11 + nanos / 7 % 9, 20 + nanos / 61 % 12];
    eprintln!("kill -9 after {points:?} metric rows");
    for (i, kill_after_rows) in points.into_iter().enumerate() {
        let run = s.root.join(format!("killed-{i}"));
        let mut child = start_long_run(&s, &run, kill_after_rows, &["--checkpoint-every", "2"]);
        child.kill().unwrap(); // SIGKILL: no chance to clean up
        child.wait().unwrap();
        // The run dir was made for 1,000,000 steps; resuming to the straight run's length must
        // reproduce it from whichever checkpoint survived.
        let resumed = output(train_cmd(
            &s,
            &run,
            &[
                "--resume",
                run.to_str().unwrap(),
                "--steps",
                &steps.to_string(),
            ],
        ));
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        if !resumed.status.success() {
            // Killed before the first checkpoint: nothing to resume, said clearly.
            assert!(stderr.contains("no complete checkpoint"), "{stderr}");
            continue;
        }
        assert_eq!(
            gan_tests::metric_columns(&run),
            gan_tests::metric_columns(&straight),
            "killed after {kill_after_rows} rows"
        );
        let tensors = |r: &Path| {
            std::fs::read(r.join(format!("checkpoints/step-{steps:08}.safetensors"))).unwrap()
        };
        assert!(
            tensors(&run) == tensors(&straight),
            "weights differ after resume"
        );
    }
}

#[test]
fn divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint() {
    let s = TinySetup::new();
    let run = s.root.join("diverge");
    let out = output(train_cmd(
        &s,
        &run,
        &["--steps", "4", "--checkpoint-every", "2"],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Continue with an absurd learning rate (both optimizers): float32 overflows on the next
    // step.
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let config = config.replace("lr = 0.0002", "lr = 1e30");
    assert!(config.contains("lr = 1e30"));
    std::fs::write(run.join("config.toml"), config).unwrap();
    let out = output(train_cmd(
        &s,
        &run,
        &["--resume", run.to_str().unwrap(), "--steps", "50"],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("diverged at step 5"), "{stderr}");
    assert!(
        stderr.contains("the last good checkpoint (step 4) is kept"),
        "{stderr}"
    );
    assert_eq!(checkpoint_step(&newest_checkpoint(&run)), 4);
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        report.contains("training stopped by an error") && report.contains("diverged at step 5"),
        "the report names the stop"
    );
    let gen = output(
        gan()
            .args(["generate", "--n", "4", "--device", "cpu", "--checkpoint"])
            .arg(&run)
            .arg("--images")
            .arg(s.root.join("s.idx")),
    );
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );
}

#[test]
fn a_second_writer_is_refused_with_the_pid() {
    let s = TinySetup::new();
    let run = s.root.join("busy");
    let mut first = start_long_run(&s, &run, 3, &["--checkpoint-every", "1"]);
    let config_before = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let second = output(train_cmd(
        &s,
        &run,
        &["--resume", run.to_str().unwrap(), "--steps", "999"],
    ));
    let config_after = std::fs::read_to_string(run.join("config.toml")).unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(
        config_before, config_after,
        "the refused writer changed the run's config"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(stderr.contains(&format!("PID {}", first.id())), "{stderr}");
    // The first is dead now: its lock is stale and is taken over.
    let steps = (checkpoint_step(&newest_checkpoint(&run)) + 2).to_string();
    let third = output(train_cmd(
        &s,
        &run,
        &["--resume", run.to_str().unwrap(), "--steps", &steps],
    ));
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
}

#[test]
fn damaged_checkpoints_and_configs_are_named() {
    let s = TinySetup::new();
    let run = s.root.join("damaged");
    let out = output(train_cmd(
        &s,
        &run,
        &["--steps", "4", "--checkpoint-every", "2"],
    ));
    assert!(out.status.success());

    // Truncated tensor file of the newest checkpoint: generating from that file names it.
    let newest = newest_checkpoint(&run).with_extension("safetensors");
    let bytes = std::fs::read(&newest).unwrap();
    std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
    let gen = output(
        gan()
            .args(["generate", "--n", "2", "--device", "cpu", "--images"])
            .arg(s.root.join("never.idx"))
            .arg("--checkpoint")
            .arg(&newest),
    );
    let stderr = String::from_utf8_lossy(&gen.stderr);
    assert!(
        !gen.status.success()
            && stderr.contains(newest.to_str().unwrap())
            && stderr.contains("SHA-256"),
        "{stderr}"
    );
    // The run directory still works from the older checkpoint.
    let gen = output(
        gan()
            .args(["generate", "--n", "2", "--device", "cpu", "--images"])
            .arg(s.root.join("x.idx"))
            .arg("--checkpoint")
            .arg(&run),
    );
    assert!(
        gen.status.success(),
        "{}",
        String::from_utf8_lossy(&gen.stderr)
    );

    // Another preset's weights under this run's config: the tensor and both shapes are named.
    let other = s.root.join("other");
    let mut config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    config = config.replacen("hidden = [\n    256,", "hidden = [\n    128,", 1);
    std::fs::create_dir_all(other.join("checkpoints")).unwrap();
    std::fs::write(other.join("config.toml"), config).unwrap();
    let older = run.join("checkpoints/step-00000002");
    for ext in ["toml", "safetensors"] {
        std::fs::copy(
            older.with_extension(ext),
            other.join(format!("checkpoints/step-00000002.{ext}")),
        )
        .unwrap();
    }
    let gen = output(
        gan()
            .args(["generate", "--n", "2", "--device", "cpu", "--images"])
            .arg(s.root.join("never.idx"))
            .arg("--checkpoint")
            .arg(&other),
    );
    let stderr = String::from_utf8_lossy(&gen.stderr);
    assert!(
        stderr.contains("generator.") && stderr.contains("shape"),
        "{stderr}"
    );

    // A config with a typo: the file and the field are named.
    let bad = s.root.join("bad.toml");
    let text = std::fs::read_to_string(run.join("config.toml"))
        .unwrap()
        .replacen("steps", "stpes", 1);
    std::fs::write(&bad, text).unwrap();
    let out = output(
        gan()
            .args(["train", "--data-dir"])
            .arg(&s.data)
            .arg("--config")
            .arg(&bad)
            .arg("--out")
            .arg(s.root.join("never")),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.contains("stpes"),
        "{stderr}"
    );
}
