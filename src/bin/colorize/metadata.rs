//! What an output carries over from its input besides the pixels: EXIF, XMP, IPTC, the ICC
//! profile and the resolution, read from the input's own segments and chunks (JPEG APPn,
//! PNG chunks, WebP RIFF chunks, TIFF tags) and written into the output's; plus the
//! encoder settings that default to the input's (JPEG quality and chroma subsampling, TIFF
//! compression) and the page or frame count, so that a file with several images is refused
//! instead of losing all but one of them. docs/cli.md, "Metadata", has the table.
//!
//! The containers are read and written here, a few dozen lines each, rather than through a
//! container crate: image 0.25 reads only part of them (no resolution, no PNG text chunks
//! after the pixels, no quantisation tables) and writes no XMP or IPTC, and the segment and
//! chunk layouts are fixed by their specifications.

use std::io::{Cursor, Read, Seek};
use std::path::Path;

use image::{DynamicImage, ImageFormat};

/// JPEG chroma subsampling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subsampling {
    /// Chroma at full resolution.
    S444,
    /// Chroma halved horizontally.
    S422,
    /// Chroma halved both ways.
    S420,
}

/// `--subsampling 444|422|420` (also `4:2:0` and the like).
pub fn parse_subsampling(text: &str) -> Result<Subsampling, String> {
    match text.replace(':', "").as_str() {
        "444" => Ok(Subsampling::S444),
        "422" => Ok(Subsampling::S422),
        "420" => Ok(Subsampling::S420),
        _ => Err(format!("'{text}': use 444, 422 or 420")),
    }
}

/// TIFF compression of an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TiffCompression {
    Lzw,
    Deflate,
}

/// What is read from an input file for its output.
#[derive(Clone, Debug, Default)]
pub struct Carried {
    /// The input's format, from its content.
    pub format: Option<ImageFormat>,
    /// The embedded ICC profile.
    pub icc: Option<Vec<u8>>,
    /// EXIF as a TIFF structure (starting `II*\0` or `MM\0*`), without the `Exif\0\0` prefix.
    pub exif: Option<Vec<u8>>,
    /// The XMP packet (XML).
    pub xmp: Option<Vec<u8>>,
    /// IPTC-IIM records (what Photoshop keeps in its resource 0x0404).
    pub iptc: Option<Vec<u8>>,
    /// Pixels per inch, horizontally and vertically.
    pub dpi: Option<(f64, f64)>,
    /// A JPEG input's quality, estimated from its luminance quantisation table.
    pub jpeg_quality: Option<u8>,
    /// A JPEG input's chroma subsampling.
    pub jpeg_subsampling: Option<Subsampling>,
    /// A TIFF input's compression, when LZW or Deflate.
    pub tiff_compression: Option<TiffCompression>,
    /// Pages (TIFF) or frames (GIF, APNG, WebP); 1 when there is one image or it is unknown.
    pub images: u32,
    /// The EXIF came from where the decoder does not look for an orientation (a PNG's
    /// text chunks, or an `eXIf` chunk after the image data): its orientation is applied
    /// here, so that it can be reset in the output like any other.
    pub orientation_not_applied: bool,
}

impl Carried {
    /// Reads what an input file carries; what cannot be read is simply not carried (the
    /// decoder reports a broken file in its own words).
    pub fn from_path(path: &Path) -> Carried {
        let Ok(mut file) = std::fs::File::open(path) else {
            return Carried::default();
        };
        let mut head = [0u8; 16];
        let n = file.read(&mut head).unwrap_or(0);
        if matches!(image::guess_format(&head[..n]), Ok(ImageFormat::Tiff)) {
            // Only the directories of a TIFF are read, not its (often large) strips.
            if file.rewind().is_err() {
                return Carried::default();
            }
            return read_tiff(std::io::BufReader::new(file), head.starts_with(b"II"))
                .unwrap_or_else(|| Carried {
                    format: Some(ImageFormat::Tiff),
                    images: 1,
                    ..Carried::default()
                });
        }
        // Past 1 GiB the decoder refuses the file anyway (its input limit is lower).
        let mut bytes = head[..n].to_vec();
        if file.take(1 << 30).read_to_end(&mut bytes).is_err() {
            return Carried::default();
        }
        Carried::from_bytes(&bytes)
    }

    /// Reads what an encoded image in memory carries.
    pub fn from_bytes(bytes: &[u8]) -> Carried {
        let format = image::guess_format(bytes).ok();
        let mut carried = match format {
            Some(ImageFormat::Jpeg) => read_jpeg(bytes),
            Some(ImageFormat::Png) => read_png(bytes),
            Some(ImageFormat::WebP) => read_webp(bytes),
            Some(ImageFormat::Tiff) => {
                read_tiff(Cursor::new(bytes), bytes.starts_with(b"II")).unwrap_or_default()
            }
            Some(ImageFormat::Gif) => Carried {
                images: gif_frames(bytes),
                ..Carried::default()
            },
            _ => Carried::default(),
        };
        carried.format = format;
        carried.images = carried.images.max(1);
        carried
    }

