//! Hostile metadata against the `colorize` command (issue 26): fourteen small files whose
//! carried blocks are malformed or bombs, each generated here (the zlib bombs streamed by
//! flate2 from a short repeated pattern). For each: the documented exit status (0 with the
//! block dropped and a note naming it; 1 with a clear error where the file itself is
//! broken), no panic, no output left on an error, bounded memory; an output decodes to
//! the same pixels as a `--strip` run, is no larger than its pixels plus the metadata caps,
//! and every block it carries parses whole (docs/reliability.md, "Carried metadata:
//! limits").

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::CliFixture as Fixture;
use common::{png_chunk, run_bounded, text};

/// docs/reliability.md: all carried blocks together.
const TOTAL_CAP: u64 = 6 << 20;
const W: u32 = 48;
const H: u32 = 32;

/// A grey photo with texture.
fn grey() -> image::DynamicImage {
    image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(W, H, |x, y| {
        image::Luma([(40 + (x * 3 + y * 5 + (x * y) % 7) % 180) as u8])
    }))
}

fn encoded(image: &image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// A grey JPEG with `segments` (marker, payload) right after its SOI.
fn jpeg_with(segments: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let base = encoded(&grey(), image::ImageFormat::Jpeg);
    let mut out = base[..2].to_vec();
    for (marker, payload) in segments {
        let len = u16::try_from(payload.len() + 2).unwrap();
        out.extend_from_slice(&[0xFF, *marker]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(payload);
    }
    out.extend_from_slice(&base[2..]);
    out
}

/// A grey PNG with `chunks` right after IHDR (8 + 25 bytes).
fn png_with(chunks: &[Vec<u8>]) -> Vec<u8> {
    let base = encoded(&grey(), image::ImageFormat::Png);
    let mut out = base[..33].to_vec();
    for chunk in chunks {
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&base[33..]);
    out
}

/// A zlib stream of `prefix`, `pattern` repeated `times` and `suffix`, compressed as it
/// is streamed (never held whole).
fn zlib_bomb(prefix: &[u8], pattern: &[u8], times: usize, suffix: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(prefix).unwrap();
    let block = pattern.repeat((1 << 20) / pattern.len());
    let per_block = (1 << 20) / pattern.len();
    let mut left = times;
    while left > 0 {
        let n = left.min(per_block);
        z.write_all(&block[..n * pattern.len()]).unwrap();
        left -= n;
    }
    z.write_all(suffix).unwrap();
    z.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).unwrap();
    z.finish().unwrap()
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(64 << 20)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// EXIF (little-endian TIFF) with IFD0 at 8 holding `entries` (tag, type, count, value
/// or offset), then the link to the next directory; `tail` follows.
fn exif(entries: &[(u16, u16, u32, u32)], next: u32, tail: &[u8]) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for &(tag, kind, count, value) in entries {
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&next.to_le_bytes());
    out.extend_from_slice(tail);
    out
}

/// Orientation 1 (SHORT), the entry every camera writes.
const ORIENTATION: (u16, u16, u32, u32) = (0x0112, 3, 1, 1);

fn exif_segment(exif: &[u8]) -> (u8, Vec<u8>) {
    (0xE1, [b"Exif\0\0".as_slice(), exif].concat())
}

const XMP_PREFIX: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// A whole XMP packet with `body` inside its rdf:Description element.
fn xmp_packet(attributes: &str, body: &str) -> String {
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n<x:xmpmeta \
         xmlns:x=\"adobe:ns:meta/\"><rdf:RDF \
         xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description \
         rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" {attributes}>{body}\
         </rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end=\"w\"?>"
    )
}

/// An ICC profile that is not sRGB, as a camera or editor embeds it.
fn adobe_icc() -> Vec<u8> {
    moxcms::ColorProfile::new_adobe_rgb().encode().unwrap()
}

