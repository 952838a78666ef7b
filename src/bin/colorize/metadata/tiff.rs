//! TIFF: the blocks in an input's tags (ICC 34675, XMP 700, IPTC 33723 and inside the
//! Photoshop resources of 34377), its resolution, compression and page count, read through
//! the `tiff` crate without reading the strips; and the output encoded with them.

use std::io::{Cursor, Read, Seek};

use image::{DynamicImage, ImageFormat};

use super::blocks::{iim_is_whole, iptc_from_resources};
use super::{
    io_error, size_text, Block, Carried, TiffCompression, ICC_CAP, IPTC_CAP, RESOURCES_READ_CAP,
    XMP_CAP,
};

/// The bytes of a tag of the current directory as they are in the file (IPTC is often
/// stored as LONGs, as exiftool does: their bytes in the file's order), when it holds at
/// most `cap` bytes: it is measured before anything is read.
fn tiff_tag_bytes<R: Read + Seek>(
    decoder: &mut tiff::decoder::Decoder<R>,
    tag: tiff::tags::Tag,
    cap: usize,
) -> Result<Option<Vec<u8>>, String> {
    use tiff::tags::Type;
    let mut ifd = decoder.image_ifd();
    let Some(entry) = ifd.find_entry(tag) else {
        return Ok(None);
    };
    let size = match entry.field_type() {
        Type::BYTE | Type::SBYTE | Type::ASCII | Type::UNDEFINED => 1,
        Type::SHORT | Type::SSHORT => 2,
        Type::LONG | Type::SLONG | Type::FLOAT | Type::IFD => 4,
        _ => 8,
    };
    let bytes = entry.count().saturating_mul(size);
    if bytes > cap as u64 {
        return Err(format!(
            "is {bytes} bytes, over its cap of {}",
            size_text(cap)
        ));
    }
    let mut buffer = vec![0; bytes as usize];
    ifd.find_tag_bytes(tag, &mut buffer, 0)
        .map_err(|e| format!("cannot be read ({e})"))?;
    Ok(Some(buffer))
}

pub(super) fn read_tiff<R: Read + Seek>(reader: R) -> Option<Carried> {
    use tiff::decoder::ifd::Value;
    use tiff::tags::Tag;
    let mut carried = Carried {
        format: Some(ImageFormat::Tiff),
        ..Carried::default()
    };
    let cycle = |e: &tiff::TiffError| {
        matches!(
            e,
            tiff::TiffError::FormatError(tiff::TiffFormatError::CycleInOffsets)
        )
    };
    let loops = "corrupt TIFF: its directories loop (one links back to a directory already \
                 read), so its pages cannot be counted";
    let mut decoder = match tiff::decoder::Decoder::new(reader) {
        Ok(decoder) => decoder,
        Err(e) if cycle(&e) => {
            carried.broken = Some(loops.into());
            return Some(carried);
        }
        Err(_) => return None,
    };
    let found = tiff_tag_bytes(&mut decoder, Tag::IccProfile, ICC_CAP);
    carried.icc = carried.accept_found(Block::Icc, "TIFF tag 34675", found);
    let found = tiff_tag_bytes(&mut decoder, Tag::Unknown(700), XMP_CAP);
    carried.xmp = carried.accept_found(Block::Xmp, "TIFF tag 700", found);
    // ImageMagick writes a cut-off copy in the IPTC tag and the whole of it in the
    // Photoshop resources tag: the first that is whole is taken, and a note said only
    // when neither is.
    let iptc_tag = tiff_tag_bytes(&mut decoder, Tag::Unknown(33723), IPTC_CAP);
    let photoshop_iptc = tiff_tag_bytes(&mut decoder, Tag::Unknown(34377), RESOURCES_READ_CAP)
        .and_then(|resources| match resources {
            Some(resources) => iptc_from_resources(&resources)
                .map_err(|why| format!("comes from Photoshop resources that {why}")),
            None => Ok(None),
        });
    let candidates = [
        ("TIFF tag 33723", iptc_tag),
        ("TIFF tag 34377, Photoshop resources", photoshop_iptc),
    ];
    let whole = candidates.iter().find_map(|(_, found)| match found {
        Ok(Some(iptc)) if iptc.len() <= IPTC_CAP && iim_is_whole(iptc) => Some(iptc.clone()),
        _ => None,
    });
    carried.iptc = match whole {
        Some(iptc) => Some(iptc),
        None => {
            for (place, found) in candidates {
                carried.accept_found(Block::Iptc, place, found);
            }
            None
        }
    };
    let rational = |v: Value| match v {
        Value::Rational(n, d) if d > 0 => Some(f64::from(n) / f64::from(d)),
        Value::List(l) => l.into_iter().next().and_then(|v| match v {
            Value::Rational(n, d) if d > 0 => Some(f64::from(n) / f64::from(d)),
            _ => None,
        }),
        Value::Float(f) => Some(f64::from(f)),
        Value::Double(f) => Some(f),
        _ => None,
    };
    let x = decoder
        .find_tag(Tag::XResolution)
        .ok()
        .flatten()
        .and_then(rational);
    let y = decoder
        .find_tag(Tag::YResolution)
        .ok()
        .flatten()
        .and_then(rational);
    let unit = decoder
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .unwrap_or(2);
    if let (Some(x), Some(y)) = (x, y) {
        let per_inch = match unit {
            2 => Some(1.0),
            3 => Some(2.54),
            _ => None,
        };
        if let Some(f) = per_inch {
            if x > 0.0 && y > 0.0 && x.is_finite() && y.is_finite() {
                carried.dpi = Some((x * f, y * f));
            } else {
                carried.drop_block(
                    Block::Resolution,
                    "TIFF XResolution, YResolution",
                    format!("is {x}x{y} per unit"),
                );
            }
        }
    }
    carried.tiff_compression = match decoder
        .find_tag_unsigned::<u16>(Tag::Compression)
        .ok()
        .flatten()
    {
        Some(5) => Some(TiffCompression::Lzw),
        Some(8) | Some(32946) => Some(TiffCompression::Deflate),
        _ => None,
    };
    // Reduced-resolution copies (thumbnails, previews: NewSubfileType bit 0) are not pages.
    let is_page = |decoder: &mut tiff::decoder::Decoder<R>| {
        decoder
            .find_tag_unsigned::<u32>(Tag::NewSubfileType)
            .ok()
            .flatten()
            .is_none_or(|kind| kind & 1 == 0)
    };
    let mut pages = u32::from(is_page(&mut decoder));
    let mut directories = 1;
    while decoder.more_images() && directories < 100_000 {
        if let Err(e) = decoder.next_image() {
            if cycle(&e) {
                carried.broken = Some(loops.into());
            }
            break;
        }
        directories += 1;
        pages += u32::from(is_page(&mut decoder));
    }
    carried.images = pages.max(1);
    Some(carried)
}

