//! Colorizing interleaved RGB(A) buffers in place: read each pixel's L*, predict a*b*
//! with the engine, write back the colour with the same L*. Alpha is never touched.
//!
//! The buffer is caller-owned and only written after the prediction succeeded, so a
//! failed call leaves it as it was.

use rayon::prelude::*;

use crate::color::{self, LabPixel};
use crate::engine::{self, Plane};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::Options;

/// An interleaved pixel buffer's geometry; `stride` is in elements (samples), not bytes.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    pub channels: usize,
}

impl Layout {
    /// Checks the layout against a buffer of `len` elements; returns the elements used.
    pub fn check(&self, len: usize) -> Result<usize> {
        if !(3..=4).contains(&self.channels) {
            return Err(Error::invalid(format!(
                "channels is {}, it must be 3 (RGB) or 4 (RGBA)",
                self.channels
            )));
        }
        let needed = engine::required_len(self.width, self.height, self.stride, self.channels)?;
        if len < needed {
            return Err(Error::invalid(format!(
                "the pixel buffer holds {len} elements, {}x{} x {} channels with stride {} needs {needed}",
                self.width, self.height, self.channels, self.stride
            )));
        }
        Ok(needed)
    }
}

/// Colorizes `pixels` in place. `lightness` gives a pixel's L* from its first three
/// samples; `encode` writes an L*a*b* colour into the first three samples.
pub fn colorize_in_place<T: Copy + Send + Sync>(
    model: &Model,
    options: &Options,
    pixels: &mut [T],
    layout: Layout,
    lightness: impl Fn(&[T]) -> f32 + Sync,
    encode: impl Fn(LabPixel, &mut [T]) + Sync,
) -> Result<()> {
    let used = layout.check(pixels.len())?;
    let Layout {
        width,
        height,
        stride,
        channels,
    } = layout;
    let pixels = &mut pixels[..used];
    let mut l = vec![0.0f32; width * height];
    l.par_chunks_mut(width)
        .zip(pixels.par_chunks(stride))
        .for_each(|(l_row, px_row)| {
            for (out, px) in l_row.iter_mut().zip(px_row.chunks_exact(channels)) {
                *out = lightness(px);
            }
        });
    let chroma = engine::predict(model, options, Plane::new(&l, width, height, width)?)?;
    pixels
        .par_chunks_mut(stride)
        .zip(l.par_chunks(width))
        .enumerate()
        .for_each_init(
            || vec![0.0f32; 2 * width],
            |ab, (y, (px_row, l_row))| {
                chroma.row(y, l_row, ab);
                for ((px, &lightness), pair) in px_row
                    .chunks_exact_mut(channels)
                    .zip(l_row)
                    .zip(ab.chunks_exact(2))
                {
                    encode([lightness, pair[0], pair[1]], px);
                }
            },
        );
    Ok(())
}

pub fn rgb8(model: &Model, options: &Options, pixels: &mut [u8], layout: Layout) -> Result<()> {
    colorize_in_place(
        model,
        options,
        pixels,
        layout,
        |p| color::linear_to_lightness(color::srgb8_to_linear([p[0], p[1], p[2]])),
        |lab, p| p[..3].copy_from_slice(&color::lab_to_srgb8(lab)),
    )
}

pub fn rgb16(model: &Model, options: &Options, pixels: &mut [u16], layout: Layout) -> Result<()> {
    colorize_in_place(
        model,
        options,
        pixels,
        layout,
        |p| color::linear_to_lightness([p[0], p[1], p[2]].map(color::srgb16_channel_to_linear)),
        |lab, p| p[..3].copy_from_slice(&color::lab_to_srgb16(lab)),
    )
}

/// Float RGB(A) in 0..1, sRGB-encoded or (`linear`) linear light. Values outside 0..1
/// are clamped for reading L*; NaN is refused.
pub fn rgb_float(
    model: &Model,
    options: &Options,
    pixels: &mut [f32],
    layout: Layout,
    linear: bool,
) -> Result<()> {
    let read = |v: f32| {
        let v = v.clamp(0.0, 1.0);
        if linear {
            v
        } else {
            color::srgb_channel_to_linear(v)
        }
    };
    colorize_in_place(
        model,
        options,
        pixels,
        layout,
        // NaN becomes a NaN L*, which the engine refuses with the pixel's position.
        |p| match p[..3].iter().any(|v| v.is_nan()) {
            true => f32::NAN,
            false => color::linear_to_lightness([read(p[0]), read(p[1]), read(p[2])]),
        },
        |lab, p| {
            let rgb = if linear {
                color::lab_to_linear(lab)
            } else {
                color::lab_to_srgb(lab)
            };
            p[..3].copy_from_slice(&rgb);
        },
    )
}
