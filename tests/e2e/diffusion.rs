//! The diffusion family end to end, on the tiny data set (plumbing, not quality): a small
//! `flow-mlp` trains, resumes exactly, samples with the config's steps or `--sample-steps`,
//! evaluates and walks; a conditional one with guidance draws the digit asked for;
//! flags that mean nothing for a model are refused.

use std::path::Path;
use std::process::Command;

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

/// The preset at a width that trains in a moment.
const SMALL: [&str; 8] = [
    "--set",
    "model.denoiser.width=32",
    "--set",
    "model.denoiser.blocks=2",
    "--set",
    "model.denoiser.time_features=16",
    "--set",
    "model.sampling.steps=4",
];

fn train(data: &Path, run: &Path, steps: &str, extra: &[&str]) {
    let args = [
        &[
            "--preset",
            "flow-mlp",
            "--steps",
            steps,
            "--sample-every",
            "3",
        ][..],
        &["--checkpoint-every", "3"],
        &SMALL,
        extra,
    ]
    .concat();
    gan_tests::train_tiny(env!("CARGO_BIN_EXE_gan"), data, run, &args);
}

fn generate(run: &Path, extra: &[&str]) -> String {
    let out = gan_tests::succeed(
        gan()
            .args(["generate", "--device", "cpu", "--n", "12", "--checkpoint"])
            .arg(run)
            .args(extra),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_flow_trains_resumes_and_samples_in_the_steps_asked_for() {
    let s = gan_tests::TinySetup::new();
    let run = s.root.join("flow");
    train(&s.data, &run, "6", &[]);
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(metrics.starts_with("step,loss,elapsed_s"), "{metrics}");
    assert!(run.join("samples/image_at_epoch_0006.png").is_file());

    let images = s.root.join("a.idx");
    let said = generate(&run, &["--images", images.to_str().unwrap()]);
    assert!(
        said.contains("heun in 4 steps, 7 network evaluations per image"),
        "{said}"
    );
    let again = s.root.join("b.idx");
    generate(&run, &["--images", again.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&images).unwrap(),
        std::fs::read(&again).unwrap()
    );
    let fewer = s.root.join("c.idx");
    let said = generate(
        &run,
        &["--sample-steps", "1", "--images", fewer.to_str().unwrap()],
    );
    assert!(
        said.contains("heun in 1 step, 1 network evaluation per image"),
        "{said}"
    );
    assert_ne!(
        std::fs::read(&images).unwrap(),
        std::fs::read(&fewer).unwrap()
    );

    let out = gan_tests::succeed(
        gan()
            .args(["eval", "--device", "cpu", "--n", "16", "--json"])
            .args(["--sample-steps", "2", "--data-dir"])
            .arg(&s.data)
            .arg("--checkpoint")
            .arg(&run),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["frechet_distance"].is_number(), "{report}");
    assert!(
        !run.join("eval.json").exists(),
        "scores of other sampling steps are not the run's"
    );
    // The sampling path drawn at the end of training; the cost of sampling beside the
    // scores; the curve of FID against steps with its chart; all on the report.
    assert!(run.join("sampling-path.png").is_file());
    let eval = |extra: &[&str]| {
        let out = gan_tests::succeed(
            gan()
                .args([
                    "eval",
                    "--device",
                    "cpu",
                    "--n",
                    "16",
                    "--json",
                    "--data-dir",
                ])
                .arg(&s.data)
                .arg("--checkpoint")
                .arg(&run)
                .args(extra),
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let scored = eval(&[]);
    assert_eq!(scored["sampling"]["evaluations_per_image"], 7, "{scored}");
    assert!(scored["sampling"]["images_per_second"].as_f64().unwrap() > 0.0);
    let curve = eval(&["--steps-curve", "2,1"]);
    let points = curve["points"].as_array().unwrap();
    let steps: Vec<_> = points
        .iter()
        .map(|p| p["steps"].as_u64().unwrap())
        .collect();
    let cost: Vec<_> = points
        .iter()
        .map(|p| p["sampling"]["evaluations_per_image"].as_u64().unwrap())
        .collect();
    assert_eq!((steps, cost), (vec![1, 2], vec![1, 3]), "{curve}");
    assert!(points[0]["report"]["frechet_distance"].is_number());
    assert!(run.join("sampling-steps.json").is_file());
    assert!(run.join("sampling-steps.png").is_file());
    gan_tests::succeed(gan().arg("report").arg(&run));
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    for caption in [
        "from pure noise",
        "FID against network evaluations per image",
    ] {
        assert!(page.contains(caption), "{caption}");
    }
    let out = gan_tests::succeed(gan().args(["compare", "--json"]).arg(&run));
    let compared: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(compared[0]["evaluations_per_image"], 7, "{compared}");

    let walk = s.root.join("walk.png");
    gan_tests::succeed(
        gan()
            .args(["interpolate", "--device", "cpu", "--frames", "3"])
            .args(["--sample-steps", "2", "--checkpoint"])
            .arg(&run)
            .arg("--grid")
            .arg(&walk),
    );
    assert!(walk.is_file());

    // Out-of-range steps, guidance for an unconditional model, steps for a GAN: refused.
    let stderr = gan_tests::fail(
        gan()
            .args([
                "generate",
                "--sample-steps",
                "0",
                "--grid",
                "x.png",
                "--checkpoint",
            ])
            .arg(&run),
    );
    assert!(stderr.contains("--sample-steps"), "{stderr}");
    let stderr = gan_tests::fail(
        gan()
            .args(["generate", "--device", "cpu", "--guidance", "2"])
            .args(["--grid", "x.png", "--checkpoint"])
            .arg(&run),
    );
    assert!(stderr.contains("trained without labels"), "{stderr}");
    let gan_run = s.root.join("gan");
    gan_tests::train_tiny(
        env!("CARGO_BIN_EXE_gan"),
        &s.data,
        &gan_run,
        &["--steps", "1"],
    );
    let stderr = gan_tests::fail(
        gan()
            .args(["generate", "--device", "cpu", "--sample-steps", "3"])
            .args(["--grid", "x.png", "--checkpoint"])
            .arg(&gan_run),
    );
    assert!(stderr.contains("samples in one pass"), "{stderr}");
    let stderr = gan_tests::fail(
        gan()
            .args([
                "eval",
                "--device",
                "cpu",
                "--n",
                "16",
                "--steps-curve",
                "--data-dir",
            ])
            .arg(&s.data)
            .arg("--checkpoint")
            .arg(&gan_run),
    );
    assert!(stderr.contains("samples in one pass"), "{stderr}");
    assert!(!gan_run.join("sampling-steps.json").exists());

    let resumed = s.root.join("resumed");
    train(&s.data, &resumed, "3", &[]);
    gan_tests::assert_resume_matches(env!("CARGO_BIN_EXE_gan"), &s.data, &run, &resumed, 6);
}

#[test]
fn a_conditional_flow_with_guidance_draws_the_digits_asked_for() {
    let s = gan_tests::TinySetup::new();
    let run = s.root.join("cflow");
    train(
        &s.data,
        &run,
        "6",
        &[
            "--set",
            "model.conditional=true",
            "--set",
            "model.label_dropout=0.1",
            "--set",
            "model.sampling.guidance=2",
        ],
    );
    let labels = s.root.join("labels.idx");
    let said = generate(
        &run,
        &[
            "--digit",
            "all",
            "--labels-out",
            labels.to_str().unwrap(),
            "--guidance",
            "1.5",
        ],
    );
    assert!(
        said.contains("guidance 1.5, 14 network evaluations"),
        "{said}"
    );
    let written = gan_data::read_labels(&labels).unwrap();
    assert_eq!(written.len(), 12);
    let one = s.root.join("threes.png");
    generate(&run, &["--digit", "3", "--grid", one.to_str().unwrap()]);
    assert!(one.is_file());
    let walk = s.root.join("digits.png");
    gan_tests::succeed(
        gan()
            .args(["interpolate", "--device", "cpu", "--frames", "2"])
            .args(["--digits", "0,1,2", "--checkpoint"])
            .arg(&run)
            .arg("--grid")
            .arg(&walk),
    );
    assert!(walk.is_file());
}

/// `gan train --reflow` on `source` into `out`: `pairs` pairs, `steps` steps.
fn reflow(data: &Path, source: &Path, out: &Path, steps: &str) {
    let args = [
        "--reflow",
        source.to_str().unwrap(),
        "--pairs",
        "40",
        "--steps",
        steps,
        "--sample-every",
        "3",
        "--checkpoint-every",
        "3",
    ];
    gan_tests::train_tiny(env!("CARGO_BIN_EXE_gan"), data, out, &args);
}

/// A reflow run draws its pairs with the source's newest checkpoint (the same pairs for the
/// same seed), keeps them in its directory, samples in two Euler steps, and resumes exactly
/// on the pairs it drew. A model that is not a flow, an `--out` that is the source and
/// damaged pairs are refused, writing nothing.
#[test]
fn a_reflow_learns_from_the_pairs_of_its_source_and_resumes_exactly() {
    let s = gan_tests::TinySetup::new();
    let source = s.root.join("flow");
    train(&s.data, &source, "3", &[]);
    let straight = s.root.join("reflow");
    reflow(&s.data, &source, &straight, "6");
    let config = std::fs::read_to_string(straight.join("config.toml")).unwrap();
    for expected in [
        "[reflow]",
        "pairs = 40",
        "source_step = 3",
        "sampler = \"euler\"",
    ] {
        assert!(config.contains(expected), "{expected} in {config}");
    }
    let pairs = |run: &Path| std::fs::read(run.join("reflow/images-idx3-ubyte")).unwrap();
    let images = gan_data::read_images(&straight.join("reflow/images-idx3-ubyte")).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (40, 28, 28));
    // Pair i is the source's sample of noise row i of the run's pair seed: what `gan
    // generate` draws from that seed (up to rounding of another thread count).
    let seed = gan_training::reflow::ReflowConfig::noise_seed(42).to_string();
    let redrawn = s.root.join("redrawn.idx");
    gan_tests::succeed(
        gan()
            .args(["generate", "--device", "cpu", "--n", "40", "--seed", &seed])
            .arg("--images")
            .arg(&redrawn)
            .arg("--checkpoint")
            .arg(&source),
    );
    let redrawn = gan_data::read_images(&redrawn).unwrap();
    let gaps: Vec<u8> = (images.pixels.iter().zip(&redrawn.pixels))
        .map(|(a, b)| a.abs_diff(*b))
        .collect();
    assert_eq!(gaps.len(), 40 * 784);
    assert!(
        gaps.iter().all(|&g| g <= 1),
        "pairs are the source's samples"
    );
    assert!(gaps.iter().filter(|&&g| g > 0).count() < gaps.len() / 100);
    let distinct: std::collections::BTreeSet<&u8> = images.pixels.iter().collect();
    assert!(distinct.len() > 10, "pairs are images, not a constant");
    let grid = s.root.join("reflow.png");
    let said = generate(&straight, &["--grid", grid.to_str().unwrap()]);
    assert!(
        said.contains("euler in 2 steps, 2 network evaluations per image"),
        "{said}"
    );

    let resumed = s.root.join("resumed");
    reflow(&s.data, &source, &resumed, "3");
    assert_eq!(pairs(&straight), pairs(&resumed), "pairs follow the seed");
    gan_tests::assert_resume_matches(env!("CARGO_BIN_EXE_gan"), &s.data, &straight, &resumed, 6);

    let gan_run = s.root.join("gan");
    gan_tests::train_tiny(
        env!("CARGO_BIN_EXE_gan"),
        &s.data,
        &gan_run,
        &["--steps", "1"],
    );
    let not_written = s.root.join("not-written");
    for (from, out, expected) in [
        (&gan_run, &not_written, "only a flow"),
        (&source, &source, "the run the reflow learns from"),
    ] {
        let before = gan_tests::snapshot(from);
        let stderr = gan_tests::fail(
            gan()
                .args(["train", "--device", "cpu", "--steps", "1", "--reflow"])
                .arg(from)
                .arg("--data-dir")
                .arg(&s.data)
                .arg("--out")
                .arg(out),
        );
        assert!(stderr.contains(expected), "{stderr}");
        gan_tests::assert_clean_error(&stderr);
        assert_eq!(gan_tests::snapshot(from), before);
        assert!(!not_written.exists());
    }
    let stderr = gan_tests::fail(gan().args(["train", "--pairs", "10"]));
    assert!(stderr.contains("--reflow"), "{stderr}");

    let damaged = straight.join("reflow/images-idx3-ubyte");
    let bytes = pairs(&straight);
    std::fs::write(&damaged, &bytes[..bytes.len() - 784]).unwrap();
    let before = gan_tests::snapshot(&straight);
    let stderr = gan_tests::fail(
        gan()
            .args(["train", "--device", "cpu", "--steps", "9", "--data-dir"])
            .arg(&s.data)
            .arg("--resume")
            .arg(&straight),
    );
    assert!(stderr.contains("images-idx3-ubyte"), "{stderr}");
    assert_eq!(gan_tests::snapshot(&straight), before);
}
