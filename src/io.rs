//! Image files for the CLI and other clients: decoding with limits and EXIF orientation,
//! encoding by file extension, and atomic writes.
//!
//! Why limits: a 100-byte PNG can claim 100000 x 100000 pixels. The header is checked
//! against [`Limits`] before any pixel memory is allocated, so such a file is refused with
//! a clear error instead of exhausting memory.
//!
//! Why atomic writes: a batch that is killed, or a full disk, must never leave a partial
//! file under the final name. Outputs are written to a hidden temporary file in the same
//! folder and renamed over the final name only when complete.

use std::io::{BufRead, Cursor, Read, Seek, Write};
use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::error::{Error, ErrorKind, Result};

/// Default largest image accepted: 200 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 200_000_000;

/// Bounds on what decoding may allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width x height accepted (checked from the header, before decoding).
    pub max_pixels: u64,
    /// Largest encoded input read from a stream (stdin), in bytes.
    pub max_input_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_input_bytes: 2 << 30,
        }
    }
}

impl Limits {
    fn for_image_crate(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        let side = u32::try_from(self.max_pixels).unwrap_or(u32::MAX);
        limits.max_image_width = Some(side);
        limits.max_image_height = Some(side);
        // Room for the largest decoded layout (RGBA, 32-bit float) plus decoder buffers.
        limits.max_alloc = Some(self.max_pixels.saturating_mul(16).saturating_add(64 << 20));
        limits
    }
}

fn io_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, e.to_string())
}

fn image_error(e: ImageError) -> Error {
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

/// Decodes an image file (format from its content, or from a `.tga` extension: TGA files
/// have no signature to recognise them by), applying its EXIF orientation.
pub fn decode_file(path: &Path, limits: &Limits) -> Result<DynamicImage> {
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut reader = ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .map_err(io_error)?;
    let is_tga = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tga"));
    if reader.format().is_none() && is_tga {
        reader.set_format(ImageFormat::Tga);
    }
    decode(reader, limits)
}

/// Decodes an encoded image held in memory (format from its content).
pub fn decode_bytes(bytes: &[u8], limits: &Limits) -> Result<DynamicImage> {
    decode(ImageReader::new(Cursor::new(bytes)), limits)
}

/// Reads a whole stream (stdin) into memory, refusing more than `limits.max_input_bytes`.
pub fn read_stream(mut stream: impl Read, limits: &Limits) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    stream
        .by_ref()
        .take(limits.max_input_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(Error::too_large(format!(
            "input is over {} bytes",
            limits.max_input_bytes
        )));
    }
    Ok(bytes)
}

fn decode<R: BufRead + Seek>(reader: ImageReader<R>, limits: &Limits) -> Result<DynamicImage> {
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
    reader.limits(limits.for_image_crate());
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(Error::too_large(format!(
            "image is {w}x{h} = {pixels} pixels, over the limit of {} pixels",
            limits.max_pixels
        )));
    }
    let orientation = decoder.orientation().map_err(image_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// The output format [`encode`] writes for a file name's extension (png, jpg/jpeg,
/// tif/tiff, ppm/pgm/pnm/pbm/pam, webp, bmp, gif); `None` for any other extension or none.
pub fn format_for_path(path: &Path) -> Option<ImageFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some(ImageFormat::Png),
        "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
        "tif" | "tiff" => Some(ImageFormat::Tiff),
        "ppm" | "pgm" | "pnm" | "pbm" | "pam" => Some(ImageFormat::Pnm),
        "webp" => Some(ImageFormat::WebP),
        "bmp" => Some(ImageFormat::Bmp),
        "gif" => Some(ImageFormat::Gif),
        _ => None,
    }
}

/// The usual extension of an output format.
pub fn extension_of(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "jpg",
        ImageFormat::Tiff => "tif",
        ImageFormat::Pnm => "ppm",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Gif => "gif",
        _ => "png",
    }
}

/// Whether writing `image` as `format` drops its alpha channel (JPEG and PPM hold none).
pub fn drops_alpha(image: &DynamicImage, format: ImageFormat) -> bool {
    image.color().has_alpha() && matches!(format, ImageFormat::Jpeg | ImageFormat::Pnm)
}

/// Default JPEG quality of [`encode`].
pub const DEFAULT_JPEG_QUALITY: u8 = 92;

/// Encoder settings of [`encode_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// JPEG quality, 1..=100 (image's baseline encoder; chroma is always 4:4:4).
    pub jpeg_quality: u8,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            jpeg_quality: DEFAULT_JPEG_QUALITY,
        }
    }
}

/// Encodes `image` as `format` with the default [`EncodeOptions`].
pub fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>> {
    encode_with(image, format, &EncodeOptions::default())
}