    /// The refusal of an input with several pages or frames: colorizing only the first
    /// would lose the others without a word.
    pub fn refusal(&self) -> Option<String> {
        if self.images <= 1 {
            return None;
        }
        let (what, split) = match self.format {
            Some(ImageFormat::Tiff) => ("pages (a multi-page TIFF)", "page-%d.tif"),
            Some(ImageFormat::Png) => ("frames (an animated PNG)", "frame-%d.png"),
            Some(ImageFormat::WebP) => ("frames (an animated WebP)", "frame-%d.png"),
            _ => ("frames (an animated GIF)", "frame-%d.png"),
        };
        Some(format!(
            "has {} {what}; only single images are colorized: split it first \
             (`magick INPUT -coalesce {split}`) and colorize the pieces",
            self.images
        ))
    }

    /// Drops everything `--strip` drops (the encoder defaults stay).
    pub fn strip(&mut self) {
        self.icc = None;
        self.exif = None;
        self.xmp = None;
        self.iptc = None;
        self.dpi = None;
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const EXIF_PREFIX: &[u8] = b"Exif\0\0";
const XMP_PREFIX: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const ICC_PREFIX: &[u8] = b"ICC_PROFILE\0";
const PHOTOSHOP_PREFIX: &[u8] = b"Photoshop 3.0\0";

/// The IJG (libjpeg) luminance quantisation table at quality 50; a quality's table is
/// this one scaled, so the scale of an input's table gives back its quality.
const IJG_LUMINANCE: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// The IJG quality whose luminance table is closest in scale to `table` (any order: only
/// the sum is compared).
fn estimate_quality(table: &[u16]) -> u8 {
    let sum: f64 = table.iter().map(|&v| f64::from(v)).sum();
    let reference: f64 = IJG_LUMINANCE.iter().map(|&v| f64::from(v)).sum();
    let scale = sum * 100.0 / reference;
    let quality = if scale <= 100.0 {
        (200.0 - scale) / 2.0
    } else {
        5000.0 / scale
    };
    quality.round().clamp(1.0, 100.0) as u8
}

fn strip_exif_prefix(data: &[u8]) -> Vec<u8> {
    data.strip_prefix(EXIF_PREFIX).unwrap_or(data).to_vec()
}

/// IPTC-IIM from Photoshop image resources (`8BIM` blocks), resource 0x0404.
fn iptc_from_resources(mut data: &[u8]) -> Option<Vec<u8>> {
    while data.len() >= 12 && data.starts_with(b"8BIM") {
        let id = be16(data, 4)?;
        let name_len = usize::from(*data.get(6)?);
        // The Pascal name with its length byte is padded to an even size.
        let name_total = (name_len + 1 + 1) & !1;
        let size_at = 6 + name_total;
        let size = be32(data, size_at)? as usize;
        let start = size_at + 4;
        let body = data.get(start..start.checked_add(size)?)?;
        if id == 0x0404 {
            return Some(body.to_vec());
        }
        data = data.get(start + ((size + 1) & !1)..)?;
    }
    None
}

/// Whether `iim` is a sequence of whole IPTC-IIM datasets (0x1C, record, dataset, 16-bit
/// length, data).
fn iim_is_whole(iim: &[u8]) -> bool {
    let mut at = 0;
    while at < iim.len() {
        if iim[at] != 0x1C {
            // Padding after the last dataset (TIFF tags are padded to 4 bytes).
            return at > 0 && iim[at..].iter().all(|&b| b == 0);
        }
        let Some(len) = be16(iim, at + 3) else {
            return false;
        };
        if len & 0x8000 != 0 {
            return false;
        }
        at += 5 + usize::from(len);
    }
    at == iim.len() && at > 0
}

/// Photoshop image resources holding `iptc` as resource 0x0404.
fn resources_from_iptc(iptc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(iptc.len() + 14);
    out.extend_from_slice(b"8BIM");
    out.extend_from_slice(&0x0404u16.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(iptc.len() as u32).to_be_bytes());
    out.extend_from_slice(iptc);
    if iptc.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn read_jpeg(b: &[u8]) -> Carried {
    let mut carried = Carried::default();
    let mut icc_chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut at = 2;
    while at + 4 <= b.len() && b[at] == 0xFF {
        let marker = b[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        if marker == 0xD8 || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            at += 2;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let Some(len) = be16(b, at + 2).map(usize::from) else {
            break;
        };
        let Some(payload) = b.get(at + 4..at + 2 + len.max(2)) else {
            break;
        };
        match marker {
            0xE0 if payload.starts_with(b"JFIF\0") && payload.len() >= 12 => {
                let (x, y) = (be16(payload, 8), be16(payload, 10));
                if let (Some(x), Some(y)) = (x, y) {
                    let per_inch = match payload[7] {
                        1 => Some(1.0),
                        2 => Some(2.54),
                        _ => None,
                    };
                    if let Some(f) = per_inch.filter(|_| x > 0 && y > 0) {
                        carried.dpi = Some((f64::from(x) * f, f64::from(y) * f));
                    }
                }
            }
            0xE1 if payload.starts_with(EXIF_PREFIX) && carried.exif.is_none() => {
                carried.exif = Some(strip_exif_prefix(payload));
            }
            0xE1 if payload.starts_with(XMP_PREFIX) && carried.xmp.is_none() => {
                carried.xmp = Some(payload[XMP_PREFIX.len()..].to_vec());
            }
            0xE2 if payload.starts_with(ICC_PREFIX) && payload.len() > 14 => {
                icc_chunks.push((payload[12], &payload[14..]));
            }
            0xED if payload.starts_with(PHOTOSHOP_PREFIX) => {
                carried.iptc = iptc_from_resources(&payload[PHOTOSHOP_PREFIX.len()..]);
            }
            0xDB => {
                let mut t = payload;
                while let Some(&pq_tq) = t.first() {
                    let wide = pq_tq >> 4 == 1;
                    let size = if wide { 128 } else { 64 };
                    let Some(values) = t.get(1..1 + size) else {
                        break;
                    };
                    if pq_tq & 0x0F == 0 {
                        let table: Vec<u16> = if wide {
                            values
                                .chunks(2)
                                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                                .collect()
                        } else {
                            values.iter().map(|&v| u16::from(v)).collect()
                        };
                        carried.jpeg_quality = Some(estimate_quality(&table));
                    }
                    t = &t[1 + size..];
                }
            }
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                if payload.len() >= 15 && payload[5] == 3 {
                    let luma = payload[7];
                    carried.jpeg_subsampling = Some(match (luma >> 4, luma & 0x0F) {
                        (2, 2) => Subsampling::S420,
                        (2, 1) => Subsampling::S422,
                        _ => Subsampling::S444,
                    });
                }
            }
            _ => {}
        }
        at += 2 + len;
    }
    icc_chunks.sort_by_key(|(sequence, _)| *sequence);
    if !icc_chunks.is_empty() {
        carried.icc = Some(icc_chunks.concat_data());
    }
    carried
}

trait ConcatData {
    fn concat_data(&self) -> Vec<u8>;
}

impl ConcatData for Vec<(u8, &[u8])> {
    fn concat_data(&self) -> Vec<u8> {
        self.iter().flat_map(|(_, d)| d.iter().copied()).collect()
    }
}

/// Inflates zlib data, up to 64 MiB (more is no metadata).
fn inflate(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(64 << 20)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// ImageMagick's PNG text form of a profile: `\nNAME\n   LENGTH\nHEX...`.
fn raw_profile(text: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut lines = text.trim_start().splitn(3, '\n');
    let _name = lines.next()?;
    let length: usize = lines.next()?.trim().parse().ok()?;
    let hex: Vec<u8> = lines
        .next()?
        .bytes()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    let bytes: Vec<u8> = hex
        .chunks_exact(2)
        .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect();
    (bytes.len() >= length).then(|| bytes[..length].to_vec())
}

/// A PNG tEXt/zTXt/iTXt chunk's keyword and text.
fn png_text(kind: &[u8], data: &[u8]) -> Option<(String, Vec<u8>)> {
    let nul = data.iter().position(|&c| c == 0)?;
    let keyword = String::from_utf8_lossy(&data[..nul]).into_owned();
    let rest = &data[nul + 1..];
    let text = match kind {
        b"tEXt" => rest.to_vec(),
        b"zTXt" => inflate(rest.get(1..)?)?,
        _ => {
            let compressed = *rest.first()? == 1;
            let rest = rest.get(2..)?;
            let lang_end = rest.iter().position(|&c| c == 0)?;
            let rest = &rest[lang_end + 1..];
            let translated_end = rest.iter().position(|&c| c == 0)?;
            let text = &rest[translated_end + 1..];
            if compressed {
                inflate(text)?
            } else {
                text.to_vec()
            }
        }
    };
    Some((keyword, text))
}

fn read_png(b: &[u8]) -> Carried {
    let mut carried = Carried::default();
    let mut seen_image_data = false;
    let mut at = 8;
    while let (Some(len), Some(kind)) = (be32(b, at), b.get(at + 4..at + 8)) {
        let Some(data) = b.get(at + 8..at + 8 + len as usize) else {
            break;
        };
        match kind {
            b"iCCP" => {
                if let Some(nul) = data.iter().position(|&c| c == 0) {
                    carried.icc = data.get(nul + 2..).and_then(inflate);
                }
            }
            b"pHYs" if data.len() >= 9 && data[8] == 1 => {
                let (x, y) = (be32(data, 0).unwrap_or(0), be32(data, 4).unwrap_or(0));
                if x > 0 && y > 0 {
                    carried.dpi = Some((f64::from(x) * 0.0254, f64::from(y) * 0.0254));
                }
            }
            b"eXIf" => {
                carried.exif = Some(strip_exif_prefix(data));
                carried.orientation_not_applied = seen_image_data;
            }
            b"IDAT" => seen_image_data = true,
            b"acTL" => carried.images = be32(data, 0).unwrap_or(1),
            b"tEXt" | b"zTXt" | b"iTXt" => {
                if let Some((keyword, text)) = png_text(kind, data) {
                    match keyword.as_str() {
                        "XML:com.adobe.xmp" => carried.xmp = Some(text),
                        "Raw profile type xmp" => carried.xmp = raw_profile(&text),
                        "Raw profile type exif" | "Raw profile type APP1"
                            if carried.exif.is_none() =>
                        {
                            carried.exif = raw_profile(&text).map(|e| strip_exif_prefix(&e));
                            carried.orientation_not_applied = true;
                        }
                        "Raw profile type iptc" => {
                            carried.iptc = raw_profile(&text).map(|p| {
                                if p.starts_with(b"8BIM") {
                                    iptc_from_resources(&p).unwrap_or_default()
                                } else {
                                    p
                                }
                            })
                        }
                        "Raw profile type 8bim" if carried.iptc.is_none() => {
                            carried.iptc = raw_profile(&text).and_then(|p| iptc_from_resources(&p))
                        }
                        _ => {}
                    }
                }
            }
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len as usize;
    }
    carried
}

fn read_webp(b: &[u8]) -> Carried {
    let mut carried = Carried::default();
    let mut at = 12;
    let mut frames = 0;
    while let (Some(kind), Some(len)) = (b.get(at..at + 4), le32(b, at + 4)) {
        let Some(data) = b.get(at + 8..at + 8 + len as usize) else {
            break;
        };
        match kind {
            b"ICCP" => carried.icc = Some(data.to_vec()),
            b"EXIF" => carried.exif = Some(strip_exif_prefix(data)),
            b"XMP " => carried.xmp = Some(data.to_vec()),
            b"ANMF" => frames += 1,
            _ => {}
        }
        at += 8 + ((len as usize + 1) & !1);
    }
    carried.images = frames.max(1);
    carried
}

/// `little_endian`: the file's byte order, for tags of bytes stored as LONGs.
fn read_tiff<R: Read + Seek>(reader: R, little_endian: bool) -> Option<Carried> {
    use tiff::decoder::ifd::Value;
    use tiff::tags::Tag;
    let mut decoder = tiff::decoder::Decoder::new(reader).ok()?;
    let mut carried = Carried {
        format: Some(ImageFormat::Tiff),
        ..Carried::default()
    };
    let long_bytes = |u: u32| {
        if little_endian {
            u.to_le_bytes().to_vec()
        } else {
            u.to_be_bytes().to_vec()
        }
    };
    let bytes_of = |value: Value| -> Option<Vec<u8>> {
        match value {
            Value::List(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::Byte(b) => Some(vec![b]),
                    // IPTC is often stored as LONGs (exiftool does): their bytes as in the file.
                    Value::Unsigned(u) => Some(long_bytes(u)),
                    _ => None,
                })
                .collect::<Option<Vec<Vec<u8>>>>()
                .map(|v| v.concat()),
            Value::Byte(b) => Some(vec![b]),
            Value::Unsigned(u) => Some(long_bytes(u)),
            _ => None,
        }
    };
    carried.icc = decoder.get_tag_u8_vec(Tag::IccProfile).ok();
    carried.xmp = decoder
        .find_tag(Tag::Unknown(700))
        .ok()
        .flatten()
        .and_then(bytes_of);
    // ImageMagick writes a cut-off copy in the IPTC tag and the whole of it in the
    // Photoshop resources tag: the first that is whole is taken.
    let iptc_tag = decoder
        .find_tag(Tag::Unknown(33723))
        .ok()
        .flatten()
        .and_then(bytes_of);
    let photoshop_iptc = decoder
        .find_tag(Tag::Unknown(34377))
        .ok()
        .flatten()
        .and_then(bytes_of)
        .and_then(|resources| iptc_from_resources(&resources));
    carried.iptc = [iptc_tag, photoshop_iptc]
        .into_iter()
        .flatten()
        .find(|iptc| iim_is_whole(iptc));
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
        if let Some(f) = per_inch.filter(|_| x > 0.0 && y > 0.0) {
            carried.dpi = Some((x * f, y * f));
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
        if decoder.next_image().is_err() {
            break;
        }
        directories += 1;
        pages += u32::from(is_page(&mut decoder));
    }
    carried.images = pages.max(1);
    Some(carried)
}

/// Counts the image descriptors of a GIF.
fn gif_frames(b: &[u8]) -> u32 {
    let skip_blocks = |mut at: usize| -> Option<usize> {
        loop {
            let size = usize::from(*b.get(at)?);
            at += 1 + size;
            if size == 0 {
                return Some(at);
            }
        }
    };
    let count = || -> Option<u32> {
        let mut at = 13;
        let flags = *b.get(10)?;
        if flags & 0x80 != 0 {
            at += 3 << ((flags & 7) + 1);
        }
        let mut frames = 0;
        loop {
            match *b.get(at)? {
                0x21 => at = skip_blocks(at + 2)?,
                0x2C => {
                    frames += 1;
                    let flags = *b.get(at + 9)?;
                    at += 10;
                    if flags & 0x80 != 0 {
                        at += 3 << ((flags & 7) + 1);
                    }
                    at = skip_blocks(at + 1)?;
                }
                _ => return Some(frames),
            }
        }
    };
    count().unwrap_or(1).max(1)
}

/// Sets the EXIF orientation (IFD0 tag 0x0112) to 1: the decoder has already turned the
/// pixels upright, so the output's orientation must not turn them again.
pub fn exif_upright(exif: &mut [u8]) {
    let little = match exif.get(..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return,
    };
    let u16_at = |b: &[u8], at: usize| -> Option<u16> {
        let v: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        })
    };
    let u32_at = |b: &[u8], at: usize| -> Option<u32> {
        let v: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        })
    };
    let Some(ifd) = u32_at(exif, 4).map(|v| v as usize) else {
        return;
    };
    let Some(count) = u16_at(exif, ifd) else {
        return;
    };
    for i in 0..usize::from(count) {
        let entry = ifd + 2 + 12 * i;
        if u16_at(exif, entry) == Some(0x0112) && u16_at(exif, entry + 2) == Some(3) {
            let one = if little { [1, 0] } else { [0, 1] };
            if let Some(value) = exif.get_mut(entry + 8..entry + 10) {
                value.copy_from_slice(&one);
            }
        }
    }
}

