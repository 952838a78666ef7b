//! WebP: the blocks in an input's RIFF chunks (`ICCP`, `EXIF`, `XMP `), its frame count,
//! and a simple lossless output made an extended file carrying them.

use colorize::io::segments::RiffChunks;

use super::blocks::strip_exif_prefix;
use super::{Block, Carried};

pub(super) fn read_webp(b: &[u8]) -> Carried {
    let mut carried = Carried::default();
    let mut frames = 0;
    for chunk in RiffChunks::new(b) {
        let (kind, len) = (chunk.kind, chunk.len);
        let block = match kind {
            b"ICCP" => Some((Block::Icc, "WebP ICCP chunk")),
            b"EXIF" => Some((Block::Exif, "WebP EXIF chunk")),
            b"XMP " => Some((Block::Xmp, "WebP XMP chunk")),
            _ => None,
        };
        let Some(data) = chunk.data else {
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
    }
    carried.images = frames.max(1);
    carried
}

/// Appends one RIFF chunk (WebP's container): kind, little-endian size, data, padded to
/// an even length.
pub(super) fn riff_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(kind);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

/// `webp` (a simple lossless file, as image writes it) as an extended file with VP8X and
/// the ICCP, EXIF and XMP chunks.
pub(super) fn webp_with(
    webp: &[u8],
    carried: &Carried,
    exif: Option<&[u8]>,
    xmp: Option<&[u8]>,
) -> Vec<u8> {
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
