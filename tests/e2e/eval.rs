//! `gan eval` and `gan train --eval-every` end to end, on a tiny MNIST-shaped data set.

use std::process::{Command, Output};

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

fn ok(cmd: &mut Command) -> Output {
    gan_tests::succeed(cmd)
}

#[test]
fn train_with_evaluation_then_eval_the_run_and_its_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("run");
    ok(gan()
        .args([
            "train",
            "--steps",
            "6",
            "--batch-size",
            "8",
            "--sample-every",
            "3",
            "--eval-every",
            "3",
        ])
        .args([
            "--eval-samples",
            "20",
            "--device",
            "cpu",
            "--threads",
            "1",
            "--quiet",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--out")
        .arg(&run));
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let lines: Vec<&str> = metrics.lines().collect();
    assert!(
        lines[0].ends_with(",fid,inception_score,modes,precision,recall"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(",,,,,"),
        "step 1 is not evaluated: {}",
        lines[1]
    );
    for step in [3, 6] {
        let fields: Vec<&str> = lines[step].split(',').collect();
        let fid: f64 = fields[5]
            .parse()
            .unwrap_or_else(|_| panic!("step {step}: {}", lines[step]));
        assert!(fid.is_finite() && fid >= 0.0);
    }
    assert!(
        run.join("checkpoints/best.toml").is_file()
            && run.join("checkpoints/best.safetensors").is_file()
    );
    let best = std::fs::read_to_string(run.join("checkpoints/best.toml")).unwrap();
    assert!(best.contains("frechet_distance"), "{best}");

    let out = ok(gan()
        .args([
            "eval",
            "--n",
            "40",
            "--json",
            "--device",
            "cpu",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--checkpoint")
        .arg(run.join("checkpoints/best.toml")));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "frechet_distance",
        "inception_score",
        "precision",
        "recall",
        "coverage",
    ] {
        assert!(report.get(key).is_some(), "{key} missing in {report}");
    }
    assert_eq!(report["samples"], 40);

    // Three draws: the first is the one above, the others other noise, so other scores.
    let out = ok(gan()
        .args(["eval", "--n", "40", "--repeats", "3", "--json"])
        .args(["--device", "cpu", "--data-dir"])
        .arg(&data)
        .arg("--checkpoint")
        .arg(run.join("checkpoints/best.toml")));
    let repeated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let spread = &repeated["repeats"];
    assert_eq!(spread["draws"], "noise seeds 0..=2", "{repeated}");
    let fids = spread["frechet_distance"]["values"].as_array().unwrap();
    assert_eq!(fids.len(), 3);
    assert_eq!(fids[0], report["frechet_distance"]);
    assert_ne!(fids[0], fids[1], "another seed, another draw: {fids:?}");
    let mean = fids.iter().map(|v| v.as_f64().unwrap()).sum::<f64>() / 3.0;
    let reported = spread["frechet_distance"]["mean"].as_f64().unwrap();
    assert!((reported - mean).abs() < 1e-9, "{reported} vs {mean}");
    let out = ok(gan()
        .args(["eval", "--n", "40", "--repeats", "2", "--device", "cpu"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--checkpoint")
        .arg(&run));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("over 2 draws (noise seeds 0..=1)"), "{text}");
    let err = gan_tests::fail(
        gan()
            .args(["eval", "--repeats", "0", "--checkpoint"])
            .arg(&run),
    );
    assert!(err.contains("--repeats") && err.contains('0'), "{err}");
    let err = gan_tests::fail(
        gan()
            .args(["eval", "--n", "40", "--repeats", "2", "--device", "cpu"])
            .args(["--seed", &u64::MAX.to_string(), "--data-dir"])
            .arg(&data)
            .arg("--checkpoint")
            .arg(&run),
    );
    assert!(
        err.contains("--repeats 2") && err.contains("smaller --seed"),
        "{err}"
    );
    let err = gan_tests::fail(gan().args(["eval", "--repeats", "2", "--samples", "s.idx"]));
    assert!(err.contains("--samples"), "{err}");
    // 64 training images make one floor subset, and no second one.
    let out = ok(gan()
        .args([
            "eval",
            "--reference",
            "--repeats",
            "1",
            "--json",
            "--device",
            "cpu",
        ])
        .arg("--data-dir")
        .arg(&data));
    let reference: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        reference["floor_repeats"]["frechet_distance"]["values"][0],
        reference["floor"]["frechet_distance"],
        "{reference}"
    );
    let err = gan_tests::fail(
        gan()
            .args(["eval", "--reference", "--repeats", "2", "--device", "cpu"])
            .arg("--data-dir")
            .arg(&data),
    );
    assert!(
        err.contains("--repeats 2") && err.contains("64 images"),
        "{err}"
    );

    let samples = tmp.path().join("s.idx.gz");
    ok(gan()
        .args(["generate", "--n", "30", "--device", "cpu", "--checkpoint"])
        .arg(&run)
        .arg("--images")
        .arg(&samples));
    let out = ok(gan()
        .args(["eval", "--device", "cpu", "--data-dir"])
        .arg(&data)
        .arg("--samples")
        .arg(&samples));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FID (LeNet features)") && text.contains("samples                  30"),
        "{text}"
    );
}

#[test]
fn bad_sample_files_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 16);
    let eval = |file: &std::path::Path| -> String {
        let out = gan()
            .args(["eval", "--device", "cpu", "--data-dir"])
            .arg(&data)
            .arg("--samples")
            .arg(file)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let small = tmp.path().join("small.idx");
    let images = gan_data::Images {
        count: 5,
        rows: 14,
        cols: 14,
        pixels: vec![0; 5 * 196],
    };
    gan_data::write_images(&small, &images).unwrap();
    let err = eval(&small);
    assert!(
        err.contains("small.idx") && err.contains("28×28") && err.contains("14×14"),
        "{err}"
    );

    let labels = tmp.path().join("labels.idx");
    std::fs::write(&labels, gan_data::idx::encode_idx(&[3], &[1, 2, 3])).unwrap();
    let err = eval(&labels);
    assert!(
        err.contains("labels.idx") && err.contains("0x00000801"),
        "{err}"
    );

    let garbage = tmp.path().join("garbage.idx");
    std::fs::write(&garbage, b"not an idx file").unwrap();
    let err = eval(&garbage);
    assert!(
        err.contains("garbage.idx") && err.contains("not an IDX file"),
        "{err}"
    );
}
