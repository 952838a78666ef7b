//! colorize: plausible colour for black-and-white photographs.
//!
//! The network sees only CIE L* and predicts a*, b*; every output keeps its input's L*,
//! so detail never changes, only colour is added. This is the safe Rust API; the C API
//! (`include/colorize.h`) is a thin layer over it.
//!
//! ```no_run
//! # fn main() -> colorize::Result<()> {
//! let model = colorize::Model::from_name("default")?; // or Model::from_file("m.onnx")
//! let (width, height) = (640, 480);
//! let mut rgb = vec![128u8; width * height * 3]; // a grey image
//! colorize::colorize_rgb8(&model, &colorize::Options::default(), &mut rgb, width, height, width * 3, 3)?;
//! # Ok(()) }
//! ```
//!
//! Conventions: sizes are in pixels, strides in elements (floats, bytes or `u16`s) between
//! row starts; buffers belong to the caller and are written only when a call succeeds.
//! A [`Model`] is immutable, cheap to clone and may be used from many threads at once.

pub mod budget;
pub mod color;
/// The model contract: `colorize.*` metadata keys, input and output rules (docs/model-contract.md).
pub mod contract;
/// Export-time rewrite of the decoder's transposed convolutions (PERF_NOTES.md). A tool,
/// not the runtime: only with the `tooling` feature (on by default through `cli`).
#[cfg(feature = "tooling")]
pub mod deconv_rewrite;
/// Image files (decoding with limits, the folder walker, encoders, atomic writes) for the
/// command line and Rust clients that handle files: only with the `io` feature (on through
/// `cli`). The C library is built without it.
#[cfg(feature = "io")]
pub mod io;
/// Image-quality metrics for evaluation (tool; `tooling` feature).
#[cfg(feature = "tooling")]
pub mod metrics;
/// An ONNX graph builder for test and shipped models (tool; `tooling` feature).
#[cfg(feature = "tooling")]
pub mod onnx;

mod capi;
mod engine;
mod error;
mod fs;
mod job;
mod model;
mod options;
mod pixels;

pub use error::{Error, ErrorKind, Result};
pub use model::{
    available_models, default_model_name, installed_models, model_folders, Contract, Model,
    DEFAULT_MAX_MODEL_BYTES, MODEL_PATH_VAR,
};
pub use options::{
    required_len, Mode, Options, Precision, Progress, Upsampling, DEFAULT_TILE_SIZE,
    MAX_NETWORK_SIDE, MAX_THREADS, MIN_TILE_SIZE,
};

/// This library's version, as in Cargo.toml (and `COLORIZE_VERSION_*` in the C header).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Predicts a*, b* for an L* plane.
///
/// `l`: L* (0..100) of `width` x `height` pixels, `l_stride` floats between row starts.
/// `ab`: receives interleaved a*,b* pairs, `ab_stride` floats between row starts
/// (>= 2 * width); only the first `2 * width` floats of each row are written, and only on
/// success. NaN or out-of-range L*, zero sizes, short strides or buffers are errors.
#[allow(clippy::too_many_arguments)]
pub fn colorize_l(
    model: &Model,
    options: &Options,
    l: &[f32],
    width: usize,
    height: usize,
    l_stride: usize,
    ab: &mut [f32],
    ab_stride: usize,
) -> Result<()> {
    use rayon::prelude::*;
    let needed = required_len(width, height, ab_stride, 2)?;
    if ab.len() < needed {
        return Err(Error::invalid(format!(
            "the a*b* buffer holds {} floats, {width}x{height} with stride {ab_stride} needs {needed}",
            ab.len()
        )));
    }
    let plane = engine::Plane::new(l, width, height, l_stride)?;
    options.validate()?;
    let job = job::Job::new(options)?;
    job.stage(0.0, engine::PREDICT_START)?;
    let chroma = engine::predict(model, options, plane, &job)?;
    job.stage(engine::PREDICT_END, 1.0)?;
    // Rows of `target`, `target_stride` apart, receive the a*b* pairs.
    let write = |target: &mut [f32], target_stride: usize| {
        job.rows(height, width, |rows| {
            let start = target_stride * rows.start;
            let end = (target_stride * rows.end).min(target.len());
            target[start..end]
                .par_chunks_mut(target_stride)
                .zip(rows)
                .for_each(|(row, y)| chroma.row(y, &l[y * l_stride..][..width], row))
        })
    };
    if job.can_stop() {
        // A stop must leave `ab` as it was: fill a packed copy, copy it in at the end.
        let row_len = 2 * width;
        let mut copy = vec![0.0f32; row_len * height];
        write(&mut copy, row_len)?;
        // The last report (1.0) may still stop the call, so it comes before the copy.
        job.finish()?;
        job.install(|| {
            ab[..needed]
                .par_chunks_mut(ab_stride)
                .zip(copy.par_chunks(row_len))
                .for_each(|(row, new)| row[..row_len].copy_from_slice(new))
        });
        Ok(())
    } else {
        write(&mut ab[..needed], ab_stride)?;
        job.finish()
    }
}

