//! Decoding with limits: the header checked before pixel memory is allocated, declared
//! sizes against the file's (JPEG, PNG), EXIF orientation applied, streams read bounded.

use super::*;

pub(super) fn is_tga_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tga"))
}

/// Decodes an image file (format from its content, or from a `.tga` extension: TGA files
/// have no signature to recognise them by), applying its EXIF orientation.
pub fn decode_file(path: &Path, limits: &Limits) -> Result<DynamicImage> {
    decode_file_with(path, limits, |_| Ok(())).map(|(image, ())| image)
}

/// As [`decode_file`], calling `before_pixels` with the header once it is read and checked,
/// before any pixel memory is allocated: an error from it ends the decoding, and what it
/// returns (a memory reservation, say) is handed back with the image.
pub fn decode_file_with<T>(
    path: &Path,
    limits: &Limits,
    before_pixels: impl FnOnce(&Header) -> Result<T>,
) -> Result<(DynamicImage, T)> {
    let file = open_regular(path)?;
    let file_len = file.metadata().map_err(io_error)?.len();
    let mut reader = ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .map_err(io_error)?;
    if reader.format().is_none() && is_tga_name(path) {
        reader.set_format(ImageFormat::Tga);
    }
    match reader.format() {
        // The JPEG decoder reads the whole file into memory anyway: checked there first.
        Some(ImageFormat::Jpeg) => {
            let bytes = read_bounded(reader.into_inner(), file_len, limits)?;
            check_jpeg(&bytes, limits)?;
            let mut reader = ImageReader::new(Cursor::new(bytes));
            reader.set_format(ImageFormat::Jpeg);
            decode(reader, limits, before_pixels)
        }
        Some(ImageFormat::Png) => {
            let mut inner = reader.into_inner();
            check_png(&mut inner, file_len, limits)?;
            inner.rewind().map_err(io_error)?;
            let mut reader = ImageReader::new(inner);
            reader.set_format(ImageFormat::Png);
            decode(reader, limits, before_pixels)
        }
        _ => decode(reader, limits, before_pixels),
    }
}

/// Opens `path` for reading only if it is a regular file: a FIFO would block the open (or
/// the read) forever, a device would be read without end.
pub(super) fn open_regular(path: &Path) -> Result<std::fs::File> {
    let (file, kind) = open_if_regular(path).map_err(io_error)?;
    match kind {
        None => Ok(file),
        Some(kind) => Err(io_error(format!(
            "not a regular file ({kind}); only image files are read"
        ))),
    }
}

/// Reads the rest of `reader` (at its start) into memory: a file's `len` bytes, refused
/// over `limits.max_input_bytes`.
pub(super) fn read_bounded(mut reader: impl Read, len: u64, limits: &Limits) -> Result<Vec<u8>> {
    if len > limits.max_input_bytes {
        return Err(Error::too_large(format!(
            "the file is {len} bytes, over the limit of {} bytes",
            limits.max_input_bytes
        )));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    reader
        .by_ref()
        .take(limits.max_input_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    Ok(bytes)
}

/// Decodes an encoded image held in memory (format from its content).
pub fn decode_bytes(bytes: &[u8], limits: &Limits) -> Result<DynamicImage> {
    decode_bytes_with(bytes, limits, |_| Ok(())).map(|(image, ())| image)
}

/// As [`decode_bytes`], with [`decode_file_with`]'s `before_pixels`.
pub fn decode_bytes_with<T>(
    bytes: &[u8],
    limits: &Limits,
    before_pixels: impl FnOnce(&Header) -> Result<T>,
) -> Result<(DynamicImage, T)> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(io_error)?;
    match reader.format() {
        Some(ImageFormat::Jpeg) => check_jpeg(bytes, limits)?,
        Some(ImageFormat::Png) => check_png(&mut Cursor::new(bytes), bytes.len() as u64, limits)?,
        _ => {}
    }
    decode(reader, limits, before_pixels)
}

/// How much of a stream is read before its format is known (enough for any header).
pub(super) const STREAM_PREFIX_BYTES: u64 = 64 << 10;

/// Reads a whole stream (stdin) into memory, refusing more than `limits.max_input_bytes`.
/// A stream that does not start like an image in a known format is refused after its
/// first bytes (`< /dev/zero` is not read for gigabytes), and one whose header is readable
/// from those bytes is refused once it is larger than any encoding of that many pixels.
pub fn read_stream(mut stream: impl Read, limits: &Limits) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    stream
        .by_ref()
        .take(STREAM_PREFIX_BYTES.min(limits.max_input_bytes.saturating_add(1)))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    let too_large = |max: u64| {
        Error::too_large(format!(
            "input is over {max} bytes{}",
            if max < limits.max_input_bytes {
                " (more than any encoding of the size its header declares)"
            } else {
                ""
            }
        ))
    };
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(too_large(limits.max_input_bytes));
    }
    if bytes.is_empty() {
        return Ok(bytes);
    }
    if image::guess_format(&bytes).is_err() {
        return Err(io_error(
            "not an image in a known format (PNG, JPEG, TIFF, PNM, ...): its first bytes match none",
        ));
    }
    // Uncompressed 32-bit float RGBA is the largest encoding of a pixel.
    let max = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .map(|(w, h)| {
            (u64::from(w) * u64::from(h))
                .saturating_mul(16)
                .saturating_add(ANCILLARY_BYTES)
                .min(limits.max_input_bytes)
        })
        .unwrap_or(limits.max_input_bytes);
    stream
        .take(max.saturating_add(1).saturating_sub(bytes.len() as u64))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(bytes)
}

