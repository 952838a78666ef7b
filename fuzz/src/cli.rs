//! The checks behind the `metadata` and `encoders` fuzz targets: the `colorize` command's
//! metadata path and output encoders (`src/bin/colorize/metadata/`, `jpeg.rs`,
//! `profile.rs`, compiled into this crate by `#[path]` in lib.rs, exactly as the binary
//! compiles them).
//!
//! - [`metadata`]: the fuzz bytes are an input file (after one byte of choices). What the
//!   command carries from it (`Carried::from_bytes`, `check`, `take_in` with or without
//!   `--strip` / `--keep-profile`) goes into an output of a chosen format
//!   (`metadata::encode`). The pixels are those the decoder gave, in the layout
//!   `colorize_image` returns (the network is not what this target tests). Checked: every
//!   carried block within its cap and all of them within the total cap; the output decodes
//!   to the same pixels as the same image written without metadata (and, for lossless
//!   formats, exactly the pixels encoded); every block in the output, read back by this
//!   file's own reader, parses whole and is the block carried (orientation reset to 1), and
//!   the command's own reader finds nothing in it to drop; the output is no larger than
//!   the one without metadata plus the blocks and their containers' framing.
//! - [`encoders`]: a small image (layout, size, pixels, quality, subsampling, TIFF
//!   compression and resolution from the fuzz bytes; sometimes over 1 MP, so that a JPEG
//!   is encoded in strips joined by restart markers) through `metadata::encode` to each
//!   output format the command writes. Checked: the output decodes with the same size;
//!   PNG, TIFF, PPM, WebP and BMP give back exactly the pixels they store (8 or 16 bits,
//!   alpha where the format holds it); a lossless output is no larger than its raw
//!   pixels plus framing.
//!
//! When the command moves into a crate of its own, only the three `#[path]` modules in
//! lib.rs change (to that crate's modules); nothing here does.

use image::{DynamicImage, ImageFormat};

use colorize::io::segments::{JpegSegments, PngChunks, RiffChunks};

use super::metadata::{self as cli, Carried, Settings, Subsampling, TiffCompression};

/// The output formats the command writes (`--format`), in the order a fuzz byte picks them.
pub const OUTPUT_FORMATS: [ImageFormat; 7] = [
    ImageFormat::Jpeg,
    ImageFormat::Png,
    ImageFormat::Tiff,
    ImageFormat::WebP,
    ImageFormat::Pnm,
    ImageFormat::Bmp,
    ImageFormat::Gif,
];

/// The largest input image [`metadata`] decodes (pixels): small, so that an execution is
/// quick; the metadata does not depend on the image's size.
pub const METADATA_MAX_PIXELS: u64 = 64 * 64;

/// Encoder settings from one fuzz byte: mostly the input's (none given), else a quality
/// and a subsampling as `--quality` and `--subsampling` give them.
fn settings_from(byte: u8) -> Settings {
    if byte & 0x80 == 0 {
        return Settings {
            quality: None,
            subsampling: None,
        };
    }
    Settings {
        quality: Some([1, 50, 92, 100][usize::from(byte & 3)]),
        subsampling: [
            None,
            Some(Subsampling::S444),
            Some(Subsampling::S422),
            Some(Subsampling::S420),
        ][usize::from((byte >> 2) & 3)],
    }
}

/// `image` in the layout `colorize_image` gives for it (grey becomes RGB, other layouts
/// RGBA8), its pixels unchanged.
pub fn colorized_layout(image: DynamicImage) -> DynamicImage {
    use DynamicImage as D;
    match image {
        D::ImageLuma8(_) => D::ImageRgb8(image.into_rgb8()),
        D::ImageLumaA8(_) => D::ImageRgba8(image.into_rgba8()),
        D::ImageLuma16(_) => D::ImageRgb16(image.into_rgb16()),
        D::ImageLumaA16(_) => D::ImageRgba16(image.into_rgba16()),
        D::ImageRgb8(_)
        | D::ImageRgba8(_)
        | D::ImageRgb16(_)
        | D::ImageRgba16(_)
        | D::ImageRgb32F(_)
        | D::ImageRgba32F(_) => image,
        other => D::ImageRgba8(other.into_rgba8()),
    }
}

/// The pixels a lossless output of `format` holds for `image` (the conversions
/// `metadata::encode` and `colorize::io::encode` make), or None for a lossy format.
pub fn stored_pixels(image: &DynamicImage, format: ImageFormat) -> Option<DynamicImage> {
    use DynamicImage as D;
    let alpha = image.color().has_alpha();
    let sixteen = matches!(
        image,
        D::ImageRgb16(_) | D::ImageRgba16(_) | D::ImageRgb32F(_) | D::ImageRgba32F(_)
    );
    Some(match format {
        ImageFormat::Png | ImageFormat::Tiff => match (sixteen, alpha) {
            (true, true) => D::ImageRgba16(image.to_rgba16()),
            (true, false) => D::ImageRgb16(image.to_rgb16()),
            (false, true) => D::ImageRgba8(image.to_rgba8()),
            (false, false) => D::ImageRgb8(image.to_rgb8()),
        },
        ImageFormat::Pnm => D::ImageRgb8(image.to_rgb8()),
        ImageFormat::WebP | ImageFormat::Bmp if alpha => D::ImageRgba8(image.to_rgba8()),
        ImageFormat::WebP | ImageFormat::Bmp => D::ImageRgb8(image.to_rgb8()),
        _ => return None,
    })
}

/// Bytes of raw samples `stored` takes.
fn raw_bytes(stored: &DynamicImage) -> usize {
    stored.as_bytes().len()
}

/// Same pixels: same size, and the same samples as 16-bit RGBA (exact for 8 and 16 bits).
fn same_pixels(a: &DynamicImage, b: &DynamicImage) -> bool {
    (a.width(), a.height()) == (b.width(), b.height()) && a.to_rgba16() == b.to_rgba16()
}

