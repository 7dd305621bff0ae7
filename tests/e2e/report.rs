//! Seeing and comparing runs end to end: `report.html` written by training and by `gan
//! report`, `eval.json` from `gan eval`, `gan compare` in every format, latent walks, and
//! TensorBoard event files read back by TensorBoard's own loader. On the tiny data set.

use std::path::{Path, PathBuf};
use std::process::Command;

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

/// Six steps, a grid and a checkpoint every three.
fn train(data: &Path, run: &Path, extra: &[&str]) {
    let mut args = vec![
        "--steps",
        "6",
        "--sample-every",
        "3",
        "--checkpoint-every",
        "3",
    ];
    args.extend_from_slice(extra);
    gan_tests::train_tiny(env!("CARGO_BIN_EXE_gan"), data, run, &args);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn training_writes_a_report_and_eval_compare_and_report_use_the_evaluation() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("run");
    train(&data, &run, &["--eval-every", "3", "--eval-samples", "20"]);
    let page = read(&run.join("report.html"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("preset <b>mlp</b>"), "the preset is named");
    assert!(page.contains("training curves") && page.contains("FID (LeNet)"));
    assert_eq!(
        page.matches("data:image/png;base64,").count(),
        4,
        "latest grid + 3 in the timeline"
    );
    assert!(
        page.contains("during training"),
        "the in-training evaluation is shown"
    );
    assert!(page.contains("finished at step 6"), "{page}");
    let history = read(&run.join("history.jsonl"));
    assert!(
        history.contains("\"started\"") && history.contains("\"finished\""),
        "{history}"
    );

    gan_tests::succeed(
        gan()
            .args(["eval", "--device", "cpu", "--n", "40", "--checkpoint"])
            .arg(&run)
            .arg("--data-dir")
            .arg(&data),
    );
    let saved: serde_json::Value = serde_json::from_str(&read(&run.join("eval.json"))).unwrap();
    assert_eq!(saved["step"], 6);
    assert_eq!(saved["report"]["samples"], 40);
    assert!(saved["floor"]["frechet_distance"].is_number());
    gan_tests::succeed(gan().arg("report").arg(&run));
    let page = read(&run.join("report.html"));
    assert!(
        page.contains("floor: MNIST training images") && page.contains("ceiling: uniform noise")
    );
    assert!(page.contains("mode histogram"));

    let other = tmp.path().join("other");
    train(&data, &other, &[]);
    let out = gan_tests::succeed(gan().args(["compare", "--json"]).arg(&run).arg(&other));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fid = saved["report"]["frechet_distance"].as_f64().unwrap();
    assert_eq!(rows[0]["fid"].as_f64(), Some(fid));
    assert_eq!(rows[0]["source"], "gan eval");
    assert_eq!(rows[1]["source"], "not evaluated");
    assert_eq!(rows[1]["steps"], 6);
    let out = gan_tests::succeed(gan().args(["compare", "--markdown"]).arg(&run).arg(&other));
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.contains(&format!("| {fid:.3} |")), "{table}");
    let html = tmp.path().join("compare.html");
    gan_tests::succeed(
        gan()
            .arg("compare")
            .arg(&run)
            .arg(&other)
            .arg("--html")
            .arg(&html),
    );
    let page = read(&html);
    assert_eq!(
        page.matches("data:image/png;base64,").count(),
        2,
        "one final grid per run"
    );
    assert!(page.contains("D loss"), "a chart per metric, runs overlaid");
}

#[test]
fn a_finished_run_ends_with_an_evaluation_that_its_report_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("run");
    let out = gan_tests::succeed(
        gan()
            .args([
                "train",
                "--batch-size",
                "8",
                "--steps",
                "4",
                "--final-eval",
                "60",
            ])
            .args(["--device", "cpu", "--threads", "1", "--data-dir"])
            .arg(&data)
            .arg("--out")
            .arg(&run),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("final evaluation (60 images): FID (LeNet) "),
        "{stdout}"
    );
    let saved: serde_json::Value = serde_json::from_str(&read(&run.join("eval.json"))).unwrap();
    assert_eq!(
        (saved["step"].as_u64(), saved["report"]["samples"].as_u64()),
        (Some(4), Some(60))
    );
    let page = read(&run.join("report.html"));
    assert!(
        page.contains("this run: step 4, EMA weights, 60 samples"),
        "the report shows it"
    );
    assert!(page.contains("mode histogram") && page.contains("ceiling: uniform noise"));
}

