//! PNG: the blocks in an input's chunks (`iCCP`, `pHYs`, `eXIf`, the text chunks with XMP
//! and ImageMagick's raw profiles, before or after the image data), its frame count
//! (`acTL`), and the output's metadata chunks written after its IHDR. Compressed blocks
//! are inflated by hand, no further than one byte past their cap.

use std::io::Read;

use colorize::io::segments::PngChunks;

use super::blocks::{iptc_from_resources, resources_from_iptc, strip_exif_prefix, EXIF_PREFIX};
use super::{be32, size_text, Block, Carried, EXIF_CAP, ICC_CAP, RESOURCES_READ_CAP, XMP_CAP};

/// Inflates zlib data of at most `cap` bytes: more is an error, found after inflating
/// one byte past the cap (so a bomb costs no more), as is a stream that does not inflate.
fn inflate(data: &[u8], cap: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("does not inflate ({e})"))?;
    if out.len() > cap {
        return Err(format!("inflates to more than {}, its cap", size_text(cap)));
    }
    Ok(out)
}

/// The most text that ImageMagick's hex form of a block of up to `cap` bytes takes: two
/// digits a byte, a line break every 36 bytes, a header.
fn raw_profile_cap(cap: usize) -> usize {
    2 * cap + cap / 36 + 64
}

/// ImageMagick's PNG text form of a profile: `\nNAME\n   LENGTH\nHEX...`, which must hold
/// exactly the bytes it declares.
fn raw_profile(text: &[u8]) -> Result<Vec<u8>, String> {
    let form = || "is not in ImageMagick's raw profile form (name, length, hex digits)".to_string();
    let text = std::str::from_utf8(text).map_err(|_| form())?;
    let mut lines = text.trim_start().splitn(3, '\n');
    let _name = lines.next().ok_or_else(form)?;
    let length: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(form)?;
    let digits = lines.next().ok_or_else(form)?;
    if !digits
        .bytes()
        .all(|c| c.is_ascii_hexdigit() || c.is_ascii_whitespace())
    {
        return Err(form());
    }
    let hex: Vec<u8> = digits.bytes().filter(u8::is_ascii_hexdigit).collect();
    if hex.len() != 2 * length {
        return Err(format!(
            "declares {length} bytes but holds {} hex digits",
            hex.len()
        ));
    }
    let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
    Ok(hex
        .chunks_exact(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect())
}

/// A PNG tEXt/zTXt/iTXt chunk: its keyword and its text as stored.
struct PngText<'a> {
    keyword: String,
    stored: &'a [u8],
    compressed: bool,
}

impl PngText<'_> {
    /// The text, inflated when compressed; an error when it is over `cap` bytes.
    fn text(&self, cap: usize) -> Result<Vec<u8>, String> {
        if self.compressed {
            inflate(self.stored, cap)
        } else if self.stored.len() > cap {
            Err(format!(
                "is {} bytes, over its cap of {}",
                self.stored.len(),
                size_text(cap)
            ))
        } else {
            Ok(self.stored.to_vec())
        }
    }
}

fn png_text<'a>(kind: &[u8], data: &'a [u8]) -> Option<PngText<'a>> {
    let nul = data.iter().position(|&c| c == 0)?;
    let keyword = String::from_utf8_lossy(&data[..nul]).into_owned();
    let rest = &data[nul + 1..];
    let (stored, compressed) = match kind {
        b"tEXt" => (rest, false),
        b"zTXt" => (rest.get(1..)?, true),
        _ => {
            let compressed = *rest.first()? == 1;
            let rest = rest.get(2..)?;
            let lang_end = rest.iter().position(|&c| c == 0)?;
            let rest = &rest[lang_end + 1..];
            let translated_end = rest.iter().position(|&c| c == 0)?;
            (&rest[translated_end + 1..], compressed)
        }
    };
    Some(PngText {
        keyword,
        stored,
        compressed,
    })
}