/// Colorizes 8-bit sRGB (`channels` = 3) or RGBA (4) pixels in place, keeping each
/// pixel's L* and its alpha. `stride` is in bytes between row starts.
pub fn colorize_rgb8(
    model: &Model,
    options: &Options,
    pixels: &mut [u8],
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
) -> Result<()> {
    pixels::rgb8(
        model,
        options,
        pixels,
        pixels::Layout {
            width,
            height,
            stride,
            channels,
        },
    )
}

/// As [`colorize_rgb8`] for 16-bit sRGB; `stride` in `u16` elements.
pub fn colorize_rgb16(
    model: &Model,
    options: &Options,
    pixels: &mut [u16],
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
) -> Result<()> {
    pixels::rgb16(
        model,
        options,
        pixels,
        pixels::Layout {
            width,
            height,
            stride,
            channels,
        },
    )
}

/// As [`colorize_rgb8`] for float RGB(A) in 0..1, sRGB-encoded or (`linear`) linear light;
/// `stride` in floats.
#[allow(clippy::too_many_arguments)]
pub fn colorize_rgb_float(
    model: &Model,
    options: &Options,
    pixels: &mut [f32],
    width: usize,
    height: usize,
    stride: usize,
    channels: usize,
    linear: bool,
) -> Result<()> {
    pixels::rgb_float(
        model,
        options,
        pixels,
        pixels::Layout {
            width,
            height,
            stride,
            channels,
        },
        linear,
    )
}

/// Colorizes a decoded image: grey or colour in (colour is first reduced to its L*),
/// RGB out at the same bit depth (8, 16 or 32-bit float, the latter read as sRGB-encoded),
/// alpha kept. Only with the `io` feature (it takes and returns `image` 0.25's type).
#[cfg(feature = "io")]
pub fn colorize_image(
    model: &Model,
    options: &Options,
    image: image::DynamicImage,
) -> Result<image::DynamicImage> {
    use image::DynamicImage as D;
    let (w, h) = (image.width() as usize, image.height() as usize);
    fn rgb<P: image::Pixel>(
        w: usize,
        h: usize,
        buf: Vec<P::Subpixel>,
    ) -> Result<image::ImageBuffer<P, Vec<P::Subpixel>>> {
        image::ImageBuffer::from_raw(w as u32, h as u32, buf)
            .ok_or_else(|| Error::invalid("the spread grey image has the wrong size"))
    }
    Ok(match image {
        // Grey inputs are spread to RGB on the call's threads (image's conversion runs on
        // one thread, through float).
        D::ImageLuma8(grey) => {
            let mut buf = rgb(
                w,
                h,
                pixels::spread_grey(grey.into_raw(), w, false, options)?,
            )?;
            colorize_rgb8(model, options, &mut buf, w, h, w * 3, 3)?;
            D::ImageRgb8(buf)
        }
        D::ImageLumaA8(grey) => {
            let mut buf = rgb(
                w,
                h,
                pixels::spread_grey(grey.into_raw(), w, true, options)?,
            )?;
            colorize_rgb8(model, options, &mut buf, w, h, w * 4, 4)?;
            D::ImageRgba8(buf)
        }
        D::ImageLuma16(grey) => {
            let mut buf = rgb(
                w,
                h,
                pixels::spread_grey(grey.into_raw(), w, false, options)?,
            )?;
            colorize_rgb16(model, options, &mut buf, w, h, w * 3, 3)?;
            D::ImageRgb16(buf)
        }
        D::ImageLumaA16(grey) => {
            let mut buf = rgb(
                w,
                h,
                pixels::spread_grey(grey.into_raw(), w, true, options)?,
            )?;
            colorize_rgb16(model, options, &mut buf, w, h, w * 4, 4)?;
            D::ImageRgba16(buf)
        }
        D::ImageRgb8(_) => {
            let mut buf = image.into_rgb8();
            colorize_rgb8(model, options, &mut buf, w, h, w * 3, 3)?;
            D::ImageRgb8(buf)
        }
        D::ImageRgba8(_) => {
            let mut buf = image.into_rgba8();
            colorize_rgb8(model, options, &mut buf, w, h, w * 4, 4)?;
            D::ImageRgba8(buf)
        }
        D::ImageRgb16(_) => {
            let mut buf = image.into_rgb16();
            colorize_rgb16(model, options, &mut buf, w, h, w * 3, 3)?;
            D::ImageRgb16(buf)
        }
        D::ImageRgba16(_) => {
            let mut buf = image.into_rgba16();
            colorize_rgb16(model, options, &mut buf, w, h, w * 4, 4)?;
            D::ImageRgba16(buf)
        }
        D::ImageRgb32F(_) => {
            let mut buf = image.into_rgb32f();
            colorize_rgb_float(model, options, &mut buf, w, h, w * 3, 3, false)?;
            D::ImageRgb32F(buf)
        }
        D::ImageRgba32F(_) => {
            let mut buf = image.into_rgba32f();
            colorize_rgb_float(model, options, &mut buf, w, h, w * 4, 4, false)?;
            D::ImageRgba32F(buf)
        }
        other => {
            let mut buf = other.into_rgba8();
            colorize_rgb8(model, options, &mut buf, w, h, w * 4, 4)?;
            D::ImageRgba8(buf)
        }
    })
}