pub(super) fn decode<R: BufRead + Seek, T>(
    reader: ImageReader<R>,
    limits: &Limits,
    before_pixels: impl FnOnce(&Header) -> Result<T>,
) -> Result<(DynamicImage, T)> {
    let mut reader = if reader.format().is_some() {
        reader
    } else {
        reader.with_guessed_format().map_err(io_error)?
    };
    if reader.format().is_none() {
        return Err(io_error(
            "not an image in a known format (PNG, JPEG, TIFF, PNM, ...)",
        ));
    }
    reader.limits(limits.for_headers());
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(Error::too_large(format!(
            "image is {w}x{h} = {pixels} pixels, over the limit of {} pixels",
            limits.max_pixels
        )));
    }
    let header = Header {
        width: w,
        height: h,
        color: decoder.color_type(),
    };
    let kept = before_pixels(&header)?;
    decoder
        .set_limits(limits.for_pixels(w, h))
        .map_err(image_error)?;
    let orientation = decoder.orientation().map_err(image_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    image.apply_orientation(orientation);
    Ok((image, kept))
}

/// Refuses a JPEG that cannot hold the pixels it declares, or that ends before its end
/// marker (a cut-off download or copy: the decoder would fill the missing rows flat and
/// report nothing) unless `limits.accept_truncated`.
///
/// Size: every 8x8 block of the full-resolution component takes at least one bit of
/// Huffman-coded data (its DC difference), so a file under `blocks / 8` bytes cannot be
/// whole. A 161-byte file declaring 14000 x 14000 is refused here, before a 200 MB buffer
/// is allocated and seconds are spent decoding nothing.
pub(super) fn check_jpeg(bytes: &[u8], limits: &Limits) -> Result<()> {
    let corrupt = |why: String| io_error(format!("corrupt or truncated JPEG: {why}"));
    let truncated = || {
        io_error(
            "truncated JPEG: the file ends before its end marker, so rows are missing \
             (--accept-truncated decodes it anyway, the missing rows flat)",
        )
    };
    let mut huffman_frame = None;
    for segment in segments::JpegSegments::new(bytes) {
        let segment = match segment {
            Ok(segment) => segment,
            Err(segments::JpegStop::NoMarker(at)) => {
                return Err(corrupt(format!("no marker at byte {at}")))
            }
            Err(segments::JpegStop::Cut) => break,
        };
        let payload = segment.payload;
        match segment.marker {
            0xD9 => return Ok(()),
            // Baseline, extended, progressive and lossless Huffman frames (arithmetic
            // coding can spend less than a bit per block).
            0xC0..=0xC3 | 0xC5..=0xC7 if payload.len() >= 5 => {
                let h = u64::from(u16::from_be_bytes([payload[1], payload[2]]));
                let w = u64::from(u16::from_be_bytes([payload[3], payload[4]]));
                // Over the pixel limit: refused as such by the decoder's header check.
                if w * h > limits.max_pixels {
                    return Ok(());
                }
                huffman_frame = Some((w, h));
            }
            0xDA => {
                if let Some((w, h)) = huffman_frame {
                    let blocks = w.div_ceil(8) * h.div_ceil(8);
                    let needed = blocks / 8;
                    if (bytes.len() as u64) < needed {
                        return Err(io_error(format!(
                            "corrupt or truncated JPEG: it declares {w}x{h} pixels, which \
                             take at least {needed} bytes, but the file is {} bytes",
                            bytes.len()
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    if limits.accept_truncated {
        Ok(())
    } else {
        Err(truncated())
    }
}

/// Refuses a PNG whose image data is too short for the pixels it declares: deflate packs
/// at most 1032 bytes into one, so the filtered rows of a W x H image, each a filter byte
/// and W pixels of its bit depth, need at least 1/1032 of their size in IDAT bytes
/// (interlacing only adds bytes). Only chunk headers are read.
pub(super) fn check_png(
    reader: &mut (impl Read + Seek),
    file_len: u64,
    limits: &Limits,
) -> Result<()> {
    let mut header = [0u8; 8 + 8 + 13];
    if reader.read_exact(&mut header).is_err() || &header[12..16] != b"IHDR" {
        // The decoder says what is wrong.
        return Ok(());
    }
    let w = u64::from(u32::from_be_bytes([
        header[16], header[17], header[18], header[19],
    ]));
    let h = u64::from(u32::from_be_bytes([
        header[20], header[21], header[22], header[23],
    ]));
    // Over the pixel limit: refused as such by the decoder's header check.
    if w.saturating_mul(h) > limits.max_pixels {
        return Ok(());
    }
    let channels = match header[25] {
        2 => 3,
        4 => 2,
        6 => 4,
        _ => 1,
    };
    let bits_per_pixel = u64::from(header[24]).max(1) * channels;
    let row_bytes = 1 + w.saturating_mul(bits_per_pixel).div_ceil(8);
    let needed = h.saturating_mul(row_bytes) / 1032;
    if file_len >= needed {
        return Ok(());
    }
    let mut idat = 0u64;
    // The chunks after IHDR, whose header and data were read above.
    for chunk in segments::PngChunks::new(reader, 8 + 8 + 13 + 4, file_len) {
        if &chunk.kind == b"IDAT" {
            idat += u64::from(chunk.len).min(file_len - chunk.at);
        }
    }
    if idat < needed {
        return Err(io_error(format!(
            "corrupt or truncated PNG: it declares {w}x{h} pixels, whose image data takes at \
             least {needed} bytes, but it holds {idat}"
        )));
    }
    Ok(())
}
