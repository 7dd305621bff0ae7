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
