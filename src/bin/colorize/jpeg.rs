//! JPEG output encoded in horizontal strips on all of the batch's threads.
//!
//! A baseline JPEG's entropy-coded data depends on the rows above it only through the DC
//! predictions, which a restart marker resets. So each strip of whole MCU rows is encoded
//! on its own (by `jpeg-encoder`, with the same tables and a restart interval of exactly
//! one strip, so it writes the DRI segment but no marker inside), and the strips' scans
//! are joined with RSTn markers under the first strip's headers. The pixels a decoder
//! reads back are the same as from one encode of the whole image (tested); the file grows
//! by two bytes and at most one byte of padding per strip. Why: one encoder thread took
//! 0.2-0.3 s of a 12 MP photo's half-second budget while the other core idled.

use colorize::io::segments::JpegSegments;
use jpeg_encoder::{ColorType, Encoder, EncodingError};
use rayon::prelude::*;

/// Below this many pixels one encode on one thread is quick enough (and the file is
/// exactly what the encoder alone writes). Fuzz builds split from 64x64 pixels, so that the
/// strip code is reached by images that encode in microseconds: a megapixel takes 0.1 to
/// 0.9 s under ASan, and such inputs, each size new coverage, filled the fuzz corpus.
pub const SPLIT_FROM_PIXELS: usize = if cfg!(fuzzing) { 1 << 12 } else { 1 << 20 };

/// `rgb` (`width` x `height`, 3 bytes per pixel, packed) as a JPEG. `mcu` is the size in
/// pixels of the sampling factor's minimum coded unit (8x8 at 4:4:4, 16x8 at 4:2:2, 16x16
/// at 4:2:0). `configure` sets the encoder's options; `first` is true for the encoder
/// whose headers the file keeps (metadata segments go there only).
pub fn encode_rgb<F>(
    rgb: &[u8],
    width: u16,
    height: u16,
    quality: u8,
    mcu: (usize, usize),
    configure: F,
) -> Result<Vec<u8>, String>
where
    F: Fn(&mut Encoder<&mut Vec<u8>>, bool) -> Result<(), EncodingError> + Sync,
{
    let threads = rayon::current_num_threads();
    let pixels = usize::from(width) * usize::from(height);
    let strips = if pixels < SPLIT_FROM_PIXELS {
        1
    } else {
        4 * threads
    };
    encode_in_strips(rgb, width, height, quality, mcu, strips, &configure)
}

/// [`encode_rgb`] in about `strips` strips (1: one plain encode).
fn encode_in_strips<F>(
    rgb: &[u8],
    width: u16,
    height: u16,
    quality: u8,
    (mcu_w, mcu_h): (usize, usize),
    strips: usize,
    configure: &F,
) -> Result<Vec<u8>, String>
where
    F: Fn(&mut Encoder<&mut Vec<u8>>, bool) -> Result<(), EncodingError> + Sync,
{
    let (w, h) = (usize::from(width), usize::from(height));
    let row_bytes = w * 3;
    let rgb = rgb
        .get(..row_bytes * h)
        .ok_or("the RGB buffer is shorter than the image")?;
    let encode = |pixels: &[u8], rows: u16, first: bool, restart: u16| {
        let mut out = Vec::with_capacity(pixels.len() / 8);
        let mut encoder = Encoder::new(&mut out, quality);
        configure(&mut encoder, first).map_err(|e| e.to_string())?;
        encoder.set_restart_interval(restart);
        encoder
            .encode(pixels, width, rows, ColorType::Rgb)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(out)
    };
    let mcu_cols = w.div_ceil(mcu_w);
    let mcu_rows = h.div_ceil(mcu_h);
    // Whole MCU rows per strip; one strip's MCUs must fit the 16-bit restart interval
    // (a 65535-pixel-wide row has at most 8192 MCUs, so at least 7 rows fit).
    let rows_per_strip = mcu_rows
        .div_ceil(strips.max(1))
        .clamp(1, (usize::from(u16::MAX) / mcu_cols.max(1)).max(1));
    if strips <= 1 || rows_per_strip >= mcu_rows {
        return encode(rgb, height, true, 0);
    }
    let interval = (rows_per_strip * mcu_cols) as u16;
    let strip_bytes = rows_per_strip * mcu_h * row_bytes;
    let parts: Vec<Vec<u8>> = rgb
        .par_chunks(strip_bytes)
        .enumerate()
        .map(|(i, pixels)| encode(pixels, (pixels.len() / row_bytes) as u16, i == 0, interval))
        .collect::<Result<_, _>>()?;
    let broken = || "a strip's JPEG has an unexpected layout".to_string();
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum::<usize>() + 2 * parts.len());
    for (i, part) in parts.iter().enumerate() {
        let start = scan_start(part).ok_or_else(broken)?;
        let scan = part
            .get(start..part.len().saturating_sub(2))
            .filter(|_| part.ends_with(&[0xFF, 0xD9]))
            .ok_or_else(broken)?;
        if i == 0 {
            out.extend_from_slice(&part[..start]);
            set_frame_height(&mut out, height).ok_or_else(broken)?;
        } else {
            out.extend_from_slice(&[0xFF, 0xD0 + ((i - 1) % 8) as u8]);
        }
        out.extend_from_slice(scan);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    Ok(out)
}

