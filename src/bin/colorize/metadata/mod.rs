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
    /// The XMP came compressed (a PNG `zTXt`, or an `iTXt` with its compression flag): a PNG
    /// output keeps it compressed.
    pub xmp_compressed: bool,
    /// The blocks of the input's metadata that its output does not carry (over a cap, or
    /// not whole), each said in a note by [`take_in`].
    pub dropped: Vec<Dropped>,
    /// Why a file of a known format cannot be taken as one image (a TIFF whose directories
    /// loop): the input's error, before it is decoded.
    pub broken: Option<String>,
    /// The input's name in notes, set by [`take_in`].
    label: String,
}

/// Caps on the metadata an output carries (docs/reliability.md, "Carried metadata:
/// limits"). A block over its cap, or one that does not parse whole, is dropped with a
/// note naming it; no block is ever cut. A compressed block (PNG `iCCP`, `zTXt`, `iTXt`)
/// is measured inflated, and is inflated no further than one byte past its cap.
///
/// EXIF: what one JPEG APP1 segment holds after `Exif\0\0`. Cameras write JPEG, so their
/// EXIF (thumbnail included) is never larger, nor is one copied from a JPEG elsewhere.
pub const EXIF_CAP: usize = 65_533 - 6;
/// IPTC-IIM: what one JPEG APP13 segment holds after `Photoshop 3.0\0` and the resource's
/// 12-byte header and padding; captions and keywords take a few KB.
pub const IPTC_CAP: usize = 65_533 - 14 - 12 - 1;
/// ICC profile: display and camera profiles (matrix and curves) take 0.5-4 KB, LUT-based
/// RGB profiles up to about 1 MB, the largest printer (CMYK LUT) profiles 2-3 MB.
pub const ICC_CAP: usize = 4 << 20;
/// XMP packet: a camera's or Lightroom's takes 5-100 KB, Photoshop's with a long edit
/// history or document-ancestor list up to a few MB.
pub const XMP_CAP: usize = 4 << 20;
/// All carried blocks together: one block at its cap and everything else of ordinary size
/// (a real photo's blocks together take well under 1 MB), so that a small hostile input
/// never grows into an output more than this over its pixels.
pub const TOTAL_CAP: usize = 6 << 20;
/// What is read of a block of Photoshop image resources (TIFF tag 34377, ImageMagick's
/// `Raw profile type 8bim`) to find its IPTC: Photoshop keeps thumbnails and layer
/// information there too. Only the IPTC inside is carried.
const RESOURCES_READ_CAP: usize = 16 << 20;

/// The kinds of carried block, each with its cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    Icc,
    Exif,
    Xmp,
    Iptc,
    Resolution,
}

impl Block {
    fn name(self) -> &'static str {
        match self {
            Block::Icc => "ICC profile",
            Block::Exif => "EXIF",
            Block::Xmp => "XMP packet",
            Block::Iptc => "IPTC",
            Block::Resolution => "resolution",
        }
    }

    fn cap(self) -> usize {
        match self {
            Block::Icc => ICC_CAP,
            Block::Exif => EXIF_CAP,
            Block::Xmp => XMP_CAP,
            Block::Iptc => IPTC_CAP,
            Block::Resolution => usize::MAX,
        }
    }

    /// Whether `data` parses whole as a block of this kind; the reason when not.
    fn whole(self, data: &[u8]) -> Result<(), String> {
        match self {
            Block::Icc => icc_whole(data),
            Block::Exif => exif_whole(data),
            Block::Xmp => xmp_whole(data),
            Block::Iptc => {
                if iim_is_whole(data) {
                    Ok(())
                } else {
                    Err("is not a whole sequence of IPTC-IIM datasets".into())
                }
            }
            Block::Resolution => Ok(()),
        }
    }
}

/// A block of the input's metadata that its output does not carry, and why, in words:
/// "XMP packet (PNG iTXt chunk 'XML:com.adobe.xmp') inflates to more than 4 MiB, its cap".
#[derive(Clone, Debug)]
pub struct Dropped {
    pub block: Block,
    pub what: String,
}

