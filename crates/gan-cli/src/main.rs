//! `gan`: the command-line front end of gan-rs. It parses flags, builds the pieces from the
//! library crates, runs them, and owns all output and exit codes.

mod commands;

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
    /// Print versions (gan-rs, tch, libtorch), threads and available devices.
    Info,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info => commands::info::run(),
    };
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
