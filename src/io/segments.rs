//! The one walker of each container's framing: JPEG marker segments, PNG chunks and RIFF
//! (WebP) chunks. Every reader of that framing goes through these: the decoder's checks
//! in this module's parent (`check_jpeg`, `check_png`), the `colorize` command's metadata
//! reader and its JPEG strip joiner, and the fuzz harness's reader of an output's blocks.
//!
//! Why public but hidden: the command is a binary of this package and so can reach only
//! the library's `pub` items; one walker for both means one place where a length running
//! past the end is caught. It is no part of the documented API (`#[doc(hidden)]`, and its
//! items are not among those `colorize::io` re-exports), and may change with the command.
//!
//! A walker only frames: it yields a segment or chunk once its header (and, where it
//! yields one, its body) lies inside the bytes, and stops where one does not, saying how.
//! What a segment means, and how lenient to be with a broken file, is its caller's.

use std::io::{Cursor, Read, Seek, SeekFrom};

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

/// One JPEG marker and what it holds.
#[derive(Clone, Copy, Debug)]
pub struct JpegSegment<'a> {
    /// The marker's second byte (0xD8 SOI, 0xDA SOS, 0xE1 APP1, ...).
    pub marker: u8,
    /// The offset of the marker's 0xFF.
    pub at: usize,
    /// What follows the length field: empty for a marker that stands alone (SOI, EOI,
    /// RSTn, TEM) and for one that declares a length under 2.
    pub payload: &'a [u8],
    /// The offset just past the segment; for SOS, past its header, where the
    /// entropy-coded data starts.
    pub end: usize,
}

/// Why a walk of JPEG segments ended before EOI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JpegStop {
    /// The byte at this offset, where a marker must start, is not 0xFF.
    NoMarker(usize),
    /// The bytes end inside a segment's length field or body.
    Cut,
}

/// The segments of a JPEG after its SOI: each marker once (fill bytes before a marker
/// skipped), and after an SOS the walk goes on past the entropy-coded data, so that the
/// scans of a progressive file and its EOI are reached. Ends after EOI, at the end of the
/// bytes (`None`: the file ends before its EOI), or with one [`JpegStop`].
pub struct JpegSegments<'a> {
    bytes: &'a [u8],
    at: usize,
    in_scan: bool,
    done: bool,
}

impl<'a> JpegSegments<'a> {
    /// The segments of `bytes`, a whole JPEG file, from just after its SOI (offset 2).
    pub fn new(bytes: &'a [u8]) -> Self {
        JpegSegments {
            bytes,
            at: 2,
            in_scan: false,
            done: false,
        }
    }

    fn stop(&mut self, why: JpegStop) -> Option<Result<JpegSegment<'a>, JpegStop>> {
        self.done = true;
        Some(Err(why))
    }
}

/// The offset of the first marker at or after `at` that ends entropy-coded data: one not
/// a stuffed 0xFF00, a restart marker, or a fill byte; the length of `bytes` when none.
fn past_entropy_coded(bytes: &[u8], mut at: usize) -> usize {
    loop {
        match bytes
            .get(at..)
            .and_then(|rest| rest.iter().position(|&b| b == 0xFF))
        {
            None => return bytes.len(),
            Some(i) => {
                at += i;
                match bytes.get(at + 1) {
                    Some(0x00) | Some(0xD0..=0xD7) | Some(0xFF) => at += 1,
                    _ => return at,
                }
            }
        }
    }
}

impl<'a> Iterator for JpegSegments<'a> {
    type Item = Result<JpegSegment<'a>, JpegStop>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.in_scan {
            self.in_scan = false;
            self.at = past_entropy_coded(self.bytes, self.at);
        }
        let bytes = self.bytes;
        loop {
            let at = self.at;
            if at.saturating_add(1) >= bytes.len() {
                self.done = true;
                return None;
            }
            if bytes[at] != 0xFF {
                return self.stop(JpegStop::NoMarker(at));
            }
            let marker = bytes[at + 1];
            let alone = |end| {
                Some(Ok(JpegSegment {
                    marker,
                    at,
                    payload: &[],
                    end,
                }))
            };
            match marker {
                0xFF => {
                    self.at += 1;
                    continue;
                }
                0xD9 => {
                    self.done = true;
                    return alone(at + 2);
                }
                0x01 | 0xD0..=0xD8 => {
                    self.at = at + 2;
                    return alone(at + 2);
                }
                _ => {}
            }
            let Some(len) = be16(bytes, at + 2) else {
                return self.stop(JpegStop::Cut);
            };
            let end = at + 2 + usize::from(len);
            if end > bytes.len() {
                return self.stop(JpegStop::Cut);
            }
            self.at = end;
            self.in_scan = marker == 0xDA;
            return Some(Ok(JpegSegment {
                marker,
                at,
                payload: bytes.get(at + 4..end).unwrap_or(&[]),
                end,
            }));
        }
    }
}

/// A PNG chunk's header: where it stands, the length it declares and its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PngChunk {
    /// The offset of its length field.
    pub at: u64,
    /// The length of its data, as declared.
    pub len: u32,
    pub kind: [u8; 4],
}

impl PngChunk {
    /// Its data in `bytes` (the whole file), when all of it is there.
    pub fn data<'a>(&self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        let start = usize::try_from(self.at).ok()?.checked_add(8)?;
        bytes.get(start..start.checked_add(self.len as usize)?)
    }

    /// The offset just past it (its CRC included), as declared.
    pub fn end(&self) -> u64 {
        self.at + 12 + u64::from(self.len)
    }
}

