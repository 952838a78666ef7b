//! Colour management of the colorize command: an input with an embedded ICC profile is
//! converted to sRGB before its L* is taken (the engine's L* assumes sRGB), and with
//! `--keep-profile` the output is converted back to the input's profile. moxcms does the
//! transforms: pure Rust (no C library to build or ship), maintained, and already built
//! as part of the image crate. docs/cli.md, "Colour profiles".

use std::sync::Arc;

use image::{DynamicImage, ImageBuffer};
use moxcms::{ColorProfile, DataColorSpace, Layout, TransformExecutor, TransformOptions};
use rayon::prelude::*;

/// The sRGB profile outputs are tagged with (moxcms's, encoded once).
pub fn srgb_icc() -> Vec<u8> {
    static SRGB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SRGB.get_or_init(|| ColorProfile::new_srgb().encode().unwrap_or_default())
        .clone()
}

/// An input profile that is not sRGB (or equivalent to it).
pub struct InputProfile {
    profile: ColorProfile,
}

impl InputProfile {
    /// Reads `icc`: `Ok(None)` when it is sRGB in effect (nothing to convert), an error
    /// in words when it cannot be read or used.
    pub fn parse(icc: &[u8]) -> Result<Option<InputProfile>, String> {
        let profile = ColorProfile::new_from_slice(icc)
            .map_err(|e| format!("its ICC profile cannot be read ({e})"))?;
        let layout = match profile.color_space {
            DataColorSpace::Rgb => Layout::Rgb,
            DataColorSpace::Gray => Layout::Gray,
            other => {
                return Err(format!(
                    "its ICC profile is for {other:?} data, which is not converted"
                ))
            }
        };
        let srgb = ColorProfile::new_srgb();
        let transform = profile
            .create_transform_16bit(layout, &srgb, Layout::Rgb, TransformOptions::default())
            .map_err(|e| format!("its ICC profile cannot be used ({e})"))?;
        // sRGB in effect when a grid of values comes through within 1/4 of an 8-bit step.
        let steps = [0u16, 4096, 16384, 32768, 49152, 65535];
        let mut source = Vec::new();
        let mut expected = Vec::new();
        for r in steps {
            for g in steps {
                for b in steps {
                    if layout == Layout::Gray {
                        source.push(r);
                        expected.extend([r, r, r]);
                    } else {
                        source.extend([r, g, b]);
                        expected.extend([r, g, b]);
                    }
                }
            }
        }
        let mut out = vec![0u16; expected.len()];
        transform
            .transform(&source, &mut out)
            .map_err(|e| format!("its ICC profile cannot be used ({e})"))?;
        let identity = out.iter().zip(&expected).all(|(a, b)| a.abs_diff(*b) <= 64);
        Ok((!identity).then_some(InputProfile { profile }))
    }

    /// Whether the profile is for RGB data (a grey profile cannot take a colour image back).
    pub fn is_rgb(&self) -> bool {
        self.profile.color_space == DataColorSpace::Rgb
    }

    /// `image` converted from this profile to sRGB; a grey image with a grey profile
    /// becomes RGB. An error when the pixel layout does not fit the profile.
    pub fn to_srgb(&self, image: &DynamicImage) -> Result<DynamicImage, String> {
        let srgb = ColorProfile::new_srgb();
        convert(image, &self.profile, &srgb)
    }

    /// `image` (sRGB) converted to this profile.
    pub fn from_srgb(&self, image: &DynamicImage) -> Result<DynamicImage, String> {
        let srgb = ColorProfile::new_srgb();
        convert(image, &srgb, &self.profile)
    }
}

/// Rows converted per parallel task.
const ROWS_PER_TASK: usize = 32;

fn run<T: Copy + Default + Send + Sync>(
    transform: &Arc<dyn TransformExecutor<T> + Send + Sync>,
    source: &[T],
    source_row: usize,
    target_row: usize,
) -> Result<Vec<T>, String> {
    let rows = source.len() / source_row.max(1);
    let mut target = vec![T::default(); rows * target_row];
    target
        .par_chunks_mut(target_row * ROWS_PER_TASK)
        .zip(source.par_chunks(source_row * ROWS_PER_TASK))
        .try_for_each(|(dst, src)| transform.transform(src, dst))
        .map_err(|e| format!("colour conversion failed ({e})"))?;
    Ok(target)
}

