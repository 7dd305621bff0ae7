//! # gan-viz
//!
//! Pictures for gan-rs, drawn with plotters and written atomically. Independent of libtorch:
//! it takes plain bytes and numbers.
//!
//! - [`render_grid`]: N×M grids of grayscale images with padding and integer upscaling, as
//!   an [`Rgb`] raster that saves to PNG.
//! - [`save_chart`]: training curves in stacked [`Panel`]s, raw and smoothed.
//! - [`save_cost_chart`]: a score against its cost on a logarithmic axis (FID against
//!   network evaluations per image).
//! - [`save_gif`]: an animation of grids across training.
//! - [`save_scatter`]: 2-d points coloured by class (a VAE's latent space).
//!
//! ```no_run
//! use gan_viz::{render_grid, GrayImages, GridStyle};
//!
//! // Sixteen 28×28 images: a gradient, brighter from one image to the next.
//! let pixels: Vec<u8> = (0..16 * 784).map(|i| (i / 784 * 16) as u8).collect();
//! let images = GrayImages { pixels: &pixels, rows: 28, cols: 28 };
//! render_grid(images, GridStyle::new(4, 4))?.save_png("grid.png".as_ref())?;
//! # Ok::<(), gan_viz::VizError>(())
//! ```

mod animation;
mod chart;
mod cost;
mod error;
mod font;
mod grid;
mod raster;
mod scatter;

pub use animation::save_gif;
pub use chart::{chart_svg, save_chart, Curve, Panel};
pub use cost::save_cost_chart;
pub use error::VizError;
pub use grid::{render_grid, GrayImages, GridStyle};
pub use raster::Rgb;
pub use scatter::save_scatter;