pub(super) fn read_png(b: &[u8]) -> Carried {
    let mut carried = Carried::default();
    let mut seen_image_data = false;
    for chunk in PngChunks::in_bytes(b) {
        let Some(data) = chunk.data(b) else {
            break;
        };
        let kind = &chunk.kind[..];
        match kind {
            b"iCCP" => {
                if let Some(nul) = data.iter().position(|&c| c == 0) {
                    let icc = match data.get(nul + 2..) {
                        Some(compressed) => inflate(compressed, ICC_CAP),
                        None => Err("ends before its compressed data".into()),
                    };
                    carried.icc = carried.accept(
                        Block::Icc,
                        "PNG iCCP chunk",
                        icc.as_deref().map_err(Clone::clone),
                    );
                }
            }
            b"pHYs" if data.len() >= 9 && data[8] == 1 => {
                let (x, y) = (be32(data, 0).unwrap_or(0), be32(data, 4).unwrap_or(0));
                if x > 0 && y > 0 {
                    carried.dpi = Some((f64::from(x) * 0.0254, f64::from(y) * 0.0254));
                } else {
                    carried.drop_block(
                        Block::Resolution,
                        "PNG pHYs chunk",
                        format!("is {x}x{y} pixels per metre"),
                    );
                }
            }
            b"eXIf" => {
                carried.exif =
                    carried.accept(Block::Exif, "PNG eXIf chunk", Ok(strip_exif_prefix(data)));
                carried.orientation_not_applied = seen_image_data;
            }
            b"IDAT" => seen_image_data = true,
            b"acTL" => carried.images = be32(data, 0).unwrap_or(1),
            b"tEXt" | b"zTXt" | b"iTXt" => {
                if let Some(text) = png_text(kind, data) {
                    let place = format!(
                        "PNG {} chunk '{}'",
                        String::from_utf8_lossy(kind),
                        text.keyword
                    );
                    // Only the text of a chunk that is carried is inflated.
                    let raw = |cap: usize| {
                        text.text(raw_profile_cap(cap))
                            .map_err(|why| {
                                format!("{why} (ImageMagick's hex form of {})", size_text(cap))
                            })
                            .and_then(|t| raw_profile(&t))
                    };
                    match text.keyword.as_str() {
                        "XML:com.adobe.xmp" => {
                            let xmp = text.text(XMP_CAP);
                            carried.xmp = carried.accept(
                                Block::Xmp,
                                &place,
                                xmp.as_deref().map_err(Clone::clone),
                            );
                            carried.xmp_compressed = text.compressed;
                        }
                        "Raw profile type xmp" => {
                            let xmp = raw(XMP_CAP);
                            carried.xmp = carried.accept(
                                Block::Xmp,
                                &place,
                                xmp.as_deref().map_err(Clone::clone),
                            );
                            carried.xmp_compressed = text.compressed;
                        }
                        "Raw profile type exif" | "Raw profile type APP1"
                            if carried.exif.is_none() =>
                        {
                            let exif = raw(EXIF_CAP + EXIF_PREFIX.len());
                            carried.exif = carried.accept(
                                Block::Exif,
                                &place,
                                exif.as_deref().map(strip_exif_prefix).map_err(Clone::clone),
                            );
                            carried.orientation_not_applied = true;
                        }
                        "Raw profile type iptc" => {
                            let found = raw(RESOURCES_READ_CAP).and_then(|p| {
                                if p.starts_with(b"8BIM") {
                                    iptc_from_resources(&p).map_err(|why| {
                                        format!("comes from Photoshop resources that {why}")
                                    })
                                } else {
                                    Ok(Some(p))
                                }
                            });
                            carried.iptc = carried.accept_found(Block::Iptc, &place, found);
                        }
                        "Raw profile type 8bim" if carried.iptc.is_none() => {
                            let found = raw(RESOURCES_READ_CAP).and_then(|p| {
                                iptc_from_resources(&p).map_err(|why| {
                                    format!("comes from Photoshop resources that {why}")
                                })
                            });
                            carried.iptc = carried.accept_found(Block::Iptc, &place, found);
                        }
                        _ => {}
                    }
                }
            }
            b"IEND" => break,
            _ => {}
        }
    }
    carried
}

pub(super) fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
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
pub(super) fn png_with(
    png: &[u8],
    carried: &Carried,
    exif: Option<&[u8]>,
    xmp: Option<&[u8]>,
) -> Vec<u8> {
    let Some(split) = PngChunks::in_bytes(png)
        .next()
        .and_then(|ihdr| usize::try_from(ihdr.end()).ok())
        .filter(|&split| split <= png.len())
    else {
        return png.to_vec();
    };
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
        // Keyword, compression flag and method, no language, no translated keyword.
        if carried.xmp_compressed {
            let mut data = b"XML:com.adobe.xmp\0\x01\0\0\0".to_vec();
            data.extend_from_slice(&deflate(xmp));
            png_chunk(&mut out, b"iTXt", &data);
        } else {
            let mut data = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
            data.extend_from_slice(xmp);
            png_chunk(&mut out, b"iTXt", &data);
        }
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
