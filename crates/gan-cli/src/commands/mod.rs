//! One module per subcommand.

pub mod bench;
pub mod compare;
pub mod completions;
pub mod eval;
pub mod figures;
pub mod generate;
pub mod info;
pub mod interpolate;
pub mod presets;
pub mod report;
pub mod summary;
pub mod train;
