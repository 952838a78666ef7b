//! Output paths and formats: the format from the output's name or the input's, the name
//! kept but for the extension, folders checked writable, paths compared lexically.

use super::*;

/// The output format of a job: --format, else the output file's extension, else the
/// input's own format when it is PNG, JPEG, TIFF or PNM (a WebP, BMP or GIF input is
/// written as PNG: lossless WebP and GIF's 256 colours are poor defaults for a photo),
/// else PNG.
pub(super) fn output_format(
    cli: &Cli,
    output_name: Option<&Path>,
    input: Option<&Path>,
) -> ImageFormat {
    cli.format
        .map(|f| f.image_format())
        .or_else(|| output_name.and_then(colorize::io::format_for_path))
        .or_else(|| {
            input.and_then(colorize::io::format_for_path).filter(|f| {
                matches!(
                    f,
                    ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Tiff | ImageFormat::Pnm
                )
            })
        })
        .unwrap_or(ImageFormat::Png)
}

/// The output extensions `-o FILE` may have (or --format is needed).
pub(super) const WRITABLE_EXTENSIONS: &str =
    ".png, .jpg/.jpeg, .tif/.tiff, .ppm, .webp, .bmp or .gif";

/// Whether `path` is a FIFO or character device named directly: such an output is
/// written into as a stream, whatever its name.
pub(super) fn is_stream(path: &Path) -> bool {
    colorize::io::output_target(path) == colorize::io::OutputTarget::Stream
}

/// Checks, before any work, that files can be created in the folder `dir` (or, when it
/// does not exist yet, in the nearest existing folder above it, where it will be made).
pub(super) fn check_writable(dir: &Path) -> Result<(), String> {
    let mut at = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_path_buf()
    };
    loop {
        match std::fs::metadata(&at) {
            Ok(m) if m.is_dir() => break,
            Ok(_) => {
                return Err(format!(
                    "{} is a file, so no output can be written under it",
                    at.display()
                ))
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) =>
            {
                at = match at.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
            }
            Err(e) => return Err(format!("{}: {e}", at.display())),
        }
    }
    // A real file, removed at once: the only test that sees read-only mounts, ACLs and
    // root's rights as writing will.
    tempfile::Builder::new()
        .prefix(".colorize-probe.")
        .tempfile_in(&at)
        .map(drop)
        .map_err(|e| {
            format!(
                "cannot write outputs in {}: {e} (nothing was done)",
                at.display()
            )
        })
}

/// Problems with `-o` found before any work: a file named where a folder is needed (or a
/// name that looks like a file), an output format that cannot be told from the name, a
/// folder that cannot be written.
pub(super) fn check_output(
    cli: &Cli,
    output: &str,
    output_is_folder: bool,
    why: &str,
) -> Result<(), String> {
    let out = Path::new(output);
    if output_is_folder {
        if out.exists() && !out.is_dir() {
            return Err(format!(
                "-o {output} is an existing file, but {why} needs an output folder;                  name a folder (it is created if missing)"
            ));
        }
        let file_like = colorize::io::format_for_path(out).is_some() || has_image_extension(out);
        if !out.exists() && file_like && !output.ends_with(std::path::MAIN_SEPARATOR) {
            return Err(format!(
                "-o {output} looks like a file name, but {why} needs an output folder;                  name a folder (or end the name with {} to make a folder of that name)",
                std::path::MAIN_SEPARATOR
            ));
        }
        return check_writable(out).map_err(|e| format!("-o {output}: {e}"));
    }
    if let colorize::io::OutputTarget::Refused(why) = colorize::io::output_target(out) {
        return Err(format!("-o {output}: {why}"));
    }
    if is_stream(out) {
        return Ok(());
    }
    if cli.format.is_none() && colorize::io::format_for_path(out).is_none() {
        let what = match out.extension().and_then(|e| e.to_str()) {
            Some(ext) => format!("the extension .{ext} is not a format colorize writes"),
            None => "the name has no extension".to_string(),
        };
        return Err(format!(
            "-o {output}: {what}; use {WRITABLE_EXTENSIONS}, or give --format"
        ));
    }
    check_writable(out.parent().unwrap_or(Path::new(""))).map_err(|e| format!("-o {output}: {e}"))
}

/// Whether an existing output is whole: a non-empty file that decodes (--skip-existing
/// trusts nothing less).
pub(super) fn output_is_complete(path: &Path, cli: &Cli) -> bool {
    let limits = limits(cli);
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
        && colorize::io::decode_file(path, &limits).is_ok()
}

/// Output file name in a folder batch: the input's whole file name when its extension
/// already names `format` (keeping its spelling: `.jpeg`, `.PNG`); otherwise the image
/// extension is replaced by the format's (`a.b.webp` -> `a.b.png`), or the format's is
/// appended when the name has no image extension (`scan.1952` -> `scan.1952.png`).
pub(super) fn output_name(input: &Path, format: ImageFormat) -> OsString {
    let name = input.file_name().unwrap_or(OsStr::new("stdin"));
    let ext = input
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let same_format = colorize::io::format_for_path(input) == Some(format)
        // PNM inputs (pgm, pbm, pam, pnm) are written as binary PPM.
        && (format != ImageFormat::Pnm || ext.as_deref() == Some("ppm"));
    if same_format {
        return name.to_os_string();
    }
    let mut out = if has_image_extension(input) {
        input.file_stem().unwrap_or(name).to_os_string()
    } else {
        name.to_os_string()
    };
    out.push(".");
    out.push(colorize::io::extension_of(format));
    out
}

/// `path` with `.` components dropped and `..` applied lexically (no file system access).
pub(super) fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Whether a relative path stays inside its base (no root, no `..`).
pub(super) fn is_inner(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Absolute, symlink-resolved form of a path that may not exist yet.
pub(super) fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = path.canonicalize() {
        return Some(c);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(parent.canonicalize().ok()?.join(path.file_name()?))
}