/// The first difference between two images, in words, for a failed check.
fn difference(a: &DynamicImage, b: &DynamicImage) -> String {
    if (a.width(), a.height()) != (b.width(), b.height()) {
        return format!(
            "{}x{} against {}x{}",
            a.width(),
            a.height(),
            b.width(),
            b.height()
        );
    }
    let (pa, pb) = (a.to_rgba16(), b.to_rgba16());
    match pa
        .enumerate_pixels()
        .zip(pb.pixels())
        .find(|((_, _, p), q)| p != q)
    {
        Some(((x, y, p), q)) => format!(
            "{:?} against {:?}: pixel ({x}, {y}) is {:?} against {:?}",
            a.color(),
            b.color(),
            p.0,
            q.0
        ),
        None => "no difference".into(),
    }
}

/// The linear test model, loaded once.
fn linear_model() -> &'static colorize::Model {
    static MODEL: std::sync::OnceLock<colorize::Model> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| {
        colorize::Model::from_bytes(&colorize::onnx::linear_test_model(0.5, -0.25), "linear")
            .expect("linear model")
    })
}

fn decode_back(bytes: &[u8], what: &str) -> DynamicImage {
    match colorize::io::decode_bytes(bytes, &colorize::io::Limits::default()) {
        Ok(image) => image,
        Err(e) => panic!("{what} ({} bytes) does not decode: {e}", bytes.len()),
    }
}

// ---- The metadata target ----

/// One input file through the command's metadata path into an output. See the module doc.
pub fn metadata(data: &[u8]) {
    let [choice, options, ref input @ ..] = *data else {
        return;
    };
    let format = OUTPUT_FORMATS[usize::from(choice & 7) % OUTPUT_FORMATS.len()];
    let strip = choice & 8 != 0;
    let keep_profile = choice & 16 != 0;
    let settings = settings_from(options);

    let carried = Carried::from_bytes(input);
    check_caps(&carried, "read from the input");
    let carried = match cli::check(carried) {
        Ok(carried) => carried,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let limits = colorize::io::Limits {
        max_pixels: METADATA_MAX_PIXELS,
        max_input_bytes: 1 << 24,
        accept_truncated: false,
    };
    let Ok(image) = colorize::io::decode_bytes(input, &limits) else {
        return;
    };
    let (image, input) = match cli::take_in(image, carried, strip, keep_profile, "fuzz input") {
        Ok(taken) => taken,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let (w, h) = (image.width(), image.height());
    if w == 0 || h == 0 {
        // The decoder gives some files (a GIF of height 0) as an empty image: the command
        // stops at colorize_image, which refuses it (exit 1, nothing written).
        let options = colorize::Options {
            working_size: 16,
            ..Default::default()
        };
        assert!(
            colorize::colorize_image(linear_model(), &options, image).is_err(),
            "colorize_image took an empty {w}x{h} image"
        );
        return;
    }
    // The conversion back to a kept input profile may refuse (exit 1 in the command).
    let Ok(coloured) = cli::give_out(colorized_layout(image), &input) else {
        return;
    };
    assert_eq!((coloured.width(), coloured.height()), (w, h));
    let carried = &input.carried;
    check_caps(carried, "carried");
    let total: usize = blocks_of(carried).iter().map(|(_, b)| b.len()).sum();
    assert!(
        total <= cli::TOTAL_CAP,
        "{total} bytes of metadata carried, over the total cap"
    );
    if strip {
        assert!(
            carried.exif.is_none() && carried.xmp.is_none() && carried.iptc.is_none(),
            "--strip carries EXIF, XMP or IPTC"
        );
    }

    let out = cli::encode(&coloured, format, carried, &settings)
        .unwrap_or_else(|e| panic!("{w}x{h} {:?} as {format:?}: {e}", coloured.color()));
    let mut bare = carried.clone();
    bare.strip();
    let plain = cli::encode(&coloured, format, &bare, &settings)
        .unwrap_or_else(|e| panic!("{w}x{h} as {format:?} without metadata: {e}"));

    // Pixels: the same as without metadata (the orientation was reset, nothing broke the
    // file), and exactly those encoded where the format is lossless.
    let back = decode_back(&out, "the output");
    let back_plain = decode_back(&plain, "the output without metadata");
    assert!(
        (back.width(), back.height()) == (w, h),
        "{format:?} output is {}x{}, the image {w}x{h}",
        back.width(),
        back.height()
    );
    assert!(
        same_pixels(&back, &back_plain),
        "{format:?}: the output's pixels differ from those without metadata: {}",
        difference(&back, &back_plain)
    );
    if let Some(stored) = stored_pixels(&coloured, format) {
        assert!(
            same_pixels(&back, &stored),
            "{format:?}: the output's pixels differ from those encoded: {}",
            difference(&back, &stored)
        );
    }

    // Every block in the output: the one carried, whole, and nothing more.
    let expected = expected_blocks(carried, format);
    let found = read_blocks(&out, format);
    for (kind, block) in &found {
        whole(kind, block);
    }
    fn kinds(blocks: &[(&'static str, Vec<u8>)]) -> Vec<&'static str> {
        blocks.iter().map(|(k, _)| *k).collect()
    }
    assert_eq!(
        kinds(&found),
        kinds(&expected),
        "{format:?}: the output's blocks are not those carried"
    );
    for ((kind, found), (_, expected)) in found.iter().zip(&expected) {
        assert!(
            found == expected,
            "{format:?}: the output's {kind} ({} bytes) is not the one carried ({} bytes)",
            found.len(),
            expected.len()
        );
    }
    // The command's own reader takes the output's blocks whole.
    let again = Carried::from_bytes(&out);
    assert!(
        again.dropped.is_empty(),
        "{format:?}: the command's reader drops from its own output: {:?}",
        again.dropped
    );
    assert_eq!(again.images, 1);
    let again_blocks = blocks_of(&again);
    for (kind, block) in &expected {
        let read = again_blocks.iter().find(|(k, _)| k == kind).map(|(_, b)| b);
        assert!(
            read == Some(block),
            "{format:?}: the command reads its output's {kind} back as {:?} bytes, wrote {}",
            read.map(Vec::len),
            block.len()
        );
    }
    if carried.dpi.is_some()
        && matches!(
            format,
            ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Tiff
        )
    {
        assert!(again.dpi.is_some(), "{format:?}: the resolution was lost");
    }

    // Size: the output without metadata, plus the blocks and their framing (PNG deflates
    // the ICC profile and the IPTC's hex text, which incompressible data grows a little;
    // a JPEG ICC profile takes 18 bytes per 64 KiB segment).
    let allowance: usize = expected
        .iter()
        .map(|(_, b)| b.len() + b.len() / 4 + 256)
        .sum::<usize>()
        + 256;
    assert!(
        out.len() <= plain.len() + allowance,
        "{format:?}: output of {} bytes, {} without metadata, {} bytes of blocks",
        out.len(),
        plain.len(),
        expected.iter().map(|(_, b)| b.len()).sum::<usize>()
    );
    assert!(
        out.len() <= plain.len() + cli::TOTAL_CAP + (64 << 10),
        "{format:?}: output {} bytes over the pixels' {} plus the total cap",
        out.len(),
        plain.len()
    );
}

/// The blocks a `Carried` holds, by kind.
fn blocks_of(carried: &Carried) -> Vec<(&'static str, Vec<u8>)> {
    [
        ("icc", &carried.icc),
        ("exif", &carried.exif),
        ("xmp", &carried.xmp),
        ("iptc", &carried.iptc),
    ]
    .into_iter()
    .filter_map(|(kind, block)| block.clone().map(|b| (kind, b)))
    .collect()
}

/// Each block within its cap (docs/reliability.md, "Carried metadata: limits").
fn check_caps(carried: &Carried, when: &str) {
    for (kind, block) in blocks_of(carried) {
        let cap = match kind {
            "icc" => cli::ICC_CAP,
            "exif" => cli::EXIF_CAP,
            "xmp" => cli::XMP_CAP,
            _ => cli::IPTC_CAP,
        };
        assert!(
            block.len() <= cap,
            "{kind} of {} bytes {when}, over its cap of {cap}",
            block.len()
        );
    }
    if let Some((x, y)) = carried.dpi {
        assert!(
            x > 0.0 && y > 0.0 && x.is_finite() && y.is_finite(),
            "resolution {x} x {y} {when}"
        );
    }
}

/// The blocks an output of `format` must hold for `carried`, in [`read_blocks`]'s order:
/// the orientation reset in EXIF and XMP; an XMP packet over one JPEG segment left out
/// of a JPEG; no EXIF in a TIFF, no IPTC in a WebP; nothing in PPM, BMP or GIF.
fn expected_blocks(carried: &Carried, format: ImageFormat) -> Vec<(&'static str, Vec<u8>)> {
    let exif = carried.exif.clone().map(|mut e| {
        cli::exif_upright(&mut e);
        e
    });
    let xmp = carried.xmp.as_deref().map(cli::xmp_upright);
    let icc = carried.icc.clone();
    let iptc = carried.iptc.clone();
    let (icc, exif, xmp, iptc) = match format {
        ImageFormat::Jpeg => (
            icc,
            exif,
            xmp.filter(|x| x.len() + JPEG_XMP_PREFIX.len() <= 65533),
            iptc,
        ),
        ImageFormat::Png => (icc, exif, xmp, iptc),
        ImageFormat::Tiff => (icc, None, xmp, iptc),
        ImageFormat::WebP => (icc, exif, xmp, None),
        _ => (None, None, None, None),
    };
    [("icc", icc), ("exif", exif), ("xmp", xmp), ("iptc", iptc)]
        .into_iter()
        .filter_map(|(kind, block)| block.map(|b| (kind, b)))
        .collect()
}

// ---- An output's blocks, read independently of the command's reader ----
// Only the framing is walked by the library's walkers (`colorize::io::segments`), which
// the command's reader uses too; what the blocks hold, and that every segment and chunk
// is whole and the walk ends exactly at the end of the file, is checked here on its own.

const JPEG_XMP_PREFIX: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    )))
}

fn be32(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_be_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?) as usize)
}

