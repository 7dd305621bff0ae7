//! Commands that are refused or fail: each says so once, clearly, and leaves the run as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use gan_tests::{fail, snapshot, succeed, TinySetup};

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

/// `gan train` on one thread of the CPU with the tiny data, plus `args`.
fn train(s: &TinySetup, args: &[&str]) -> Command {
    let mut cmd = gan();
    cmd.args(["train", "--device", "cpu", "--threads", "1", "--quiet"])
        .arg("--data-dir")
        .arg(&s.data)
        .args(args);
    cmd
}

/// A finished run of `steps` steps (batch 8), checkpointed every `every`.
fn finished_run(s: &TinySetup, name: &str, steps: u64, every: u64) -> PathBuf {
    let run = s.root.join(name);
    succeed(
        train(
            s,
            &[
                "--batch-size",
                "8",
                "--steps",
                &steps.to_string(),
                "--checkpoint-every",
                &every.to_string(),
            ],
        )
        .arg("--out")
        .arg(&run),
    );
    run
}

fn resume(s: &TinySetup, run: &Path, args: &[&str]) -> Command {
    let mut cmd = train(s, args);
    cmd.arg("--resume").arg(run);
    cmd
}

/// Integers clap accepts but a run cannot store are refused up front, naming the flag, the
/// limit and the value; nothing is created.
#[test]
fn numbers_a_run_cannot_store_are_refused_naming_flag_and_limit() {
    let s = TinySetup::new();
    let out = s.root.join("never");
    for (flag, value) in [
        ("--steps", "18446744073709551614"),
        ("--seed", "9223372036854775808"),
        ("--sample-every", "9223372036854775808"),
        ("--checkpoint-every", "18446744073709551614"),
        ("--eval-every", "9223372036854775808"),
    ] {
        let err = fail(
            train(&s, &[flag, value, "--minutes", "0.05"])
                .arg("--out")
                .arg(&out),
        );
        assert!(
            err.contains(flag) && err.contains(value) && err.contains("9223372036854775807"),
            "{flag} {value}: {err}"
        );
        assert!(!out.exists(), "{flag} {value} left {}", out.display());
    }
    let run = finished_run(&s, "run", 2, 2);
    let before = snapshot(&run);
    let err = fail(&mut resume(&s, &run, &["--steps", "9223372036854775808"]));
    assert!(err.contains("--steps"), "{err}");
    assert_eq!(snapshot(&run), before);
    let err = fail(&mut train(&s, &["--steps", "-5"]));
    assert!(
        err.contains("--steps"),
        "a negative value names its flag: {err}"
    );
}

/// Every refusal of `train --resume` leaves every file of the run as it was.
#[test]
fn a_refused_resume_changes_no_file_of_the_run() {
    let s = TinySetup::new();
    let run = finished_run(&s, "run", 4, 2);
    let before = snapshot(&run);
    let refusals: [(&[&str], &str); 7] = [
        (&["--steps", "9", "--minutes", "0.0001"], "minute budget"),
        (&["--steps", "2"], "beyond the 2 steps"),
        (&["--steps", "4"], "already at step 4"),
        (&["--steps", "0"], "--steps"),
        (&["--minutes", "-1"], "--minutes"),
        (&["--steps", "9", "--eval-samples", "3"], "--eval-samples"),
        (&["--steps", "9", "--lr", "0.1"], "--lr"),
    ];
    for (args, expected) in refusals {
        let err = fail(&mut resume(&s, &run, args));
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(snapshot(&run), before, "{args:?} changed the run");
    }
    // A device this machine lacks.
    let err = fail(
        gan()
            .args([
                "train", "--quiet", "--device", "mps", "--steps", "9", "--resume",
            ])
            .arg(&run)
            .arg("--data-dir")
            .arg(&s.data),
    );
    assert!(err.contains("mps"), "{err}");
    assert_eq!(snapshot(&run), before);
    // A history that cannot be appended to.
    let history = run.join("history.jsonl");
    std::fs::rename(&history, run.join("history.bak")).unwrap();
    std::fs::create_dir(&history).unwrap();
    let before = snapshot(&run);
    let err = fail(&mut resume(&s, &run, &["--steps", "9"]));
    assert!(err.contains("history.jsonl"), "{err}");
    assert_eq!(snapshot(&run), before);
    std::fs::remove_dir(&history).unwrap();
    std::fs::rename(run.join("history.bak"), &history).unwrap();
    // A damaged config.
    let config = run.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replacen("seed", "sead", 1)).unwrap();
    let before = snapshot(&run);
    let err = fail(&mut resume(&s, &run, &["--steps", "9"]));
    assert!(err.contains("sead"), "{err}");
    assert_eq!(snapshot(&run), before);
}

/// A malformed row of metrics.csv before the checkpoint is named before any step is trained;
/// `--drop-bad-metrics` is the way out, and a damaged row past the checkpoint goes with the
/// rows resume drops anyway.
#[test]
fn a_malformed_metrics_row_is_refused_before_training_with_a_way_out() {
    let s = TinySetup::new();
    let run = finished_run(&s, "run", 4, 4);
    let metrics = run.join("metrics.csv");
    let mut lines: Vec<String> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    lines[2] = "2,garbage".to_owned();
    std::fs::write(&metrics, lines.join("\n") + "\n").unwrap();
    let before = snapshot(&run);
    let err = fail(&mut resume(&s, &run, &["--steps", "6"]));
    assert!(
        err.contains("metrics.csv line 3")
            && err.contains("2,garbage")
            && err.contains("--drop-bad-metrics"),
        "{err}"
    );
    assert!(!err.contains("checkpoint:"), "{err}");
    assert_eq!(snapshot(&run), before, "the refused resume changed the run");
    succeed(&mut resume(
        &s,
        &run,
        &["--steps", "6", "--drop-bad-metrics"],
    ));
    let steps: Vec<String> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(steps, ["1", "3", "4", "5", "6"]);
    // A row cut short after the checkpoint (a crash mid-write) needs no flag.
    let mut text = std::fs::read_to_string(&metrics).unwrap();
    text.push_str("7,0.5");
    std::fs::write(&metrics, text).unwrap();
    succeed(&mut resume(&s, &run, &["--steps", "8"]));
}

