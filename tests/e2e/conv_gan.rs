//! The convolutional GANs end to end: `dcgan` and `wgan-gp` train, report their own metrics,
//! resume exactly, generate and describe themselves; a critic the penalty cannot work with is
//! refused before anything is written. On the tiny data set, so they check plumbing.

use std::path::Path;
use std::process::Command;

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

fn train(data: &Path, run: &Path, preset: &str, steps: &str) {
    gan_tests::succeed(
        gan()
            .args(["train", "--preset", preset, "--batch-size", "8"])
            .args(["--device", "cpu", "--threads", "1", "--quiet"])
            .args([
                "--steps",
                steps,
                "--sample-every",
                "5",
                "--checkpoint-every",
                "5",
            ])
            .arg("--data-dir")
            .arg(data)
            .arg("--out")
            .arg(run),
    );
}

#[test]
fn conv_presets_train_with_their_metrics_and_resume_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    for (preset, header) in [
        ("dcgan", "step,d_loss,d_acc,penalty,g_loss,elapsed_s"),
        (
            "wgan-gp",
            "step,critic_loss,wasserstein,penalty,g_loss,elapsed_s",
        ),
    ] {
        let straight = tmp.path().join(format!("{preset}-straight"));
        let resumed = tmp.path().join(format!("{preset}-resumed"));
        train(&data, &straight, preset, "10");
        train(&data, &resumed, preset, "5");
        let metrics = std::fs::read_to_string(straight.join("metrics.csv")).unwrap();
        assert_eq!(metrics.lines().next(), Some(header), "{preset}");
        assert_eq!(metrics.lines().count(), 11, "{preset}");
        assert!(straight.join("loss.png").is_file());
        gan_tests::assert_resume_matches(env!("CARGO_BIN_EXE_gan"), &data, &straight, &resumed, 10);
        let grid = tmp.path().join(format!("{preset}.png"));
        gan_tests::succeed(
            gan()
                .args(["generate", "--device", "cpu", "--n", "16", "--checkpoint"])
                .arg(&straight)
                .arg("--grid")
                .arg(&grid),
        );
        assert!(grid.is_file());
    }

    // A BatchNorm critic under a gradient penalty is refused, naming the field.
    let text = std::fs::read_to_string(tmp.path().join("wgan-gp-straight/config.toml")).unwrap();
    let bad = text.replace(
        "[model.discriminator.norm]\nkind = \"none\"",
        "[model.discriminator.norm]\nkind = \"batch-norm\"\nmomentum = 0.1\neps = 1e-5",
    );
    assert_ne!(bad, text, "the config names the critic's norm");
    let config = tmp.path().join("bad.toml");
    std::fs::write(&config, bad).unwrap();
    let run = tmp.path().join("refused");
    let err = gan_tests::fail(
        gan()
            .args(["train", "--device", "cpu", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .arg("--out")
            .arg(&run),
    );
    assert!(err.contains("discriminator.norm"), "{err}");
    assert!(!run.exists(), "a refused config must leave nothing behind");
}

#[test]
fn summary_lists_the_convolutions() {
    let out = gan_tests::succeed(gan().args(["summary", "--preset", "dcgan"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Conv2DTranspose 4×4/2") && text.contains("(None, 64, 7, 7)"),
        "{text}"
    );
    assert!(text.contains("Total params: 350,433"), "{text}");
    assert!(text.contains("Total params: 36,513"), "{text}");
}
