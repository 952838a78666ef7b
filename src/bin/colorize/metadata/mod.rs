//! What an output carries over from its input besides the pixels: EXIF, XMP, IPTC, the ICC
//! profile and the resolution, read from the input's own segments and chunks (JPEG APPn,
//! PNG chunks, WebP RIFF chunks, TIFF tags) and written into the output's; plus the
//! encoder settings that default to the input's (JPEG quality and chroma subsampling, TIFF
//! compression) and the page or frame count, so that a file with several images is refused
//! instead of losing all but one of them. docs/cli.md, "Metadata", has the table.
//!
//! Here: what is carried ([`Carried`]), the caps on it ([`Block`], [`Dropped`]) and the
//! entry points a job calls in turn ([`check`], [`take_in`], [`give_out`], [`encode`]).
//! Beside it, one file a seam: `blocks` (whether a block parses whole, IPTC inside
//! Photoshop resources, the orientation in EXIF and XMP), and one file a container with
//! its reader and its writer (`jpeg`, `png`, `webp`, `tiff`; `gif` only counts frames).
//!
//! The containers are framed by the library's one walker of each
//! (`colorize::io::segments`, which the decoder's own checks use too), so that a length
//! running past the end is caught in one place. Their blocks are read and written here
//! rather than through the codec crates the project compiles, which offer parts of this
//! but not with the same behaviour:
//! - image 0.25's decoders read only part of it (no resolution, no PNG text chunks after
//!   the pixels, no quantisation tables for the JPEG quality estimate) and its encoders
//!   write no XMP or IPTC;
//! - the `png` crate's reader keeps text chunks whole in memory without the per-block
//!   caps, and its `Info`/encoder would write the chunks in its own order and compression,
//!   changing every PNG output; the hand code inflates a compressed block no further than
//!   one byte past its cap, drops (never cuts) a block over it, and reads `eXIf` and text
//!   chunks after the image data;
//! - `image-webp` reads ICCP/EXIF/XMP only through its decoder, which fails on (rather
//!   than drops) a chunk whose size runs past the end, and writes them only from its own
//!   encoder;
//! - `image::metadata::Orientation::from_exif_chunk` and `remove_from_exif_chunk` take
//!   only an orientation entry of one value that is valid, and clear only the first; the
//!   output must not keep any orientation entry a reader could act on, so every one is
//!   reset here, and the one applied is the first as it was before.
//!
//! The segment and chunk layouts are fixed by their specifications.

use std::io::{Cursor, Read, Seek};
use std::path::Path;

use image::{DynamicImage, ImageFormat};

mod blocks;
mod gif;
mod jpeg;
mod png;
mod tiff;
mod webp;

use self::blocks::{exif_orientation, exif_whole, icc_whole, iim_is_whole, xmp_whole};
pub use self::blocks::{exif_upright, xmp_upright};

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
            return tiff::read_tiff(std::io::BufReader::new(file)).unwrap_or_else(|| Carried {
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
            Some(ImageFormat::Jpeg) => jpeg::read_jpeg(bytes),
            Some(ImageFormat::Png) => png::read_png(bytes),
            Some(ImageFormat::WebP) => webp::read_webp(bytes),
            Some(ImageFormat::Tiff) => tiff::read_tiff(Cursor::new(bytes)).unwrap_or_default(),
            Some(ImageFormat::Gif) => Carried {
                images: gif::gif_frames(bytes),
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
        ImageFormat::Jpeg => {
            jpeg::encode_jpeg(image, carried, exif.as_deref(), xmp.as_deref(), settings)
        }
        ImageFormat::Tiff => tiff::encode_tiff(image, carried, xmp.as_deref()),
        ImageFormat::Png => {
            let png = colorize::io::encode(image, ImageFormat::Png)?;
            Ok(png::png_with(
                &png,
                carried,
                exif.as_deref(),
                xmp.as_deref(),
            ))
        }
        ImageFormat::WebP => {
            let webp = colorize::io::encode(image, ImageFormat::WebP)?;
            Ok(webp::webp_with(
                &webp,
                carried,
                exif.as_deref(),
                xmp.as_deref(),
            ))
        }
        other => colorize::io::encode(image, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_of_animated_png_and_webp_are_counted() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png::png_chunk(&mut png, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        png::png_chunk(&mut png, b"acTL", &[0, 0, 0, 4, 0, 0, 0, 0]);
        png::png_chunk(&mut png, b"IEND", &[]);
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
            webp::riff_chunk(&mut body, kind, data);
        }
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&(body.len() as u32).to_le_bytes());
        webp.extend_from_slice(&body);
        assert_eq!(webp::read_webp(&webp).images, 2);
    }
}
