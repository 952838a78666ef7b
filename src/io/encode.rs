//! Encoding by file extension.

use super::*;

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
