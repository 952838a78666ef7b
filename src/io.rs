//! Image files for the CLI and other clients: decoding with limits and EXIF orientation,
//! the one list of image extensions and the one folder walker, encoding by file
//! extension, and atomic writes.
//!
//! Why limits: a 100-byte PNG can claim 100000 x 100000 pixels, an 8x8 PNG can carry an
//! ICC profile that inflates to gigabytes, a JPEG cut in half decodes "fine". The header
//! is checked against [`Limits`] before any pixel memory is allocated, ancillary data is
//! bounded by [`ANCILLARY_BYTES`], and a declared size is checked against the file's size
//! where the format allows (JPEG, PNG), so such files are refused with a clear error
//! instead of exhausting memory or passing as whole.
//!
//! Why atomic writes: a batch that is killed, or a full disk, must never leave a partial
//! file under the final name. Outputs are written to a hidden temporary file in the same
//! folder and renamed over the final name only when complete. Nothing is ever written
//! through a symbolic link to a device, and a FIFO never blocks for ever.

use std::io::{BufRead, Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::error::{Error, ErrorKind, Result};

/// Default largest image accepted: 200 megapixels.
pub const DEFAULT_MAX_PIXELS: u64 = 200_000_000;

/// What a decoder may allocate besides the pixels: ICC profiles, EXIF, text chunks, tables.
/// Real files need a few megabytes at most; a PNG whose iCCP chunk inflates to gigabytes is
/// cut off here instead of filling memory.
pub const ANCILLARY_BYTES: u64 = 32 << 20;

/// Bounds on what decoding may allocate, and how strict it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width x height accepted (checked from the header, before decoding).
    pub max_pixels: u64,
    /// Largest encoded input read from a stream (stdin), in bytes.
    pub max_input_bytes: u64,
    /// Decode a JPEG that ends before its end marker (the missing rows come out flat)
    /// instead of refusing it.
    pub accept_truncated: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_input_bytes: 2 << 30,
            accept_truncated: false,
        }
    }
}

impl Limits {
    /// The image crate's limits while headers are read: sides bounded, and only
    /// [`ANCILLARY_BYTES`] for whatever the decoder keeps besides pixels.
    fn for_headers(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        let side = u32::try_from(self.max_pixels).unwrap_or(u32::MAX);
        limits.max_image_width = Some(side);
        limits.max_image_height = Some(side);
        limits.max_alloc = Some(ANCILLARY_BYTES);
        limits
    }

    /// The image crate's limits for decoding the pixels of a `width` x `height` image:
    /// the largest decoded layout (RGBA, 32-bit float) of that size plus the ancillary data.
    fn for_pixels(&self, width: u32, height: u32) -> image::Limits {
        let mut limits = self.for_headers();
        let pixels = u64::from(width) * u64::from(height);
        limits.max_alloc = Some(pixels.saturating_mul(16).saturating_add(ANCILLARY_BYTES));
        limits
    }
}

/// What an image's header says, known before its pixels are decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    /// The decoded pixel layout (its `bytes_per_pixel()` is what decoding allocates).
    pub color: image::ColorType,
}

fn io_error(e: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Io, e.to_string())
}

fn image_error(e: ImageError) -> Error {
    match e {
        ImageError::Limits(l) => Error::too_large(format!("image over the decoding limits: {l}")),
        ImageError::Unsupported(u) => io_error(format!("unsupported image: {u}")),
        ImageError::Decoding(d) => io_error(format!("corrupt or truncated image: {d}")),
        ImageError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            io_error(format!("truncated image: {e}"))
        }
        other => io_error(other),
    }
}

fn is_tga_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("tga"))
}

/// Decodes an image file (format from its content, or from a `.tga` extension: TGA files
/// have no signature to recognise them by), applying its EXIF orientation.
pub fn decode_file(path: &Path, limits: &Limits) -> Result<DynamicImage> {
    decode_file_with(path, limits, |_| Ok(())).map(|(image, ())| image)
}

