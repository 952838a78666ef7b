//! Atomic writes: a hidden temporary file renamed over the final name when complete; what
//! is at an output path (a file, a device, a FIFO) and how each is written.

use super::*;

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
pub(super) fn open_stream(path: &Path) -> std::io::Result<std::fs::File> {
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