fn le32(b: &[u8], at: usize) -> Option<usize> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?) as usize)
}

/// zlib data inflated, refusing more than `cap` bytes (our own output holds no bomb).
fn inflate(data: &[u8], cap: usize) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(cap as u64 + 1)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("a zlib stream in the output does not inflate: {e}"));
    assert!(out.len() <= cap, "a zlib stream inflates past {cap} bytes");
    out
}

/// IPTC-IIM from Photoshop image resources (resource 0x0404); every resource whole.
fn iptc_of_resources(mut data: &[u8]) -> Vec<u8> {
    let mut iptc = None;
    while !data.is_empty() {
        assert!(
            data.starts_with(b"8BIM"),
            "a Photoshop resource without 8BIM"
        );
        let id = be16(data, 4).expect("a resource header cut");
        let name = usize::from(*data.get(6).expect("a resource header cut"));
        let size_at = 6 + ((name + 2) & !1);
        let size = be32(data, size_at).expect("a resource header cut");
        let start = size_at + 4;
        let body = data
            .get(start..start + size)
            .expect("a Photoshop resource past its block's end");
        if id == 0x0404 {
            assert!(iptc.is_none(), "two IPTC resources");
            iptc = Some(body.to_vec());
        }
        data = data.get(start + ((size + 1) & !1)..).unwrap_or(&[]);
    }
    iptc.expect("Photoshop resources without IPTC")
}

/// ImageMagick's hex text profile: "\nNAME\n  LENGTH\nHEX..." holding exactly LENGTH bytes.
fn raw_profile(text: &[u8], name: &str) -> Vec<u8> {
    let text = std::str::from_utf8(text).expect("a raw profile that is not text");
    let mut lines = text.trim_start_matches('\n').splitn(3, '\n');
    assert_eq!(lines.next(), Some(name), "raw profile name");
    let length: usize = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("raw profile length");
    let hex: Vec<u8> = lines
        .next()
        .unwrap_or("")
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    assert_eq!(
        hex.len(),
        2 * length,
        "raw profile of {length} bytes holds {} hex digits",
        hex.len()
    );
    hex.chunks(2)
        .map(|pair| {
            u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16)
                .expect("a raw profile hex digit")
        })
        .collect()
}

