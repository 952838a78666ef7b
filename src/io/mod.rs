//! Image files for the CLI and other clients: decoding with limits and EXIF orientation,
//! the one list of image extensions and the one folder walker, encoding by file
//! extension, and atomic writes.
//!
//! Why limits: a 100-byte PNG can claim 100000 x 100000 pixels, an 8x8 PNG can carry an
//! ICC profile that inflates to gigabytes, a JPEG cut in half decodes "fine". The header
//! is checked against [`Limits`] before any pixel memory is allocated, ancillary data is
//! bounded by [`ANCILLARY_BYTES`], and a declared size is checked against the file's size
//! where the format allows (JPEG, PNG), so such files are refused with a clear error
//! instead of exhausting memory or passing as whole.
//!
//! Why atomic writes: a batch that is killed, or a full disk, must never leave a partial
//! file under the final name. Outputs are written to a hidden temporary file in the same
//! folder and renamed over the final name only when complete. Nothing is ever written
//! through a symbolic link to a device, and a FIFO never blocks for ever.

use std::io::{BufRead, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::error::{Error, ErrorKind, Result};
use crate::fs::{clear_nonblocking, kind_name, open_if_regular};

mod decode;
mod encode;
#[doc(hidden)]
pub mod segments;
mod walk;
mod write;

pub use self::decode::*;
pub use self::encode::*;
pub use self::walk::*;
pub use self::write::*;

/// Default largest image accepted: 200 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 200_000_000;

/// What a decoder may allocate besides the pixels: ICC profiles, EXIF, text chunks, tables.
/// Real files need a few megabytes at most; a PNG whose iCCP chunk inflates to gigabytes is
/// cut off here instead of filling memory.
pub const ANCILLARY_BYTES: u64 = 32 << 20;

/// Bounds on what decoding may allocate, and how strict it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width x height accepted (checked from the header, before decoding).
    pub max_pixels: u64,
    /// Largest encoded input read from a stream (stdin), in bytes.
    pub max_input_bytes: u64,
    /// Decode a JPEG that ends before its end marker (the missing rows come out flat)
    /// instead of refusing it.
    pub accept_truncated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_input_bytes: 2 << 30,
            accept_truncated: false,
        }
    }
}

impl Limits {
    /// The image crate's limits while headers are read: sides bounded, and only
    /// [`ANCILLARY_BYTES`] for whatever the decoder keeps besides pixels.
    fn for_headers(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        let side = u32::try_from(self.max_pixels).unwrap_or(u32::MAX);
        limits.max_image_width = Some(side);
        limits.max_image_height = Some(side);
        limits.max_alloc = Some(ANCILLARY_BYTES);
        limits
    }

    /// The image crate's limits for decoding the pixels of a `width` x `height` image:
    /// the largest decoded layout (RGBA, 32-bit float) of that size plus the ancillary data.
    fn for_pixels(&self, width: u32, height: u32) -> image::Limits {
        let mut limits = self.for_headers();
        let pixels = u64::from(width) * u64::from(height);
        limits.max_alloc = Some(pixels.saturating_mul(16).saturating_add(ANCILLARY_BYTES));
        limits
    }
}

/// What an image's header says, known before its pixels are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    /// The decoded pixel layout (its `bytes_per_pixel()` is what decoding allocates).
    pub color: image::ColorType,
}

pub(super) fn io_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, e.to_string())
}

pub(super) fn image_error(e: ImageError) -> Error {
    match e {
        ImageError::Limits(l) => Error::too_large(format!("image over the decoding limits: {l}")),
        ImageError::Unsupported(u) => io_error(format!("unsupported image: {u}")),
        ImageError::Decoding(d) => io_error(format!("corrupt or truncated image: {d}")),
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            io_error(format!("truncated image: {e}"))
        }
        other => io_error(other),
    }
}
