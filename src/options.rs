//! What a colorize call is given besides its model and pixels: [`Options`] and their one
//! check, [`Options::validate`], used alike by the engine, the C layer (each setter of
//! `colorize_settings`) and the command line; and [`required_len`], the one check of a
//! buffer's geometry.
//!
//! This module depends on nothing else in the crate but the error type, so every other
//! module may use it.

use crate::error::{Error, Result};

/// Default native-mode tile side in pixels.
pub const DEFAULT_TILE_SIZE: usize = 512;
/// Largest working size or tile size accepted.
pub const MAX_NETWORK_SIDE: usize = 8192;
/// Smallest native-mode tile side accepted (a tile must hold the network's receptive field).
pub const MIN_TILE_SIZE: usize = 16;
/// Most worker threads one call may ask for: far above any machine this runs on, low
/// enough that a garbage value cannot make the library try to start millions of threads.
pub const MAX_THREADS: u32 = 1024;

/// Where the network runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// On L* resized so its short side is the working size; a*b* upsampled (default).
    #[default]
    Working,
    /// At full resolution, in overlapping tiles blended together (bounded memory).
    Native,
}

/// How the low-resolution a*b* of working mode is brought to full resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Upsampling {
    /// Plain bilinear interpolation: smooth, but colour bleeds across sharp edges.
    Bilinear,
    /// Edge-aware: a fast guided filter with the full-resolution L* as guide, so colour
    /// follows the photo's edges (default; costs one multiply-add per pixel more).
    #[default]
    Guided,
}

/// The arithmetic of the network's matrix products.
///
/// The default is [`Precision::Bf16`]: on the whole MiniPlaces validation set it scores the
/// same as f32 to 0.01 dB PSNR and 0.01 colourfulness ratio (docs/quality.md), and on a CPU
/// without AMX-BF16 it is f32 anyway.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// 32-bit floats throughout, as the model was trained.
    F32,
    /// Matrix-product operands rounded to bfloat16 (8 bits of mantissa), accumulated in
    /// 32-bit floats, on the CPU's AMX tiles (Intel Xeon 4th generation and later): the wide
    /// convolutions run several times faster there. On a CPU without AMX-BF16 this runs as
    /// [`Precision::F32`] ([`Precision::runs_natively`] says which).
    #[default]
    Bf16,
}

impl Precision {
    /// Whether this CPU runs `self` as asked (false: [`Precision::Bf16`] without AMX-BF16,
    /// which then computes in f32).
    pub fn runs_natively(self) -> bool {
        match self {
            Precision::F32 => true,
            Precision::Bf16 => has_amx_bf16(),
        }
    }

    /// The name the command line, the C API's documentation and the GIMP dialog use.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }
}

/// Whether this CPU has AMX-BF16 tiles the OS lets this process use (the kernel tract's bf16
/// plans run on); without them a bf16 plan computes in f32.
fn has_amx_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        tract_linalg::x86_64::amx_bf16::has_amx_bf16()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A progress callback: called on the calling thread with the fraction done (0..=1,
/// never decreasing, 1 last when the call succeeds); returning `false` stops the call,
/// which then fails with [`crate::ErrorKind::Cancelled`] and leaves its outputs untouched.
///
/// Calls come at stage boundaries and every few milliseconds within long loops (rows of
/// the colour conversion and upsampling, native-mode tiles), so a stop takes effect within
/// well under a second even on a 50-megapixel image; the network's single run in working
/// mode cannot be interrupted, but at the working size it is short.
#[derive(Clone, Copy)]
pub struct Progress<'a>(pub &'a (dyn Fn(f32) -> bool + Sync));

impl std::fmt::Debug for Progress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl PartialEq for Progress<'_> {
    /// The same callback object (closures cannot be compared otherwise).
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(self.0 as *const _, other.0 as *const _)
    }
}

/// How to colorize. `Options::default()` is what the model was made for.
///
/// New fields may be added; build it as `Options { saturation: 0.8, ..Default::default() }`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Options<'a> {
    /// Short side the network runs at in working mode; 0 = the model's `train_size`.
    pub working_size: u32,
    /// Multiplies a* and b*; 1.0 = as predicted, 0.0 = grey.
    pub saturation: f32,
    /// How vivid a classification model's colours are: the inverse of the softmax
    /// temperature of its annealed-mean decoding (1 = the mean of the predicted colour
    /// distribution, muted; higher = nearer the most likely colour, more vivid and more
    /// patchy). 0 = the model's default. A regression model accepts only 0.
    pub vividness: f32,
    pub mode: Mode,
    /// Native-mode tile side in pixels; 0 = [`DEFAULT_TILE_SIZE`].
    pub tile_size: u32,
    /// Working-mode chroma upsampling.
    pub upsampling: Upsampling,
    /// Worker threads of this call (the network's matrix products and the per-pixel
    /// loops); 0 = rayon's global pool, one thread per core.
    pub threads: u32,
    /// Arithmetic of the network's matrix products.
    pub precision: Precision,
    /// Called with the fraction done; may stop the call (see [`Progress`]).
    pub progress: Option<Progress<'a>>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            working_size: 0,
            saturation: 1.0,
            vividness: 0.0,
            mode: Mode::Working,
            tile_size: 0,
            upsampling: Upsampling::Guided,
            threads: 0,
            precision: Precision::default(),
            progress: None,
        }
    }
}

