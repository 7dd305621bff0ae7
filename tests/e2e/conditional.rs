//! The conditional GAN end to end: `--preset cgan`, `gan generate --digit` and
//! `--labels-out`, label-aware `gan eval`, and the errors of asking an unconditional model
//! for a digit. On the tiny data set, so they check plumbing; the real-MNIST test at the end
//! checks that an asked-for digit is drawn.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

fn ok(cmd: &mut Command) -> Output {
    gan_tests::succeed(cmd)
}

fn fails(cmd: &mut Command) -> String {
    gan_tests::fail(cmd)
}

fn train(data: &Path, run: &Path, preset: &str, extra: &[&str]) {
    ok(gan()
        .args(["train", "--preset", preset, "--batch-size", "8"])
        .args(["--device", "cpu", "--threads", "1", "--quiet"])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .arg("--out")
        .arg(run));
}

fn generate(run: &Path, args: &[&str]) -> String {
    let out = ok(gan()
        .args(["generate", "--device", "cpu", "--checkpoint"])
        .arg(run)
        .args(args));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn cgan_trains_generates_digits_and_evaluates_with_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("cgan");
    train(
        &data,
        &run,
        "cgan",
        &[
            "--steps",
            "6",
            "--sample-every",
            "3",
            "--eval-every",
            "3",
            "--eval-samples",
            "20",
        ],
    );
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert!(lines[0].ends_with(",recall,label_acc"), "{}", lines[0]);
    let accuracy: f64 = lines[6].rsplit(',').next().unwrap().parse().unwrap();
    assert!((0.0..=1.0).contains(&accuracy), "{}", lines[6]);
    // The run's grid is ten rows of ten (one row per digit): 10·28 px plus padding.
    let grid = image_size(&run.join("samples/image_at_epoch_0006.png"));
    assert_eq!(grid.0, grid.1, "a square 10×10 grid: {grid:?}");

    let (images, labels) = (tmp.path().join("s.idx"), tmp.path().join("l.idx.gz"));
    let said = generate(
        &run,
        &[
            "--digit",
            "3",
            "--n",
            "12",
            "--images",
            path(&images),
            "--labels-out",
            path(&labels),
        ],
    );
    assert!(said.contains("digit 3"), "{said}");
    assert_eq!(gan_data::read_labels(&labels).unwrap(), vec![3; 12]);
    assert_eq!(gan_data::read_images(&images).unwrap().count, 12);

    let grid_png = tmp.path().join("all.png");
    let said = generate(
        &run,
        &[
            "--digit",
            "all",
            "--n",
            "25",
            "--images",
            path(&images),
            "--labels-out",
            path(&labels),
        ],
    );
    assert!(said.contains("every digit equally often"), "{said}");
    let said = generate(
        &run,
        &["--digit", "all", "--n", "25", "--grid", path(&grid_png)],
    );
    assert!(said.contains("10×3 grid, a row per digit"), "{said}");
    let drawn = gan_data::read_labels(&labels).unwrap();
    let mut counts = [0; 10];
    drawn.iter().for_each(|&d| counts[usize::from(d)] += 1);
    assert!(counts.iter().all(|&c| c == 2 || c == 3), "{counts:?}");

    let out = ok(gan()
        .args(["eval", "--device", "cpu", "--data-dir"])
        .arg(&data)
        .args(["--samples", path(&images), "--labels", path(&labels)]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("label accuracy") && text.contains("per digit"),
        "{text}"
    );

    let out = ok(gan()
        .args([
            "eval",
            "--device",
            "cpu",
            "--json",
            "--n",
            "30",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--checkpoint")
        .arg(&run));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes = report["labels"]["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 10);
    assert_eq!(classes[0]["samples"], 3);
    assert!(report["labels"]["label_accuracy"].is_number(), "{report}");

    let short = tmp.path().join("short.idx");
    std::fs::write(&short, gan_data::idx::encode_idx(&[3], &[1, 2, 3])).unwrap();
    let err = fails(
        gan()
            .args(["eval", "--device", "cpu", "--data-dir"])
            .arg(&data)
            .args(["--samples", path(&images), "--labels", path(&short)]),
    );
    assert!(err.contains("25 images but 3 labels"), "{err}");
}

/// A conditional run stopped at step 3 and resumed to step 6 matches a straight run: same
/// metrics, byte-identical checkpoint (labels, balanced fakes and the projection included).
#[test]
fn cgan_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let (straight, resumed) = (tmp.path().join("straight"), tmp.path().join("resumed"));
    train(&data, &straight, "cgan", &["--steps", "6"]);
    train(&data, &resumed, "cgan", &["--steps", "3"]);
    gan_tests::assert_resume_matches(env!("CARGO_BIN_EXE_gan"), &data, &straight, &resumed, 6);
}

#[test]
fn digits_are_refused_where_they_mean_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 16);
    let run = tmp.path().join("mlp");
    train(&data, &run, "mlp", &["--steps", "2"]);
    for args in [["--digit", "3"], ["--labels-out", "l.idx"]] {
        let err = fails(
            gan()
                .current_dir(tmp.path())
                .args([
                    "generate",
                    "--device",
                    "cpu",
                    "--grid",
                    "g.png",
                    "--checkpoint",
                ])
                .arg(&run)
                .args(args),
        );
        assert!(
            err.contains("not trained with labels") && err.contains("cgan"),
            "{err}"
        );
    }
    assert!(!tmp.path().join("l.idx").exists());
    let err = fails(
        gan()
            .args(["generate", "--digit", "12", "--checkpoint"])
            .arg(&run),
    );
    assert!(err.contains("\"12\" is not a digit"), "{err}");
}

/// A short real run of `cgan` (2,000 steps, under a minute on 2 cores) already draws the
/// digit asked for: the classifier reads most samples of `--digit 7` as a 7, and most of
/// each digit's samples of a balanced draw as that digit.
#[test]
fn real_mnist_cgan_draws_the_digit_asked_for() {
    let Some(mirror) = gan_data::local_mnist_dir() else {
        eprintln!(
            "SKIPPED: real MNIST not found (set GAN_DATA_MIRROR or run `cargo xtask fetch-data`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run: PathBuf = tmp.path().join("cgan");
    ok(gan()
        .args(["train", "--preset", "cgan", "--steps", "2000", "--quiet"])
        .args(["--device", "cpu", "--sample-every", "1000000"])
        .arg("--data-dir")
        .arg(&mirror)
        .arg("--out")
        .arg(&run));
    let scores = |digit: &str| {
        let (images, labels) = (tmp.path().join("d.idx"), tmp.path().join("d-labels.idx"));
        generate(
            &run,
            &[
                "--digit",
                digit,
                "--n",
                "1000",
                "--images",
                path(&images),
                "--labels-out",
                path(&labels),
            ],
        );
        let out = ok(gan()
            .args(["eval", "--device", "cpu", "--json", "--data-dir"])
            .arg(&mirror)
            .args(["--samples", path(&images), "--labels", path(&labels)]));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["labels"].clone()
    };
    let sevens = scores("7");
    let accuracy = sevens["label_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.6, "--digit 7: read as a 7 {accuracy}");
    let all = scores("all");
    assert!(all["label_accuracy"].as_f64().unwrap() > 0.8, "{all}");
    for class in all["classes"].as_array().unwrap() {
        assert_eq!(class["samples"], 100);
        assert!(class["label_accuracy"].as_f64().unwrap() > 0.5, "{class}");
    }
}

/// Width and height of a PNG, from its header.
fn image_size(png: &Path) -> (u32, u32) {
    let bytes = std::fs::read(png).unwrap();
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}
