//! Animated GIFs of grids across training.

use std::path::Path;

use plotters::prelude::*;

use crate::error::VizError;
use crate::font::ensure_registered;
use crate::raster::{with_temp, Rgb};

/// Writes `frames` (same size) as a looping GIF, `delay_ms` per frame, each captioned.
pub fn save_gif(path: &Path, frames: &[(String, Rgb)], delay_ms: u32) -> Result<(), VizError> {
    let Some((_, first)) = frames.first() else {
        return Err(VizError::Invalid(
            "an animation needs at least one frame".into(),
        ));
    };
    let (width, height) = (first.width, first.height);
    if let Some((caption, _)) = frames
        .iter()
        .find(|(_, f)| (f.width, f.height) != (width, height))
    {
        return Err(VizError::Invalid(format!(
            "frame {caption:?} differs in size from the first ({width}×{height})"
        )));
    }
    ensure_registered();
    let caption_height = 24;
    with_temp(path, |tmp| {
        let mut backend = BitMapBackend::gif(tmp, (width, height + caption_height), delay_ms)
            .map_err(|e| VizError::draw(path, e))?;
        for (caption, frame) in frames {
            let area = backend.get_size();
            backend
                .draw_rect((0, 0), (area.0 as i32, area.1 as i32), &WHITE, true)
                .map_err(|e| VizError::draw(path, e))?;
            backend
                .blit_bitmap((0, caption_height as i32), (width, height), &frame.pixels)
                .map_err(|e| VizError::draw(path, e))?;
            let style = ("sans-serif", 16).into_font().color(&BLACK);
            backend
                .draw_text(caption, &style, (6, 4))
                .map_err(|e| VizError::draw(path, e))?;
            backend.present().map_err(|e| VizError::draw(path, e))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_gif_and_refuses_mixed_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("progress.gif");
        let frames = vec![
            ("step 0".to_owned(), Rgb::filled(40, 30, 0)),
            ("step 1000".to_owned(), Rgb::filled(40, 30, 255)),
        ];
        save_gif(&path, &frames, 200).unwrap();
        assert_eq!(&std::fs::read(&path).unwrap()[..6], b"GIF89a");
        let mixed = vec![
            frames[0].clone(),
            ("odd".to_owned(), Rgb::filled(10, 10, 0)),
        ];
        assert!(save_gif(&path, &mixed, 200)
            .unwrap_err()
            .to_string()
            .contains("odd"));
    }
}