fn convert(
    image: &DynamicImage,
    from: &ColorProfile,
    to: &ColorProfile,
) -> Result<DynamicImage, String> {
    use DynamicImage as D;
    let options = TransformOptions::default();
    let (w, h) = (image.width(), image.height());
    let width = w as usize;
    let gray = from.color_space == DataColorSpace::Gray;
    let unfit = |what: &str| {
        format!(
            "its ICC profile is for {:?} data but the image is {what}",
            from.color_space
        )
    };
    let error = |e: moxcms::CmsError| format!("colour conversion failed ({e})");
    let out = match (image, gray) {
        (D::ImageRgb8(_), false) | (D::ImageLuma8(_), true) => {
            let (layout, channels, raw) = match image {
                D::ImageRgb8(buf) => (Layout::Rgb, 3, buf.as_raw()),
                D::ImageLuma8(buf) => (Layout::Gray, 1, buf.as_raw()),
                _ => unreachable!(),
            };
            let t = from
                .create_transform_8bit(layout, to, Layout::Rgb, options)
                .map_err(error)?;
            let data = run(&t, raw, width * channels, width * 3)?;
            D::ImageRgb8(ImageBuffer::from_raw(w, h, data).ok_or("buffer size")?)
        }
        (D::ImageRgba8(_), false) | (D::ImageLumaA8(_), true) => {
            let (layout, channels, raw) = match image {
                D::ImageRgba8(buf) => (Layout::Rgba, 4, buf.as_raw()),
                D::ImageLumaA8(buf) => (Layout::GrayAlpha, 2, buf.as_raw()),
                _ => unreachable!(),
            };
            let t = from
                .create_transform_8bit(layout, to, Layout::Rgba, options)
                .map_err(error)?;
            let data = run(&t, raw, width * channels, width * 4)?;
            D::ImageRgba8(ImageBuffer::from_raw(w, h, data).ok_or("buffer size")?)
        }
        (D::ImageRgb16(_), false) | (D::ImageLuma16(_), true) => {
            let (layout, channels, raw) = match image {
                D::ImageRgb16(buf) => (Layout::Rgb, 3, buf.as_raw()),
                D::ImageLuma16(buf) => (Layout::Gray, 1, buf.as_raw()),
                _ => unreachable!(),
            };
            let t = from
                .create_transform_16bit(layout, to, Layout::Rgb, options)
                .map_err(error)?;
            let data = run(&t, raw, width * channels, width * 3)?;
            D::ImageRgb16(ImageBuffer::from_raw(w, h, data).ok_or("buffer size")?)
        }
        (D::ImageRgba16(_), false) | (D::ImageLumaA16(_), true) => {
            let (layout, channels, raw) = match image {
                D::ImageRgba16(buf) => (Layout::Rgba, 4, buf.as_raw()),
                D::ImageLumaA16(buf) => (Layout::GrayAlpha, 2, buf.as_raw()),
                _ => unreachable!(),
            };
            let t = from
                .create_transform_16bit(layout, to, Layout::Rgba, options)
                .map_err(error)?;
            let data = run(&t, raw, width * channels, width * 4)?;
            D::ImageRgba16(ImageBuffer::from_raw(w, h, data).ok_or("buffer size")?)
        }
        (D::ImageRgb32F(buf), false) => {
            let t = from
                .create_transform_f32(Layout::Rgb, to, Layout::Rgb, options)
                .map_err(error)?;
            let data = run(&t, buf.as_raw(), width * 3, width * 3)?;
            D::ImageRgb32F(ImageBuffer::from_raw(w, h, data).ok_or("buffer size")?)
        }
        (D::ImageRgba32F(buf), false) => {
            let t = from
                .create_transform_f32(Layout::Rgba, to, Layout::Rgba, options)
                .map_err(error)?;
            let data = run(&t, buf.as_raw(), width * 4, width * 4)?;
            D::ImageRgba32F(ImageBuffer::from_raw(w, h, data).ok_or("buffer size")?)
        }
        (other, _) => {
            return Err(unfit(&format!("{:?}", other.color())));
        }
    };
    Ok(out)
}
