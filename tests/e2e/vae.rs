//! The VAE family end to end: training with held-out likelihoods in `metrics.csv`,
//! `gan eval` with the test ELBO and NLL, `gan figures`, the conditional VAE's `--digit`,
//! exact resume, and the errors where a GAN has no likelihood. On the tiny data set, so they
//! check plumbing; the real-MNIST test at the end checks that a short run learns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

fn ok(cmd: &mut Command) -> Output {
    gan_tests::succeed(cmd)
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(cmd: &mut Command) -> String {
    gan_tests::fail(cmd)
}

fn train(data: &Path, run: &Path, how: &[&str], extra: &[&str]) -> Output {
    ok(gan()
        .args(["train", "--batch-size", "8"])
        .args(how)
        .args(["--device", "cpu", "--threads", "1", "--quiet"])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .arg("--out")
        .arg(run))
}

fn eval_json(data: &Path, run: &Path, extra: &[&str]) -> serde_json::Value {
    let out = ok(gan()
        .args(["eval", "--device", "cpu", "--json"])
        .args(extra)
        .arg("--data-dir")
        .arg(data)
        .arg("--checkpoint")
        .arg(run));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn vae_trains_with_held_out_likelihoods_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("vae");
    train(
        &data,
        &run,
        &["--preset", "vae-binarized"],
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
    assert!(
        lines[0].starts_with("step,loss,recon,kl,elapsed_s,")
            && lines[0].ends_with(",recall,test_elbo,test_nll"),
        "{}",
        lines[0]
    );
    let last: Vec<f64> = lines[6]
        .rsplit(',')
        .take(2)
        .map(|v| v.parse().unwrap())
        .collect();
    let (nll, elbo) = (last[0], last[1]);
    assert!(
        nll > 0.0 && elbo < 0.0 && nll <= -elbo + 1.0,
        "{}",
        lines[6]
    );
    assert!(
        lines[5].ends_with(",,"),
        "row 5 was not evaluated: {}",
        lines[5]
    );
    assert!(run.join("reconstructions.png").is_file());
    assert!(
        !run.join("manifold.png").exists(),
        "only a 2-d latent space has a manifold"
    );

    let report = eval_json(&data, &run, &["--k", "5", "--n", "20"]);
    let likelihood = &report["likelihood"];
    assert_eq!(likelihood["importance_samples"], 5);
    assert_eq!(likelihood["images"], 64);
    assert_eq!(likelihood["binarized"], true);
    let nll = likelihood["nll"].as_f64().unwrap();
    let bits = likelihood["bits_per_dim"].as_f64().unwrap();
    assert!(
        (bits - nll / (784.0 * 2f64.ln())).abs() < 1e-9,
        "{likelihood}"
    );
    assert!(report["frechet_distance"].is_number(), "{report}");

    let out = ok(gan()
        .args([
            "eval",
            "--device",
            "cpu",
            "--n",
            "20",
            "--k",
            "3",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--checkpoint")
        .arg(&run));
    let text = stdout(&out);
    assert!(
        text.contains("test ELBO")
            && text.contains("test NLL (k = 3)")
            && text.contains("bits/dim"),
        "{text}"
    );
}

/// A model with a 2-d latent space (a config file, as users write them) gets the manifold
/// and the scatter of test codes besides the reconstructions.
#[test]
fn figures_of_a_two_dimensional_latent_space() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let first = tmp.path().join("first");
    train(&data, &first, &["--preset", "vae"], &["--steps", "1"]);
    let config = std::fs::read_to_string(first.join("config.toml")).unwrap();
    let two_d = config.replace("latent_dim = 16", "latent_dim = 2");
    assert_ne!(config, two_d, "the preset's latent size moved: {config}");
    let config_path = tmp.path().join("two-d.toml");
    std::fs::write(&config_path, two_d).unwrap();
    let run = tmp.path().join("two-d");
    train(
        &data,
        &run,
        &["--config", config_path.to_str().unwrap()],
        &["--steps", "4"],
    );
    for picture in ["reconstructions.png", "manifold.png", "latents.png"] {
        assert!(run.join(picture).is_file(), "{picture} missing");
    }
    // Drawn before the run's last report, which shows them.
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(report.contains("What the model learned"));
    assert!(report.contains("the decoder over a grid of the prior&#39;s quantiles"));
    let elsewhere = tmp.path().join("figures");
    let out = ok(gan()
        .args(["figures", "--device", "cpu", "--data-dir"])
        .arg(&data)
        .arg("--checkpoint")
        .arg(&run)
        .arg("--out-dir")
        .arg(&elsewhere));
    assert_eq!(stdout(&out).matches("wrote").count(), 3, "{}", stdout(&out));
    // 20 × 20 decoded images with their padding: a square picture.
    let (w, h) = image_size(&elsewhere.join("manifold.png"));
    assert!(w == h && w > 20 * 28, "{w}×{h}");
}

/// The conditional VAE draws the digit asked for (in label plumbing: the decoder gets it),
/// and a run stopped at step 3 and resumed to step 6 matches a straight one byte for byte
/// (binarization draws, noise and Adam state included).
#[test]
fn cvae_generates_digits_and_vaes_resume_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("cvae");
    train(&data, &run, &["--preset", "cvae"], &["--steps", "3"]);
    let labels = tmp.path().join("labels.idx");
    let out = ok(gan()
        .args(["generate", "--device", "cpu", "--digit", "4", "--n", "6"])
        .arg("--labels-out")
        .arg(&labels)
        .arg("--checkpoint")
        .arg(&run));
    assert!(stdout(&out).contains("digit 4"), "{}", stdout(&out));
    assert_eq!(gan_data::read_labels(&labels).unwrap(), vec![4; 6]);

    for preset in ["vae", "vae-binarized", "cvae"] {
        let (straight, resumed) = (
            tmp.path().join(format!("{preset}-straight")),
            tmp.path().join(format!("{preset}-resumed")),
        );
        train(&data, &straight, &["--preset", preset], &["--steps", "6"]);
        train(&data, &resumed, &["--preset", preset], &["--steps", "3"]);
        gan_tests::assert_resume_matches(env!("CARGO_BIN_EXE_gan"), &data, &straight, &resumed, 6);
    }
}

/// `vae` samples a mixture fitted to its codes; `--training-prior` scores and draws the
/// N(0, I) it was trained with instead (same weights, other samples, no eval.json), and is
/// refused for a model without a fitted prior.
#[test]
fn a_fitted_prior_samples_and_the_training_prior_is_one_flag_away() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let run = tmp.path().join("vae");
    train(&data, &run, &["--preset", "vae"], &["--steps", "4"]);
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("kind = \"fitted-mixture\""), "{config}");
    let summary = stdout(&ok(gan().args(["summary", "--preset", "vae"])));
    assert!(
        summary.contains("GaussianMixture×10") && summary.contains("Non-trainable params: 2,730"),
        "{summary}"
    );
    let fitted = eval_json(&data, &run, &["--n", "40", "--k", "2"]);
    let eval_file = std::fs::read_to_string(run.join("eval.json")).unwrap();
    let standard = eval_json(&data, &run, &["--n", "40", "--k", "2", "--training-prior"]);
    assert_ne!(
        fitted["frechet_distance"], standard["frechet_distance"],
        "the two priors drew the same images"
    );
    assert_eq!(
        fitted["likelihood"], standard["likelihood"],
        "the likelihood is the trained model's either way"
    );
    assert_eq!(
        std::fs::read_to_string(run.join("eval.json")).unwrap(),
        eval_file,
        "eval.json holds the sampling prior's scores only"
    );
    let (a, b) = (tmp.path().join("a.idx"), tmp.path().join("b.idx"));
    for (out, flag) in [(&a, None), (&b, Some("--training-prior"))] {
        let printed = ok(gan()
            .args(["generate", "--device", "cpu", "--n", "10"])
            .args(flag)
            .arg("--images")
            .arg(out)
            .arg("--checkpoint")
            .arg(&run));
        assert_eq!(
            stdout(&printed).contains("the training prior N(0, I)"),
            flag.is_some(),
            "{}",
            stdout(&printed)
        );
    }
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let plain = tmp.path().join("vae-binarized");
    train(
        &data,
        &plain,
        &["--preset", "vae-binarized"],
        &["--steps", "1"],
    );
    let err = fails(
        gan()
            .args([
                "generate",
                "--device",
                "cpu",
                "--training-prior",
                "--checkpoint",
            ])
            .arg(&plain)
            .arg("--grid")
            .arg(tmp.path().join("never.png")),
    );
    assert!(err.contains("--training-prior applies to a VAE"), "{err}");
}