pub(super) fn encode_tiff(
    image: &DynamicImage,
    carried: &Carried,
    xmp: Option<&[u8]>,
) -> colorize::Result<Vec<u8>> {
    use tiff::encoder::colortype::{self, RGB16, RGB8, RGBA16, RGBA8};
    use tiff::encoder::{compression::DeflateLevel, Compression, Predictor, Rational};
    use tiff::tags::{ResolutionUnit, Tag};
    let compression = match carried.tiff_compression {
        Some(TiffCompression::Lzw) => Compression::Lzw,
        _ => Compression::Deflate(DeflateLevel::Balanced),
    };
    let mut out = Cursor::new(Vec::new());
    let mut encoder = tiff::encoder::TiffEncoder::new(&mut out)
        .map_err(io_error)?
        .with_compression(compression);
    let size = (image.width(), image.height());

    /// Writes `data` as the one image, of colour type `C`, with the tags of `carried`.
    fn fill<W: std::io::Write + Seek, C: colortype::ColorType>(
        encoder: &mut tiff::encoder::TiffEncoder<W>,
        (w, h): (u32, u32),
        data: &[C::Inner],
        carried: &Carried,
        xmp: Option<&[u8]>,
    ) -> colorize::Result<()>
    where
        [C::Inner]: tiff::encoder::TiffValue,
    {
        let mut image = encoder.new_image::<C>(w, h).map_err(io_error)?;
        let written = (|| {
            if let Some((x, y)) = carried.dpi {
                let rational = |v: f64| Rational {
                    n: (v * 100.0).round().clamp(1.0, u32::MAX as f64) as u32,
                    d: 100,
                };
                image.resolution_unit(ResolutionUnit::Inch);
                image.x_resolution(rational(x));
                image.y_resolution(rational(y));
            }
            if let Some(icc) = &carried.icc {
                image.encoder().write_tag(Tag::IccProfile, &icc[..])?;
            }
            if let Some(xmp) = xmp {
                image.encoder().write_tag(Tag::Unknown(700), xmp)?;
            }
            if let Some(iptc) = &carried.iptc {
                image.encoder().write_tag(Tag::Unknown(33723), &iptc[..])?;
            }
            image.write_data(data)
        })();
        written.map_err(io_error)
    }
    // Horizontal differencing makes photos compress about a third better.
    encoder = encoder.with_predictor(Predictor::Horizontal);
    let e = &mut encoder;
    match image {
        DynamicImage::ImageRgb16(buf) => fill::<_, RGB16>(e, size, buf.as_raw(), carried, xmp),
        DynamicImage::ImageRgba16(buf) => fill::<_, RGBA16>(e, size, buf.as_raw(), carried, xmp),
        // Float samples take no horizontal predictor: written as 16 bits.
        DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => {
            if image.color().has_alpha() {
                fill::<_, RGBA16>(e, size, image.to_rgba16().as_raw(), carried, xmp)
            } else {
                fill::<_, RGB16>(e, size, image.to_rgb16().as_raw(), carried, xmp)
            }
        }
        _ if image.color().has_alpha() => {
            fill::<_, RGBA8>(e, size, image.to_rgba8().as_raw(), carried, xmp)
        }
        _ => fill::<_, RGB8>(e, size, image.to_rgb8().as_raw(), carried, xmp),
    }?;
    Ok(out.into_inner())
}
