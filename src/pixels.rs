//! Colorizing interleaved RGB(A) buffers in place: read each pixel's L*, predict a*b*
//! with the engine, write back the colour with the same L*. Alpha is never touched.
//!
//! The buffer is caller-owned and only written after the prediction succeeded, so a
//! failed call leaves it as it was. With a progress callback the call may also stop while
//! writing; the new pixels are then built in a copy and written back at the very end.

use rayon::prelude::*;

use crate::color;
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

/// Colorizes `pixels` in place. `lightness` writes the L* of a row's pixels (`channels`
/// samples each, the first three RGB) into its second argument; `encode_row` may turn a
/// row of linear-light RGB triples (each channel in 0..1, gamut-mapped) into the values
/// `encode` writes into a pixel's first three samples.
pub fn colorize_in_place<T: Copy + Send + Sync>(
    model: &Model,
    options: &Options,
    pixels: &mut [T],
    layout: Layout,
    lightness: impl Fn(&[T], &mut [f32]) + Sync,
    encode_row: impl Fn(&mut [f32]) + Sync,
    encode: impl Fn([f32; 3], &mut [T]) + Sync,
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
            .for_each(|(l_row, px_row)| lightness(&px_row[..width * channels], l_row))
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
                    || {
                        (
                            vec![0.0f32; 2 * width],
                            vec![0.0f32; 3 * width],
                            chroma.row_cache(),
                        )
                    },
                    |(ab, rgb, cache), ((px_row, l_row), y)| {
                        chroma.row_cached(y, l_row, ab, cache);
                        color::lab_row_to_linear(l_row, ab, rgb);
                        encode_row(rgb);
                        for (px, rgb) in px_row[..row_len]
                            .chunks_exact_mut(channels)
                            .zip(rgb.chunks_exact(3))
                        {
                            encode([rgb[0], rgb[1], rgb[2]], px);
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

/// Grey (or grey + alpha when `alpha`) samples spread to RGB (RGBA), on the call's threads.
/// Why not image's `into_rgb8`: it converts every sample through float on one thread, a
/// seventh of a 12 MP photo's whole CLI run. Used by `colorize_image` (feature `io`).
#[cfg(feature = "io")]
pub(crate) fn spread_grey<T: Copy + Default + Send + Sync>(
    grey: Vec<T>,
    width: usize,
    alpha: bool,
    options: &Options,
) -> Result<Vec<T>> {
    options.validate()?;
    let job = Job::new(options)?;
    let (in_channels, out_channels) = if alpha { (2, 4) } else { (1, 3) };
    let in_row = (width * in_channels).max(1);
    let out_row = (width * out_channels).max(1);
    let mut out = vec![T::default(); grey.len() / in_channels * out_channels];
    job.install(|| {
        out.par_chunks_mut(out_row)
            .zip(grey.par_chunks(in_row))
            .for_each(|(out, grey)| {
                for (o, g) in out
                    .chunks_exact_mut(out_channels)
                    .zip(grey.chunks_exact(in_channels))
                {
                    o[..3].fill(g[0]);
                    if alpha {
                        o[3] = g[1];
                    }
                }
            })
    });
    Ok(out)
}

pub fn rgb8(model: &Model, options: &Options, pixels: &mut [u8], layout: Layout) -> Result<()> {
    colorize_in_place(
        model,
        options,
        pixels,
        layout,
        |row, l| {
            for (out, p) in l.iter_mut().zip(row.chunks_exact(layout.channels)) {
                *out = color::srgb8_to_lightness([p[0], p[1], p[2]]);
            }
        },
        |_| {},
        |rgb, p| p[..3].copy_from_slice(&color::linear_to_srgb8(rgb)),
    )
}

pub fn rgb16(model: &Model, options: &Options, pixels: &mut [u16], layout: Layout) -> Result<()> {
    colorize_in_place(
        model,
        options,
        pixels,
        layout,
        |row, l| color::srgb16_row_to_lightness(row, layout.channels, l),
        // The encoding curve a row at a time (what `linear_to_srgb16` looks up per channel).
        color::linear_row_to_srgb,
        |srgb, p| {
            // + 0.5 and truncation: `linear_to_srgb16`'s rounding.
            for (out, v) in p[..3].iter_mut().zip(srgb) {
                *out = (v * 65535.0 + 0.5) as u16;
            }
        },
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
    colorize_in_place(
        model,
        options,
        pixels,
        layout,
        |row, l| {
            // Linear light of each clamped sample, a row at a time (the curve's row form).
            let mut rgb: Vec<f32> = row
                .chunks_exact(layout.channels)
                .flat_map(|p| [p[0], p[1], p[2]])
                .map(|v| v.clamp(0.0, 1.0))
                .collect();
            if !linear {
                color::srgb_row_to_linear(&mut rgb);
            }
            for ((out, p), lin) in l
                .iter_mut()
                .zip(row.chunks_exact(layout.channels))
                .zip(rgb.chunks_exact(3))
            {
                // NaN becomes a NaN L*, which the engine refuses with the pixel's position.
                *out = match p[..3].iter().any(|v| v.is_nan()) {
                    true => f32::NAN,
                    false => color::linear_to_lightness([lin[0], lin[1], lin[2]]),
                };
            }
        },
        |rgb| {
            if !linear {
                color::linear_row_to_srgb(rgb);
            }
        },
        |rgb, p| p[..3].copy_from_slice(&rgb),
    )
}