/// A size in words: whole MiB as such, else bytes.
fn size_text(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// A line on stderr; a closed or failing stderr is ignored.
fn note(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
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
            return read_tiff(std::io::BufReader::new(file)).unwrap_or_else(|| Carried {
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
            Some(ImageFormat::Tiff) => read_tiff(Cursor::new(bytes)).unwrap_or_default(),
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

    /// Records that the `block` found at `place` is not carried, and why.
    fn drop_block(&mut self, block: Block, place: &str, why: impl std::fmt::Display) {
        self.dropped.push(Dropped {
            block,
            what: format!("{} ({place}) {why}", block.name()),
        });
    }

    /// `data` (or the reason it could not be had) as the `block` found at `place`: a copy
    /// when it is within its cap and parses whole; else none, and the reason recorded.
    fn accept(
        &mut self,
        block: Block,
        place: &str,
        data: Result<&[u8], String>,
    ) -> Option<Vec<u8>> {
        let why = match data {
            Ok(data) if data.len() > block.cap() => format!(
                "is {} bytes, over its cap of {}",
                data.len(),
                size_text(block.cap())
            ),
            Ok(data) => match block.whole(data) {
                Ok(()) => return Some(data.to_vec()),
                Err(why) => why,
            },
            Err(why) => why,
        };
        self.drop_block(block, place, why);
        None
    }

    /// [`Carried::accept`] of a block that may be absent (`Ok(None)`).
    fn accept_found(
        &mut self,
        block: Block,
        place: &str,
        found: Result<Option<Vec<u8>>, String>,
    ) -> Option<Vec<u8>> {
        match found {
            Ok(None) => None,
            Ok(Some(data)) => self.accept(block, place, Ok(&data)),
            Err(why) => self.accept(block, place, Err(why)),
        }
    }

    /// Takes the blocks in the order ICC (the colour meaning of the pixels), EXIF, IPTC,
    /// XMP (the largest and most often bloated) and drops one that would take them together
    /// over [`TOTAL_CAP`]; returns the notes.
    fn within_total(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let mut total = 0usize;
        for block in [Block::Icc, Block::Exif, Block::Iptc, Block::Xmp] {
            let slot = match block {
                Block::Icc => &mut self.icc,
                Block::Exif => &mut self.exif,
                Block::Iptc => &mut self.iptc,
                _ => &mut self.xmp,
            };
            if let Some(data) = slot {
                if total + data.len() > TOTAL_CAP {
                    notes.push(format!(
                        "its {} of {} bytes would take the metadata carried over its total \
                         cap of {}",
                        block.name(),
                        data.len(),
                        size_text(TOTAL_CAP)
                    ));
                    *slot = None;
                } else {
                    total += data.len();
                }
            }
        }
        notes
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
const XMP_EXTENSION_PREFIX: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";

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

fn strip_exif_prefix(data: &[u8]) -> &[u8] {
    data.strip_prefix(EXIF_PREFIX).unwrap_or(data)
}

/// IPTC-IIM from Photoshop image resources (`8BIM` blocks), resource 0x0404: `Ok(None)`
/// when there is none, an error in words when a resource runs past the end of the block.
fn iptc_from_resources(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let total = data.len();
    while data.len() >= 12 && data.starts_with(b"8BIM") {
        let past_end = || format!("are not whole: a resource runs past their end ({total} bytes)");
        let id = be16(data, 4).ok_or_else(past_end)?;
        let name_len = usize::from(data[6]);
        // The Pascal name with its length byte is padded to an even size.
        let name_total = (name_len + 1 + 1) & !1;
        let size_at = 6 + name_total;
        let size = be32(data, size_at).ok_or_else(past_end)? as usize;
        let start = size_at + 4;
        let Some(body) = start.checked_add(size).and_then(|end| data.get(start..end)) else {
            return Err(format!(
                "are not whole: resource 0x{id:04x} declares {size} bytes, past their end \
                 ({total} bytes)"
            ));
        };
        if id == 0x0404 {
            return Ok(Some(body.to_vec()));
        }
        let Some(rest) = data.get(start + ((size + 1) & !1)..) else {
            return Ok(None);
        };
        data = rest;
    }
    Ok(None)
}

/// Whether an ICC profile parses whole: its header (size, `acsp`), its tag table and every
/// tag's data inside the size it declares, which the block holds.
fn icc_whole(icc: &[u8]) -> Result<(), String> {
    if icc.len() < 132 {
        return Err(format!(
            "is {} bytes, shorter than an ICC header and tag count (132 bytes)",
            icc.len()
        ));
    }
    if &icc[36..40] != b"acsp" {
        return Err("has no 'acsp' signature: it is not an ICC profile".into());
    }
    let declared = be32(icc, 0).unwrap_or(0) as usize;
    if declared > icc.len() || declared < 132 {
        return Err(format!("declares {declared} bytes but holds {}", icc.len()));
    }
    let tags = u64::from(be32(icc, 128).unwrap_or(0));
    if 132 + 12 * tags > declared as u64 {
        return Err(format!(
            "declares {tags} tags, whose table runs past its end ({declared} bytes)"
        ));
    }
    for i in 0..tags as usize {
        let entry = 132 + 12 * i;
        let (offset, size) = (
            be32(icc, entry + 4).unwrap_or(0),
            be32(icc, entry + 8).unwrap_or(0),
        );
        if u64::from(offset) + u64::from(size) > declared as u64 {
            let signature = String::from_utf8_lossy(&icc[entry..entry + 4]).into_owned();
            return Err(format!(
                "has its tag '{signature}' at {offset}+{size}, past its end ({declared} bytes)"
            ));
        }
    }
    Ok(())
}

/// Whether EXIF (a TIFF structure) parses whole: its header, every directory it links
/// (IFD0's chain, the EXIF, GPS and interoperability directories), every entry and every
/// value inside the block, and no directory reached twice (a loop). Values of a type TIFF
/// does not define are skipped, as readers skip them; a maker note's inside is not read.
fn exif_whole(exif: &[u8]) -> Result<(), String> {
    let little = match exif.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return Err("does not start with a TIFF header (II*\\0 or MM\\0*)".into()),
    };
    let u16_at = |at: usize| -> Option<u16> {
        let v: [u8; 2] = exif.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(v)
        } else {
            u16::from_be_bytes(v)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let v: [u8; 4] = exif.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(v)
        } else {
            u32::from_be_bytes(v)
        })
    };
    let len = exif.len();
    let first = u32_at(4).ok_or("ends inside its TIFF header")?;
    // (offset, in IFD0's chain): the chain's next links are followed, a sub-directory's not.
    let mut pending = vec![(first as usize, true)];
    let mut seen: Vec<usize> = Vec::new();
    while let Some((ifd, chain)) = pending.pop() {
        if seen.contains(&ifd) {
            return Err(format!(
                "links its directory at offset {ifd} twice: its directories loop"
            ));
        }
        if seen.len() >= 64 {
            return Err("links more than 64 directories".into());
        }
        seen.push(ifd);
        let count = u16_at(ifd).ok_or_else(|| {
            format!("links a directory at offset {ifd}, past its end ({len} bytes)")
        })?;
        let entries = ifd + 2;
        let end = entries + 12 * usize::from(count);
        if end > len {
            return Err(format!(
                "has a directory at offset {ifd} of {count} entries, past its end ({len} bytes)"
            ));
        }
        for i in 0..usize::from(count) {
            let entry = entries + 12 * i;
            let (tag, kind) = (u16_at(entry).unwrap_or(0), u16_at(entry + 2).unwrap_or(0));
            let values = u32_at(entry + 4).unwrap_or(0);
            let value_at = u32_at(entry + 8).unwrap_or(0);
            let size: u64 = match kind {
                1 | 2 | 6 | 7 => 1,
                3 | 8 => 2,
                4 | 9 | 11 | 13 => 4,
                5 | 10 | 12 => 8,
                _ => continue,
            };
            let bytes = u64::from(values) * size;
            if bytes > 4 && u64::from(value_at) + bytes > len as u64 {
                return Err(format!(
                    "has an entry (tag 0x{tag:04x}) of {values} values at offset {value_at}, \
                     past its end ({len} bytes)"
                ));
            }
            if matches!(tag, 0x8769 | 0x8825 | 0xA005) && matches!(kind, 4 | 13) && values == 1 {
                pending.push((value_at as usize, false));
            }
        }
        // IFD1 (the thumbnail's) and on; a directory may end the block without the link.
        if chain {
            if let Some(next) = u32_at(end).filter(|&next| next != 0) {
                pending.push((next as usize, true));
            }
        }
    }
    Ok(())
}

/// Whether an XMP packet parses whole: UTF-8 XML with one root element, every element
/// closed in order, no text outside the root but white space (the packet's padding), no
/// DOCTYPE (XMP has none; entity definitions are a known way to blow up XML readers).
/// Processing instructions (the `xpacket` wrapper) and comments may stand anywhere.
fn xmp_whole(xmp: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(xmp).map_err(|e| format!("is not UTF-8 text ({e})"))?;
    let cut = || "ends inside a tag: the packet is cut".to_string();
    let mut open: Vec<&str> = Vec::new();
    let mut root_seen = false;
    let mut rest = text.strip_prefix('\u{feff}').unwrap_or(text);
    loop {
        let (before, tag) = match rest.find('<') {
            Some(at) => (&rest[..at], Some(&rest[at..])),
            None => (rest, None),
        };
        if open.is_empty() && !before.chars().all(|c| c.is_ascii_whitespace() || c == '\0') {
            return Err("has text outside its root element".into());
        }
        let Some(tag) = tag else { break };
        let skip_past = |from: &'static str, to: &str| -> Result<usize, String> {
            let body = &tag[from.len()..];
            body.find(to)
                .map(|at| from.len() + at + to.len())
                .ok_or_else(cut)
        };
        if tag.starts_with("<?") {
            rest = &tag[skip_past("<?", "?>")?..];
        } else if tag.starts_with("<!--") {
            rest = &tag[skip_past("<!--", "-->")?..];
        } else if tag.starts_with("<![CDATA[") && !open.is_empty() {
            rest = &tag[skip_past("<![CDATA[", "]]>")?..];
        } else if tag.starts_with("<!") {
            return Err("holds a DOCTYPE or other declaration, which XMP never has".into());
        } else if let Some(body) = tag.strip_prefix("</") {
            let end = body.find('>').ok_or_else(cut)?;
            let name = body[..end].trim_end();
            match open.pop() {
                Some(o) if o == name => {}
                Some(o) => return Err(format!("closes <{name}> where <{o}> is open")),
                None => return Err(format!("closes <{name}>, which is not open")),
            }
            rest = &body[end + 1..];
        } else {
            let body = &tag[1..];
            let name_end = body
                .find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>')
                .unwrap_or(body.len());
            let name = &body[..name_end];
            if name.is_empty() {
                return Err("has a '<' that starts no element".into());
            }
            let mut quote = None;
            let mut end = None;
            for (at, c) in body[name_end..].char_indices() {
                match (quote, c) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, '"' | '\'') => quote = Some(c),
                    (None, '>') => {
                        end = Some(name_end + at);
                        break;
                    }
                    (None, '<') => return Err(format!("has a '<' inside the tag <{name}>")),
                    _ => {}
                }
            }
            let end = end.ok_or_else(cut)?;
            if open.is_empty() {
                if root_seen {
                    return Err("has two root elements".into());
                }
                root_seen = true;
            }
            if !body[..end].ends_with('/') {
                open.push(name);
            }
            rest = &body[end + 1..];
        }
    }
    if let Some(o) = open.last() {
        return Err(format!("ends with <{o}> still open: the packet is cut"));
    }
    if !root_seen {
        return Err("holds no XML element".into());
    }
    Ok(())
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
    // (sequence number, count, data) of each APP2 ICC_PROFILE segment.
    let mut icc_chunks: Vec<(u8, u8, &[u8])> = Vec::new();
    let mut extended_xmp = 0;
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
                    if let Some(f) = per_inch {
                        if x > 0 && y > 0 {
                            carried.dpi = Some((f64::from(x) * f, f64::from(y) * f));
                        } else {
                            carried.drop_block(
                                Block::Resolution,
                                "JPEG JFIF segment",
                                format!("is {x}x{y} per unit"),
                            );
                        }
                    }
                }
            }
            0xE1 if payload.starts_with(EXIF_PREFIX) && carried.exif.is_none() => {
                carried.exif = carried.accept(
                    Block::Exif,
                    "JPEG APP1 segment",
                    Ok(strip_exif_prefix(payload)),
                );
            }
            0xE1 if payload.starts_with(XMP_PREFIX) && carried.xmp.is_none() => {
                carried.xmp = carried.accept(
                    Block::Xmp,
                    "JPEG APP1 segment",
                    Ok(&payload[XMP_PREFIX.len()..]),
                );
            }
            0xE1 if payload.starts_with(XMP_EXTENSION_PREFIX) => extended_xmp += 1,
            0xE2 if payload.starts_with(ICC_PREFIX) && payload.len() > 14 => {
                icc_chunks.push((payload[12], payload[13], &payload[14..]));
            }
            0xED if payload.starts_with(PHOTOSHOP_PREFIX) => {
                let found = iptc_from_resources(&payload[PHOTOSHOP_PREFIX.len()..])
                    .map_err(|why| format!("comes from Photoshop resources that {why}"));
                carried.iptc = carried.accept_found(Block::Iptc, "JPEG APP13 segment", found);
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
    if extended_xmp > 0 {
        carried.drop_block(
            Block::Xmp,
            &format!("extended XMP, {extended_xmp} JPEG APP1 segment(s)"),
            "is not read: only the main packet is carried",
        );
    }
    if !icc_chunks.is_empty() {
        carried.icc = carried.accept(
            Block::Icc,
            "JPEG APP2 segments",
            icc_of_chunks(icc_chunks).as_deref().map_err(Clone::clone),
        );
    }
    carried
}

