//! # gan-report
//!
//! Runs on a page, needing nothing but a browser: what a run directory holds, read leniently
//! (a run still training, cut short or damaged gives a page with what exists and a note of
//! what is missing), drawn as one self-contained HTML file, and runs side by side.
//!
//! - [`RunRecord`]: a run directory's config, metrics, grids, evaluation and history.
//! - [`report`]: `report.html` for one run ([`write_report`]).
//! - [`compare`]: a [`Comparison`] of runs as a terminal table, Markdown, JSON or HTML.
//! - [`warnings`]: what went wrong in a run (collapse, a pinned discriminator, a NaN stop,
//!   interruptions).
//! - [`tensorboard`]: event files that TensorBoard reads ([`tensorboard::EventWriter`]).
//! - [`chart_panels`]: a run's metrics as chart panels (for `loss.png` and the pages).
//!
//! ```no_run
//! let page = gan_report::write_report(std::path::Path::new("runs/example"))?;
//! println!("open {}", page.display());
//! # Ok::<(), gan_report::ReportError>(())
//! ```

pub mod compare;
mod error;
mod html;
mod panels;
mod record;
pub mod report;
pub mod tensorboard;
pub mod warnings;

pub use compare::Comparison;
pub use error::ReportError;
pub use panels::chart_panels;
pub use record::{Headline, RunRecord};
pub use report::write_report;