/// As [`decode_file`], calling `before_pixels` with the header once it is read and checked,
/// before any pixel memory is allocated: an error from it ends the decoding, and what it
/// returns (a memory reservation, say) is handed back with the image.
pub fn decode_file_with<T>(
    path: &Path,
    limits: &Limits,
    before_pixels: impl FnOnce(&Header) -> Result<T>,
) -> Result<(DynamicImage, T)> {
    let file = open_regular(path)?;
    let file_len = file.metadata().map_err(io_error)?.len();
    let mut reader = ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .map_err(io_error)?;
    if reader.format().is_none() && is_tga_name(path) {
        reader.set_format(ImageFormat::Tga);
    }
    match reader.format() {
        // The JPEG decoder reads the whole file into memory anyway: checked there first.
        Some(ImageFormat::Jpeg) => {
            let bytes = read_bounded(reader.into_inner(), file_len, limits)?;
            check_jpeg(&bytes, limits)?;
            let mut reader = ImageReader::new(Cursor::new(bytes));
            reader.set_format(ImageFormat::Jpeg);
            decode(reader, limits, before_pixels)
        }
        Some(ImageFormat::Png) => {
            let mut inner = reader.into_inner();
            check_png(&mut inner, file_len, limits)?;
            inner.rewind().map_err(io_error)?;
            let mut reader = ImageReader::new(inner);
            reader.set_format(ImageFormat::Png);
            decode(reader, limits, before_pixels)
        }
        _ => decode(reader, limits, before_pixels),
    }
}

/// Opens `path` for reading only if it is a regular file: a FIFO would block the open (or
/// the read) forever, a device would be read without end.
fn open_regular(path: &Path) -> Result<std::fs::File> {
    let (file, kind) = open_if_regular(path).map_err(io_error)?;
    match kind {
        None => Ok(file),
        Some(kind) => Err(io_error(format!(
            "not a regular file ({kind}); only image files are read"
        ))),
    }
}

/// Opens `path` for reading without blocking on a FIFO and says what it is: `None` for a
/// regular file, ready to read, or the kind of anything else ("a FIFO", "a device", ...),
/// which the caller refuses. Checked on the open descriptor, so a name swapped after a
/// look cannot slip through. Shared by image and model files.
pub(crate) fn open_if_regular(
    path: &Path,
) -> std::io::Result<(std::fs::File, Option<&'static str>)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Ok((file, Some(kind_name(&kind))));
    }
    clear_nonblocking(&file);
    Ok((file, None))
}

/// Turns a descriptor opened with O_NONBLOCK (so that opening a FIFO could not hang) back
/// to ordinary blocking reads and writes.
fn clear_nonblocking(file: &std::fs::File) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: fcntl on a descriptor the caller owns; only the O_NONBLOCK flag changes.
        unsafe {
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags != -1 {
                libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// Reads the rest of `reader` (at its start) into memory: a file's `len` bytes, refused
/// over `limits.max_input_bytes`.
fn read_bounded(mut reader: impl Read, len: u64, limits: &Limits) -> Result<Vec<u8>> {
    if len > limits.max_input_bytes {
        return Err(Error::too_large(format!(
            "the file is {len} bytes, over the limit of {} bytes",
            limits.max_input_bytes
        )));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    reader
        .by_ref()
        .take(limits.max_input_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    Ok(bytes)
}

/// Decodes an encoded image held in memory (format from its content).
pub fn decode_bytes(bytes: &[u8], limits: &Limits) -> Result<DynamicImage> {
    decode_bytes_with(bytes, limits, |_| Ok(())).map(|(image, ())| image)
}

/// As [`decode_bytes`], with [`decode_file_with`]'s `before_pixels`.
pub fn decode_bytes_with<T>(
    bytes: &[u8],
    limits: &Limits,
    before_pixels: impl FnOnce(&Header) -> Result<T>,
) -> Result<(DynamicImage, T)> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(io_error)?;
    match reader.format() {
        Some(ImageFormat::Jpeg) => check_jpeg(bytes, limits)?,
        Some(ImageFormat::Png) => check_png(&mut Cursor::new(bytes), bytes.len() as u64, limits)?,
        _ => {}
    }
    decode(reader, limits, before_pixels)
}

/// How much of a stream is read before its format is known (enough for any header).
const STREAM_PREFIX_BYTES: u64 = 64 << 10;

/// Reads a whole stream (stdin) into memory, refusing more than `limits.max_input_bytes`.
/// A stream that does not start like an image in a known format is refused after its
/// first bytes (`< /dev/zero` is not read for gigabytes), and one whose header is readable
/// from those bytes is refused once it is larger than any encoding of that many pixels.
pub fn read_stream(mut stream: impl Read, limits: &Limits) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    stream
        .by_ref()
        .take(STREAM_PREFIX_BYTES.min(limits.max_input_bytes.saturating_add(1)))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    let too_large = |max: u64| {
        Error::too_large(format!(
            "input is over {max} bytes{}",
            if max < limits.max_input_bytes {
                " (more than any encoding of the size its header declares)"
            } else {
                ""
            }
        ))
    };
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(too_large(limits.max_input_bytes));
    }
    if bytes.is_empty() {
        return Ok(bytes);
    }
    if image::guess_format(&bytes).is_err() {
        return Err(io_error(
            "not an image in a known format (PNG, JPEG, TIFF, PNM, ...): its first bytes match none",
        ));
    }
    // Uncompressed 32-bit float RGBA is the largest encoding of a pixel.
    let max = ImageReader::new(Cursor::new(&bytes))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok())
        .map(|(w, h)| {
            (u64::from(w) * u64::from(h))
                .saturating_mul(16)
                .saturating_add(ANCILLARY_BYTES)
                .min(limits.max_input_bytes)
        })
        .unwrap_or(limits.max_input_bytes);
    stream
        .take(max.saturating_add(1).saturating_sub(bytes.len() as u64))
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(bytes)
}

