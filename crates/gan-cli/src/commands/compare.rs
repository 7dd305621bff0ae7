//! `gan compare`: runs side by side, as a table, Markdown, JSON or a page.

use std::path::PathBuf;

use anyhow::{Context, Result};
use gan_report::Comparison;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// Run directories. Their numbers come from `eval.json` (`gan eval --checkpoint RUN`),
    /// else from the last evaluation during training.
    #[arg(value_name = "RUN_DIR", required = true)]
    pub runs: Vec<PathBuf>,
    /// A Markdown table instead of aligned columns.
    #[arg(long, conflicts_with = "json")]
    pub markdown: bool,
    /// JSON: one object per run.
    #[arg(long)]
    pub json: bool,
    /// Also write a page with the table, the final grids and every metric's curves overlaid.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,
    /// With --html: open the page in the default browser.
    #[arg(long, requires = "html")]
    pub open: bool,
}

pub fn run(args: &CompareArgs) -> Result<()> {
    let comparison = Comparison::read(&args.runs)?;
    if args.json {
        println!("{}", comparison.to_json());
    } else if args.markdown {
        print!("{}", comparison.to_markdown());
    } else {
        print!("{}", comparison.to_text());
    }
    if let Some(path) = &args.html {
        let page = comparison.to_html()?;
        gan_training::write_atomic(path, page.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        // On stderr: stdout holds only the table, for redirecting into a document.
        eprintln!("wrote {}", path.display());
        if args.open {
            super::report::open_in_browser(path)?;
        }
    }
    Ok(())
}
