//! An RGB picture in memory, and saving it through a temporary file.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::error::VizError;

/// An 8-bit RGB raster, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

impl Rgb {
    pub fn filled(width: u32, height: u32, gray: u8) -> Rgb {
        Rgb {
            width,
            height,
            pixels: vec![gray; (width * height * 3) as usize],
        }
    }

    pub fn set_gray(&mut self, x: u32, y: u32, value: u8) {
        let at = ((y * self.width + x) * 3) as usize;
        self.pixels[at..at + 3].fill(value);
    }

    /// Writes a PNG (atomically: temporary file, then rename).
    pub fn save_png(&self, path: &Path) -> Result<(), VizError> {
        with_temp(path, |tmp| {
            let root = BitMapBackend::new(tmp, (self.width, self.height));
            let mut root = root;
            root.blit_bitmap((0, 0), (self.width, self.height), &self.pixels)
                .map_err(|e| VizError::draw(path, e))?;
            root.present().map_err(|e| VizError::draw(path, e))
        })
    }

    /// The picture as PNG bytes, every `shrink`-th pixel in each direction (a grid drawn at
    /// scale 4 shrinks back to its images' own pixels), compressed hard and stored as
    /// grayscale when it is gray: for pages that carry their pictures inside.
    pub fn to_png_bytes(&self, shrink: u32) -> Result<Vec<u8>, VizError> {
        use image::codecs::png::{CompressionType, FilterType, PngEncoder};
        use image::{ColorType, ImageEncoder};
        let shrink = shrink.max(1);
        let (width, height) = (self.width.div_ceil(shrink), self.height.div_ceil(shrink));
        let mut rgb = Vec::with_capacity((width * height * 3) as usize);
        for y in (0..self.height).step_by(shrink as usize) {
            for x in (0..self.width).step_by(shrink as usize) {
                let at = ((y * self.width + x) * 3) as usize;
                rgb.extend_from_slice(&self.pixels[at..at + 3]);
            }
        }
        let gray = rgb.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]);
        let (bytes, color) = if gray {
            (rgb.chunks(3).map(|p| p[0]).collect(), ColorType::L8)
        } else {
            (rgb, ColorType::Rgb8)
        };
        let mut png = Vec::new();
        PngEncoder::new_with_quality(&mut png, CompressionType::Best, FilterType::Adaptive)
            .write_image(&bytes, width, height, color)
            .map_err(|e| VizError::Invalid(format!("encoding a PNG: {e}")))?;
        Ok(png)
    }

    /// Reads a PNG written by [`Rgb::save_png`] (or any 8-bit image).
    pub fn load_png(path: &Path) -> Result<Rgb, VizError> {
        let image = image::open(path)
            .map_err(|e| VizError::Decode {
                path: path.to_owned(),
                message: e.to_string(),
            })?
            .to_rgb8();
        Ok(Rgb {
            width: image.width(),
            height: image.height(),
            pixels: image.into_raw(),
        })
    }
}

/// Runs `write` on a temporary path beside `path` (same extension, so encoders pick the same
/// format), then renames it over `path`; readers never see a half-written picture.
pub(crate) fn with_temp(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), VizError>,
) -> Result<(), VizError> {
    let tmp = temp_path(path);
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|source| VizError::Io {
            path: path.to_owned(),
            source,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!(".{stem}.tmp-{}{ext}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_bytes_shrink_and_decode_to_the_same_pixels() {
        let mut picture = Rgb::filled(8, 4, 10);
        picture.set_gray(4, 0, 200);
        let png = picture.to_png_bytes(2).unwrap();
        let decoded = image::load_from_memory(&png).unwrap();
        assert_eq!(
            decoded.color(),
            image::ColorType::L8,
            "gray pictures stay one channel"
        );
        let gray = decoded.to_luma8();
        assert_eq!((gray.width(), gray.height()), (4, 2));
        assert_eq!(gray.get_pixel(2, 0).0, [200]);
        assert_eq!(gray.get_pixel(1, 1).0, [10]);
    }
}