fn decode<R: BufRead + Seek, T>(
    reader: ImageReader<R>,
    limits: &Limits,
    before_pixels: impl FnOnce(&Header) -> Result<T>,
) -> Result<(DynamicImage, T)> {
    let mut reader = if reader.format().is_some() {
        reader
    } else {
        reader.with_guessed_format().map_err(io_error)?
    };
    if reader.format().is_none() {
        return Err(io_error(
            "not an image in a known format (PNG, JPEG, TIFF, PNM, ...)",
        ));
    }
    reader.limits(limits.for_headers());
    let mut decoder = reader.into_decoder().map_err(image_error)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > limits.max_pixels {
        return Err(Error::too_large(format!(
            "image is {w}x{h} = {pixels} pixels, over the limit of {} pixels",
            limits.max_pixels
        )));
    }
    let header = Header {
        width: w,
        height: h,
        color: decoder.color_type(),
    };
    let kept = before_pixels(&header)?;
    decoder
        .set_limits(limits.for_pixels(w, h))
        .map_err(image_error)?;
    let orientation = decoder.orientation().map_err(image_error)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(image_error)?;
    image.apply_orientation(orientation);
    Ok((image, kept))
}

/// Refuses a JPEG that cannot hold the pixels it declares, or that ends before its end
/// marker (a cut-off download or copy: the decoder would fill the missing rows flat and
/// report nothing) unless `limits.accept_truncated`.
///
/// Size: every 8x8 block of the full-resolution component takes at least one bit of
/// Huffman-coded data (its DC difference), so a file under `blocks / 8` bytes cannot be
/// whole. A 161-byte file declaring 14000 x 14000 is refused here, before a 200 MB buffer
/// is allocated and seconds are spent decoding nothing.
fn check_jpeg(bytes: &[u8], limits: &Limits) -> Result<()> {
    let corrupt = |why: String| io_error(format!("corrupt or truncated JPEG: {why}"));
    let truncated = || {
        io_error(
            "truncated JPEG: the file ends before its end marker, so rows are missing \
             (--accept-truncated decodes it anyway, the missing rows flat)",
        )
    };
    let mut pos = 2;
    let mut huffman_frame = None;
    while pos + 1 < bytes.len() {
        if bytes[pos] != 0xFF {
            return Err(corrupt(format!("no marker at byte {pos}")));
        }
        let marker = bytes[pos + 1];
        match marker {
            // Fill bytes before a marker.
            0xFF => {
                pos += 1;
                continue;
            }
            0xD9 => return Ok(()),
            0x01 | 0xD0..=0xD8 => {
                pos += 2;
                continue;
            }
            _ => {}
        }
        let Some(len) = bytes.get(pos + 2..pos + 4) else {
            break;
        };
        let end = pos + 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        if end > bytes.len() {
            break;
        }
        match marker {
            // Baseline, extended, progressive and lossless Huffman frames (arithmetic
            // coding can spend less than a bit per block).
            0xC0..=0xC3 | 0xC5..=0xC7 if end >= pos + 9 => {
                let h = u64::from(u16::from_be_bytes([bytes[pos + 5], bytes[pos + 6]]));
                let w = u64::from(u16::from_be_bytes([bytes[pos + 7], bytes[pos + 8]]));
                // Over the pixel limit: refused as such by the decoder's header check.
                if w * h > limits.max_pixels {
                    return Ok(());
                }
                huffman_frame = Some((w, h));
            }
            0xDA => {
                if let Some((w, h)) = huffman_frame {
                    let blocks = w.div_ceil(8) * h.div_ceil(8);
                    let needed = blocks / 8;
                    if (bytes.len() as u64) < needed {
                        return Err(io_error(format!(
                            "corrupt or truncated JPEG: it declares {w}x{h} pixels, which \
                             take at least {needed} bytes, but the file is {} bytes",
                            bytes.len()
                        )));
                    }
                }
                // Entropy-coded data: up to the next marker that is not a stuffed 0xFF00
                // or a restart marker.
                let mut at = end;
                loop {
                    match memchr_ff(&bytes[at..]) {
                        None => {
                            at = bytes.len();
                            break;
                        }
                        Some(i) => {
                            at += i;
                            match bytes.get(at + 1) {
                                Some(0x00) | Some(0xD0..=0xD7) | Some(0xFF) => at += 1,
                                _ => break,
                            }
                        }
                    }
                }
                pos = at;
                continue;
            }
            _ => {}
        }
        pos = end;
    }
    if limits.accept_truncated {
        Ok(())
    } else {
        Err(truncated())
    }
}

