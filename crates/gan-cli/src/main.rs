//! `gan`: the command-line front end of gan-rs. It parses flags, builds the pieces from the
//! library crates, runs them, and owns all output and exit codes.

mod allocator;
mod commands;
mod events;
mod interrupt;
mod logging;
mod observer;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gan",
    version,
    about = "Train, sample and inspect generative models (GANs, VAEs) on MNIST, on libtorch"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model on MNIST (the default preset `mlp`, or `--preset NAME`; see `gan presets`),
    /// or resume a run.
    Train(commands::train::TrainArgs),
    /// Generate images from a trained model (a GAN's generator, a VAE's decoder on prior
    /// noise): a grid picture and/or an IDX file.
    Generate(commands::generate::GenerateArgs),
    /// Measure realism and diversity: FID and IS in a LeNet's features, mode coverage,
    /// precision and recall (and a VAE's test ELBO and NLL); or train that classifier.
    Eval(commands::eval::EvalArgs),
    /// Latent walks: images between the noise of several seeds (and, for a conditional
    /// model, from digit to digit), as a grid and an animation.
    Interpolate(commands::interpolate::InterpolateArgs),
    /// Write a run's report.html: config, curves, evaluation, grids and warnings on one page.
    Report(commands::report::ReportArgs),
    /// Runs side by side: steps, time, FID, IS, recall (as a table, Markdown, JSON or HTML).
    Compare(commands::compare::CompareArgs),
    /// Draw what a VAE learned: test images beside their reconstructions, and for a 2-d
    /// latent space the decoded manifold and the test set's codes by digit.
    Figures(commands::figures::FiguresArgs),
    /// Print Keras-style summaries of a preset's networks.
    Summary(commands::summary::SummaryArgs),
    /// List the presets with their model family and a description.
    Presets(commands::presets::PresetsArgs),
    /// Print versions (gan-rs, tch, libtorch), threads and available devices.
    Info(commands::info::InfoArgs),
    /// Measure training and generation speed as JSON (used by `cargo xtask bench`).
    Bench(commands::bench::BenchArgs),
    /// Print a shell's completion script for `gan` (e.g. `gan completions bash >
    /// ~/.local/share/bash-completion/completions/gan`).
    Completions(commands::completions::CompletionsArgs),
    /// Print gan's man page (roff; e.g. `gan man > ~/.local/share/man/man1/gan.1`).
    Man,
}

fn main() {
    allocator::keep_freed_memory();
    let cli = Cli::parse();
    // Before any thread starts: see the module docs of `interrupt`.
    let interrupt = match &cli.command {
        Command::Train(_) => match interrupt::Interrupt::install() {
            Ok(interrupt) => Some(interrupt),
            Err(err) => {
                eprintln!("error: installing the Ctrl-C handling: {err}");
                std::process::exit(1);
            }
        },
        _ => None,
    };
    let log = logging::init();
    let result = match (&cli.command, interrupt) {
        (Command::Train(args), Some(interrupt)) => commands::train::run(args, &log, interrupt),
        (command, _) => run_other(command),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {}", error_message(&err));
            std::process::exit(1);
        }
    }
}

/// The error and its causes on one line, each cause once: an error that already quotes its
/// source (`path: No space left on device (os error 28)`) is not followed by that source again.
fn error_message(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Every command but `train`; returns the exit code.
fn run_other(command: &Command) -> anyhow::Result<i32> {
    match command {
        Command::Train(_) => Err(anyhow::anyhow!("training needs its Ctrl-C handling")),
        Command::Generate(args) => commands::generate::run(args).map(|()| 0),
        Command::Eval(args) => commands::eval::run(args).map(|()| 0),
        Command::Interpolate(args) => commands::interpolate::run(args).map(|()| 0),
        Command::Report(args) => commands::report::run(args).map(|()| 0),
        Command::Compare(args) => commands::compare::run(args).map(|()| 0),
        Command::Figures(args) => commands::figures::run(args).map(|()| 0),
        Command::Summary(args) => commands::summary::run(args).map(|()| 0),
        Command::Presets(args) => commands::presets::run(args).map(|()| 0),
        Command::Info(args) => commands::info::run(args).map(|()| 0),
        Command::Bench(args) => commands::bench::run(args).map(|()| 0),
        Command::Completions(args) => commands::completions::run(args, Cli::command()).map(|()| 0),
        Command::Man => commands::completions::man(Cli::command()).map(|()| 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TOKENS: &[&str] = &[
        "train",
        "generate",
        "summary",
        "info",
        "--preset",
        "tutorial",
        "mlp",
        "--steps",
        "--batch-size",
        "--lr",
        "--minutes",
        "--sample-every",
        "--checkpoint-every",
        "--seed",
        "--device",
        "cuda",
        "cpu",
        "--threads",
        "--out",
        "--resume",
        "--config",
        "--n",
        "--grid",
        "--quiet",
        "0",
        "1",
        "-1",
        "1e30",
        "nan",
        "inf",
        "18446744073709551616",
        "",
        "--",
        "=",
        "-q",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any sequence of flag-like tokens parses or is refused; the config a new run would
        /// use is built or refused; nothing panics.
        #[test]
        fn arbitrary_arguments_never_panic(
            picks in proptest::collection::vec(0..TOKENS.len(), 0..8),
            free in proptest::collection::vec(".{0,12}", 0..3),
        ) {
            let mut args = vec!["gan".to_owned()];
            args.extend(picks.iter().map(|&i| TOKENS[i].to_owned()));
            args.extend(free);
            if let Ok(Cli { command: Command::Train(train) }) = Cli::try_parse_from(&args) {
                if train.resume.is_none() && train.config.is_none() {
                    let _ = commands::train::new_run_config(&train);
                }
            }
        }
    }

    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::from_raw_os_error(28);
        let quoting = anyhow::Error::new(gan_training::TrainError::BadMetrics {
            path: "run/metrics.csv".into(),
            line: 3,
            why: "x".into(),
        });
        assert_eq!(error_message(&quoting), "run/metrics.csv line 3: x");
        let text = io.to_string();
        let doubled =
            anyhow::Error::new(std::io::Error::other(format!("a: {text}"))).context("reading a");
        let wrapped = anyhow::Error::new(io).context(format!("x: {text}"));
        assert_eq!(error_message(&wrapped), format!("x: {text}"));
        assert_eq!(error_message(&doubled), format!("reading a: a: {text}"));
    }

    #[test]
    fn flags_override_the_preset() {
        let cli = Cli::try_parse_from([
            "gan",
            "train",
            "--preset",
            "tutorial",
            "--steps",
            "7",
            "--lr",
            "0.01",
            "--batch-size",
            "3",
        ])
        .unwrap();
        let Command::Train(args) = cli.command else {
            panic!("not train")
        };
        let config = commands::train::new_run_config(&args).unwrap();
        let gan_training::ModelConfig::Gan(gan) = &config.model else {
            panic!("tutorial is a GAN preset")
        };
        assert_eq!(
            (
                config.steps,
                config.batch_size,
                gan.generator_optimizer.lr,
                gan.discriminator_optimizer.lr
            ),
            (7, 3, 0.01, 0.01)
        );
        assert_eq!(config.preset, "tutorial");
    }
}
