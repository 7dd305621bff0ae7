//! `gan train`, `gan generate` and `gan summary` end to end, on a tiny MNIST-shaped data set.

use std::path::Path;
use std::process::{Command, Output};

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

fn run(cmd: &mut Command) -> Output {
    gan_tests::succeed(cmd)
}

/// Small, quiet, single-threaded CPU training.
const SMALL_RUN: [&str; 7] = [
    "--batch-size",
    "8",
    "--device",
    "cpu",
    "--threads",
    "1",
    "--quiet",
];

/// A short run: 6 steps of batch 8, samples and checkpoints every 3 steps.
fn train(data: &Path, out: &Path, extra: &[&str]) -> Output {
    run(gan()
        .args([
            "train",
            "--steps",
            "6",
            "--sample-every",
            "3",
            "--checkpoint-every",
            "3",
        ])
        .args(SMALL_RUN)
        .arg("--data-dir")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(extra))
}

#[test]
fn train_writes_every_file_of_the_run_dir_then_generate_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run_dir = tmp.path().join("run");
    let out = train(&data, &run_dir, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("trained 6 steps"));

    for file in [
        "config.toml",
        "metrics.csv",
        "train.log",
        "loss.png",
        "progress.gif",
    ] {
        assert!(run_dir.join(file).is_file(), "{file} missing");
    }
    for step in ["0000", "0003", "0006"] {
        let png = run_dir.join(format!("samples/image_at_epoch_{step}.png"));
        assert_eq!(
            &std::fs::read(&png).unwrap()[1..4],
            b"PNG",
            "{}",
            png.display()
        );
    }
    for stem in ["step-00000003", "step-00000006"] {
        for ext in ["toml", "safetensors"] {
            assert!(
                run_dir.join(format!("checkpoints/{stem}.{ext}")).is_file(),
                "{stem}.{ext}"
            );
        }
    }
    let metrics = gan_tests::metric_columns(&run_dir);
    assert_eq!(metrics[0], "step,d_loss,d_acc,g_loss");
    assert_eq!(metrics.len(), 7);
    let log = std::fs::read_to_string(run_dir.join("train.log")).unwrap();
    assert!(log.contains("step 6/6 | D loss"), "{log}");
    let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(
        config.contains("steps = 6") && config.contains("batch_size = 8"),
        "{config}"
    );

    let samples = tmp.path().join("samples.idx.gz");
    let grid = tmp.path().join("grid.png");
    run(gan()
        .args([
            "generate",
            "--n",
            "10",
            "--seed",
            "3",
            "--device",
            "cpu",
            "--checkpoint",
        ])
        .arg(&run_dir)
        .arg("--images")
        .arg(&samples)
        .arg("--grid")
        .arg(&grid));
    let images = gan_data::read_images(&samples).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (10, 28, 28));
    assert!(grid.is_file());

    // The default preset samples from its EMA; --raw from the live weights, which differ.
    let out = run(gan()
        .args([
            "generate", "--n", "10", "--seed", "3", "--device", "cpu", "--raw",
        ])
        .arg("--checkpoint")
        .arg(&run_dir)
        .arg("--images")
        .arg(tmp.path().join("raw.idx")));
    assert!(String::from_utf8_lossy(&out.stdout).contains("raw weights"));
    let raw = gan_data::read_images(&tmp.path().join("raw.idx")).unwrap();
    assert_ne!(raw, images, "--raw must sample other weights than the EMA");

    // A checkpoint file works as well as the run directory.
    let from_file = tmp.path().join("from-file.idx");
    run(gan()
        .args([
            "generate",
            "--n",
            "10",
            "--seed",
            "3",
            "--device",
            "cpu",
            "--checkpoint",
        ])
        .arg(run_dir.join("checkpoints/step-00000006.safetensors"))
        .arg("--images")
        .arg(&from_file));
    assert_eq!(gan_data::read_images(&from_file).unwrap(), images);

    run(gan()
        .args(["train", "--steps", "9", "--quiet", "--resume"])
        .arg(&run_dir)
        .arg("--data-dir")
        .arg(&data));
    assert_eq!(gan_tests::metric_columns(&run_dir).len(), 10);
    assert!(run_dir.join("samples/image_at_epoch_0009.png").is_file());
}