fn icc_segment(sequence: u8, count: u8, data: &[u8]) -> (u8, Vec<u8>) {
    let mut payload = b"ICC_PROFILE\0".to_vec();
    payload.extend_from_slice(&[sequence, count]);
    payload.extend_from_slice(data);
    (0xE2, payload)
}

fn riff_chunk(out: &mut Vec<u8>, kind: &[u8], declared: u32, data: &[u8]) {
    out.extend_from_slice(kind);
    out.extend_from_slice(&declared.to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

// ---- What an output carries, read back independently of the command's own reader ----

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// The metadata blocks of an output file: ("exif" | "xmp" | "icc" | "iptc", bytes); an
/// ICC profile split over JPEG segments is joined (its numbering checked on the way).
fn blocks(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    match image::guess_format(bytes).unwrap() {
        image::ImageFormat::Jpeg => {
            let mut icc = Vec::new();
            let mut at = 2;
            while bytes[at] == 0xFF && !matches!(bytes[at + 1], 0xDA | 0xD9) {
                let len = be16(bytes, at + 2);
                let payload = &bytes[at + 4..at + 2 + len];
                match bytes[at + 1] {
                    0xE1 if payload.starts_with(b"Exif\0\0") => {
                        out.push(("exif", payload[6..].to_vec()))
                    }
                    0xE1 if payload.starts_with(XMP_PREFIX) => {
                        out.push(("xmp", payload[XMP_PREFIX.len()..].to_vec()))
                    }
                    0xE1 => panic!("an APP1 segment neither EXIF nor XMP"),
                    0xE2 if payload.starts_with(b"ICC_PROFILE\0") => {
                        icc.push((payload[12], payload[13], payload[14..].to_vec()))
                    }
                    0xED => out.push(("iptc", payload.to_vec())),
                    _ => {}
                }
                at += 2 + len;
            }
            if !icc.is_empty() {
                let count = icc.len();
                for (i, (sequence, n, _)) in icc.iter().enumerate() {
                    assert_eq!((*sequence as usize, *n as usize), (i + 1, count));
                }
                out.push(("icc", icc.into_iter().flat_map(|(_, _, d)| d).collect()));
            }
        }
        image::ImageFormat::Png => {
            let mut at = 8;
            while at + 8 <= bytes.len() {
                let len = be32(bytes, at);
                let kind = &bytes[at + 4..at + 8];
                let data = &bytes[at + 8..at + 8 + len];
                match kind {
                    b"iCCP" => {
                        let nul = data.iter().position(|&c| c == 0).unwrap();
                        out.push(("icc", inflate(&data[nul + 2..])));
                    }
                    b"eXIf" => out.push(("exif", data.to_vec())),
                    b"iTXt" => {
                        assert!(
                            data.starts_with(b"XML:com.adobe.xmp\0"),
                            "an iTXt: {kind:?}"
                        );
                        let rest = &data[18..];
                        let text = &rest[4..];
                        out.push((
                            "xmp",
                            if rest[0] == 1 {
                                inflate(text)
                            } else {
                                text.to_vec()
                            },
                        ));
                    }
                    b"zTXt" | b"tEXt" => out.push(("iptc", data.to_vec())),
                    _ => {}
                }
                at += 12 + len;
            }
        }
        image::ImageFormat::WebP => {
            let mut at = 12;
            while at + 8 <= bytes.len() {
                let len = le32(bytes, at + 4);
                let data = bytes[at + 8..at + 8 + len].to_vec();
                match &bytes[at..at + 4] {
                    b"ICCP" => out.push(("icc", data)),
                    b"EXIF" => out.push(("exif", data)),
                    b"XMP " => out.push(("xmp", data)),
                    _ => {}
                }
                at += 8 + ((len + 1) & !1);
            }
        }
        image::ImageFormat::Tiff => {
            use tiff::tags::Tag;
            let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(bytes)).unwrap();
            for (name, tag) in [
                ("icc", Tag::IccProfile),
                ("xmp", Tag::Unknown(700)),
                ("iptc", Tag::Unknown(33723)),
            ] {
                if let Some(value) = decoder.find_tag(tag).unwrap() {
                    out.push((name, value.into_u8_vec().unwrap()));
                }
            }
        }
        other => panic!("{other:?}"),
    }
    out
}

/// EXIF parses whole: TIFF header, every directory linked (IFD0's chain, EXIF, GPS and
/// interoperability directories) inside the block and reached once, every value inside.
fn exif_whole(exif: &[u8]) -> bool {
    let little = match &exif[..4] {
        b"II*\0" => true,
        b"MM\0*" => false,
        _ => return false,
    };
    let u16_at = |at: usize| {
        exif.get(at..at + 2).map(|b| {
            let v = [b[0], b[1]];
            usize::from(if little {
                u16::from_le_bytes(v)
            } else {
                u16::from_be_bytes(v)
            })
        })
    };
    let u32_at = |at: usize| {
        exif.get(at..at + 4).map(|b| {
            let v = [b[0], b[1], b[2], b[3]];
            (if little {
                u32::from_le_bytes(v)
            } else {
                u32::from_be_bytes(v)
            }) as usize
        })
    };
    let mut seen = Vec::new();
    let mut pending = vec![(u32_at(4).unwrap(), true)];
    while let Some((ifd, chain)) = pending.pop() {
        if seen.contains(&ifd) {
            return false;
        }
        seen.push(ifd);
        let Some(count) = u16_at(ifd) else {
            return false;
        };
        for i in 0..count {
            let entry = ifd + 2 + 12 * i;
            let (Some(tag), Some(kind), Some(n), Some(value)) = (
                u16_at(entry),
                u16_at(entry + 2),
                u32_at(entry + 4),
                u32_at(entry + 8),
            ) else {
                return false;
            };
            let size = match kind {
                1 | 2 | 6 | 7 => 1,
                3 | 8 => 2,
                4 | 9 | 11 | 13 => 4,
                _ => 8,
            };
            if n * size > 4 && value + n * size > exif.len() {
                return false;
            }
            if matches!(tag, 0x8769 | 0x8825 | 0xA005) {
                pending.push((value, false));
            }
        }
        match u32_at(ifd + 2 + 12 * count) {
            Some(next) if next != 0 && chain => pending.push((next, true)),
            _ => {}
        }
    }
    true
}

/// An XMP packet is whole: its x:xmpmeta element closed, and the packet wrapper's end
/// when it has its beginning.
fn xmp_whole(xmp: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(xmp) else {
        return false;
    };
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    let closed = text.contains("</x:xmpmeta>");
    if text.starts_with("<?xpacket begin") {
        closed
            && (text.ends_with("<?xpacket end=\"w\"?>") || text.ends_with("<?xpacket end=\"r\"?>"))
    } else {
        closed && text.ends_with("</x:xmpmeta>")
    }
}

/// An ICC profile is whole: it holds the size it declares, with its signature.
fn icc_whole(icc: &[u8]) -> bool {
    icc.len() >= 132 && be32(icc, 0) == icc.len() && &icc[36..40] == b"acsp"
}

/// What a case must end in.
enum Expect {
    /// Exit 0, stderr holding this note; the output checked against a --strip run.
    Colorized(&'static str),
    /// Exit 1, stderr holding this message; no output.
    Refused(&'static str),
}

/// Runs the command on `input` (written as `in.EXT`, the output `out.EXT` in the same
/// format) and checks everything the module's header says. Returns the output's blocks.
fn check(ext: &str, input: &[u8], expect: Expect) -> Vec<(&'static str, Vec<u8>)> {
    let f = Fixture::new();
    let (input_name, output_name) = (format!("in.{ext}"), format!("out.{ext}"));
    std::fs::write(f.path(&input_name), input).unwrap();
    let started = Instant::now();
    let run = |args: &[&str]| {
        let mut command = f.command();
        command.args(args);
        run_bounded(command, Duration::from_secs(60))
    };
    let (out, peak) = run(&[&input_name, "-o", &output_name]);
    let said = text(&out);
    eprintln!(
        "{ext} input of {} bytes: exit {:?} in {:.2} s, peak {} MB: {}",
        input.len(),
        out.status.code(),
        started.elapsed().as_secs_f64(),
        peak >> 20,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    assert!(!said.contains("panicked"), "{said}");
    assert!(peak < 400 << 20, "peak {} MB: {said}", peak >> 20);
    match expect {
        Expect::Refused(message) => {
            assert_eq!(out.status.code(), Some(1), "{said}");
            assert!(said.contains(message), "expected '{message}': {said}");
            let left: Vec<_> = std::fs::read_dir(f.dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|name| name != &input_name && name != "spatial.onnx")
                .collect();
            assert!(left.is_empty(), "left behind: {left:?}");
            Vec::new()
        }
        Expect::Colorized(note) => {
            assert_eq!(out.status.code(), Some(0), "{said}");
            assert!(said.contains(note), "expected the note '{note}': {said}");
            let strip_name = format!("strip.{ext}");
            let (stripped, _) = run(&[&input_name, "-o", &strip_name, "--strip"]);
            assert_eq!(stripped.status.code(), Some(0), "{}", text(&stripped));
            // --strip carries nothing, so says nothing of what it would not carry; a dropped
            // profile changes the pixels, so that is said with --strip too.
            assert_eq!(
                text(&stripped).contains("note:"),
                note.contains("ICC profile"),
                "{}",
                text(&stripped)
            );
            let output = std::fs::read(f.path(&output_name)).unwrap();
            let strip = std::fs::read(f.path(&strip_name)).unwrap();
            let decode = |bytes: &[u8]| image::load_from_memory(bytes).unwrap();
            let (a, b) = (decode(&output), decode(&strip));
            assert_eq!((a.width(), a.height()), (b.width(), b.height()));
            assert!(
                a.as_bytes() == b.as_bytes(),
                "pixels differ from the --strip run"
            );
            let pixels = u64::from(a.width()) * u64::from(a.height());
            let size = output.len() as u64;
            assert!(
                size < pixels * 3 * 2 + TOTAL_CAP,
                "{size} bytes for {pixels} pixels"
            );
            // The dropped block took nothing with it: what is left is small.
            assert!(
                size < strip.len() as u64 + 64 * 1024,
                "{size} bytes, {} with --strip",
                strip.len()
            );
            let blocks = blocks(&output);
            for (kind, data) in &blocks {
                let whole = match *kind {
                    "exif" => exif_whole(data),
                    "xmp" => xmp_whole(data),
                    "icc" => icc_whole(data),
                    _ => true,
                };
                assert!(whole, "{kind} of {} bytes carried not whole", data.len());
            }
            blocks
        }
    }
}

fn kinds(blocks: &[(&'static str, Vec<u8>)]) -> Vec<&'static str> {
    blocks.iter().map(|(kind, _)| *kind).collect()
}

#[test]
fn jpeg_exif_with_an_ifd_loop_is_dropped() {
    let loop_exif = exif(&[ORIENTATION], 8, &[]);
    let blocks = check(
        "jpg",
        &jpeg_with(&[exif_segment(&loop_exif)]),
        Expect::Colorized("its EXIF (JPEG APP1 segment) links its directory at offset 8 twice"),
    );
    assert!(!kinds(&blocks).contains(&"exif"));
}

#[test]
fn jpeg_exif_with_offsets_past_its_end_is_dropped() {
    // Make: 100 ASCII characters at offset 5000 of a 38-byte block.
    let past = exif(&[ORIENTATION, (0x010F, 2, 100, 5000)], 0, &[]);
    let blocks = check(
        "jpg",
        &jpeg_with(&[exif_segment(&past)]),
        Expect::Colorized("its EXIF (JPEG APP1 segment) has an entry (tag 0x010f) of 100 values"),
    );
    assert!(!kinds(&blocks).contains(&"exif"));
}

#[test]
fn jpeg_exif_with_a_2_pow_30_element_entry_is_dropped() {
    let huge = exif(&[ORIENTATION, (0x9286, 4, 1 << 30, 38)], 0, &[0; 16]);
    let blocks = check(
        "jpg",
        &jpeg_with(&[exif_segment(&huge)]),
        Expect::Colorized("of 1073741824 values at offset 38, past its end"),
    );
    assert!(!kinds(&blocks).contains(&"exif"));
}

#[test]
fn jpeg_icc_chunks_out_of_sequence_are_dropped() {
    let icc = adobe_icc();
    let (first, second) = icc.split_at(icc.len() / 2);
    let blocks = check(
        "jpg",
        &jpeg_with(&[icc_segment(1, 2, first), icc_segment(3, 2, second)]),
        Expect::Colorized(
            "its ICC profile (JPEG APP2 segments) is in 2 chunks numbered 1 of 2, 3 of 2, not 1 \
             to 2 once each; dropped, and its pixels are taken as sRGB",
        ),
    );
    assert!(!kinds(&blocks).contains(&"icc"));
}

#[test]
fn jpeg_garbage_icc_is_dropped() {
    let mut state = 0x2545F4914F6CDD1Du64;
    let garbage: Vec<u8> = (0..600)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let blocks = check(
        "jpg",
        &jpeg_with(&[icc_segment(1, 1, &garbage)]),
        Expect::Colorized("its ICC profile (JPEG APP2 segments) has no 'acsp' signature"),
    );
    assert!(!kinds(&blocks).contains(&"icc"));
}

#[test]
fn jpeg_extended_xmp_with_bad_offsets_is_not_carried_and_the_main_packet_is() {
    let guid = "0123456789ABCDEF0123456789ABCDEF";
    let main = xmp_packet(
        &format!(
            "xmlns:xmpNote=\"http://ns.adobe.com/xmp/note/\" xmpNote:HasExtendedXMP=\"{guid}\""
        ),
        "<dc:format>image/jpeg</dc:format>",
    );
    let mut segments = vec![(0xE1, [XMP_PREFIX, main.as_bytes()].concat())];
    // Full length 1000; offsets past it and near 2^32.
    for offset in [5000u32, 0xFFFF_FFF0, 999] {
        let mut payload = b"http://ns.adobe.com/xmp/extension/\0".to_vec();
        payload.extend_from_slice(guid.as_bytes());
        payload.extend_from_slice(&1000u32.to_be_bytes());
        payload.extend_from_slice(&offset.to_be_bytes());
        payload.extend_from_slice(&[b'x'; 200]);
        segments.push((0xE1, payload));
    }
    let blocks = check(
        "jpg",
        &jpeg_with(&segments),
        Expect::Colorized(
            "its XMP packet (extended XMP, 3 JPEG APP1 segment(s)) is not read: only the main \
             packet is carried; dropped from the output",
        ),
    );
    let xmp: Vec<_> = blocks.iter().filter(|(kind, _)| *kind == "xmp").collect();
    assert_eq!(xmp.len(), 1, "the main packet is carried");
    assert_eq!(xmp[0].1, main.as_bytes(), "whole and unchanged");
}

#[test]
fn jpeg_photoshop_iptc_of_2_gib_is_dropped() {
    let mut payload = b"Photoshop 3.0\08BIM".to_vec();
    payload.extend_from_slice(&0x0404u16.to_be_bytes());
    payload.extend_from_slice(&[0, 0]);
    payload.extend_from_slice(&0x8000_0000u32.to_be_bytes());
    payload.extend_from_slice(&[0x1C, 2, 5, 0, 3, b'a', b'b', b'c']);
    let blocks = check(
        "jpg",
        &jpeg_with(&[(0xED, payload)]),
        Expect::Colorized("resource 0x0404 declares 2147483648 bytes, past their end"),
    );
    assert!(!kinds(&blocks).contains(&"iptc"));
}

#[test]
fn png_exif_with_a_loop_is_dropped() {
    // IFD0's EXIF-directory link (0x8769) points at IFD0 itself.
    let loop_exif = exif(&[ORIENTATION, (0x8769, 4, 1, 8)], 0, &[]);
    let blocks = check(
        "png",
        &png_with(&[png_chunk(b"eXIf", &loop_exif)]),
        Expect::Colorized("its EXIF (PNG eXIf chunk) links its directory at offset 8 twice"),
    );
    assert!(!kinds(&blocks).contains(&"exif"));
}

#[test]
fn png_itxt_xmp_inflating_to_200_mb_is_dropped() {
    // A whole XMP packet of 200 MB (20 million keywords), compressed to about 200 KB.
    let packet = xmp_packet("", "<dc:subject><rdf:Bag>@</rdf:Bag></dc:subject>");
    let (head, tail) = packet.split_once('@').unwrap();
    let mut itxt = b"XML:com.adobe.xmp\0\x01\0\0\0".to_vec();
    itxt.extend(zlib_bomb(
        head.as_bytes(),
        b"<rdf:li>grey</rdf:li>",
        200_000_000 / 21,
        tail.as_bytes(),
    ));
    let input = png_with(&[png_chunk(b"iTXt", &itxt)]);
    assert!(input.len() < 1_000_000, "{} bytes", input.len());
    let blocks = check(
        "png",
        &input,
        Expect::Colorized(
            "its XMP packet (PNG iTXt chunk 'XML:com.adobe.xmp') inflates to more than 4 MiB, \
             its cap; dropped from the output",
        ),
    );
    assert!(!kinds(&blocks).contains(&"xmp"));
}

#[test]
fn png_ztxt_raw_exif_inflating_to_300_mb_is_dropped() {
    // ImageMagick's hex form of an EXIF block declaring 150 MB: 300 MB of hex digits.
    let bytes = 150_000_000usize;
    let mut ztxt = b"Raw profile type exif\0\0".to_vec();
    ztxt.extend(zlib_bomb(
        format!("\nexif\n{bytes:8}\n").as_bytes(),
        b"4578696600004949",
        2 * bytes / 16,
        b"\n",
    ));
    let blocks = check(
        "png",
        &png_with(&[png_chunk(b"zTXt", &ztxt)]),
        Expect::Colorized(
            "its EXIF (PNG zTXt chunk 'Raw profile type exif') inflates to more than",
        ),
    );
    assert!(!kinds(&blocks).contains(&"exif"));
}

#[test]
fn png_zero_phys_is_dropped() {
    let mut phys = vec![0u8; 8];
    phys.push(1);
    let blocks = check(
        "png",
        &png_with(&[png_chunk(b"pHYs", &phys)]),
        Expect::Colorized("its resolution (PNG pHYs chunk) is 0x0 pixels per metre; dropped"),
    );
    assert!(blocks.is_empty());
}

/// A grey lossless WebP in the extended form (VP8X with `flags`), `chunks` (kind, declared
/// size, data) after its image data.
fn webp_with(flags: u8, chunks: &[(&[u8], u32, Vec<u8>)]) -> Vec<u8> {
    let base = encoded(&grey().to_rgb8().into(), image::ImageFormat::WebP);
    assert_eq!(&base[12..16], b"VP8L");
    let vp8l_len = le32(&base, 16);
    let vp8l = &base[20..20 + vp8l_len];
    let mut body = b"WEBP".to_vec();
    let mut vp8x = vec![flags, 0, 0, 0];
    vp8x.extend_from_slice(&(W - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(H - 1).to_le_bytes()[..3]);
    riff_chunk(&mut body, b"VP8X", 10, &vp8x);
    riff_chunk(&mut body, b"VP8L", vp8l_len as u32, vp8l);
    for (kind, declared, data) in chunks {
        riff_chunk(&mut body, kind, *declared, data);
    }
    let mut webp = b"RIFF".to_vec();
    webp.extend_from_slice(&(body.len() as u32).to_le_bytes());
    webp.extend_from_slice(&body);
    webp
}

#[test]
fn webp_exif_chunk_with_a_bad_size_is_refused() {
    // An EXIF chunk declaring 2 GiB and holding 26 bytes: the decoder reads it for the
    // orientation, so the file is refused, in words saying which chunk.
    let exif_data = exif(&[ORIENTATION], 0, &[]);
    check(
        "webp",
        &webp_with(0x08, &[(b"EXIF", 0x7FFF_FFF0, exif_data)]),
        Expect::Refused(
            "corrupt or truncated WebP: its EXIF chunk declares 2147483632 bytes, past the end \
             of the file",
        ),
    );
}

#[test]
fn webp_xmp_chunk_with_a_bad_size_and_exif_with_a_loop_are_dropped() {
    let packet = xmp_packet("", "<dc:format>image/webp</dc:format>");
    let blocks = check(
        "webp",
        &webp_with(0x04, &[(b"XMP ", 0x7FFF_FFF0, packet.into_bytes())]),
        Expect::Colorized(
            "its XMP packet (WebP XMP chunk) declares 2147483632 bytes, past the end of the file",
        ),
    );
    assert!(!kinds(&blocks).contains(&"xmp"));
    let loop_exif = exif(&[ORIENTATION], 8, &[]);
    let blocks = check(
        "webp",
        &webp_with(0x08, &[(b"EXIF", loop_exif.len() as u32, loop_exif)]),
        Expect::Colorized("its EXIF (WebP EXIF chunk) links its directory at offset 8 twice"),
    );
    assert!(!kinds(&blocks).contains(&"exif"));
}

#[test]
fn tiff_with_an_ifd_cycle_is_refused() {
    let tiff = encoded(&grey(), image::ImageFormat::Tiff);
    assert_eq!(&tiff[..4], b"II*\0");
    let ifd = le32(&tiff, 4);
    let entries = usize::from(u16::from_le_bytes([tiff[ifd], tiff[ifd + 1]]));
    let next = ifd + 2 + 12 * entries;
    // IFD0 links to itself.
    let mut self_loop = tiff.clone();
    self_loop[next..next + 4].copy_from_slice(&(ifd as u32).to_le_bytes());
    check(
        "tif",
        &self_loop,
        Expect::Refused("corrupt TIFF: its directories loop"),
    );
    // IFD0 links to a copy of itself, which links back: not "2 pages".
    let mut two = tiff.clone();
    if two.len() % 2 == 1 {
        two.push(0);
    }
    let copy = two.len();
    two.extend_from_slice(&tiff[ifd..next]);
    two.extend_from_slice(&(ifd as u32).to_le_bytes());
    two[next..next + 4].copy_from_slice(&(copy as u32).to_le_bytes());
    check(
        "tif",
        &two,
        Expect::Refused("corrupt TIFF: its directories loop"),
    );
}

#[test]
fn tiff_xmp_tag_of_2_pow_30_bytes_is_dropped() {
    // A TIFF written with an XMP tag, whose count is then made 2^30.
    let mut bytes = std::io::Cursor::new(Vec::new());
    {
        let mut encoder = tiff::encoder::TiffEncoder::new(&mut bytes).unwrap();
        let mut image = encoder
            .new_image::<tiff::encoder::colortype::Gray8>(W, H)
            .unwrap();
        let packet = xmp_packet("", "<dc:format>image/tiff</dc:format>");
        image
            .encoder()
            .write_tag(tiff::tags::Tag::Unknown(700), packet.as_bytes())
            .unwrap();
        image.write_data(grey().as_bytes()).unwrap();
    }
    let mut tiff = bytes.into_inner();
    let ifd = le32(&tiff, 4);
    let entries = usize::from(u16::from_le_bytes([tiff[ifd], tiff[ifd + 1]]));
    let entry = (0..entries)
        .map(|i| ifd + 2 + 12 * i)
        .find(|&e| u16::from_le_bytes([tiff[e], tiff[e + 1]]) == 700)
        .unwrap();
    tiff[entry + 4..entry + 8].copy_from_slice(&(1u32 << 30).to_le_bytes());
    let blocks = check(
        "tif",
        &tiff,
        Expect::Colorized(
            "its XMP packet (TIFF tag 700) is 1073741824 bytes, over its cap of 4 MiB",
        ),
    );
    assert!(!kinds(&blocks).contains(&"xmp"));
}

/// Not hostile: a whole, compressed XMP packet and a whole EXIF in a PNG are carried,
/// whole, the XMP still compressed.
#[test]
fn whole_blocks_are_carried_and_compressed_xmp_stays_compressed() {
    let packet = xmp_packet("", &"<dc:format>image/png</dc:format>".repeat(200));
    let mut itxt = b"XML:com.adobe.xmp\0\x01\0\0\0".to_vec();
    itxt.extend(zlib(packet.as_bytes()));
    let camera_exif = exif(&[ORIENTATION, (0x010F, 2, 8, 38)], 0, b"TestCam\0");
    let f = Fixture::new();
    std::fs::write(
        f.path("in.png"),
        png_with(&[png_chunk(b"eXIf", &camera_exif), png_chunk(b"iTXt", &itxt)]),
    )
    .unwrap();
    let out = f.run(&["in.png", "-o", "out.png"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("note"), "{}", text(&out));
    let output = std::fs::read(f.path("out.png")).unwrap();
    let blocks = blocks(&output);
    let xmp = blocks.iter().find(|(kind, _)| *kind == "xmp").unwrap();
    assert_eq!(xmp.1, packet.as_bytes());
    let exif_out = blocks.iter().find(|(kind, _)| *kind == "exif").unwrap();
    assert_eq!(exif_out.1, camera_exif);
    // Compressed in the output: the iTXt chunk is far smaller than the packet.
    let itxt_len = output
        .windows(4)
        .position(|w| w == b"iTXt")
        .map(|at| be32(&output, at - 4))
        .unwrap();
    assert!(
        itxt_len < packet.len() / 4,
        "iTXt of {itxt_len} bytes for a packet of {}",
        packet.len()
    );
}

/// An XMP packet within its cap but over what one JPEG APP1 segment holds: a PNG output
/// carries it whole, a JPEG output drops it with a note (extended XMP is not written).
#[test]
fn xmp_too_large_for_a_jpeg_segment_is_dropped_from_a_jpeg_output_only() {
    let packet = xmp_packet("", &"<dc:format>image/png</dc:format>".repeat(3000));
    assert!(packet.len() > 65504 && packet.len() < 4 << 20);
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(packet.as_bytes());
    let f = Fixture::new();
    std::fs::write(f.path("in.png"), png_with(&[png_chunk(b"iTXt", &itxt)])).unwrap();
    let out = f.run(&["in.png", "-o", "out.jpg"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "colorize: in.png: note: its XMP packet of {} bytes is more than one JPEG APP1 \
             segment holds (65504 bytes; extended XMP is not written); dropped from the output",
            packet.len()
        )),
        "{}",
        text(&out)
    );
    assert!(!kinds(&blocks(&std::fs::read(f.path("out.jpg")).unwrap())).contains(&"xmp"));
    let out = f.run(&["in.png", "-o", "out.png"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("note"), "{}", text(&out));
    let png_blocks = blocks(&std::fs::read(f.path("out.png")).unwrap());
    let xmp = png_blocks.iter().find(|(kind, _)| *kind == "xmp").unwrap();
    assert_eq!(xmp.1, packet.as_bytes());
}