#[test]
fn malformed_runs_give_a_report_of_what_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("run");
    train(&data, &run, &[]);
    let metrics = read(&run.join("metrics.csv"));
    std::fs::write(run.join("metrics.csv"), &metrics[..metrics.len() - 9]).unwrap();
    std::fs::write(run.join("eval.json"), "{ not json").unwrap();
    std::fs::write(run.join("history.jsonl"), "{\"event\": \"sta").unwrap();
    gan_tests::succeed(gan().arg("report").arg(&run));
    let page = read(&run.join("report.html"));
    assert!(
        page.contains("cut short or damaged"),
        "truncated metrics are named"
    );
    assert!(page.contains("eval.json could not be read"));
    assert!(page.contains("history.jsonl line 1"));
    assert!(
        page.contains("training curves"),
        "the rows before the damage are drawn"
    );

    for dir in ["samples", "checkpoints"] {
        std::fs::remove_dir_all(run.join(dir)).unwrap();
    }
    std::fs::remove_file(run.join("metrics.csv")).unwrap();
    std::fs::write(run.join("config.toml"), "steps = [").unwrap();
    gan_tests::succeed(gan().arg("report").arg(&run));
    let page = read(&run.join("report.html"));
    for note in [
        "no metrics.csv yet",
        "no sample grids",
        "config.toml could not be parsed",
    ] {
        assert!(page.contains(note), "{note}");
    }

    let err = gan_tests::fail(gan().arg("report").arg(tmp.path().join("missing")));
    assert!(err.contains("not a run directory"), "{err}");
}

#[test]
fn a_walk_starts_and_ends_at_the_images_of_its_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("run");
    train(&data, &run, &[]);
    let walk = tmp.path().join("walk.idx");
    let (grid, gif) = (tmp.path().join("walk.png"), tmp.path().join("walk.gif"));
    gan_tests::succeed(
        gan()
            .args([
                "interpolate",
                "--device",
                "cpu",
                "--seeds",
                "3,17,42",
                "--frames",
                "5",
            ])
            .arg("--checkpoint")
            .arg(&run)
            .arg("--images")
            .arg(&walk)
            .arg("--grid")
            .arg(&grid)
            .arg("--gif")
            .arg(&gif),
    );
    assert!(grid.is_file() && gif.is_file());
    let images = gan_data::read_images(&walk).unwrap();
    assert_eq!(images.count, 10, "two legs of five");
    let first_of = |seed: &str| -> Vec<u8> {
        let out = tmp.path().join(format!("seed-{seed}.idx"));
        gan_tests::succeed(
            gan()
                .args(["generate", "--device", "cpu", "--n", "1", "--seed", seed])
                .arg("--checkpoint")
                .arg(&run)
                .arg("--images")
                .arg(&out),
        );
        gan_data::read_images(&out).unwrap().pixels
    };
    let image = |i: usize| images.pixels[i * 784..(i + 1) * 784].to_vec();
    // The same noise; a product over a batch of ten may round a pixel differently than over
    // a batch of one, by at most one level.
    let same = |a: Vec<u8>, b: Vec<u8>| a.iter().zip(&b).all(|(x, y)| x.abs_diff(*y) <= 1);
    assert!(same(image(0), first_of("3")));
    assert!(same(image(4), first_of("17")));
    assert!(same(image(5), first_of("17")));
    assert!(same(image(9), first_of("42")));
    assert!(!same(image(2), image(0)), "the walk moves");

    let err = gan_tests::fail(
        gan()
            .args([
                "interpolate",
                "--device",
                "cpu",
                "--digits",
                "1,2",
                "--grid",
            ])
            .arg(&grid)
            .arg("--checkpoint")
            .arg(&run),
    );
    assert!(err.contains("not a conditional model"), "{err}");
}