/// The metadata blocks of an output file, as ("icc" | "exif" | "xmp" | "iptc", bytes) in
/// that order, read by the formats' specifications (container framing checked on the way:
/// JPEG segment lengths, PNG chunk CRCs, RIFF sizes and the VP8X flags).
pub fn read_blocks(bytes: &[u8], format: ImageFormat) -> Vec<(&'static str, Vec<u8>)> {
    let mut found: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut add = |kind: &'static str, data: Vec<u8>| {
        assert!(
            !found.iter().any(|(k, _)| *k == kind),
            "{format:?} output holds two {kind} blocks"
        );
        found.push((kind, data));
    };
    match format {
        ImageFormat::Jpeg => {
            assert!(bytes.starts_with(&[0xFF, 0xD8]), "no SOI");
            let mut icc: Vec<(u8, u8, Vec<u8>)> = Vec::new();
            let mut scan = false;
            for segment in JpegSegments::new(bytes) {
                let segment =
                    segment.unwrap_or_else(|stop| panic!("JPEG headers broken: {stop:?}"));
                let (marker, payload) = (segment.marker, segment.payload);
                if marker == 0xDA {
                    scan = true;
                    break;
                }
                let len = segment.end - segment.at - 2;
                assert!(len >= 2, "JPEG segment 0x{marker:02X} of length {len}");
                match marker {
                    0xE1 if payload.starts_with(b"Exif\0\0") => add("exif", payload[6..].to_vec()),
                    0xE1 if payload.starts_with(JPEG_XMP_PREFIX) => {
                        add("xmp", payload[JPEG_XMP_PREFIX.len()..].to_vec())
                    }
                    0xE1 => panic!("an APP1 segment neither EXIF nor XMP"),
                    0xE2 if payload.starts_with(b"ICC_PROFILE\0") && payload.len() >= 14 => {
                        icc.push((payload[12], payload[13], payload[14..].to_vec()))
                    }
                    0xE2 => panic!("an APP2 segment that is not an ICC chunk"),
                    0xED => {
                        let resources = payload
                            .strip_prefix(b"Photoshop 3.0\0")
                            .expect("an APP13 segment that is not Photoshop's");
                        add("iptc", iptc_of_resources(resources));
                    }
                    _ => {}
                }
            }
            assert!(scan, "JPEG headers cut");
            if !icc.is_empty() {
                let count = icc.len();
                for (i, (sequence, n, _)) in icc.iter().enumerate() {
                    assert_eq!(
                        (usize::from(*sequence), usize::from(*n)),
                        (i + 1, count),
                        "ICC chunk numbering"
                    );
                }
                add("icc", icc.into_iter().flat_map(|(_, _, d)| d).collect());
            }
        }
        ImageFormat::Png => {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "no PNG signature");
            let mut end = 8;
            let mut ended = false;
            for chunk in PngChunks::in_bytes(bytes) {
                assert!(!ended, "data after IEND");
                let (at, kind) = (chunk.at as usize, &chunk.kind[..]);
                let data = chunk.data(bytes).expect("PNG chunk past the end");
                let len = data.len();
                let crc = be32(bytes, at + 8 + len).expect("PNG chunk without its CRC");
                assert_eq!(
                    crc as u32,
                    crc32fast::hash(&bytes[at + 4..at + 8 + len]),
                    "CRC of a {} chunk",
                    String::from_utf8_lossy(kind)
                );
                match kind {
                    b"iCCP" => {
                        let nul = data.iter().position(|&c| c == 0).expect("iCCP name");
                        assert_eq!(data.get(nul + 1), Some(&0), "iCCP method");
                        add("icc", inflate(&data[nul + 2..], cli::ICC_CAP));
                    }
                    b"eXIf" => add("exif", data.to_vec()),
                    b"iTXt" => {
                        let rest = data
                            .strip_prefix(b"XML:com.adobe.xmp\0")
                            .expect("an iTXt chunk that is not XMP");
                        let (flag, method) = (rest[0], rest[1]);
                        let rest = &rest[2..];
                        let language = rest.iter().position(|&c| c == 0).expect("iTXt language");
                        let rest = &rest[language + 1..];
                        let translated = rest.iter().position(|&c| c == 0).expect("iTXt keyword");
                        let text = &rest[translated + 1..];
                        assert_eq!(method, 0);
                        add(
                            "xmp",
                            match flag {
                                0 => text.to_vec(),
                                1 => inflate(text, cli::XMP_CAP),
                                _ => panic!("iTXt compression flag {flag}"),
                            },
                        );
                    }
                    b"zTXt" => {
                        let rest = data
                            .strip_prefix(b"Raw profile type iptc\0\0")
                            .expect("a zTXt chunk that is not IPTC");
                        let text = inflate(rest, 4 * cli::IPTC_CAP);
                        add("iptc", iptc_of_resources(&raw_profile(&text, "iptc")));
                    }
                    b"tEXt" => panic!("a tEXt chunk"),
                    b"IEND" => ended = true,
                    _ => {}
                }
                end = chunk.end() as usize;
            }
            assert_eq!(end, bytes.len(), "PNG chunk cut");
            assert!(ended, "no IEND");
        }
        ImageFormat::WebP => {
            assert!(bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP"));
            assert_eq!(le32(bytes, 4), Some(bytes.len() - 8), "RIFF size");
            let mut end = 12;
            let mut flags = None;
            let mut image_seen = false;
            for chunk in RiffChunks::new(bytes) {
                let data = chunk.data.expect("RIFF chunk past the end");
                match chunk.kind {
                    b"VP8X" => {
                        assert_eq!(chunk.at, 12, "VP8X not first");
                        flags = Some(data[0]);
                    }
                    b"ICCP" => {
                        assert!(!image_seen, "ICCP after the image");
                        add("icc", data.to_vec())
                    }
                    b"EXIF" => add("exif", data.to_vec()),
                    b"XMP " => add("xmp", data.to_vec()),
                    b"VP8L" | b"VP8 " => image_seen = true,
                    _ => {}
                }
                end = chunk.end();
            }
            assert_eq!(end, bytes.len(), "RIFF chunks past the end");
            let has = |kind| found.iter().any(|(k, _)| *k == kind);
            if let Some(flags) = flags {
                assert_eq!(flags & 0x20 != 0, has("icc"), "VP8X ICC flag");
                assert_eq!(flags & 0x08 != 0, has("exif"), "VP8X EXIF flag");
                assert_eq!(flags & 0x04 != 0, has("xmp"), "VP8X XMP flag");
            } else {
                assert!(found.is_empty(), "metadata chunks without VP8X");
            }
        }
        ImageFormat::Tiff => {
            use tiff::tags::Tag;
            let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(bytes))
                .unwrap_or_else(|e| panic!("TIFF output: {e}"));
            for (kind, tag) in [
                ("icc", Tag::IccProfile),
                ("xmp", Tag::Unknown(700)),
                ("iptc", Tag::Unknown(33723)),
            ] {
                if let Some(value) = decoder
                    .find_tag(tag)
                    .unwrap_or_else(|e| panic!("TIFF output, {kind} tag: {e}"))
                {
                    add(
                        kind,
                        value
                            .into_u8_vec()
                            .unwrap_or_else(|e| panic!("TIFF output, {kind} tag: {e}")),
                    );
                }
            }
            assert!(
                !decoder.more_images(),
                "a TIFF output of more than one image"
            );
        }
        _ => {}
    }
    // read_blocks's order: icc, exif, xmp, iptc.
    let order = |kind: &str| {
        ["icc", "exif", "xmp", "iptc"]
            .iter()
            .position(|k| *k == kind)
    };
    found.sort_by_key(|(kind, _)| order(kind));
    found
}

