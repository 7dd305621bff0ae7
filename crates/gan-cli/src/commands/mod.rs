//! One module per subcommand.

pub mod bench;
pub mod eval;
pub mod figures;
pub mod generate;
pub mod info;
pub mod presets;
pub mod summary;
pub mod train;