/// The EXIF orientation (IFD0 tag 0x0112).
fn exif_orientation(exif: &[u8]) -> Option<image::metadata::Orientation> {
    let little = match exif.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let v: [u8; 2] = exif.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        })
    };
    let v: [u8; 4] = exif.get(4..8)?.try_into().ok()?;
    let ifd = if little {
        u32::from_le_bytes(v)
    } else {
        u32::from_be_bytes(v)
    } as usize;
    (0..usize::from(u16_at(ifd)?))
        .map(|i| ifd + 2 + 12 * i)
        .find(|&entry| u16_at(entry) == Some(0x0112) && u16_at(entry + 2) == Some(3))
        .and_then(|entry| u16_at(entry + 8))
        .and_then(|value| image::metadata::Orientation::from_exif(u8::try_from(value).ok()?))
}

/// Sets `tiff:Orientation` in an XMP packet to 1 (attribute or element form).
pub fn xmp_upright(xmp: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(xmp) else {
        return xmp.to_vec();
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("tiff:Orientation") {
        let after = &rest[at + "tiff:Orientation".len()..];
        out.push_str(&rest[..at + "tiff:Orientation".len()]);
        // `="6"` or `>6<`: the one digit after the delimiter becomes 1.
        let delimiter = if after.starts_with("=\"") || after.starts_with("='") {
            2
        } else if after.starts_with('>') {
            1
        } else {
            0
        };
        if delimiter > 0
            && after
                .as_bytes()
                .get(delimiter)
                .is_some_and(u8::is_ascii_digit)
        {
            out.push_str(&after[..delimiter]);
            out.push('1');
            rest = &after[delimiter + 1..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out.into_bytes()
}

/// One input on its way through a job: what its output carries, and its colour profile
/// when the pixels were converted from it to sRGB.
pub struct Input {
    pub carried: Carried,
    profile: Option<crate::profile::InputProfile>,
    keep_profile: bool,
}

/// Refuses an input with several pages or frames, before it is decoded.
pub fn check(carried: Carried) -> colorize::Result<Carried> {
    match carried.refusal() {
        Some(why) => Err(colorize::Error::new(
            colorize::ErrorKind::InvalidArgument,
            why,
        )),
        None => Ok(carried),
    }
}

/// Converts a decoded input from its ICC profile to sRGB (the engine's L* is sRGB's) and
/// settles what its output carries: nothing with `strip`; else its metadata, with the
/// profile the output's pixels will be in (sRGB, or the input's with `keep_profile`).
/// A profile that cannot be used is said in a note on stderr (`label` names the input),
/// and the pixels are taken as sRGB.
pub fn take_in(
    image: DynamicImage,
    mut carried: Carried,
    strip: bool,
    keep_profile: bool,
    label: &str,
) -> colorize::Result<(DynamicImage, Input)> {
    let mut image = image;
    if carried.orientation_not_applied {
        if let Some(orientation) = carried.exif.as_deref().and_then(exif_orientation) {
            image.apply_orientation(orientation);
        }
    }
    let mut profile = None;
    if let Some(icc) = &carried.icc {
        match crate::profile::InputProfile::parse(icc) {
            Ok(Some(input)) => match input.to_srgb(&image) {
                Ok(converted) => {
                    image = converted;
                    profile = Some(input);
                }
                Err(why) => eprintln!("colorize: {label}: {why}; its pixels are taken as sRGB"),
            },
            // sRGB in effect: the pixels are used as they are and the profile kept.
            Ok(None) => {}
            Err(why) => eprintln!("colorize: {label}: {why}; its pixels are taken as sRGB"),
        }
    }
    let keep_profile = keep_profile && profile.as_ref().is_some_and(|p| p.is_rgb());
    if strip {
        carried.strip();
    } else if profile.is_some() && !keep_profile {
        carried.icc = Some(crate::profile::srgb_icc());
    }
    Ok((
        image,
        Input {
            carried,
            profile,
            keep_profile,
        },
    ))
}

/// The colorized (sRGB) image in the output's colour space.
pub fn give_out(image: DynamicImage, input: &Input) -> colorize::Result<DynamicImage> {
    match (&input.profile, input.keep_profile) {
        (Some(profile), true) => profile
            .from_srgb(&image)
            .map_err(|why| colorize::Error::new(colorize::ErrorKind::Io, why)),
        _ => Ok(image),
    }
}

/// How an output is encoded: the options, with the input's values as the defaults.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub quality: Option<u8>,
    pub subsampling: Option<Subsampling>,
}

fn io_error(message: impl std::fmt::Display) -> colorize::Error {
    colorize::Error::new(colorize::ErrorKind::Io, message.to_string())
}

/// Encodes `image` as `format` with the metadata of `carried` (already stripped when
/// `--strip`; its ICC profile is the output's, set by the profile conversion).
pub fn encode(
    image: &DynamicImage,
    format: ImageFormat,
    carried: &Carried,
    settings: &Settings,
) -> colorize::Result<Vec<u8>> {
    let mut exif = carried.exif.clone();
    if let Some(exif) = exif.as_mut() {
        exif_upright(exif);
    }
    let xmp = carried.xmp.as_deref().map(xmp_upright);
    match format {
        ImageFormat::Jpeg => encode_jpeg(image, carried, exif.as_deref(), xmp.as_deref(), settings),
        ImageFormat::Tiff => encode_tiff(image, carried, xmp.as_deref()),
        ImageFormat::Png => {
            let png = colorize::io::encode(image, ImageFormat::Png)?;
            Ok(png_with(&png, carried, exif.as_deref(), xmp.as_deref()))
        }
        ImageFormat::WebP => {
            let webp = colorize::io::encode(image, ImageFormat::WebP)?;
            Ok(webp_with(&webp, carried, exif.as_deref(), xmp.as_deref()))
        }
        other => colorize::io::encode(image, other),
    }
}

fn encode_jpeg(
    image: &DynamicImage,
    carried: &Carried,
    exif: Option<&[u8]>,
    xmp: Option<&[u8]>,
    settings: &Settings,
) -> colorize::Result<Vec<u8>> {
    use jpeg_encoder::{Density, SamplingFactor};
    // An RGB8 image (what colorizing an 8-bit photo gives) is encoded from its own buffer,
    // without a full-size copy.
    let converted;
    let rgb = match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        _ => {
            converted = image.to_rgb8();
            &converted
        }
    };
    let (w, h) = rgb.dimensions();
    let (Ok(w16), Ok(h16)) = (u16::try_from(w), u16::try_from(h)) else {
        return Err(io_error(format!(
            "{w}x{h} is over JPEG's largest side, 65535 pixels"
        )));
    };
    let quality = settings
        .quality
        .or(carried.jpeg_quality)
        .unwrap_or(colorize::io::DEFAULT_JPEG_QUALITY)
        .clamp(1, 100);
    let (sampling, mcu) = match settings
        .subsampling
        .or(carried.jpeg_subsampling)
        .unwrap_or(Subsampling::S444)
    {
        Subsampling::S444 => (SamplingFactor::R_4_4_4, (8, 8)),
        Subsampling::S422 => (SamplingFactor::R_4_2_2, (16, 8)),
        Subsampling::S420 => (SamplingFactor::R_4_2_0, (16, 16)),
    };
    let density = carried.dpi.map(|(x, y)| {
        let clamp = |v: f64| v.round().clamp(1.0, 65535.0) as u16;
        Density::Inch {
            x: clamp(x),
            y: clamp(y),
        }
    });
    // A segment holds at most 65533 bytes; a larger EXIF or XMP cannot be a JPEG's.
    let segment = |prefix: &[u8], data: &[u8]| [prefix, data].concat();
    let mut segments = Vec::new();
    if let Some(exif) = exif {
        segments.push((1, segment(EXIF_PREFIX, exif)));
    }
    if let Some(xmp) = xmp {
        segments.push((1, segment(XMP_PREFIX, xmp)));
    }
    if let Some(iptc) = &carried.iptc {
        segments.push((13, segment(PHOTOSHOP_PREFIX, &resources_from_iptc(iptc))));
    }
    segments.retain(|(_, data)| data.len() <= 65533);
    let configure = |encoder: &mut jpeg_encoder::Encoder<&mut Vec<u8>>, first: bool| {
        encoder.set_sampling_factor(sampling);
        if let Some(density) = density {
            encoder.set_density(density);
        }
        if first {
            for (nr, data) in &segments {
                encoder.add_app_segment(*nr, data)?;
            }
            if let Some(icc) = &carried.icc {
                encoder.add_icc_profile(icc)?;
            }
        }
        Ok(())
    };
    crate::jpeg::encode_rgb(rgb.as_raw(), w16, h16, quality, mcu, configure).map_err(io_error)
}

fn encode_tiff(
    image: &DynamicImage,
    carried: &Carried,
    xmp: Option<&[u8]>,
) -> colorize::Result<Vec<u8>> {
    use tiff::encoder::{colortype, compression::DeflateLevel, Compression, Predictor, Rational};
    use tiff::tags::{ResolutionUnit, Tag};
    let compression = match carried.tiff_compression {
        Some(TiffCompression::Lzw) => Compression::Lzw,
        _ => Compression::Deflate(DeflateLevel::Balanced),
    };
    let mut out = Cursor::new(Vec::new());
    let mut encoder = tiff::encoder::TiffEncoder::new(&mut out)
        .map_err(io_error)?
        .with_compression(compression);
    let (w, h) = (image.width(), image.height());

    fn fill<W: std::io::Write + Seek, C: colortype::ColorType>(
        mut image: tiff::encoder::ImageEncoder<'_, W, C, tiff::encoder::TiffKindStandard>,
        data: &[C::Inner],
        carried: &Carried,
        xmp: Option<&[u8]>,
    ) -> tiff::TiffResult<()>
    where
        [C::Inner]: tiff::encoder::TiffValue,
    {
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
    }
    // Horizontal differencing makes photos compress about a third better.
    encoder = encoder.with_predictor(Predictor::Horizontal);
    let result = match image {
        DynamicImage::ImageRgb16(buf) => fill(
            encoder
                .new_image::<colortype::RGB16>(w, h)
                .map_err(io_error)?,
            buf.as_raw(),
            carried,
            xmp,
        ),
        DynamicImage::ImageRgba16(buf) => fill(
            encoder
                .new_image::<colortype::RGBA16>(w, h)
                .map_err(io_error)?,
            buf.as_raw(),
            carried,
            xmp,
        ),
        DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => {
            // Float samples take no horizontal predictor: written as 16 bits.
            if image.color().has_alpha() {
                let buf = image.to_rgba16();
                fill(
                    encoder
                        .new_image::<colortype::RGBA16>(w, h)
                        .map_err(io_error)?,
                    buf.as_raw(),
                    carried,
                    xmp,
                )
            } else {
                let buf = image.to_rgb16();
                fill(
                    encoder
                        .new_image::<colortype::RGB16>(w, h)
                        .map_err(io_error)?,
                    buf.as_raw(),
                    carried,
                    xmp,
                )
            }
        }
        _ if image.color().has_alpha() => {
            let buf = image.to_rgba8();
            fill(
                encoder
                    .new_image::<colortype::RGBA8>(w, h)
                    .map_err(io_error)?,
                buf.as_raw(),
                carried,
                xmp,
            )
        }
        _ => {
            let buf = image.to_rgb8();
            fill(
                encoder
                    .new_image::<colortype::RGB8>(w, h)
                    .map_err(io_error)?,
                buf.as_raw(),
                carried,
                xmp,
            )
        }
    };
    result.map_err(io_error)?;
    Ok(out.into_inner())
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// ImageMagick's text form of a profile, as exiftool and ImageMagick read it from PNG.
fn raw_profile_text(name: &str, data: &[u8]) -> Vec<u8> {
    let mut text = format!("\n{name}\n{:8}\n", data.len());
    for (i, b) in data.iter().enumerate() {
        text.push_str(&format!("{b:02x}"));
        if i % 36 == 35 {
            text.push('\n');
        }
    }
    text.push('\n');
    text.into_bytes()
}

/// `png` (as image writes it: IHDR first) with the metadata chunks after IHDR.
fn png_with(png: &[u8], carried: &Carried, exif: Option<&[u8]>, xmp: Option<&[u8]>) -> Vec<u8> {
    let Some(ihdr_len) = be32(png, 8) else {
        return png.to_vec();
    };
    let split = 8 + 12 + ihdr_len as usize;
    if png.len() < split {
        return png.to_vec();
    }
    let mut out = Vec::with_capacity(png.len() + 4096);
    out.extend_from_slice(&png[..split]);
    if let Some(icc) = &carried.icc {
        let mut data = b"ICC profile\0\0".to_vec();
        data.extend_from_slice(&deflate(icc));
        png_chunk(&mut out, b"iCCP", &data);
    }
    if let Some((x, y)) = carried.dpi {
        let per_metre = |v: f64| (v / 0.0254).round().clamp(1.0, u32::MAX as f64) as u32;
        let mut data = Vec::with_capacity(9);
        data.extend_from_slice(&per_metre(x).to_be_bytes());
        data.extend_from_slice(&per_metre(y).to_be_bytes());
        data.push(1);
        png_chunk(&mut out, b"pHYs", &data);
    }
    if let Some(exif) = exif {
        png_chunk(&mut out, b"eXIf", exif);
    }
    if let Some(xmp) = xmp {
        let mut data = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
        data.extend_from_slice(xmp);
        png_chunk(&mut out, b"iTXt", &data);
    }
    if let Some(iptc) = &carried.iptc {
        let mut data = b"Raw profile type iptc\0\0".to_vec();
        data.extend_from_slice(&deflate(&raw_profile_text(
            "iptc",
            &resources_from_iptc(iptc),
        )));
        png_chunk(&mut out, b"zTXt", &data);
    }
    out.extend_from_slice(&png[split..]);
    out
}

/// `webp` (a simple lossless file, as image writes it) as an extended file with VP8X and
/// the ICCP, EXIF and XMP chunks.
/// Appends one RIFF chunk (WebP's container): kind, little-endian size, data, padded to
/// an even length.
fn riff_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(kind);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

fn webp_with(webp: &[u8], carried: &Carried, exif: Option<&[u8]>, xmp: Option<&[u8]>) -> Vec<u8> {
    if carried.icc.is_none() && exif.is_none() && xmp.is_none() {
        return webp.to_vec();
    }
    let Some(image_chunk) = webp.get(12..) else {
        return webp.to_vec();
    };
    if !image_chunk.starts_with(b"VP8L") || image_chunk.len() < 13 {
        return webp.to_vec();
    }
    // The VP8L header: signature 0x2f, then 14 bits width-1, 14 bits height-1, 1 bit alpha.
    let bits = u32::from_le_bytes([
        image_chunk[9],
        image_chunk[10],
        image_chunk[11],
        image_chunk[12],
    ]);
    let width = (bits & 0x3FFF) + 1;
    let height = ((bits >> 14) & 0x3FFF) + 1;
    let alpha = (bits >> 28) & 1 == 1;
    let mut flags = 0u8;
    if carried.icc.is_some() {
        flags |= 0x20;
    }
    if alpha {
        flags |= 0x10;
    }
    if exif.is_some() {
        flags |= 0x08;
    }
    if xmp.is_some() {
        flags |= 0x04;
    }
    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![flags, 0, 0, 0];
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    riff_chunk(&mut body, b"VP8X", &vp8x);
    if let Some(icc) = &carried.icc {
        riff_chunk(&mut body, b"ICCP", icc);
    }
    body.extend_from_slice(image_chunk);
    if let Some(exif) = exif {
        riff_chunk(&mut body, b"EXIF", exif);
    }
    if let Some(xmp) = xmp {
        riff_chunk(&mut body, b"XMP ", xmp);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_of_ijg_tables() {
        for q in [30u8, 60, 75, 92] {
            let scale = if q < 50 {
                5000 / u32::from(q)
            } else {
                200 - 2 * u32::from(q)
            };
            let table: Vec<u16> = IJG_LUMINANCE
                .iter()
                .map(|&v| ((u32::from(v) * scale + 50) / 100).clamp(1, 255) as u16)
                .collect();
            let estimate = estimate_quality(&table);
            assert!(
                estimate.abs_diff(q) <= 1,
                "quality {q} estimated {estimate}"
            );
        }
    }

    #[test]
    fn orientation_reset_in_exif_and_xmp() {
        // II*\0, IFD0 at 8 with one entry: 0x0112 SHORT 1 value 6.
        let mut exif = vec![
            b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0,
            0,
        ];
        exif_upright(&mut exif);
        assert_eq!(exif[18], 1);
        let xmp = xmp_upright(b"<x tiff:Orientation=\"6\"/><tiff:Orientation>8</tiff:Orientation>");
        assert_eq!(
            String::from_utf8(xmp).unwrap(),
            "<x tiff:Orientation=\"1\"/><tiff:Orientation>1</tiff:Orientation>"
        );
    }

    #[test]
    fn frames_of_animated_png_and_webp_are_counted() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png_chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        png_chunk(&mut png, b"acTL", &[0, 0, 0, 4, 0, 0, 0, 0]);
        png_chunk(&mut png, b"IEND", &[]);
        let carried = Carried::from_bytes(&png);
        assert_eq!(carried.images, 4);
        assert!(carried
            .refusal()
            .unwrap()
            .contains("has 4 frames (an animated PNG)"));
        let mut body = b"WEBP".to_vec();
        for (kind, data) in [
            (b"VP8X", &[2u8, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]),
            (b"ANMF", &[0; 3]),
            (b"ANMF", &[0; 3]),
        ] {
            riff_chunk(&mut body, kind, data);
        }
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&(body.len() as u32).to_le_bytes());
        webp.extend_from_slice(&body);
        assert_eq!(read_webp(&webp).images, 2);
    }

    #[test]
    fn iptc_round_trips_through_resources() {
        let iptc = vec![0x1C, 2, 5, 0, 3, b'a', b'b', b'c'];
        assert!(iim_is_whole(&iptc));
        assert!(!iim_is_whole(&iptc[..5]));
        assert_eq!(iptc_from_resources(&resources_from_iptc(&iptc)), Some(iptc));
    }
}