#[test]
fn same_seed_and_threads_give_identical_metrics_and_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train(&data, &a, &["--preset", "tutorial"]);
    train(&data, &b, &["--preset", "tutorial"]);
    assert_eq!(gan_tests::metric_columns(&a), gan_tests::metric_columns(&b));
    let tensors =
        |run: &Path| std::fs::read(run.join("checkpoints/step-00000006.safetensors")).unwrap();
    assert!(tensors(&a) == tensors(&b), "checkpoints differ");
    let c = tmp.path().join("c");
    train(&data, &c, &["--preset", "tutorial", "--seed", "7"]);
    assert_ne!(gan_tests::metric_columns(&a), gan_tests::metric_columns(&c));
}

#[test]
fn summary_prints_the_keras_counts() {
    let out = run(gan().args(["summary", "--preset", "tutorial"]));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Total params: 1,493,520",
        "Trainable params: 1,489,936",
        "Non-trainable params: 3,584",
        "Total params: 533,505",
    ] {
        assert!(text.contains(needle), "{needle} not in:\n{text}");
    }
}

/// Runs `gan` expecting failure; returns stderr.
fn refused(args: &[&str]) -> String {
    let out = gan().args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 8);
    let data = data.to_str().unwrap();
    let out = tmp.path().join("run");
    let out = out.to_str().unwrap();
    for (flag, value) in [
        ("--batch-size", "0"),
        ("--steps", "0"),
        ("--lr", "-1"),
        ("--lr", "nan"),
        ("--preset", "stylegan"),
        ("--matmul", "mkl"),
    ] {
        let err = refused(&["train", "--data-dir", data, "--out", out, flag, value]);
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
    assert!(
        !Path::new(out).exists(),
        "a refused run must not create its directory"
    );

    // --out under a regular file cannot be created (root can write anywhere else).
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, b"").unwrap();
    let unwritable = blocker.join("run");
    let err = refused(&[
        "train",
        "--data-dir",
        data,
        "--out",
        unwritable.to_str().unwrap(),
    ]);
    assert!(
        err.contains("--out") && err.contains(unwritable.to_str().unwrap()),
        "{err}"
    );

    let err = refused(&["train", "--data-dir", data, "--resume", data]);
    assert!(
        err.contains("not a run directory") && err.contains(data),
        "{err}"
    );
    let err = refused(&["train", "--resume", data, "--lr", "0.1"]);
    assert!(err.contains("--lr"), "{err}");

    // MNIST missing and not fetchable: the error names the file, and no run directory is left.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = gan()
        .args(["train", "--out", out])
        .arg("--data-dir")
        .arg(&empty)
        .env("GAN_DATA_MIRROR", &empty)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && err.contains("train-images-idx3-ubyte.gz"),
        "{err}"
    );
    assert!(
        !Path::new(out).exists(),
        "a failed fetch must not leave a run directory"
    );
    let info = String::from_utf8_lossy(&gan().arg("info").output().unwrap().stdout).into_owned();
    if info.contains("cuda      not available") {
        let err = refused(&[
            "train",
            "--data-dir",
            data,
            "--out",
            out,
            "--device",
            "cuda",
        ]);
        assert!(
            err.contains("device cuda is not available") && err.contains("--device cpu"),
            "{err}"
        );
        assert!(
            !Path::new(out).exists(),
            "a refused device must not leave a run directory"
        );
    }
    let err = refused(&["generate", "--grid", "never.png", "--checkpoint", data]);
    assert!(err.contains("not a run directory"), "{err}");
}

/// `--minutes` alone: the run stops after the step that crosses the budget, with a checkpoint
/// and a grid of that step; a resume with the budget spent says how to go on, and `--steps`
/// alone continues it.
#[test]
fn a_time_budget_stops_with_a_checkpoint_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run_dir = tmp.path().join("timed");
    let out = run(gan()
        .args(["train", "--minutes", "0.0001"])
        .args(SMALL_RUN)
        .arg("--data-dir")
        .arg(&data)
        .arg("--out")
        .arg(&run_dir));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("time budget reached"), "{stdout}");
    let steps = gan_tests::metric_columns(&run_dir).len() as u64 - 1;
    assert!(steps >= 1);
    let stem = format!("step-{steps:08}");
    assert!(run_dir.join(format!("checkpoints/{stem}.toml")).is_file());
    assert!(run_dir
        .join(format!("samples/image_at_epoch_{steps:04}.png"))
        .is_file());

    let out = gan()
        .args(["train", "--resume"])
        .arg(&run_dir)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("--minutes"),
        "{stderr}"
    );
    let more = (steps + 2).to_string();
    run(gan()
        .args(["train", "--quiet", "--steps", &more, "--resume"])
        .arg(&run_dir)
        .arg("--data-dir")
        .arg(&data));
    assert_eq!(
        gan_tests::metric_columns(&run_dir).len() as u64 - 1,
        steps + 2
    );
}