fn memchr_ff(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == 0xFF)
}

/// Refuses a PNG whose image data is too short for the pixels it declares: deflate packs
/// at most 1032 bytes into one, so the filtered rows of a W x H image, each a filter byte
/// and W pixels of its bit depth, need at least 1/1032 of their size in IDAT bytes
/// (interlacing only adds bytes). Only chunk headers are read.
fn check_png(reader: &mut (impl Read + Seek), file_len: u64, limits: &Limits) -> Result<()> {
    let mut header = [0u8; 8 + 8 + 13];
    if reader.read_exact(&mut header).is_err() || &header[12..16] != b"IHDR" {
        // The decoder says what is wrong.
        return Ok(());
    }
    let w = u64::from(u32::from_be_bytes([
        header[16], header[17], header[18], header[19],
    ]));
    let h = u64::from(u32::from_be_bytes([
        header[20], header[21], header[22], header[23],
    ]));
    // Over the pixel limit: refused as such by the decoder's header check.
    if w.saturating_mul(h) > limits.max_pixels {
        return Ok(());
    }
    let channels = match header[25] {
        2 => 3,
        4 => 2,
        6 => 4,
        _ => 1,
    };
    let bits_per_pixel = u64::from(header[24]).max(1) * channels;
    let row_bytes = 1 + w.saturating_mul(bits_per_pixel).div_ceil(8);
    let needed = h.saturating_mul(row_bytes) / 1032;
    if file_len >= needed {
        return Ok(());
    }
    let mut idat = 0u64;
    let mut pos = 8 + 8 + 13 + 4;
    while pos + 8 <= file_len {
        let mut chunk = [0u8; 8];
        if reader.seek(std::io::SeekFrom::Start(pos)).is_err()
            || reader.read_exact(&mut chunk).is_err()
        {
            break;
        }
        let len = u64::from(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]));
        if &chunk[4..8] == b"IDAT" {
            idat += len.min(file_len - pos);
        }
        pos += 12 + len;
    }
    if idat < needed {
        return Err(io_error(format!(
            "corrupt or truncated PNG: it declares {w}x{h} pixels, whose image data takes at \
             least {needed} bytes, but it holds {idat}"
        )));
    }
    Ok(())
}

/// The file extensions taken as images when a folder is searched: every format the
/// decoder reads (TGA by its extension, having no signature).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "tif", "tiff", "pgm", "ppm", "pnm", "pbm", "pam", "bmp", "webp", "gif",
    "tga", "qoi",
];

/// Whether `path`'s extension is one of [`IMAGE_EXTENSIONS`] (any case).
pub fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// How [`walk_images`] searches a folder.
#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    /// Enter symbolic links to folders (each folder is entered once, so a link loop ends).
    pub follow_links: bool,
    /// A folder not to enter (compared after resolving links): a batch's output folder.
    pub exclude: Option<PathBuf>,
}

