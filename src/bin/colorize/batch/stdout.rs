//! The batch's lines on stdout (one output path per line, NUL-terminated with -0), which
//! stop quietly when the reader has gone (a closed pipe).

use super::*;

/// Set once stdout cannot be written (a closed pipe: `colorize ... | head -1`): no more
/// output-path lines are printed, and the batch goes on.
pub(super) static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Set by -0: lines on stdout end with a NUL byte instead of a newline.
pub(super) static NUL_TERMINATED: AtomicBool = AtomicBool::new(false);

/// Prints one line on stdout (NUL-terminated with -0). On a closed pipe (EPIPE) or any
/// other write error, stops printing for the rest of the run (saying why, unless it is a
/// closed pipe).
pub(super) fn print_line(line: &str) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let end = if NUL_TERMINATED.load(Ordering::Relaxed) {
        '\0'
    } else {
        '\n'
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = write!(out, "{line}{end}").and_then(|()| out.flush()) {
        if !STDOUT_CLOSED.swap(true, Ordering::Relaxed)
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            note!("colorize: stdout: {e}; no more output paths are printed");
        }
    }
}

/// Whether stdout was open when the program started. Rust's runtime opens /dev/null
/// read-write in place of a closed descriptor 0, 1 or 2 (`colorize a.png -o - >&-`), so
/// a descriptor 1 that is /dev/null opened read-write is taken as closed; a shell's
/// `> /dev/null` opens it write-only.
pub(super) fn stdout_is_open() -> bool {
    // SAFETY: fcntl and fstat only query descriptor 1; stat reads a path; the stat
    // buffers are plain data.
    unsafe {
        let flags = libc::fcntl(1, libc::F_GETFL);
        if flags == -1 {
            return false;
        }
        if flags & libc::O_ACCMODE != libc::O_RDWR {
            return true;
        }
        let mut out: libc::stat = std::mem::zeroed();
        let mut null: libc::stat = std::mem::zeroed();
        if libc::fstat(1, &mut out) != 0 {
            return false;
        }
        if libc::stat(c"/dev/null".as_ptr(), &mut null) != 0 {
            return true;
        }
        !(out.st_mode & libc::S_IFMT == libc::S_IFCHR && out.st_rdev == null.st_rdev)
    }
}

/// Writes all of `bytes` to file descriptor 1, reporting every error (EBADF, EPIPE).
pub(super) fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 1 is only borrowed: ManuallyDrop never closes it.
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    out.write_all(bytes).and_then(|()| out.flush())
}