/// Panics unless `block` of `kind` parses whole (checked here, not by the command's code).
pub fn whole(kind: &str, block: &[u8]) {
    let result = match kind {
        "icc" => icc_whole(block),
        "exif" => exif_whole(block),
        "xmp" => xmp_whole(block),
        _ => iim_whole(block),
    };
    if let Err(why) = result {
        panic!(
            "the output's {kind} of {} bytes is not whole: {why}",
            block.len()
        );
    }
}

/// ICC: the size it declares held, `acsp`, its tag table and every tag inside that size.
fn icc_whole(icc: &[u8]) -> Result<(), String> {
    let declared = be32(icc, 0).ok_or("shorter than its header")?;
    if declared < 132 || declared > icc.len() {
        return Err(format!("declares {declared} bytes, holds {}", icc.len()));
    }
    if icc.get(36..40) != Some(b"acsp") {
        return Err("no acsp".into());
    }
    let tags = be32(icc, 128).ok_or("no tag count")?;
    if tags
        .checked_mul(12)
        .and_then(|t| t.checked_add(132))
        .is_none_or(|end| end > declared)
    {
        return Err(format!("{tags} tags past its end"));
    }
    for i in 0..tags {
        let entry = 132 + 12 * i;
        let (offset, size) = (be32(icc, entry + 4).unwrap(), be32(icc, entry + 8).unwrap());
        if offset + size > declared {
            return Err(format!("tag {i} at {offset}+{size} past {declared}"));
        }
    }
    Ok(())
}

/// EXIF: a TIFF header; every directory linked (IFD0's chain, the EXIF, GPS and
/// interoperability directories) inside the block and reached once; every value of a
/// known type inside.
fn exif_whole(exif: &[u8]) -> Result<(), String> {
    let little = match exif.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return Err("no TIFF header".into()),
    };
    let u16_at = |at: usize| {
        exif.get(at..at.checked_add(2)?).map(|b| {
            let v = [b[0], b[1]];
            usize::from(if little {
                u16::from_le_bytes(v)
            } else {
                u16::from_be_bytes(v)
            })
        })
    };
    let u32_at = |at: usize| {
        exif.get(at..at.checked_add(4)?).map(|b| {
            let v = [b[0], b[1], b[2], b[3]];
            (if little {
                u32::from_le_bytes(v)
            } else {
                u32::from_be_bytes(v)
            }) as usize
        })
    };
    let mut seen = Vec::new();
    let mut pending = vec![(u32_at(4).ok_or("header cut")?, true)];
    while let Some((ifd, chain)) = pending.pop() {
        if seen.contains(&ifd) {
            return Err(format!("directory {ifd} reached twice"));
        }
        seen.push(ifd);
        let count = u16_at(ifd).ok_or(format!("directory {ifd} past the end"))?;
        if ifd + 2 + 12 * count > exif.len() {
            return Err(format!("directory {ifd} of {count} entries past the end"));
        }
        for i in 0..count {
            let entry = ifd + 2 + 12 * i;
            let (tag, kind, n, value) = (
                u16_at(entry).unwrap(),
                u16_at(entry + 2).unwrap(),
                u32_at(entry + 4).unwrap(),
                u32_at(entry + 8).unwrap(),
            );
            let size = match kind {
                1 | 2 | 6 | 7 => 1,
                3 | 8 => 2,
                4 | 9 | 11 | 13 => 4,
                5 | 10 | 12 => 8,
                _ => continue,
            };
            if n * size > 4 && value + n * size > exif.len() {
                return Err(format!(
                    "tag 0x{tag:04x}: {n} values at {value} past the end"
                ));
            }
            if matches!(tag, 0x8769 | 0x8825 | 0xA005) && matches!(kind, 4 | 13) && n == 1 {
                pending.push((value, false));
            }
        }
        if chain {
            if let Some(next) = u32_at(ifd + 2 + 12 * count).filter(|&n| n != 0) {
                pending.push((next, true));
            }
        }
    }
    Ok(())
}

