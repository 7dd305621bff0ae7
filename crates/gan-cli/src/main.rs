//! `gan`: the command-line front end of gan-rs. It parses flags, builds the pieces from the
//! library crates, runs them, and owns all output and exit codes.

mod commands;
mod interrupt;
mod logging;
mod observer;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gan",
    version,
    about = "Train, sample and inspect GANs on MNIST, on libtorch"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a GAN on MNIST (the default preset `mlp`, or `--preset tutorial`), or resume a run.
    Train(commands::train::TrainArgs),
    /// Generate images from a trained generator: a grid picture and/or an IDX file.
    Generate(commands::generate::GenerateArgs),
    /// Print Keras-style summaries of a preset's networks.
    Summary(commands::summary::SummaryArgs),
    /// Print versions (gan-rs, tch, libtorch), threads and available devices.
    Info,
}

fn main() {
    let log = logging::init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Train(args) => commands::train::run(args, &log),
        Command::Generate(args) => commands::generate::run(args).map(|()| 0),
        Command::Summary(args) => commands::summary::run(args).map(|()| 0),
        Command::Info => commands::info::run().map(|()| 0),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::exit(1);
        }
    }
}
