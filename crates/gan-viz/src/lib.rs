//! # gan-viz
//!
//! Pictures for gan-rs, drawn with plotters and written atomically.
//!
//! - [`render_grid`]: N×M grids of grayscale images with padding and integer upscaling, as
//!   an [`Rgb`] raster that saves to PNG.
//! - [`save_chart`]: training curves in stacked [`Panel`]s, raw and smoothed.
//! - [`save_gif`]: an animation of grids across training.
//!
//! ```no_run
//! use gan_viz::{render_grid, GridStyle};
//!
//! let mnist = gan_data::Mnist::load(&gan_data::default_data_dir())?;
//! render_grid(&mnist.test.images, GridStyle::new(4, 4))?.save_png("digits.png".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod animation;
mod chart;
mod error;
mod font;
mod grid;
mod raster;

pub use animation::save_gif;
pub use chart::{save_chart, Curve, Panel};
pub use error::VizError;
pub use grid::{render_grid, GridStyle};
pub use raster::Rgb;