/// What [`walk_images`] found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Image files (by extension), in sorted path order. Links to files are included.
    pub files: Vec<PathBuf>,
    /// Entries passed over, with why: links to folders not followed, FIFOs, devices,
    /// sockets, broken links, a folder reached a second time.
    pub skipped: Vec<(PathBuf, String)>,
    /// Entries that could not be read (each one; the rest of the walk goes on).
    pub errors: Vec<(PathBuf, String)>,
}

/// A file type in words.
fn kind_name(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_char_device() {
            return "a character device";
        }
    }
    if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        "a file"
    } else {
        "not a file"
    }
}

/// A folder's identity, to enter each folder once.
fn folder_id(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

/// The image files under `root`, recursively, in sorted path order, skipping hidden
/// entries (names starting with `.`). Never blocks on a FIFO, never loops: links to
/// folders are entered only with `follow_links`, and each folder once. An unreadable
/// folder is one entry of [`Walk::errors`]; everything readable is still found.
pub fn walk_images(root: &Path, options: &WalkOptions) -> Walk {
    let mut walk = Walk::default();
    let mut entered = std::collections::HashSet::new();
    match std::fs::metadata(root) {
        Ok(meta) => {
            entered.insert(folder_id(&meta));
        }
        Err(e) => {
            walk.errors.push((root.to_path_buf(), e.to_string()));
            return walk;
        }
    }
    walk_folder(root, options, &mut entered, &mut walk);
    walk
}

fn walk_folder(
    dir: &Path,
    options: &WalkOptions,
    entered: &mut std::collections::HashSet<(u64, u64)>,
    walk: &mut Walk,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            walk.errors.push((dir.to_path_buf(), e.to_string()));
            return;
        }
    };
    let mut listed = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => listed.push(entry),
            Err(e) => walk.errors.push((dir.to_path_buf(), e.to_string())),
        }
    }
    listed.sort_by_key(|e| e.file_name());
    for entry in listed {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = match entry.file_type() {
            Ok(kind) => kind,
            Err(e) => {
                walk.errors.push((path, e.to_string()));
                continue;
            }
        };
        let (kind, meta) = if kind.is_symlink() {
            match std::fs::metadata(&path) {
                Ok(meta) => {
                    if meta.is_dir() && !options.follow_links {
                        walk.skipped.push((
                            path,
                            "a symbolic link to a folder, not followed (--follow-links follows it)"
                                .to_string(),
                        ));
                        continue;
                    }
                    (meta.file_type(), Some(meta))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if has_image_extension(&path) {
                        walk.skipped
                            .push((path, "a broken symbolic link".to_string()));
                    }
                    continue;
                }
                Err(e) => {
                    walk.errors.push((path, e.to_string()));
                    continue;
                }
            }
        } else {
            (kind, None)
        };
        if kind.is_dir() {
            let meta = match meta.map(Ok).unwrap_or_else(|| std::fs::metadata(&path)) {
                Ok(meta) => meta,
                Err(e) => {
                    walk.errors.push((path, e.to_string()));
                    continue;
                }
            };
            if options
                .exclude
                .as_deref()
                .is_some_and(|ex| path.canonicalize().is_ok_and(|c| c == ex))
            {
                continue;
            }
            if !entered.insert(folder_id(&meta)) {
                walk.skipped.push((
                    path,
                    "a folder already searched (a symbolic link loop or a second link to it), \
                     not entered again"
                        .to_string(),
                ));
                continue;
            }
            walk_folder(&path, options, entered, walk);
        } else if kind.is_file() {
            if has_image_extension(&path) {
                walk.files.push(path);
            }
        } else {
            walk.skipped
                .push((path, format!("{}, not an image file", kind_name(&kind))));
        }
    }
}

/// The output format [`encode`] writes for a file name's extension (png, jpg/jpeg,
/// tif/tiff, ppm/pgm/pnm/pbm/pam, webp, bmp, gif); `None` for any other extension or none.
pub fn format_for_path(path: &Path) -> Option<ImageFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some(ImageFormat::Png),
        "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
        "tif" | "tiff" => Some(ImageFormat::Tiff),
        "ppm" | "pgm" | "pnm" | "pbm" | "pam" => Some(ImageFormat::Pnm),
        "webp" => Some(ImageFormat::WebP),
        "bmp" => Some(ImageFormat::Bmp),
        "gif" => Some(ImageFormat::Gif),
        _ => None,
    }
}

/// The usual extension of an output format.
pub fn extension_of(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "jpg",
        ImageFormat::Tiff => "tif",
        ImageFormat::Pnm => "ppm",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Gif => "gif",
        _ => "png",
    }
}