/// Encodes `image` as `format`, converting the pixel layout to one the format can hold:
/// PNG and TIFF keep 16 bits and alpha (TIFF uncompressed: image's TIFF encoder has no
/// compression setting); JPEG (baseline, 4:4:4) and binary PPM are 8-bit RGB without
/// alpha; WebP (lossless), BMP and GIF (256-colour palette) are 8-bit RGB or RGBA.
pub fn encode_with(
    image: &DynamicImage,
    format: ImageFormat,
    options: &EncodeOptions,
) -> Result<Vec<u8>> {
    use DynamicImage as D;
    let mut out = Cursor::new(Vec::new());
    let converted;
    let image = match (format, image) {
        (ImageFormat::WebP | ImageFormat::Bmp | ImageFormat::Gif, D::ImageRgb8(_))
        | (ImageFormat::WebP | ImageFormat::Bmp | ImageFormat::Gif, D::ImageRgba8(_)) => image,
        (ImageFormat::WebP | ImageFormat::Bmp | ImageFormat::Gif, _) => {
            converted = if image.color().has_alpha() {
                D::ImageRgba8(image.to_rgba8())
            } else {
                D::ImageRgb8(image.to_rgb8())
            };
            &converted
        }
        (ImageFormat::Jpeg, D::ImageRgb8(_)) => image,
        (ImageFormat::Jpeg, _) => {
            converted = D::ImageRgb8(image.to_rgb8());
            &converted
        }
        // image's PNM encoder writes 8-bit RGB only.
        (ImageFormat::Pnm, D::ImageRgb8(_)) => image,
        (ImageFormat::Pnm, _) => {
            converted = D::ImageRgb8(image.to_rgb8());
            &converted
        }
        (ImageFormat::Png, D::ImageRgb32F(_)) => {
            converted = D::ImageRgb16(image.to_rgb16());
            &converted
        }
        (ImageFormat::Png, D::ImageRgba32F(_)) => {
            converted = D::ImageRgba16(image.to_rgba16());
            &converted
        }
        _ => image,
    };
    match format {
        ImageFormat::Jpeg => {
            let quality = options.jpeg_quality.clamp(1, 100);
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            image.write_with_encoder(encoder).map_err(image_error)?;
        }
        ImageFormat::Gif => {
            // Speed 10: the fastest palette search, still a fair 256-colour palette.
            let encoder = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 10);
            image.write_with_encoder(encoder).map_err(image_error)?;
        }
        ImageFormat::Pnm => {
            use image::codecs::pnm::{PnmEncoder, PnmSubtype, SampleEncoding};
            let encoder =
                PnmEncoder::new(&mut out).with_subtype(PnmSubtype::Pixmap(SampleEncoding::Binary));
            image.write_with_encoder(encoder).map_err(image_error)?;
        }
        other => image.write_to(&mut out, other).map_err(image_error)?,
    }
    Ok(out.into_inner())
}

/// Writes `bytes` to `path` atomically: a hidden temporary file in the same folder,
/// flushed to disk, then renamed over `path`. On any error no file is left behind and an
/// existing `path` is untouched. A new file gets mode 0666 less the umask, as `open(2)`
/// gives; a file that is replaced keeps its permission bits.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io_error(format!("{}: not a file name", path.display())))?;
    let with_path = |e: &dyn std::fmt::Display| io_error(format!("{}: {e}", path.display()));
    // A device or pipe (`-o /dev/null`, a FIFO) is written to directly: renaming over it
    // would replace the device node itself (as root, even /dev/null), and a stream cannot
    // be written atomically anyway.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
        let mut stream = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| with_path(&e))?;
        return stream
            .write_all(bytes)
            .and_then(|()| stream.flush())
            .map_err(|e| with_path(&e));
    }
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".colorize-tmp");
    // tempfile makes 0600 files by default; an image is an ordinary document, created as
    // any other file is: 0666, less the umask (applied by open(2)).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let existing = std::fs::metadata(path).ok().filter(|m| m.is_file());
    let mut temp = builder.tempfile_in(dir).map_err(|e| with_path(&e))?;
    // A replaced output keeps its permission bits (a private 0600 file stays private).
    if let Some(meta) = existing {
        temp.as_file()
            .set_permissions(meta.permissions())
            .map_err(|e| with_path(&e))?;
    }
    temp.write_all(bytes).map_err(|e| with_path(&e))?;
    temp.as_file().sync_all().map_err(|e| with_path(&e))?;
    temp.persist(path).map_err(|e| with_path(&e.error))?;
    Ok(())
}

/// Encodes `image` (format from `path`'s extension, else PNG) and writes it atomically.
pub fn save(image: &DynamicImage, path: &Path) -> Result<()> {
    let format = format_for_path(path).unwrap_or(ImageFormat::Png);
    write_atomic(path, &encode(image, format)?)
}
