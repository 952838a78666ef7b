//! Opening files safely for reading: shared by model loading and, with the `io` feature,
//! the image-file layer.

use std::path::Path;

/// Opens `path` for reading without blocking on a FIFO and says what it is: `None` for a
/// regular file, ready to read, or the kind of anything else ("a FIFO", "a device", ...),
/// which the caller refuses. Checked on the open descriptor, so a name swapped after a
/// look cannot slip through.
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
pub(crate) fn clear_nonblocking(file: &std::fs::File) {
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

/// A file type in words.
pub(crate) fn kind_name(kind: &std::fs::FileType) -> &'static str {
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
