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