/// XMP: UTF-8 XML, one root element, elements closed in order, only white space (and
/// NUL padding) outside the root, comments and processing instructions anywhere.
fn xmp_whole(xmp: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(xmp).map_err(|e| e.to_string())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut stack: Vec<&[u8]> = Vec::new();
    let mut roots = 0;
    let mut at = 0;
    let find = |from: usize, what: &[u8]| {
        bytes[from..]
            .windows(what.len())
            .position(|w| w == what)
            .map(|p| from + p + what.len())
    };
    while at < bytes.len() {
        let c = bytes[at];
        if c != b'<' {
            if stack.is_empty() && !(c.is_ascii_whitespace() || c == 0) {
                return Err(format!("text outside the root at {at}"));
            }
            at += 1;
            continue;
        }
        let rest = &bytes[at..];
        if rest.starts_with(b"<?") {
            at = find(at + 2, b"?>").ok_or("cut in a processing instruction")?;
        } else if rest.starts_with(b"<!--") {
            at = find(at + 4, b"-->").ok_or("cut in a comment")?;
        } else if rest.starts_with(b"<![CDATA[") && !stack.is_empty() {
            at = find(at + 9, b"]]>").ok_or("cut in CDATA")?;
        } else if rest.starts_with(b"<!") {
            return Err("a declaration".into());
        } else if rest.starts_with(b"</") {
            let end = find(at + 2, b">").ok_or("cut in an end tag")?;
            let name = text[at + 2..end - 1].trim_end().as_bytes();
            if stack.pop() != Some(name) {
                return Err(format!("</{}> out of order", String::from_utf8_lossy(name)));
            }
            at = end;
        } else {
            let name_end = rest[1..]
                .iter()
                .position(|&c| c.is_ascii_whitespace() || c == b'/' || c == b'>')
                .map(|p| at + 1 + p)
                .ok_or("cut in a tag")?;
            if name_end == at + 1 {
                return Err("a '<' without a name".into());
            }
            let mut quote = None;
            let mut end = None;
            for (i, &c) in bytes[name_end..].iter().enumerate() {
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'"' || c == b'\'' => quote = Some(c),
                    None if c == b'>' => {
                        end = Some(name_end + i);
                        break;
                    }
                    None if c == b'<' => return Err("'<' in a tag".into()),
                    None => {}
                }
            }
            let end = end.ok_or("cut in a tag")?;
            if stack.is_empty() {
                roots += 1;
                if roots > 1 {
                    return Err("two roots".into());
                }
            }
            if bytes[end - 1] != b'/' {
                stack.push(&bytes[at + 1..name_end]);
            }
            at = end + 1;
        }
    }
    if !stack.is_empty() {
        return Err("an element left open".into());
    }
    if roots == 0 {
        return Err("no element".into());
    }
    Ok(())
}

/// IPTC-IIM: whole datasets (0x1C, record, dataset, 16-bit length, data), then at most
/// zero padding.
fn iim_whole(iim: &[u8]) -> Result<(), String> {
    let mut at = 0;
    while at < iim.len() {
        if iim[at] != 0x1C {
            return if at > 0 && iim[at..].iter().all(|&b| b == 0) {
                Ok(())
            } else {
                Err(format!("no dataset at {at}"))
            };
        }
        let len = be16(iim, at + 3).ok_or("a dataset header cut")?;
        if len & 0x8000 != 0 {
            return Err("an extended dataset".into());
        }
        at += 5 + len;
    }
    if at == iim.len() && at > 0 {
        Ok(())
    } else {
        Err("the last dataset cut".into())
    }
}

// ---- The encoders target ----

/// Reads fuzz bytes as numbers; zeros once exhausted.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
}

/// Large images (JPEG in strips) take a while: at most one in this many layouts.
const LARGE: u8 = 0xFF;

/// An image from the fuzz bytes: layout, size, then samples (the rest, repeated).
fn image_from(b: &mut Bytes<'_>, format: ImageFormat) -> DynamicImage {
    use DynamicImage as D;
    let layout = b.u8();
    let (w, h) = if layout == LARGE && format == ImageFormat::Jpeg {
        // Just over the strip encoder's threshold (1 MP; 4,096 pixels in fuzz builds):
        // encoded in strips on every thread, joined by restart markers. Widths from a
        // sixteenth to over four times the threshold's square side, none a multiple of every
        // MCU width; flat 64x64 tiles (below), since only the geometry matters to the strips.
        let side = (super::jpeg::SPLIT_FROM_PIXELS as f64).sqrt() as u32;
        let w = side / 4 * u32::from(b.u8() % 16) + side / 16 + u32::from(b.u8() % 16);
        (
            w,
            super::jpeg::SPLIT_FROM_PIXELS as u32 / w + 1 + u32::from(b.u8() % 16),
        )
    } else {
        (1 + u32::from(b.u8() % 64), 1 + u32::from(b.u8() % 64))
    };
    let raw_floats = layout & 0x40 != 0;
    let samples = b.0;
    let sample = |i: usize| {
        samples
            .get(i % samples.len().max(1))
            .copied()
            .unwrap_or(0x80)
    };
    let n = (w * h) as usize;
    if layout == LARGE {
        let row = w as usize * 3;
        let buf: Vec<u8> = (0..n * 3)
            .map(|i| sample((i % row) / 192 + (i / row) / 64 * 67 + i % 3))
            .collect();
        return D::ImageRgb8(image::RgbImage::from_raw(w, h, buf).unwrap());
    }
    match layout % 6 {
        0 => {
            D::ImageRgb8(image::RgbImage::from_raw(w, h, (0..n * 3).map(sample).collect()).unwrap())
        }
        1 => D::ImageRgba8(
            image::RgbaImage::from_raw(w, h, (0..n * 4).map(sample).collect()).unwrap(),
        ),
        2 | 3 => {
            let c = if layout % 6 == 2 { 3 } else { 4 };
            let buf: Vec<u16> = (0..n * c)
                .map(|i| u16::from_le_bytes([sample(2 * i), sample(2 * i + 1)]))
                .collect();
            if c == 3 {
                D::ImageRgb16(image::ImageBuffer::from_raw(w, h, buf).unwrap())
            } else {
                D::ImageRgba16(image::ImageBuffer::from_raw(w, h, buf).unwrap())
            }
        }
        _ => {
            let c = if layout % 6 == 4 { 3 } else { 4 };
            // Colorized float pixels are within 0..=1; raw bits (NaN, infinities, any
            // value) must still encode.
            let buf: Vec<f32> = (0..n * c)
                .map(|i| {
                    let bytes = [
                        sample(4 * i),
                        sample(4 * i + 1),
                        sample(4 * i + 2),
                        sample(4 * i + 3),
                    ];
                    if raw_floats {
                        f32::from_le_bytes(bytes)
                    } else {
                        f32::from(u16::from_le_bytes([bytes[0], bytes[1]])) / 65535.0
                    }
                })
                .collect();
            if c == 3 {
                D::ImageRgb32F(image::ImageBuffer::from_raw(w, h, buf).unwrap())
            } else {
                D::ImageRgba32F(image::ImageBuffer::from_raw(w, h, buf).unwrap())
            }
        }
    }
}