/// The offset just past the start-of-scan header: where the entropy-coded data begins.
fn scan_start(jpeg: &[u8]) -> Option<usize> {
    JpegSegments::new(jpeg)
        .map_while(Result::ok)
        .find(|segment| segment.marker == 0xDA)
        .map(|segment| segment.end)
}

/// Writes `height` into the frame header (SOF0..SOF2) found in `headers`.
fn set_frame_height(headers: &mut [u8], height: u16) -> Option<()> {
    let at = JpegSegments::new(headers)
        .map_while(Result::ok)
        .find(|segment| (0xC0..=0xC2).contains(&segment.marker))?
        .at;
    headers
        .get_mut(at + 5..at + 7)?
        .copy_from_slice(&height.to_be_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::SamplingFactor;

    /// Strips joined by restart markers decode to exactly the pixels of one plain encode,
    /// at every subsampling, with sizes that are not multiples of the MCU, and the metadata
    /// segments of the first strip are kept once.
    #[test]
    fn strips_decode_like_one_encode() {
        let (w, h) = (203usize, 157usize);
        let rgb: Vec<u8> = (0..w * h * 3)
            .map(|i| ((i * 7 + (i / (3 * w)) * 13) % 251) as u8)
            .collect();
        for (sampling, mcu) in [
            (SamplingFactor::R_4_4_4, (8, 8)),
            (SamplingFactor::R_4_2_2, (16, 8)),
            (SamplingFactor::R_4_2_0, (16, 16)),
        ] {
            let configure = |encoder: &mut Encoder<&mut Vec<u8>>, first: bool| {
                encoder.set_sampling_factor(sampling);
                if first {
                    encoder.add_app_segment(1, b"Exif\0\0test")?;
                }
                Ok(())
            };
            let decode = |bytes: &[u8]| {
                image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg)
                    .unwrap()
                    .into_rgb8()
                    .into_raw()
            };
            let one = encode_in_strips(&rgb, w as u16, h as u16, 85, mcu, 1, &configure).unwrap();
            for strips in [2, 5, 11] {
                let split = encode_in_strips(&rgb, w as u16, h as u16, 85, mcu, strips, &configure)
                    .unwrap();
                assert!(
                    split.windows(2).any(|m| m == [0xFF, 0xD0]),
                    "{strips}: no RST0"
                );
                assert!(
                    split.windows(2).any(|m| m == [0xFF, 0xDD]),
                    "{strips}: no DRI"
                );
                assert_eq!(
                    split.windows(10).filter(|m| m == b"Exif\0\0test").count(),
                    1
                );
                assert!(
                    decode(&split) == decode(&one),
                    "{sampling:?}, {strips} strips"
                );
            }
        }
    }
}
