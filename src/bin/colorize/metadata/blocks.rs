//! The blocks an output carries, apart from any container: whether each parses whole (an
//! ICC profile, EXIF, an XMP packet, IPTC-IIM), IPTC inside Photoshop image resources and
//! back, and the orientation in EXIF and XMP, reset once the pixels are upright.

use super::{be16, be32};

pub(super) const EXIF_PREFIX: &[u8] = b"Exif\0\0";

pub(super) fn strip_exif_prefix(data: &[u8]) -> &[u8] {
    data.strip_prefix(EXIF_PREFIX).unwrap_or(data)
}

/// IPTC-IIM from Photoshop image resources (`8BIM` blocks), resource 0x0404: `Ok(None)`
/// when there is none, an error in words when a resource runs past the end of the block.
pub(super) fn iptc_from_resources(mut data: &[u8]) -> Result<Option<Vec<u8>>, String> {
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
pub(super) fn icc_whole(icc: &[u8]) -> Result<(), String> {
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

/// The byte order of a TIFF structure (EXIF), and its 16- and 32-bit values read in it.
#[derive(Clone, Copy)]
struct ByteOrder {
    little: bool,
}

impl ByteOrder {
    /// The order that `exif` starts by naming (`II` or `MM`).
    fn of(exif: &[u8]) -> Option<ByteOrder> {
        match exif.get(..2)? {
            b"II" => Some(ByteOrder { little: true }),
            b"MM" => Some(ByteOrder { little: false }),
            _ => None,
        }
    }

    /// The unsigned value of the `len` bytes (at most 4) at `at` of `b`.
    fn value(self, b: &[u8], at: usize, len: usize) -> Option<u32> {
        let bytes = b.get(at..at.checked_add(len)?)?;
        let push = |value: u32, &byte: &u8| value << 8 | u32::from(byte);
        Some(if self.little {
            bytes.iter().rev().fold(0, push)
        } else {
            bytes.iter().fold(0, push)
        })
    }

    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        self.value(b, at, 2).map(|v| v as u16)
    }

    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        self.value(b, at, 4)
    }
}

/// Whether EXIF (a TIFF structure) parses whole: its header, every directory it links
/// (IFD0's chain, the EXIF, GPS and interoperability directories), every entry and every
/// value inside the block, and no directory reached twice (a loop). Values of a type TIFF
/// does not define are skipped, as readers skip them; a maker note's inside is not read.
pub(super) fn exif_whole(exif: &[u8]) -> Result<(), String> {
    let order = match exif.get(..4) {
        Some(b"II*\0") => ByteOrder { little: true },
        Some(b"MM\0*") => ByteOrder { little: false },
        _ => return Err("does not start with a TIFF header (II*\\0 or MM\\0*)".into()),
    };
    let u16_at = |at: usize| order.u16(exif, at);
    let u32_at = |at: usize| order.u32(exif, at);
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
pub(super) fn xmp_whole(xmp: &[u8]) -> Result<(), String> {
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
pub(super) fn iim_is_whole(iim: &[u8]) -> bool {
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
pub(super) fn resources_from_iptc(iptc: &[u8]) -> Vec<u8> {
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

/// Sets the EXIF orientation (IFD0 tag 0x0112) to 1: the decoder has already turned the
/// pixels upright, so the output's orientation must not turn them again.
pub fn exif_upright(exif: &mut [u8]) {
    let Some(order) = ByteOrder::of(exif) else {
        return;
    };
    let Some(ifd) = order.u32(exif, 4).map(|v| v as usize) else {
        return;
    };
    let Some(count) = order.u16(exif, ifd) else {
        return;
    };
    for i in 0..usize::from(count) {
        let entry = ifd + 2 + 12 * i;
        if order.u16(exif, entry) == Some(0x0112) && order.u16(exif, entry + 2) == Some(3) {
            let one = if order.little { [1, 0] } else { [0, 1] };
            if let Some(value) = exif.get_mut(entry + 8..entry + 10) {
                value.copy_from_slice(&one);
            }
        }
    }
}

/// The EXIF orientation (IFD0 tag 0x0112).
pub(super) fn exif_orientation(exif: &[u8]) -> Option<image::metadata::Orientation> {
    let order = ByteOrder::of(exif)?;
    let u16_at = |at: usize| order.u16(exif, at);
    let ifd = order.u32(exif, 4)? as usize;
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

#[cfg(test)]
mod tests {
    use super::*;

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