#[test]
fn a_conditional_walk_adds_a_digit_to_digit_walk() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("cgan");
    train(&data, &run, &["--preset", "cgan"]);
    let count = |extra: &[&str]| -> usize {
        let out = tmp.path().join("walk.idx");
        gan_tests::succeed(
            gan()
                .args([
                    "interpolate",
                    "--device",
                    "cpu",
                    "--frames",
                    "4",
                    "--checkpoint",
                ])
                .arg(&run)
                .args(extra)
                .arg("--images")
                .arg(&out),
        );
        gan_data::read_images(&out).unwrap().count
    };
    // 0 → 1 → … → 9 at seed 3's noise: nine legs of four.
    assert_eq!(count(&[]), 36);
    // With a digit, first the noise walk 3 → 17 → 42 at that digit.
    assert_eq!(count(&["--digit", "7"]), 44);
    assert_eq!(
        count(&["--digits", "1,8", "--digit", "2", "--seeds", "5,6"]),
        8
    );
}

/// The Python to read event files with: `GAN_TEST_PYTHON` (set by `cargo xtask test` to a
/// venv it gave `tensorboard`), else `python3` on the PATH; `None` where there is none.
fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("GAN_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let found = Command::new(&candidate).arg("--version").output();
    found.is_ok_and(|o| o.status.success()).then_some(candidate)
}

#[test]
fn tensorboard_reads_every_metric_and_grid() {
    let Some(python) = python() else {
        eprintln!("SKIPPED tensorboard_reads_every_metric_and_grid: no Python (python3 or GAN_TEST_PYTHON) to run TensorBoard's loader");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("run");
    gan_tests::train_tiny(
        env!("CARGO_BIN_EXE_gan"),
        &data,
        &run,
        &[
            "--steps",
            "4",
            "--tensorboard",
            "--sample-every",
            "2",
            "--checkpoint-every",
            "2",
            "--eval-every",
            "4",
            "--eval-samples",
            "20",
        ],
    );
    // A resume adds a second event file; TensorBoard reads the directory as one run.
    gan_tests::succeed(
        gan()
            .args(["train", "--steps", "6", "--quiet", "--resume"])
            .arg(&run)
            .arg("--data-dir")
            .arg(&data),
    );
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/read_tensorboard.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(run.join("tb"))
        .output()
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "TensorBoard's loader failed (install it with `pip install tensorboard`; `cargo xtask test` does): {stderr}"
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let table = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split(',').collect();
    for (column, key) in header.iter().enumerate().skip(1).take(3) {
        let points = read["scalars"][format!("train/{key}")]
            .as_array()
            .unwrap_or_else(|| panic!("no train/{key} in {read}"));
        let steps: Vec<u64> = points.iter().map(|p| p[0].as_u64().unwrap()).collect();
        assert_eq!(
            steps,
            [1, 2, 3, 4, 5, 6],
            "{key}: each step once, across the resume"
        );
        for (line, point) in table.lines().skip(1).zip(points) {
            let expected: f64 = line.split(',').nth(column).unwrap().parse().unwrap();
            let got = point[1].as_f64().unwrap();
            assert!(
                (got - expected).abs() <= 1e-6 * expected.abs().max(1.0),
                "{key}: {got} vs {expected}"
            );
        }
    }
    let fid = read["scalars"]["eval/fid"].as_array().expect("eval/fid");
    assert_eq!(
        fid.iter()
            .map(|p| p[0].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [4, 6]
    );
    let grids = read["images"]["samples"].as_array().expect("sample grids");
    let steps: Vec<u64> = grids.iter().map(|g| g[0].as_u64().unwrap()).collect();
    assert_eq!(steps, [0, 2, 4, 6]);
    assert!(
        grids
            .iter()
            .all(|g| g[1].as_u64() > Some(100) && g[3] == true),
        "{grids:?}"
    );
}