/// The chunk headers of a PNG, read from a file or from memory: only the 8-byte headers
/// are read, so a file's image data is never loaded to walk it. Ends where a header does
/// not fit in the bytes; a chunk whose data runs past them is still yielded (its
/// [`PngChunk::data`] is then none), and the walk ends there.
pub struct PngChunks<R> {
    reader: R,
    at: u64,
    len: u64,
}

impl<'a> PngChunks<Cursor<&'a [u8]>> {
    /// The chunks of `bytes`, a whole PNG file, from the first (IHDR) on.
    pub fn in_bytes(bytes: &'a [u8]) -> Self {
        PngChunks::new(Cursor::new(bytes), 8, bytes.len() as u64)
    }
}

impl<R: Read + Seek> PngChunks<R> {
    /// The chunks from offset `at` of a file of `len` bytes read through `reader`.
    pub fn new(reader: R, at: u64, len: u64) -> Self {
        PngChunks { reader, at, len }
    }
}

impl<R: Read + Seek> Iterator for PngChunks<R> {
    type Item = PngChunk;

    fn next(&mut self) -> Option<PngChunk> {
        if self.at.saturating_add(8) > self.len {
            return None;
        }
        let mut header = [0u8; 8];
        if self.reader.seek(SeekFrom::Start(self.at)).is_err()
            || self.reader.read_exact(&mut header).is_err()
        {
            self.at = self.len;
            return None;
        }
        let chunk = PngChunk {
            at: self.at,
            len: u32::from_be_bytes([header[0], header[1], header[2], header[3]]),
            kind: [header[4], header[5], header[6], header[7]],
        };
        // Past the end when its data runs past it: the walk ends there.
        self.at = chunk.end();
        Some(chunk)
    }
}

/// One RIFF chunk (WebP's container).
#[derive(Clone, Copy, Debug)]
pub struct RiffChunk<'a> {
    /// The offset of its type.
    pub at: usize,
    pub kind: &'a [u8],
    /// The length of its data, as declared (little-endian).
    pub len: u32,
    /// Its data, when all of it is in the bytes (the walk ends after a chunk without).
    pub data: Option<&'a [u8]>,
}

impl RiffChunk<'_> {
    /// The offset just past it, its padding to an even length included, as declared.
    pub fn end(&self) -> usize {
        self.at + 8 + ((self.len as usize + 1) & !1)
    }
}

/// The chunks of a RIFF file from offset 12 (after `RIFF`, its size and its form type, as
/// `WEBP`). Ends where a chunk's header does not fit, or after a chunk whose data runs
/// past the end of the bytes.
pub struct RiffChunks<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> RiffChunks<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        RiffChunks { bytes, at: 12 }
    }
}

impl<'a> Iterator for RiffChunks<'a> {
    type Item = RiffChunk<'a>;

    fn next(&mut self) -> Option<RiffChunk<'a>> {
        let (at, bytes) = (self.at, self.bytes);
        let kind = bytes.get(at..at.checked_add(4)?)?;
        let len = u32::from_le_bytes(bytes.get(at + 4..at + 8)?.try_into().ok()?);
        let data = bytes.get(at + 8..(at + 8).saturating_add(len as usize));
        let chunk = RiffChunk {
            at,
            kind,
            len,
            data,
        };
        self.at = if data.is_some() {
            chunk.end()
        } else {
            usize::MAX
        };
        Some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_segments_skip_fill_bytes_and_entropy_coded_data() {
        let jpeg = [
            0xFF, 0xD8, 0xFF, 0xFF, 0xE1, 0, 4, b'a', b'b', 0xFF, 0xDA, 0, 2, 1, 0xFF, 0, 2, 0xFF,
            0xD0, 3, 0xFF, 0xD9,
        ];
        let segments: Vec<_> = JpegSegments::new(&jpeg).map(Result::unwrap).collect();
        let markers: Vec<u8> = segments.iter().map(|s| s.marker).collect();
        assert_eq!(markers, [0xE1, 0xDA, 0xD9]);
        assert_eq!(segments[0].payload, b"ab");
        assert_eq!(segments[1].end, 13);
        let cut = JpegSegments::new(&jpeg[..8]).last();
        assert_eq!(cut.map(|s| s.err()), Some(Some(JpegStop::Cut)));
        let mut no_marker = jpeg;
        no_marker[2] = 0;
        assert_eq!(
            JpegSegments::new(&no_marker).next().unwrap().err(),
            Some(JpegStop::NoMarker(2))
        );
    }

    #[test]
    fn png_and_riff_chunks_end_at_the_first_that_does_not_fit() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [(b"IHDR", &[0u8; 13][..]), (b"IDAT", &[1, 2])] {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            png.extend_from_slice(&[0; 4]);
        }
        let chunks: Vec<_> = PngChunks::in_bytes(&png).collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1].data(&png), Some(&[1u8, 2][..]));
        assert_eq!(chunks[1].end(), png.len() as u64);
        let cut = &png[..png.len() - 5];
        let chunks: Vec<_> = PngChunks::in_bytes(cut).collect();
        assert_eq!((chunks.len(), chunks[1].data(cut)), (2, None));

        let mut webp = b"RIFF\0\0\0\0WEBPVP8L\x03\0\0\0abc\0EXIF\x09\0\0\0x".to_vec();
        let chunks: Vec<_> = RiffChunks::new(&webp).collect();
        assert_eq!(chunks.len(), 2);
        assert_eq!((chunks[0].data, chunks[0].end()), (Some(&b"abc"[..]), 24));
        assert_eq!(chunks[1].data, None);
        webp.truncate(22);
        assert_eq!(RiffChunks::new(&webp).count(), 1);
    }
}