/// The ICC profile of a JPEG's APP2 chunks: each numbered once from 1 to the count they
/// all give, joined in that order; within the cap.
fn icc_of_chunks(mut chunks: Vec<(u8, u8, &[u8])>) -> Result<Vec<u8>, String> {
    let count = chunks[0].1;
    chunks.sort_by_key(|&(sequence, _, _)| sequence);
    let numbered = chunks.len() == usize::from(count)
        && chunks
            .iter()
            .enumerate()
            .all(|(i, &(sequence, n, _))| n == count && usize::from(sequence) == i + 1);
    if !numbered {
        let mut numbers: Vec<String> = chunks
            .iter()
            .take(8)
            .map(|&(sequence, n, _)| format!("{sequence} of {n}"))
            .collect();
        if chunks.len() > 8 {
            numbers.push("...".into());
        }
        return Err(format!(
            "is in {} chunks numbered {}, not 1 to {count} once each",
            chunks.len(),
            numbers.join(", ")
        ));
    }
    let size: usize = chunks.iter().map(|(_, _, data)| data.len()).sum();
    if size > ICC_CAP {
        return Err(format!(
            "is {size} bytes, over its cap of {}",
            size_text(ICC_CAP)
        ));
    }
    Ok(chunks
        .iter()
        .flat_map(|(_, _, data)| data.iter().copied())
        .collect())
}

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
        at += 12 + len as usize;
    }
    carried
}

