//! `gan completions SHELL` and `gan man`: the shell completion scripts and the man page,
//! generated from the same definition of the flags as `--help` (clap's generators).

use std::io::Write;

use anyhow::{Context, Result};
use clap_complete::Shell;

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs, mut command: clap::Command) -> Result<()> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "gan", &mut out);
    write_stdout(&out)
}

pub fn man(command: clap::Command) -> Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .context("rendering the man page")?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .context("writing to standard output")?;
    stdout.flush().context("writing to standard output")
}