/// Whether writing `image` as `format` drops its alpha channel (JPEG and PPM hold none).
pub fn drops_alpha(image: &DynamicImage, format: ImageFormat) -> bool {
    image.color().has_alpha() && matches!(format, ImageFormat::Jpeg | ImageFormat::Pnm)
}

/// Default JPEG quality of [`encode`].
pub const DEFAULT_JPEG_QUALITY: u8 = 92;

/// Encoder settings of [`encode_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// JPEG quality, 1..=100 (image's baseline encoder; chroma is always 4:4:4).
    pub jpeg_quality: u8,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions {
            jpeg_quality: DEFAULT_JPEG_QUALITY,
        }
    }
}

/// Encodes `image` as `format` with the default [`EncodeOptions`].
pub fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>> {
    encode_with(image, format, &EncodeOptions::default())
}

/// Encodes `image` as `format`, converting the pixel layout to one the format can hold:
/// PNG and TIFF keep 16 bits and alpha (TIFF uncompressed: image's TIFF encoder has no
/// compression setting); JPEG (baseline, 4:4:4) and binary PPM are 8-bit RGB without
/// alpha; WebP (lossless), BMP and GIF (256-colour palette) are 8-bit RGB or RGBA.
pub fn encode_with(
    image: &DynamicImage,
    format: ImageFormat,
    options: &EncodeOptions,
) -> Result<Vec<u8>> {
    use DynamicImage as D;
    let mut out = Cursor::new(Vec::new());
    let converted;
    let image = match (format, image) {
        (ImageFormat::WebP | ImageFormat::Bmp | ImageFormat::Gif, D::ImageRgb8(_))
        | (ImageFormat::WebP | ImageFormat::Bmp | ImageFormat::Gif, D::ImageRgba8(_)) => image,
        (ImageFormat::WebP | ImageFormat::Bmp | ImageFormat::Gif, _) => {
            converted = if image.color().has_alpha() {
                D::ImageRgba8(image.to_rgba8())
            } else {
                D::ImageRgb8(image.to_rgb8())
            };
            &converted
        }
        (ImageFormat::Jpeg, D::ImageRgb8(_)) => image,
        (ImageFormat::Jpeg, _) => {
            converted = D::ImageRgb8(image.to_rgb8());
            &converted
        }
        // image's PNM encoder writes 8-bit RGB only.
        (ImageFormat::Pnm, D::ImageRgb8(_)) => image,
        (ImageFormat::Pnm, _) => {
            converted = D::ImageRgb8(image.to_rgb8());
            &converted
        }
        (ImageFormat::Png, D::ImageRgb32F(_)) => {
            converted = D::ImageRgb16(image.to_rgb16());
            &converted
        }
        (ImageFormat::Png, D::ImageRgba32F(_)) => {
            converted = D::ImageRgba16(image.to_rgba16());
            &converted
        }
        _ => image,
    };
    match format {
        ImageFormat::Jpeg => {
            let quality = options.jpeg_quality.clamp(1, 100);
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
            image.write_with_encoder(encoder).map_err(image_error)?;
        }
        ImageFormat::Gif => {
            // Speed 10: the fastest palette search, still a fair 256-colour palette.
            let encoder = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 10);
            image.write_with_encoder(encoder).map_err(image_error)?;
        }
        ImageFormat::Pnm => {
            use image::codecs::pnm::{PnmEncoder, PnmSubtype, SampleEncoding};
            let encoder =
                PnmEncoder::new(&mut out).with_subtype(PnmSubtype::Pixmap(SampleEncoding::Binary));
            image.write_with_encoder(encoder).map_err(image_error)?;
        }
        other => image.write_to(&mut out, other).map_err(image_error)?,
    }
    Ok(out.into_inner())
}

/// What is at an output path, as [`write_atomic`] treats it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputTarget {
    /// Nothing yet, a regular file, or a symbolic link to one (or a broken link): written
    /// to a temporary file renamed over the name, which replaces the link, not its target.
    File,
    /// A FIFO or a character device (`/dev/null`, a terminal), named directly: written
    /// into as a stream.
    Stream,
    /// A folder.
    Folder,
    /// Something never written: a block device, a socket, or a symbolic link to anything
    /// but a regular file (a device, a FIFO); the reason in words.
    Refused(String),
}