fn read_webp(b: &[u8]) -> Carried {
    let mut carried = Carried::default();
    let mut at = 12;
    let mut frames = 0;
    while let (Some(kind), Some(len)) = (b.get(at..at + 4), le32(b, at + 4)) {
        let len = len as usize;
        let block = match kind {
            b"ICCP" => Some((Block::Icc, "WebP ICCP chunk")),
            b"EXIF" => Some((Block::Exif, "WebP EXIF chunk")),
            b"XMP " => Some((Block::Xmp, "WebP XMP chunk")),
            _ => None,
        };
        let Some(data) = b.get(at + 8..(at + 8).saturating_add(len)) else {
            if kind == b"EXIF" && b.get(12..16) == Some(b"VP8X") {
                // The decoder reads this chunk for the orientation, and fails on it.
                carried.broken = Some(format!(
                    "corrupt or truncated WebP: its EXIF chunk declares {len} bytes, past the \
                     end of the file ({} bytes)",
                    b.len()
                ));
            } else if let Some((block, place)) = block {
                carried.drop_block(
                    block,
                    place,
                    format!(
                        "declares {len} bytes, past the end of the file ({} bytes)",
                        b.len()
                    ),
                );
            }
            break;
        };
        match block {
            Some((Block::Icc, place)) => carried.icc = carried.accept(Block::Icc, place, Ok(data)),
            Some((Block::Exif, place)) => {
                carried.exif = carried.accept(Block::Exif, place, Ok(strip_exif_prefix(data)))
            }
            Some((block, place)) => carried.xmp = carried.accept(block, place, Ok(data)),
            None if kind == b"ANMF" => frames += 1,
            None => {}
        }
        at += 8 + ((len + 1) & !1);
    }
    carried.images = frames.max(1);
    carried
}

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

