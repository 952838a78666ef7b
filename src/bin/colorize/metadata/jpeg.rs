//! JPEG: the blocks in an input's APPn segments, its quality and chroma subsampling, and
//! the output encoded (`crate::jpeg`, in strips) with them. The quality is estimated from
//! the luminance quantisation table, which no decoder reports.

use colorize::io::segments::JpegSegments;
use image::DynamicImage;

use super::blocks::{iptc_from_resources, resources_from_iptc, strip_exif_prefix, EXIF_PREFIX};
use super::{be16, io_error, note, size_text, Block, Carried, Settings, Subsampling, ICC_CAP};

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

pub(super) fn read_jpeg(b: &[u8]) -> Carried {
    let mut carried = Carried::default();
    // (sequence number, count, data) of each APP2 ICC_PROFILE segment.
    let mut icc_chunks: Vec<(u8, u8, &[u8])> = Vec::new();
    let mut extended_xmp = 0;
    // The blocks stand before the first scan; a file cut or broken before it keeps those
    // found up to there.
    for segment in JpegSegments::new(b) {
        let Ok(segment) = segment else { break };
        let (marker, payload) = (segment.marker, segment.payload);
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
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

pub(super) fn encode_jpeg(
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
}