/// Classifies an output path without following a final symbolic link to a special file.
pub fn output_target(path: &Path) -> OutputTarget {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return OutputTarget::File;
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return match std::fs::metadata(path) {
            Ok(target) if target.is_file() => OutputTarget::File,
            Ok(target) if target.is_dir() => OutputTarget::Folder,
            Ok(target) => OutputTarget::Refused(format!(
                "{} is a symbolic link to {}; an image is never written through a link to \
                 anything but a regular file (name the target itself, or use -o - for stdout)",
                path.display(),
                kind_name(&target.file_type())
            )),
            Err(_) => OutputTarget::File,
        };
    }
    if kind.is_file() {
        return OutputTarget::File;
    }
    if kind.is_dir() {
        return OutputTarget::Folder;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() || kind.is_char_device() {
            return OutputTarget::Stream;
        }
    }
    OutputTarget::Refused(format!(
        "{} is {}; an image is never written over one",
        path.display(),
        kind_name(&kind)
    ))
}

/// How long a write to a FIFO waits for a reader before giving up.
pub const FIFO_READER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens a FIFO or character device for writing without following a symbolic link and
/// without blocking: a FIFO nobody reads is waited on for [`FIFO_READER_WAIT`], then refused.
fn open_stream(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let started = std::time::Instant::now();
    let file = loop {
        match options.open(path) {
            Ok(file) => break file,
            Err(e)
                if e.raw_os_error() == Some(libc::ENXIO)
                    && started.elapsed() < FIFO_READER_WAIT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                return Err(std::io::Error::other(format!(
                    "a FIFO that no program read within {} s",
                    FIFO_READER_WAIT.as_secs()
                )))
            }
            Err(e) => return Err(e),
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        // Checked on the open descriptor: the name may have changed since it was looked at.
        let kind = file.metadata()?.file_type();
        if !(kind.is_fifo() || kind.is_char_device()) {
            return Err(std::io::Error::other(format!(
                "changed into {} while being opened",
                kind_name(&kind)
            )));
        }
        // Writes block normally from now on.
        clear_nonblocking(&file);
    }
    Ok(file)
}

/// Writes `bytes` to `path` atomically: a hidden temporary file in the same folder,
/// flushed to disk, then renamed over `path`. On any error no file is left behind and an
/// existing `path` is untouched. A new file gets mode 0666 less the umask, as `open(2)`
/// gives; a file that is replaced keeps its permission bits.
///
/// A FIFO or character device named directly (`/dev/null`) is written into instead (a
/// stream cannot be replaced atomically, and renaming over it would replace the node);
/// a FIFO without a reader is given up after [`FIFO_READER_WAIT`]. A block device, a
/// socket, or a symbolic link to anything but a regular file is refused ([`output_target`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io_error(format!("{}: not a file name", path.display())))?;
    let with_path = |e: &dyn std::fmt::Display| io_error(format!("{}: {e}", path.display()));
    match output_target(path) {
        OutputTarget::File => {}
        OutputTarget::Stream => {
            let mut stream = open_stream(path).map_err(|e| with_path(&e))?;
            return stream
                .write_all(bytes)
                .and_then(|()| stream.flush())
                .map_err(|e| with_path(&e));
        }
        OutputTarget::Folder => return Err(with_path(&"is a folder")),
        OutputTarget::Refused(why) => return Err(Error::invalid(why)),
    }
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".colorize-tmp");
    // tempfile makes 0600 files by default; an image is an ordinary document, created as
    // any other file is: 0666, less the umask (applied by open(2)).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let existing = std::fs::metadata(path).ok().filter(|m| m.is_file());
    let mut temp = builder.tempfile_in(dir).map_err(|e| with_path(&e))?;
    // A replaced output keeps its permission bits (a private 0600 file stays private).
    if let Some(meta) = existing {
        temp.as_file()
            .set_permissions(meta.permissions())
            .map_err(|e| with_path(&e))?;
    }
    temp.write_all(bytes).map_err(|e| with_path(&e))?;
    temp.as_file().sync_all().map_err(|e| with_path(&e))?;
    temp.persist(path).map_err(|e| with_path(&e.error))?;
    Ok(())
}

/// Encodes `image` (format from `path`'s extension, else PNG) and writes it atomically.
pub fn save(image: &DynamicImage, path: &Path) -> Result<()> {
    let format = format_for_path(path).unwrap_or(ImageFormat::Png);
    write_atomic(path, &encode(image, format)?)
}