/// One image through one of the command's output encoders. See the module doc.
pub fn encoders(data: &[u8]) {
    let mut b = Bytes(data);
    let format = OUTPUT_FORMATS[usize::from(b.u8()) % OUTPUT_FORMATS.len()];
    let options = b.u8();
    let settings = settings_from(options);
    // What a JPEG or TIFF input would have left as the defaults, and a resolution.
    let mut carried = Carried::default();
    let defaults = b.u8();
    carried.jpeg_quality = (defaults & 1 != 0).then_some(b.u8());
    carried.jpeg_subsampling = [
        None,
        Some(Subsampling::S444),
        Some(Subsampling::S422),
        Some(Subsampling::S420),
    ][usize::from((defaults >> 1) & 3)];
    carried.tiff_compression = [
        None,
        Some(TiffCompression::Lzw),
        Some(TiffCompression::Deflate),
        None,
    ][usize::from((defaults >> 3) & 3)];
    if defaults & 0x20 != 0 {
        let (x, y, d) = (b.u16().max(1), b.u16().max(1), b.u8().max(1));
        carried.dpi = Some((f64::from(x) / f64::from(d), f64::from(y) / f64::from(d)));
    }
    let image = image_from(&mut b, format);
    let (w, h) = (image.width(), image.height());
    let out = cli::encode(&image, format, &carried, &settings)
        .unwrap_or_else(|e| panic!("{w}x{h} {:?} as {format:?}: {e}", image.color()));
    let back = decode_back(&out, &format!("a {w}x{h} {:?} {format:?}", image.color()));
    assert!(
        (back.width(), back.height()) == (w, h),
        "{format:?} of {w}x{h} decodes as {}x{}",
        back.width(),
        back.height()
    );
    match stored_pixels(&image, format) {
        Some(stored) => {
            assert!(
                same_pixels(&back, &stored),
                "{format:?} of {w}x{h} {:?} does not give back its pixels: {}",
                image.color(),
                difference(&back, &stored)
            );
            // Raw samples, plus framing: PNG's filter byte per row and zlib's stored
            // blocks; TIFF's LZW may grow incompressible data by up to 12 bits per byte.
            let raw = raw_bytes(&stored);
            let lzw = format == ImageFormat::Tiff
                && carried.tiff_compression == Some(TiffCompression::Lzw);
            let bound = if lzw { raw * 3 / 2 } else { raw + raw / 64 } + 2 * h as usize + 1024;
            assert!(
                out.len() <= bound,
                "{format:?} of {w}x{h} {:?}: {} bytes for {raw} bytes of samples",
                stored.color(),
                out.len()
            );
        }
        None => {
            // JPEG (8-bit RGB) and GIF (a palette byte per pixel, LZW codes up to 12 bits).
            let n = w as usize * h as usize;
            let bound = if format == ImageFormat::Gif {
                n * 2
            } else {
                n * 3 * 2
            } + 2048;
            assert!(
                out.len() <= bound,
                "{format:?} of {w}x{h}: {} bytes",
                out.len()
            );
        }
    }
}

// ---- Seeds (written by tests/fuzz_regressions.rs with COLORIZE_REGENERATE_FUZZ_SEEDS=1) ----

/// EXIF with an orientation (6) in IFD0, an EXIF directory with a date, `little`-endian or not.
fn seed_exif(little: bool, orientation: u16) -> Vec<u8> {
    let mut e = Vec::new();
    let u16b = |v: u16| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let u32b = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    e.extend_from_slice(if little { b"II*\0" } else { b"MM\0*" });
    e.extend_from_slice(&u32b(8));
    // IFD0 at 8: 2 entries, next 0; EXIF IFD at 8 + 2 + 24 + 4 = 38: 1 entry; date at 56.
    e.extend_from_slice(&u16b(2));
    for (tag, kind, n, value) in [
        (0x0112u16, 3u16, 1u32, u32::from(orientation)),
        (0x8769, 4, 1, 38),
    ] {
        e.extend_from_slice(&u16b(tag));
        e.extend_from_slice(&u16b(kind));
        e.extend_from_slice(&u32b(n));
        if kind == 3 {
            e.extend_from_slice(&u16b(value as u16));
            e.extend_from_slice(&[0, 0]);
        } else {
            e.extend_from_slice(&u32b(value));
        }
    }
    e.extend_from_slice(&u32b(0));
    e.extend_from_slice(&u16b(1));
    e.extend_from_slice(&u16b(0x9003));
    e.extend_from_slice(&u16b(2));
    e.extend_from_slice(&u32b(20));
    e.extend_from_slice(&u32b(56));
    e.extend_from_slice(&u32b(0));
    e.extend_from_slice(b"2026:12:07 12:00:00\0");
    e
}

const SEED_XMP: &str = "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\
<rdf:Description rdf:about=\"\" xmlns:tiff=\"http://ns.adobe.com/tiff/1.0/\" tiff:Orientation=\"6\">\
<dc:title xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><rdf:Alt><rdf:li xml:lang=\"x-default\">a &amp; b</rdf:li></rdf:Alt></dc:title>\
</rdf:Description></rdf:RDF></x:xmpmeta>\n   \n<?xpacket end=\"w\"?>";

/// IPTC-IIM: a caption and a keyword.
fn seed_iptc() -> Vec<u8> {
    let mut iim = Vec::new();
    for (dataset, text) in [(0x78u8, &b"a caption"[..]), (0x19, b"keyword")] {
        iim.extend_from_slice(&[0x1C, 2, dataset]);
        iim.extend_from_slice(&(text.len() as u16).to_be_bytes());
        iim.extend_from_slice(text);
    }
    iim
}