#[test]
fn a_gan_has_no_likelihood_or_reconstructions() {
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 16);
    let run = tmp.path().join("mlp");
    train(&data, &run, &["--preset", "mlp"], &["--steps", "2"]);
    let err = fails(
        gan()
            .args(["figures", "--device", "cpu", "--data-dir"])
            .arg(&data)
            .arg("--checkpoint")
            .arg(&run),
    );
    assert!(
        err.contains("no likelihood") && err.contains("--preset vae"),
        "{err}"
    );
    assert!(!run.join("reconstructions.png").exists());
    let err = fails(
        gan()
            .args(["eval", "--device", "cpu", "--k", "5", "--data-dir"])
            .arg(&data)
            .arg("--checkpoint")
            .arg(&run),
    );
    assert!(err.contains("--k applies to likelihood models"), "{err}");
}

/// A short real run of `vae-binarized` (3,000 steps, seconds on 2 cores) already explains
/// test digits far better than chance (784·ln 2 ≈ 543 nats): its importance-weighted NLL is
/// below 125 nats and below its own negative ELBO.
#[test]
fn real_mnist_vae_learns_the_test_likelihood() {
    let Some(mirror) = gan_data::local_mnist_dir() else {
        eprintln!(
            "SKIPPED: real MNIST not found (set GAN_DATA_MIRROR or run `cargo xtask fetch-data`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let run: PathBuf = tmp.path().join("vae");
    ok(gan()
        .args([
            "train",
            "--preset",
            "vae-binarized",
            "--steps",
            "3000",
            "--quiet",
        ])
        .args(["--device", "cpu", "--sample-every", "1000000"])
        .arg("--data-dir")
        .arg(&mirror)
        .arg("--out")
        .arg(&run));
    let report = eval_json(&mirror, &run, &["--k", "50", "--n", "1000"]);
    let likelihood = &report["likelihood"];
    assert_eq!(likelihood["images"], 10_000);
    let nll = likelihood["nll"].as_f64().unwrap();
    let elbo = likelihood["elbo"].as_f64().unwrap();
    assert!(nll < 125.0, "test NLL {nll} nats after 3,000 steps");
    assert!(
        nll < -elbo,
        "NLL {nll} should be below the negative ELBO {}",
        -elbo
    );
}

/// Width and height of a PNG, from its header.
fn image_size(png: &Path) -> (u32, u32) {
    let bytes = std::fs::read(png).unwrap();
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}
