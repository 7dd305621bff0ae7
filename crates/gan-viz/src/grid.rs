//! Image grids: N×M digits, padded and upscaled so 28-pixel digits are legible.

use crate::error::VizError;
use crate::raster::Rgb;

/// Layout of a grid of grayscale images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridStyle {
    pub rows: u32,
    pub cols: u32,
    /// Gap between images and around the border, in output pixels.
    pub padding: u32,
    /// Integer upscale of every image pixel.
    pub scale: u32,
    /// Gray level of the gaps (0 black, 255 white).
    pub background: u8,
}

impl GridStyle {
    /// The tutorial's 4×4, upscaled 4× (28 px digits become 112 px).
    pub fn new(rows: u32, cols: u32) -> GridStyle {
        GridStyle {
            rows,
            cols,
            padding: 4,
            scale: 4,
            background: 128,
        }
    }
}

/// Grayscale images of one size, row-major, one byte per pixel, back to back (as IDX files
/// and `gan_data::Images` hold them). This crate needs nothing else from the data layer, so it
/// builds without libtorch.
#[derive(Debug, Clone, Copy)]
pub struct GrayImages<'a> {
    pub pixels: &'a [u8],
    pub rows: usize,
    pub cols: usize,
}

impl GrayImages<'_> {
    pub fn count(&self) -> usize {
        self.pixels.len() / (self.rows * self.cols).max(1)
    }

    fn image(&self, index: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.pixels[index * size..(index + 1) * size]
    }
}

/// Draws the first `rows × cols` images (white digits on black, as MNIST stores them).
pub fn render_grid(images: GrayImages<'_>, style: GridStyle) -> Result<Rgb, VizError> {
    let needed = (style.rows * style.cols) as usize;
    if images.rows == 0 || images.cols == 0 {
        return Err(VizError::Invalid(format!(
            "images of {}×{} pixels",
            images.rows, images.cols
        )));
    }
    if style.rows == 0 || style.cols == 0 || style.scale == 0 {
        return Err(VizError::Invalid(format!(
            "grid {}×{} at scale {}",
            style.rows, style.cols, style.scale
        )));
    }
    if images.count() < needed {
        return Err(VizError::Invalid(format!(
            "a {}×{} grid needs {needed} images, got {}",
            style.rows,
            style.cols,
            images.count()
        )));
    }
    let (h, w) = (
        images.rows as u32 * style.scale,
        images.cols as u32 * style.scale,
    );
    let width = style.cols * w + (style.cols + 1) * style.padding;
    let height = style.rows * h + (style.rows + 1) * style.padding;
    let mut out = Rgb::filled(width, height, style.background);
    for index in 0..needed {
        let (gr, gc) = (index as u32 / style.cols, index as u32 % style.cols);
        let (x0, y0) = (
            style.padding + gc * (w + style.padding),
            style.padding + gr * (h + style.padding),
        );
        let image = images.image(index);
        for y in 0..h {
            for x in 0..w {
                let value =
                    image[(y / style.scale) as usize * images.cols + (x / style.scale) as usize];
                out.set_gray(x0 + x, y0 + y, value);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checker(count: usize) -> Vec<u8> {
        (0..count * 4)
            .map(|i| if i % 2 == 0 { 255 } else { 0 })
            .collect()
    }

    fn images(pixels: &[u8]) -> GrayImages<'_> {
        GrayImages {
            pixels,
            rows: 2,
            cols: 2,
        }
    }

    #[test]
    fn layout_padding_and_upscale() {
        let style = GridStyle {
            rows: 2,
            cols: 3,
            padding: 1,
            scale: 2,
            background: 7,
        };
        let grid = render_grid(images(&checker(6)), style).unwrap();
        assert_eq!((grid.width, grid.height), (3 * 4 + 4, 2 * 4 + 3));
        let px = |x: u32, y: u32| grid.pixels[((y * grid.width + x) * 3) as usize];
        assert_eq!(px(0, 0), 7, "border");
        assert_eq!(px(1, 1), 255, "first pixel of the first image, upscaled");
        assert_eq!(px(2, 2), 255);
        assert_eq!(px(3, 1), 0, "second source pixel");
        assert_eq!(px(5, 1), 7, "gap between images");
    }

    #[test]
    fn too_few_images_is_an_error() {
        let err = render_grid(images(&checker(3)), GridStyle::new(2, 2)).unwrap_err();
        assert!(err.to_string().contains("needs 4 images, got 3"));
    }

    #[test]
    fn png_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        let grid = render_grid(images(&checker(4)), GridStyle::new(2, 2)).unwrap();
        grid.save_png(&path).unwrap();
        assert_eq!(Rgb::load_png(&path).unwrap(), grid);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