impl Options<'_> {
    /// Checks every value against its limits; the message names the value and its range.
    /// Every entry point calls this before any work, so a bad value fails fast everywhere.
    pub fn validate(&self) -> Result<()> {
        if !self.saturation.is_finite() || self.saturation < 0.0 {
            return Err(Error::invalid(format!(
                "saturation {} must be a finite number >= 0",
                self.saturation
            )));
        }
        if self.vividness != 0.0
            && !(crate::contract::MIN_VIVIDNESS..=crate::contract::MAX_VIVIDNESS)
                .contains(&self.vividness)
        {
            return Err(Error::invalid(format!(
                "vividness {} must be 0 (the model's default) or from {} to {}",
                self.vividness,
                crate::contract::MIN_VIVIDNESS,
                crate::contract::MAX_VIVIDNESS
            )));
        }
        if self.working_size as usize > MAX_NETWORK_SIDE {
            return Err(Error::invalid(format!(
                "working size {} is over the maximum {MAX_NETWORK_SIDE}",
                self.working_size
            )));
        }
        if self.tile_size != 0
            && !(MIN_TILE_SIZE..=MAX_NETWORK_SIDE).contains(&(self.tile_size as usize))
        {
            return Err(Error::invalid(format!(
                "tile size {} must be 0 (default) or from {MIN_TILE_SIZE} to {MAX_NETWORK_SIDE}",
                self.tile_size
            )));
        }
        if self.threads > MAX_THREADS {
            return Err(Error::invalid(format!(
                "threads {} must be 0 (all cores) or at most {MAX_THREADS}",
                self.threads
            )));
        }
        Ok(())
    }
}

/// Elements a buffer needs for `height` rows of `width * channels` elements with `stride`
/// elements between row starts: `(height - 1) * stride + width * channels`. Errors on a
/// zero size, a stride shorter than a row, or a size whose bytes (at 4 bytes an element,
/// the largest sample) would overflow the address space.
pub fn required_len(width: usize, height: usize, stride: usize, channels: usize) -> Result<usize> {
    if width == 0 || height == 0 {
        return Err(Error::invalid(format!(
            "image size {width}x{height}: width and height must be at least 1"
        )));
    }
    let row = width.checked_mul(channels).ok_or_else(|| {
        Error::too_large(format!("a row of {width} pixels x {channels} overflows"))
    })?;
    if stride < row {
        return Err(Error::invalid(format!(
            "stride {stride} is smaller than a row ({width} pixels x {channels} = {row} elements)"
        )));
    }
    (height - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(row))
        .filter(|n| {
            n.checked_mul(std::mem::size_of::<f32>())
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .ok_or_else(|| {
            Error::too_large(format!(
                "{width}x{height} with stride {stride} overflows the address space"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_len_checks_everything() {
        assert_eq!(required_len(3, 2, 5, 1).unwrap(), 8);
        assert!(required_len(0, 2, 5, 1).is_err());
        assert!(required_len(3, 2, 2, 1).is_err());
        assert_eq!(
            required_len(usize::MAX, 2, usize::MAX, 1)
                .unwrap_err()
                .kind(),
            crate::ErrorKind::TooLarge
        );
        assert_eq!(
            required_len(usize::MAX / 2, 1, usize::MAX, 3)
                .unwrap_err()
                .kind(),
            crate::ErrorKind::TooLarge
        );
    }

    #[test]
    fn validate_names_the_bad_value() {
        assert!(Options::default().validate().is_ok());
        let bad = [
            (
                Options {
                    saturation: f32::NAN,
                    ..Default::default()
                },
                "saturation",
            ),
            (
                Options {
                    saturation: -1.0,
                    ..Default::default()
                },
                "saturation",
            ),
            (
                Options {
                    working_size: 9000,
                    ..Default::default()
                },
                "working size",
            ),
            (
                Options {
                    tile_size: 8,
                    ..Default::default()
                },
                "tile size",
            ),
            (
                Options {
                    threads: MAX_THREADS + 1,
                    ..Default::default()
                },
                "threads",
            ),
        ];
        for (options, word) in bad {
            let e = options.validate().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            assert!(e.message().contains(word), "{e}");
        }
    }
}