/// The seeds of the `metadata` and `encoders` targets: (target, name, bytes).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use moxcms::ColorProfile;
    let mut out = Vec::new();
    let rgb = DynamicImage::ImageRgb8(image::RgbImage::from_fn(12, 8, |x, y| {
        image::Rgb([(x * 20) as u8, (y * 30) as u8, ((x + y) * 10) as u8])
    }));
    let grey = DynamicImage::ImageLuma8(rgb.to_luma8());
    let grey16 = DynamicImage::ImageLuma16(rgb.to_luma16());
    let rgba = DynamicImage::ImageRgba8(rgb.to_rgba8());
    let full = |icc: Option<Vec<u8>>, little: bool| {
        let mut c = Carried::default();
        c.icc = icc;
        c.exif = Some(seed_exif(little, 6));
        c.xmp = Some(SEED_XMP.as_bytes().to_vec());
        c.iptc = Some(seed_iptc());
        c.dpi = Some((300.0, 240.0));
        c
    };
    let srgb = super::profile::srgb_icc();
    let p3 = ColorProfile::new_display_p3().encode().unwrap();
    let gray_icc = ColorProfile::new_gray_with_gamma(2.2).encode().unwrap();
    let plain = Settings {
        quality: None,
        subsampling: None,
    };
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for (format, ext) in [
        (ImageFormat::Jpeg, "jpg"),
        (ImageFormat::Png, "png"),
        (ImageFormat::Tiff, "tif"),
        (ImageFormat::WebP, "webp"),
    ] {
        for (name, image, carried) in [
            ("srgb", &rgb, full(Some(srgb.clone()), true)),
            ("p3", &rgb, full(Some(p3.clone()), false)),
            ("grey", &grey, full(Some(gray_icc.clone()), true)),
            ("grey16", &grey16, full(None, false)),
            ("rgba", &rgba, full(None, true)),
        ] {
            let mut carried = carried;
            carried.xmp_compressed = name == "grey";
            let bytes = cli::encode(image, format, &carried, &plain).unwrap();
            inputs.push((format!("{name}.{ext}"), bytes));
        }
    }
    for (format, ext) in [
        (ImageFormat::Gif, "gif"),
        (ImageFormat::Pnm, "ppm"),
        (ImageFormat::Bmp, "bmp"),
    ] {
        inputs.push((
            format!("plain.{ext}"),
            colorize::io::encode(&rgb, format).unwrap(),
        ));
    }
    // Hostile blocks: an EXIF whose directory links itself, garbage as an ICC profile, a
    // Photoshop resource past its end, text chunks after the image data.
    let mut looped = seed_exif(true, 3);
    looped[30..34].copy_from_slice(&8u32.to_le_bytes());
    let jpeg = colorize::io::encode(&rgb, ImageFormat::Jpeg).unwrap();
    let with_segments = |segments: &[(u8, Vec<u8>)]| {
        let mut b = jpeg[..2].to_vec();
        for (n, data) in segments {
            b.extend_from_slice(&[0xFF, 0xE0 + n]);
            b.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
            b.extend_from_slice(data);
        }
        b.extend_from_slice(&jpeg[2..]);
        b
    };
    inputs.push((
        "exif-loop.jpg".into(),
        with_segments(&[(1, [&b"Exif\0\0"[..], &looped].concat())]),
    ));
    inputs.push((
        "icc-garbage.jpg".into(),
        with_segments(&[(2, [&b"ICC_PROFILE\0\x01\x01"[..], &[7u8; 200]].concat())]),
    ));
    inputs.push((
        "iptc-past-end.jpg".into(),
        with_segments(&[(
            13,
            [
                &b"Photoshop 3.0\08BIM\x04\x04\0\0\x7f\xff\xff\xff"[..],
                &seed_iptc(),
            ]
            .concat(),
        )]),
    ));
    let png = colorize::io::encode(&grey, ImageFormat::Png).unwrap();
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&crc32fast::hash(&c[4..]).to_be_bytes());
        c
    };
    let raw = |name: &str, data: &[u8]| {
        let mut t = format!("\n{name}\n{:8}\n", data.len());
        for b in data {
            t.push_str(&format!("{b:02x}"));
        }
        t.push('\n');
        t
    };
    let deflated = |data: &[u8]| {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let iend = png.len() - 12;
    let mut text_after = png[..iend].to_vec();
    text_after.extend(chunk(
        b"zTXt",
        &[
            &b"Raw profile type exif\0\0"[..],
            &deflated(raw("exif", &[&b"Exif\0\0"[..], &seed_exif(false, 8)].concat()).as_bytes()),
        ]
        .concat(),
    ));
    text_after.extend(chunk(
        b"tEXt",
        &[
            &b"Raw profile type iptc\0"[..],
            raw("iptc", &seed_iptc()).as_bytes(),
        ]
        .concat(),
    ));
    text_after.extend_from_slice(&png[iend..]);
    inputs.push(("text-after-idat.png".into(), text_after));

    // Each input to a few outputs: its own format's, PNG, JPEG at quality 50 4:2:0; and
    // with --strip and with --keep-profile.
    for (name, bytes) in &inputs {
        for (choice, options, tag) in [
            (1u8, 0u8, "png"),
            (0, 0x80 | 1 | (3 << 2), "jpg-q50-420"),
            (2, 0, "tif"),
            (3, 0, "webp"),
            (1 | 8, 0, "png-strip"),
            (0 | 16, 0, "jpg-keep-profile"),
        ] {
            let mut seed = vec![choice, options];
            seed.extend_from_slice(bytes);
            out.push(("metadata", format!("{name}-to-{tag}"), seed));
        }
    }

    // Encoders: each format with each layout, at a size that is not a multiple of 8.
    for (f, format) in OUTPUT_FORMATS.iter().enumerate() {
        for layout in 0..6u8 {
            let mut seed = vec![f as u8, 0, 0, layout, 12, 6];
            seed.extend((0..64u32).map(|i| (i * 37 % 251) as u8));
            out.push((
                "encoders",
                format!("{format:?}-layout{layout}").to_lowercase(),
                seed,
            ));
        }
    }
    // JPEG at each quality and subsampling, TIFF with LZW, a resolution; raw float bits;
    // one JPEG over 1 MP (in strips).
    for (name, seed) in [
        ("jpeg-q1-422", vec![0, 0x80 | 2 << 2, 0, 0, 20, 20]),
        ("jpeg-q100-420", vec![0, 0x80 | 3 | 3 << 2, 0, 0, 33, 17]),
        ("jpeg-input-defaults", vec![0, 0, 1 | 3 << 1, 75, 0, 9, 40]),
        ("tiff-lzw", vec![2, 0, 1 << 3, 2, 63, 63]),
        ("png-dpi", vec![1, 0, 0x20, 0x2c, 1, 0x2c, 1, 3, 0, 5, 5]),
        (
            "tiff-raw-floats",
            vec![2, 0, 0, 0x40 | 1, 9, 9, 0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0xff],
        ),
        ("jpeg-strips", vec![0, 0, 0, LARGE, 3, 5, 7]),
    ] {
        let mut seed = seed;
        seed.extend((0..64u32).map(|i| (i * 53 % 241) as u8));
        out.push(("encoders", name.to_string(), seed));
    }
    out
}