/// Ctrl-C in the first seconds leaves a config, an empty checkpoints/ and a stale lock: that
/// run resumes from step 0, or is replaced with `--overwrite`, whose absence is named.
#[test]
fn a_run_stopped_before_its_first_checkpoint_resumes_or_is_replaced() {
    let s = TinySetup::new();
    let donor = finished_run(&s, "donor", 1, 1);
    let run = s.root.join("early");
    std::fs::create_dir_all(run.join("checkpoints")).unwrap();
    std::fs::copy(donor.join("config.toml"), run.join("config.toml")).unwrap();
    std::fs::write(run.join("gan.lock"), "99999999\n").unwrap();
    let err = fail(
        train(&s, &["--batch-size", "8", "--steps", "2"])
            .arg("--out")
            .arg(&run),
    );
    assert!(
        err.contains("--resume") && err.contains("--overwrite"),
        "{err}"
    );
    succeed(&mut resume(&s, &run, &["--steps", "3"]));
    assert!(run.join("checkpoints/step-00000003.toml").is_file());
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert!(history.contains("\"resumed\",\"step\":0"), "{history}");

    std::fs::write(run.join("notes.txt"), "mine").unwrap();
    succeed(
        train(&s, &["--batch-size", "8", "--steps", "1", "--overwrite"])
            .arg("--out")
            .arg(&run),
    );
    assert!(run.join("checkpoints/step-00000001.toml").is_file());
    assert!(!run.join("checkpoints/step-00000003.toml").exists());
    assert_eq!(
        std::fs::read_to_string(run.join("notes.txt")).unwrap(),
        "mine"
    );
    let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 2, "a fresh history: {history}");
}

/// A run that diverges before its first checkpoint does not claim one is kept.
#[test]
fn divergence_before_any_checkpoint_says_there_is_none() {
    let s = TinySetup::new();
    let run = s.root.join("diverge");
    let err = fail(
        train(
            &s,
            &[
                "--batch-size",
                "8",
                "--steps",
                "50",
                "--checkpoint-every",
                "1000",
                "--lr",
                "1e30",
            ],
        )
        .arg("--out")
        .arg(&run),
    );
    assert!(
        err.contains("diverged") && err.contains("no checkpoint was written"),
        "{err}"
    );
    assert!(!err.contains("last good checkpoint"), "{err}");
}

/// File errors are said once, in words: a missing config, a grid into a missing folder, a
/// user's own damaged sample file.
#[test]
fn file_errors_are_said_once_in_words() {
    let s = TinySetup::new();
    let missing = s.root.join("missing.toml");
    let err = fail(train(&s, &[]).arg("--config").arg(&missing));
    assert!(err.contains("missing.toml"), "{err}");
    let run = finished_run(&s, "run", 1, 1);
    let err = fail(
        gan()
            .args(["generate", "--device", "cpu", "--n", "4", "--checkpoint"])
            .arg(&run)
            .arg("--grid")
            .arg(s.root.join("no/such/folder/g.png")),
    );
    assert!(err.contains("g.png"), "{err}");
    let samples = s.root.join("mine.idx");
    std::fs::write(
        &samples,
        [0u8, 0, 8, 3, 0, 0, 0, 9, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2],
    )
    .unwrap();
    let err = fail(
        gan()
            .args(["eval", "--device", "cpu", "--samples"])
            .arg(&samples)
            .arg("--data-dir")
            .arg(&s.data),
    );
    assert!(
        err.contains("mine.idx") && err.contains("truncated") && !err.contains("fetch"),
        "{err}"
    );
}

/// A full disk stops the run with the file and the operating system's words, once, and keeps
/// the last checkpoint. Needs a small tmpfs (root); skipped, loudly, where none can be mounted.
#[test]
fn a_full_disk_is_one_clean_error() {
    let s = TinySetup::new();
    let run = finished_run(&s, "run", 2, 2);
    let disk = s.root.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let size = snapshot(&run).iter().map(|(_, b)| b.len()).sum::<usize>() + 600_000;
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(&disk)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED a_full_disk_is_one_clean_error: cannot mount a tmpfs here (not root?)");
        return;
    }
    let copy = disk.join("run");
    let copied = Command::new("cp").arg("-r").arg(&run).arg(&copy).status();
    let out = resume(
        &s,
        &copy,
        &[
            "--steps",
            "100000",
            "--checkpoint-every",
            "1",
            "--sample-every",
            "1",
        ],
    )
    .output();
    let listed = std::fs::read_dir(copy.join("checkpoints")).map(|d| d.count());
    let _ = Command::new("umount").arg(&disk).status();
    assert!(copied.unwrap().success());
    let out = out.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    gan_tests::assert_clean_error(&stderr);
    assert!(
        stderr.contains(&std::io::Error::from_raw_os_error(28).to_string()),
        "{stderr}"
    );
    assert!(listed.unwrap() >= 2, "a checkpoint is kept");
}