fn read_tiff<R: Read + Seek>(reader: R) -> Option<Carried> {
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

/// Refuses an input with several pages or frames, or whose directories loop, before it is
/// decoded.
pub fn check(carried: Carried) -> colorize::Result<Carried> {
    if let Some(why) = &carried.broken {
        return Err(colorize::Error::new(colorize::ErrorKind::Io, why.clone()));
    }
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
/// and the pixels are taken as sRGB; so is each block of metadata not carried (over its
/// cap or not whole; with `strip` only a dropped profile, which changes the pixels).
pub fn take_in(
    image: DynamicImage,
    mut carried: Carried,
    strip: bool,
    keep_profile: bool,
    label: &str,
) -> colorize::Result<(DynamicImage, Input)> {
    let mut image = image;
    carried.label = label.to_string();
    for dropped in &carried.dropped {
        if dropped.block == Block::Icc {
            note(format_args!(
                "colorize: {label}: note: its {}; dropped, and its pixels are taken as sRGB",
                dropped.what
            ));
        } else if !strip {
            note(format_args!(
                "colorize: {label}: note: its {}; dropped from the output",
                dropped.what
            ));
        }
    }
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
    for line in carried.within_total() {
        note(format_args!(
            "colorize: {label}: note: {line}; dropped from the output"
        ));
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
    // A segment holds at most 65533 bytes: EXIF and IPTC within their caps fit, an XMP
    // packet may not (extended XMP is not written).
    let segment = |prefix: &[u8], data: &[u8]| [prefix, data].concat();
    let mut segments = Vec::new();
    if let Some(exif) = exif {
        segments.push((1, segment(EXIF_PREFIX, exif)));
    }
    if let Some(xmp) = xmp {
        if XMP_PREFIX.len() + xmp.len() <= 65533 {
            segments.push((1, segment(XMP_PREFIX, xmp)));
        } else {
            note(format_args!(
                "colorize: {}: note: its XMP packet of {} bytes is more than one JPEG APP1 \
                 segment holds ({} bytes; extended XMP is not written); dropped from the \
                 output",
                carried.label,
                xmp.len(),
                65533 - XMP_PREFIX.len()
            ));
        }
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
        assert_eq!(
            iptc_from_resources(&resources_from_iptc(&iptc)),
            Ok(Some(iptc))
        );
    }
}
