//! Colorizing interleaved RGB(A) buffers in place: read each pixel's L*, predict a*b*
//! with the engine, write back the colour with the same L*. Alpha is never touched.
//!
//! The buffer is caller-owned and only written after the prediction succeeded, so a
//! failed call leaves it as it was. With a progress callback the call may also stop while
//! writing; the new pixels are then built in a copy and written back at the very end.

use rayon::prelude::*;

use crate::color::{self, LabPixel};
use crate::engine::{self, Plane};
use crate::error::{Error, Result};
use crate::job::Job;
use crate::model::Model;
use crate::options::{required_len, Options};

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
        let needed = required_len(self.width, self.height, self.stride, self.channels)?;
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
    options.validate()?;
    let job = Job::new(options)?;
    let Layout {
        width,
        height,
        stride,
        channels,
    } = layout;
    let pixels = &mut pixels[..used];
    let mut l = vec![0.0f32; width * height];
    job.stage(0.0, engine::PREDICT_START)?;
    job.rows(height, width, |rows| {
        l[width * rows.start..width * rows.end]
            .par_chunks_mut(width)
            .zip(pixels[stride * rows.start..].par_chunks(stride))
            .for_each(|(l_row, px_row)| {
                for (out, px) in l_row.iter_mut().zip(px_row.chunks_exact(channels)) {
                    *out = lightness(px);
                }
            })
    })?;
    let chroma = engine::predict(model, options, Plane::new(&l, width, height, width)?, &job)?;
    job.stage(engine::PREDICT_END, 1.0)?;
    let row_len = width * channels;
    // Rows of `target`, `target_stride` apart, receive the new colours.
    let write = |target: &mut [T], target_stride: usize| {
        job.rows(height, width, |rows| {
            let start = target_stride * rows.start;
            let end = (target_stride * rows.end).min(target.len());
            target[start..end]
                .par_chunks_mut(target_stride)
                .zip(l[width * rows.start..width * rows.end].par_chunks(width))
                .zip(rows)
                .for_each_init(
                    || vec![0.0f32; 2 * width],
                    |ab, ((px_row, l_row), y)| {
                        chroma.row(y, l_row, ab);
                        for ((px, &lightness), pair) in px_row[..row_len]
                            .chunks_exact_mut(channels)
                            .zip(l_row)
                            .zip(ab.chunks_exact(2))
                        {
                            encode([lightness, pair[0], pair[1]], px);
                        }
                    },
                )
        })
    };
    if job.can_stop() {
        // A stop must leave the caller's pixels as they were: colour a packed copy (alpha
        // included), then copy it back once nothing can fail any more.
        let mut copy = Vec::with_capacity(row_len * height);
        for row in pixels.chunks(stride) {
            copy.extend_from_slice(&row[..row_len]);
        }
        write(&mut copy, row_len)?;
        // The last report (1.0) may still stop the call, so it comes before the copy.
        job.finish()?;
        job.install(|| {
            pixels
                .par_chunks_mut(stride)
                .zip(copy.par_chunks(row_len))
                .for_each(|(px_row, new)| px_row[..row_len].copy_from_slice(new))
        });
        Ok(())
    } else {
        write(pixels, stride)?;
        job.finish()
    }
}

pub fn rgb8(model: &Model, options: &Options, pixels: &mut [u8], layout: Layout) -> Result<()> {
    colorize_in_place(
        model,
        options,
        pixels,
        layout,
        |p| color::srgb8_to_lightness([p[0], p[1], p[2]]),
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
