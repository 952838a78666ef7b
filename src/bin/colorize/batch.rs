//! Plans and runs a batch: expands inputs (files, folders, globs, stdin, a --files-from
//! list) into jobs with their output paths, refuses outputs that would overwrite an input
//! or be written from two inputs, keeps the jobs of one --shard, sweeps temporary files a
//! killed run left for those outputs, then colorizes the jobs in parallel, each written
//! atomically, with an optional JSON-lines report.
//!
//! Output names: an output keeps its input's whole file name; only the extension changes,
//! and only when the output format differs from the input's (`scan.1952.06.png` stays
//! `scan.1952.06.png`; `scan.1952.06.webp` becomes `scan.1952.06.png`).
//!
//! Shards (`--shard K/N`): each input has a shard key, its path relative to the batch (see
//! [`Found::key`]); it belongs to shard `fnv1a64_fmix(key) mod N` + 1. The key does not
//! depend on discovery order, on the machine, or on the other inputs, so the N shards are
//! disjoint, together are the whole batch, and a shard is the same set on every run.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use image::ImageFormat;
use rayon::prelude::*;

use crate::{Cli, CliMode};

/// A line on stderr; a closed or failing stderr is ignored (no panic, unlike `eprintln!`).
macro_rules! note {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Set once stdout cannot be written (a closed pipe: `colorize ... | head -1`): no more
/// output-path lines are printed, and the batch goes on.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Set by -0: lines on stdout end with a NUL byte instead of a newline.
static NUL_TERMINATED: AtomicBool = AtomicBool::new(false);

/// Prints one line on stdout (NUL-terminated with -0). On a closed pipe (EPIPE) or any
/// other write error, stops printing for the rest of the run (saying why, unless it is a
/// closed pipe).
fn print_line(line: &str) {
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
fn stdout_is_open() -> bool {
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
fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    // SAFETY: fd 1 is only borrowed: ManuallyDrop never closes it.
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    out.write_all(bytes).and_then(|()| out.flush())
}

/// The suffix of the temporary files `colorize::io::write_atomic` makes next to an output:
/// `.NAME.RANDOM.colorize-tmp` for the output `NAME`.
const TEMP_SUFFIX: &str = ".colorize-tmp";

#[derive(Debug, Clone)]
enum Source {
    Stdin,
    File(PathBuf),
}

#[derive(Debug, Clone)]
enum Sink {
    Stdout,
    File(PathBuf),
}

#[derive(Debug)]
struct Job {
    source: Source,
    sink: Sink,
    format: ImageFormat,
    key: PathBuf,
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

impl Sink {
    fn label(&self) -> String {
        match self {
            Sink::Stdout => "<stdout>".to_string(),
            Sink::File(p) => p.display().to_string(),
        }
    }
}

/// An input that could not be planned or was refused before any work.
struct Failure {
    input: String,
    output: Option<String>,
    message: String,
    /// Shard key; `None` for a command-line argument that expanded to nothing (reported by
    /// every shard).
    key: Option<PathBuf>,
}

fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

use colorize::io::has_image_extension;

/// The output format of a job: --format, else the output file's extension, else the
/// input's own format when it is PNG, JPEG, TIFF or PNM (a WebP, BMP or GIF input is
/// written as PNG: lossless WebP and GIF's 256 colours are poor defaults for a photo),
/// else PNG.
fn output_format(cli: &Cli, output_name: Option<&Path>, input: Option<&Path>) -> ImageFormat {
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
const WRITABLE_EXTENSIONS: &str = ".png, .jpg/.jpeg, .tif/.tiff, .ppm, .webp, .bmp or .gif";

/// Whether `path` is a FIFO or character device named directly: such an output is
/// written into as a stream, whatever its name.
fn is_stream(path: &Path) -> bool {
    colorize::io::output_target(path) == colorize::io::OutputTarget::Stream
}

/// Checks, before any work, that files can be created in the folder `dir` (or, when it
/// does not exist yet, in the nearest existing folder above it, where it will be made).
fn check_writable(dir: &Path) -> Result<(), String> {
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
fn check_output(cli: &Cli, output: &str, output_is_folder: bool, why: &str) -> Result<(), String> {
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
fn output_is_complete(path: &Path, cli: &Cli) -> bool {
    let limits = limits(cli);
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0)
        && colorize::io::decode_file(path, &limits).is_ok()
}

/// Output file name in a folder batch: the input's whole file name when its extension
/// already names `format` (keeping its spelling: `.jpeg`, `.PNG`); otherwise the image
/// extension is replaced by the format's (`a.b.webp` -> `a.b.png`), or the format's is
/// appended when the name has no image extension (`scan.1952` -> `scan.1952.png`).
fn output_name(input: &Path, format: ImageFormat) -> OsString {
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
fn lexical(path: &Path) -> PathBuf {
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
fn is_inner(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Absolute, symlink-resolved form of a path that may not exist yet.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = path.canonicalize() {
        return Some(c);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(parent.canonicalize().ok()?.join(path.file_name()?))
}

/// FNV-1a (64-bit) of the key's bytes, then MurmurHash3's 64-bit finalizer so that every
/// bit of the key reaches the low bits (plain FNV-1a modulo a power of two only sees the
/// low bits of each byte: `scan1.png` and `scan5.png` would always share a shard).
pub fn shard_hash(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The bytes a shard key is hashed from: the relative path with `/` separators.
fn key_bytes(key: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        key.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        key.to_string_lossy().replace('\\', "/").into_bytes()
    }
}

/// The shard (1..=n) of a key.
pub fn shard_of(key: &Path, n: u32) -> u32 {
    (shard_hash(&key_bytes(key)) % u64::from(n)) as u32 + 1
}

/// Where an input was found.
enum Origin {
    Stdin,
    /// Named on the command line, directly or by a glob.
    Argument,
    /// Found in a folder given on the command line: (folder, path inside it).
    Folder(PathBuf, PathBuf),
    /// A line of --files-from.
    Listed,
}

struct Found {
    source: Source,
    origin: Origin,
}

impl Found {
    /// The shard key: the path inside the folder it was found in (prefixed with the
    /// folder's name when there are several inputs, as the output folder mirrors it), or
    /// the path as written on the command line or in the list, `.` components dropped.
    fn key(&self, several: bool) -> PathBuf {
        match (&self.origin, &self.source) {
            (Origin::Folder(root, inner), _) => {
                if several {
                    lexical(&Path::new(root.file_name().unwrap_or_default()).join(inner))
                } else {
                    lexical(inner)
                }
            }
            (_, Source::File(p)) => lexical(p),
            (_, Source::Stdin) => PathBuf::from("-"),
        }
    }

    /// The output path relative to the output folder.
    fn relative_output(&self, several: bool, format: ImageFormat) -> PathBuf {
        match (&self.origin, &self.source) {
            (_, Source::Stdin) | (Origin::Stdin, _) => {
                PathBuf::from(output_name(Path::new("stdin"), format))
            }
            (Origin::Folder(..), Source::File(p)) => self
                .key(several)
                .parent()
                .unwrap_or(Path::new(""))
                .join(output_name(p, format)),
            (Origin::Listed, Source::File(p)) if is_inner(p) => lexical(p)
                .parent()
                .unwrap_or(Path::new(""))
                .join(output_name(p, format)),
            (_, Source::File(p)) => PathBuf::from(output_name(p, format)),
        }
    }
}

/// The paths of a --files-from list: one per line (a trailing `\r` is dropped, empty lines
/// are skipped), or NUL-separated (`find -print0`) when the list holds a NUL byte.
fn read_list(spec: &Path) -> Result<Vec<PathBuf>, String> {
    let mut bytes = Vec::new();
    let result = if spec.as_os_str() == "-" {
        std::io::stdin().lock().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(spec).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    result.map_err(|e| format!("--files-from {}: {e}", spec.display()))?;
    let separator = if bytes.contains(&0) { 0 } else { b'\n' };
    let mut paths = Vec::new();
    for mut item in bytes.split(|&b| b == separator) {
        if separator == b'\n' {
            item = item.strip_suffix(b"\r").unwrap_or(item);
        }
        if item.is_empty() {
            continue;
        }
        #[cfg(unix)]
        let path = {
            use std::os::unix::ffi::OsStrExt;
            PathBuf::from(OsStr::from_bytes(item))
        };
        #[cfg(not(unix))]
        let path = PathBuf::from(String::from_utf8_lossy(item).into_owned());
        paths.push(path);
    }
    Ok(paths)
}

struct Plan {
    /// The jobs of this shard (of the whole batch without --shard).
    jobs: Vec<Job>,
    /// Failures of this shard, and argument-level ones.
    failures: Vec<Failure>,
    /// Entries of input folders passed over, with why (said on stderr).
    notes: Vec<String>,
    /// Inputs in the whole batch.
    total: usize,
    /// Lexically absolute paths of every input of the whole batch, and canonical paths of
    /// this shard's: an output equal to any of them is refused.
    inputs: HashSet<PathBuf>,
}

fn plan(cli: &Cli) -> Result<Plan, String> {
    let output = cli.output.as_deref().expect("clap requires --output");
    let to_stdout = output == "-";
    let mut failures = Vec::new();
    let mut found: Vec<Found> = Vec::new();
    let out_dir_resolved = if to_stdout {
        None
    } else {
        resolved(Path::new(output))
    };
    let argument_failure = |input: &str, message: &str| Failure {
        input: input.to_string(),
        output: None,
        message: message.to_string(),
        key: None,
    };
    let mut folder_inputs = 0;
    let mut notes = Vec::new();
    let several = cli.inputs.len() + usize::from(cli.files_from.is_some()) > 1;
    for input in &cli.inputs {
        if input == "-" {
            found.push(Found {
                source: Source::Stdin,
                origin: Origin::Stdin,
            });
            continue;
        }
        let path = PathBuf::from(input);
        if path.is_dir() {
            folder_inputs += 1;
            let walk = colorize::io::walk_images(
                &path,
                &colorize::io::WalkOptions {
                    follow_links: cli.follow_links,
                    exclude: out_dir_resolved.clone(),
                },
            );
            let in_folder = |p: &Path| Found {
                source: Source::File(p.to_path_buf()),
                origin: Origin::Folder(
                    path.clone(),
                    p.strip_prefix(&path).unwrap_or(p).to_path_buf(),
                ),
            };
            for (skipped, why) in &walk.skipped {
                notes.push(format!("{}: {why}; skipped", skipped.display()));
            }
            // Each unreadable entry is one failure, owned by one shard; the rest is found.
            for (unreadable, e) in &walk.errors {
                failures.push(Failure {
                    input: unreadable.display().to_string(),
                    output: None,
                    message: e.clone(),
                    key: Some(in_folder(unreadable).key(several)),
                });
            }
            if walk.files.is_empty() && walk.errors.is_empty() {
                failures.push(argument_failure(input, "no images in this folder"));
            }
            found.extend(walk.files.iter().map(|f| in_folder(f)));
        } else if path.exists() {
            found.push(Found {
                source: Source::File(path),
                origin: Origin::Argument,
            });
        } else if is_glob(input) {
            match glob::glob(input) {
                Ok(paths) => {
                    let matched: Vec<PathBuf> = paths.flatten().filter(|p| p.is_file()).collect();
                    if matched.is_empty() {
                        failures.push(argument_failure(input, "no file matches this pattern"));
                    }
                    found.extend(matched.into_iter().map(|p| Found {
                        source: Source::File(p),
                        origin: Origin::Argument,
                    }));
                }
                Err(e) => failures.push(argument_failure(input, &format!("bad pattern: {e}"))),
            }
        } else {
            failures.push(argument_failure(input, "no such file or folder"));
        }
    }
    if let Some(list) = &cli.files_from {
        if list.as_os_str() == "-" && cli.inputs.iter().any(|i| i == "-") {
            return Err("--files-from - and the input - cannot both read stdin".to_string());
        }
        if to_stdout {
            return Err("-o - (stdout) takes exactly one input file, not --files-from".to_string());
        }
        // Listed paths are taken as they are (no globbing, no folders): the list may be
        // millions of lines, and each is checked only by the shard that owns it.
        found.extend(read_list(list)?.into_iter().map(|p| Found {
            source: Source::File(p),
            origin: Origin::Listed,
        }));
    }
    if found
        .iter()
        .filter(|f| matches!(f.source, Source::Stdin))
        .count()
        > 1
    {
        return Err("- (stdin) may be given only once".to_string());
    }
    let single_file = cli.inputs.len() == 1
        && cli.files_from.is_none()
        && folder_inputs == 0
        && found.len() <= 1
        && !is_glob(&cli.inputs[0]);
    let output_is_folder = !to_stdout
        && (!single_file
            || Path::new(output).is_dir()
            || output.ends_with(std::path::MAIN_SEPARATOR));
    if to_stdout && (found.len() + failures.len() > 1 || folder_inputs > 0 || cli.inputs.len() > 1)
    {
        return Err("-o - (stdout) takes exactly one input file".to_string());
    }
    if to_stdout && !stdout_is_open() {
        return Err("-o -: stdout is closed; nothing was done".to_string());
    }
    if !to_stdout {
        let why = if folder_inputs > 0 {
            "a folder input"
        } else {
            "more than one input"
        };
        check_output(cli, output, output_is_folder, why)?;
    }

    // The same file named twice (a glob and a name, a repeated list line) is one job.
    let mut seen = HashSet::new();
    found.retain(|f| match &f.source {
        Source::File(p) => seen.insert(lexical(p)),
        Source::Stdin => true,
    });

    let mut jobs = Vec::new();
    for f in found {
        let input_path = match &f.source {
            Source::File(p) => Some(p.as_path()),
            Source::Stdin => None,
        };
        let (sink, format) = if to_stdout {
            (Sink::Stdout, output_format(cli, None, None))
        } else if output_is_folder {
            let format = output_format(cli, None, input_path);
            let relative = f.relative_output(several, format);
            (Sink::File(Path::new(output).join(relative)), format)
        } else {
            let out = PathBuf::from(output);
            let format = output_format(cli, Some(&out), input_path);
            (Sink::File(out), format)
        };
        jobs.push(Job {
            key: f.key(several),
            source: f.source,
            sink,
            format,
        });
    }
    let total = jobs.len();

    // Over the whole batch, so that two shards never write the same output.
    let jobs = refuse_shared_outputs(jobs, &mut failures);
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut inputs: HashSet<PathBuf> = jobs
        .iter()
        .filter_map(|j| match &j.source {
            Source::File(p) => Some(lexical(&cwd.join(p))),
            Source::Stdin => None,
        })
        .collect();

    let (jobs, mut failures) = match cli.shard {
        Some((k, n)) => (
            jobs.into_iter()
                .filter(|j| shard_of(&j.key, n) == k)
                .collect::<Vec<_>>(),
            failures
                .into_iter()
                .filter(|f| f.key.as_ref().is_none_or(|key| shard_of(key, n) == k))
                .collect(),
        ),
        None => (jobs, failures),
    };

    // Listed inputs are checked here, by their own shard only.
    let mut kept = Vec::with_capacity(jobs.len());
    for job in jobs {
        match &job.source {
            Source::File(p) if !p.is_file() => failures.push(Failure {
                input: job.source.label(),
                output: Some(job.sink.label()),
                message: if p.exists() {
                    "not a file".to_string()
                } else {
                    "no such file".to_string()
                },
                key: Some(job.key),
            }),
            Source::File(p) => {
                if let Ok(c) = p.canonicalize() {
                    inputs.insert(c);
                }
                kept.push(job);
            }
            Source::Stdin => kept.push(job),
        }
    }
    let mut jobs = Vec::with_capacity(kept.len());
    for job in kept {
        match &job.sink {
            Sink::File(out) if overwrites_input(out, &inputs) => failures.push(Failure {
                input: job.source.label(),
                output: Some(job.sink.label()),
                message: format!("refusing to overwrite an input: {}", out.display()),
                key: Some(job.key),
            }),
            _ => jobs.push(job),
        }
    }
    Ok(Plan {
        jobs,
        failures,
        notes,
        total,
        inputs,
    })
}

/// Whether writing `out` would replace one of `inputs` (only possible if `out` exists).
fn overwrites_input(out: &Path, inputs: &HashSet<PathBuf>) -> bool {
    if inputs.contains(&lexical(
        &std::env::current_dir().unwrap_or_default().join(out),
    )) {
        return true;
    }
    out.exists() && resolved(out).is_some_and(|p| inputs.contains(&p))
}

/// Refuses every job whose output would also be written from another input (for example
/// `a.png` and `a.webp`, both written as `a.png`): all of them, whatever their order, so
/// that no output silently depends on which input came last.
fn refuse_shared_outputs(jobs: Vec<Job>, failures: &mut Vec<Failure>) -> Vec<Job> {
    let mut by_output: HashMap<PathBuf, Vec<usize>> = HashMap::new();
    for (i, job) in jobs.iter().enumerate() {
        if let Sink::File(out) = &job.sink {
            by_output.entry(lexical(out)).or_default().push(i);
        }
    }
    let mut refused = vec![false; jobs.len()];
    let mut messages: HashMap<usize, String> = HashMap::new();
    for group in by_output.values().filter(|g| g.len() > 1) {
        let names: Vec<String> = group.iter().map(|&i| jobs[i].source.label()).collect();
        for &i in group {
            refused[i] = true;
            messages.insert(
                i,
                format!(
                    "{} would be written from each of {}; rename one of them, or choose \
                     another --format (nothing was written for them)",
                    jobs[i].sink.label(),
                    names.join(", ")
                ),
            );
        }
    }
    let mut kept = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.into_iter().enumerate() {
        if refused[i] {
            failures.push(Failure {
                input: job.source.label(),
                output: Some(job.sink.label()),
                message: messages.remove(&i).unwrap_or_default(),
                key: Some(job.key),
            });
        } else {
            kept.push(job);
        }
    }
    kept
}

/// Removes the temporary files a killed run left for this run's outputs (the pattern of
/// `colorize::io::write_atomic`: `.NAME.RANDOM.colorize-tmp` beside the output `NAME`),
/// and nothing else: other files, other names, other shards' outputs are left alone.
fn sweep_leftovers(jobs: &[Job]) -> usize {
    let mut by_dir: HashMap<PathBuf, HashSet<OsString>> = HashMap::new();
    for job in jobs {
        if let Sink::File(out) = &job.sink {
            if let Some(name) = out.file_name() {
                let dir = match out.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                by_dir.entry(dir).or_default().insert(name.to_os_string());
            }
        }
    }
    let mut removed = 0;
    for (dir, names) in by_dir {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(target) = temp_target(&file_name) else {
                continue;
            };
            if !names.contains(OsStr::new(target)) {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_file())
                && std::fs::remove_file(entry.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    removed
}

/// The output name a temporary file of `write_atomic` was for: `.NAME.RANDOM.colorize-tmp`
/// gives `NAME` (RANDOM: letters and digits).
fn temp_target(file_name: &OsStr) -> Option<&str> {
    let name = file_name.to_str()?;
    let inner = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let (target, random) = inner.rsplit_once('.')?;
    (!target.is_empty() && !random.is_empty() && random.chars().all(|c| c.is_ascii_alphanumeric()))
        .then_some(target)
}

/// The decoding limits of the command line.
fn limits(cli: &Cli) -> colorize::io::Limits {
    colorize::io::Limits {
        max_pixels: cli.max_pixels,
        accept_truncated: cli.accept_truncated,
        ..Default::default()
    }
}

/// Memory for the images in progress together (--memory-budget): each image reserves its
/// estimated peak once its header is read, before its pixels are decoded, and waits while
/// the others hold too much. Waiting happens on the batch's own worker threads, never on
/// rayon's (a rayon thread waiting could be the one running the image that holds the memory).
struct MemoryPool {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
}

/// Memory reserved from a [`MemoryPool`], given back when dropped.
struct Reservation<'a> {
    pool: &'a MemoryPool,
    bytes: u64,
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut used = self.pool.used.lock().unwrap_or_else(|e| e.into_inner());
        *used -= self.bytes;
        self.pool.freed.notify_all();
    }
}

fn gigabytes(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

impl MemoryPool {
    fn new(total: u64) -> Self {
        MemoryPool {
            total,
            used: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// Reserves `bytes` for an image of `header`, waiting for others to finish if need
    /// be; refuses an image that could never fit.
    fn reserve(
        &self,
        bytes: u64,
        header: &colorize::io::Header,
    ) -> colorize::Result<Reservation<'_>> {
        if bytes > self.total {
            return Err(colorize::Error::new(
                colorize::ErrorKind::TooLarge,
                format!(
                    "a {}x{} image needs about {} of memory with these options, over the \
                     memory budget of {} (a smaller --size or --resize, --mode native, or a \
                     larger --memory-budget)",
                    header.width,
                    header.height,
                    gigabytes(bytes),
                    gigabytes(self.total)
                ),
            ));
        }
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while used.saturating_add(bytes) > self.total {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += bytes;
        Ok(Reservation { pool: self, bytes })
    }
}

/// What [`run_job`] needs besides the job.
struct Context<'a> {
    cli: &'a Cli,
    model: &'a colorize::Model,
    options: &'a colorize::Options<'a>,
    inputs: &'a HashSet<PathBuf>,
    memory: &'a MemoryPool,
}

fn run_job(job: &Job, context: &Context<'_>) -> colorize::Result<JobDone> {
    let Context {
        cli,
        model,
        options,
        inputs,
        memory,
    } = *context;
    let limits = limits(cli);
    // A test hook: a panic on a rayon thread inside this input's work, as an allocation
    // failure inside the network would raise, for the batch's panic handling to be tested.
    if let (Some(marker), Source::File(path)) =
        (std::env::var_os("COLORIZE_TEST_PANIC_ON"), &job.source)
    {
        if path.as_os_str() == marker {
            use rayon::prelude::*;
            (0..2).into_par_iter().for_each(|i| {
                if i == 1 {
                    panic!("test panic for {}", path.display())
                }
            });
        }
    }
    // The estimate of the whole job, from the header (and --resize), before decoding.
    let reserve = |header: &colorize::io::Header| {
        let (mut w, mut h) = (header.width, header.height);
        if let Some((rw, rh)) = cli.resize {
            if u64::from(rw) * u64::from(rh) > u64::from(w) * u64::from(h) {
                (w, h) = (rw, rh);
            }
        }
        let input = u64::from(header.color.bytes_per_pixel());
        let channels = u64::from(header.color.channel_count()).max(1);
        let output = input / channels * if header.color.has_alpha() { 4 } else { 3 };
        let bytes = colorize::budget::estimate_peak_bytes(model, options, w, h, input, output);
        memory.reserve(bytes, header)
    };
    let (image, _reservation, carried) = match &job.source {
        Source::Stdin => {
            let bytes = colorize::io::read_stream(std::io::stdin().lock(), &limits)?;
            if bytes.is_empty() {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::Io,
                    "stdin is empty",
                ));
            }
            let carried = crate::metadata::check(crate::metadata::Carried::from_bytes(&bytes))?;
            let (image, reservation) = colorize::io::decode_bytes_with(&bytes, &limits, reserve)?;
            (image, reservation, carried)
        }
        Source::File(path) => {
            let carried = crate::metadata::check(crate::metadata::Carried::from_path(path))?;
            let (image, reservation) = colorize::io::decode_file_with(path, &limits, reserve)?;
            (image, reservation, carried)
        }
    };
    // Colour-managed to sRGB before the engine takes L*; metadata settled for the output.
    let (image, input) = crate::metadata::take_in(
        image,
        carried,
        cli.strip,
        cli.keep_profile,
        &job.source.label(),
    )?;
    let image = match cli.resize {
        Some((w, h)) => {
            if u64::from(w) * u64::from(h) > cli.max_pixels {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::TooLarge,
                    format!("--resize {w}x{h} is over --max-pixels"),
                ));
            }
            image.resize_exact(w, h, image::imageops::FilterType::Lanczos3)
        }
        None => image,
    };
    let coloured = colorize::colorize_image(model, options, image)?;
    let coloured = crate::metadata::give_out(coloured, &input)?;
    let done = JobDone {
        alpha_dropped: colorize::io::drops_alpha(&coloured, job.format),
    };
    let settings = crate::metadata::Settings {
        quality: cli.quality,
        subsampling: cli.subsampling,
    };
    let bytes = crate::metadata::encode(&coloured, job.format, &input.carried, &settings)?;
    match &job.sink {
        Sink::Stdout => write_stdout(&bytes)
            .map(|()| done)
            .map_err(|e| colorize::Error::new(colorize::ErrorKind::Io, format!("stdout: {e}"))),
        Sink::File(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    colorize::Error::new(colorize::ErrorKind::Io, format!("{}: {e}", dir.display()))
                })?;
            }
            // Again now that the folder exists and the path can be fully resolved.
            if overwrites_input(path, inputs) {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::InvalidArgument,
                    format!("refusing to overwrite an input: {}", path.display()),
                ));
            }
            colorize::io::write_atomic(path, &bytes).map(|()| done)
        }
    }
}

/// What a finished job tells the user about.
struct JobDone {
    /// The image had alpha and the output format holds none.
    alpha_dropped: bool,
}

/// The --report file: one JSON object per input and line, appended and written as each
/// input finishes (one `write` per line, so shards may even share a local file).
struct Report(Option<Mutex<std::fs::File>>);

impl Report {
    fn open(path: Option<&Path>) -> Result<Report, String> {
        let Some(path) = path else {
            return Ok(Report(None));
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("--report {}: {e}", path.display()))?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(|f| Report(Some(Mutex::new(f))))
            .map_err(|e| format!("--report {}: {e}", path.display()))
    }

    fn line(&self, input: &str, output: Option<&str>, status: &str, error: Option<&str>, ms: u64) {
        let Some(file) = &self.0 else { return };
        #[derive(serde::Serialize)]
        struct Line<'a> {
            input: &'a str,
            output: Option<&'a str>,
            status: &'a str,
            error: Option<&'a str>,
            milliseconds: u64,
        }
        let mut line = serde_json::to_string(&Line {
            input,
            output,
            status,
            error,
            milliseconds: ms,
        })
        .unwrap_or_default();
        line.push('\n');
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
            note!("colorize: --report: {e}");
        }
    }
}

/// Set while the jobs run: a panic is caught by the job that raised it and reported as
/// that input's error, so the default hook's message on stderr is not printed.
static QUIET_PANICS: AtomicBool = AtomicBool::new(false);

/// Installs (once) a panic hook that stays silent while [`QUIET_PANICS`] is set.
fn quiet_panics_in_jobs() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.load(Ordering::Relaxed) {
                default(info);
            }
        }));
    });
    QUIET_PANICS.store(true, Ordering::Relaxed);
}

/// A caught panic as an input's error.
fn panic_error(payload: Box<dyn std::any::Any + Send>) -> colorize::Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    colorize::Error::new(
        colorize::ErrorKind::Inference,
        format!("internal error, this input was given up (please report it): {message}"),
    )
}

/// Set by SIGINT or SIGTERM (Slurm's scancel, a job's time limit): no new image is
/// started, the ones being written are finished. A second signal kills at once.
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_stop_signal(signal: libc::c_int) {
    STOP.store(signal, Ordering::SeqCst);
    let message = b"colorize: stopping after the images in progress (signal again to stop now)\n";
    // SAFETY: write(2) is async-signal-safe; the buffer is static.
    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
}

fn catch_stop_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs a handler that only stores to an atomic; SA_RESETHAND restores
        // the default action for a second signal.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

pub fn run(cli: &Cli) -> ExitCode {
    let started = Instant::now();
    // The network's and the pixel loops' parallel work runs on rayon's global pool, sized
    // to --jobs before anything uses it, so the batch never uses more cores than asked.
    if let Some(jobs) = cli.jobs {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.max(1))
            .build_global();
    }
    NUL_TERMINATED.store(cli.print0, Ordering::Relaxed);
    let Plan {
        jobs,
        failures,
        notes,
        total,
        inputs,
    } = match plan(cli) {
        Ok(plan) => plan,
        Err(usage) => {
            note!("colorize: {usage}");
            return ExitCode::from(2);
        }
    };
    for line in &notes {
        note!("colorize: {line}");
    }
    for f in &failures {
        note!("colorize: {}: {}", f.input, f.message);
    }
    if let (Some((k, n)), false) = (cli.shard, cli.quiet) {
        note!(
            "colorize: shard {k}/{n}: {} of {total} inputs",
            jobs.len() + failures.iter().filter(|f| f.key.is_some()).count()
        );
    }
    // --skip-existing leaves alone only outputs that are whole (non-empty and decoding);
    // checked in parallel, as a resumed batch may have thousands.
    let skip: Vec<bool> = if cli.skip_existing {
        jobs.par_iter()
            .map(|job| match &job.sink {
                Sink::File(p) if p.exists() => {
                    let complete = output_is_complete(p, cli);
                    if !complete && !cli.quiet {
                        note!(
                            "colorize: {}: empty or not a whole image; writing it again",
                            p.display()
                        );
                    }
                    complete
                }
                _ => false,
            })
            .collect()
    } else {
        vec![false; jobs.len()]
    };
    let (skipped, jobs): (Vec<(Job, bool)>, Vec<(Job, bool)>) =
        jobs.into_iter().zip(skip).partition(|(_, skip)| *skip);
    let skipped: Vec<Job> = skipped.into_iter().map(|(job, _)| job).collect();
    let jobs: Vec<Job> = jobs.into_iter().map(|(job, _)| job).collect();
    let skipped_count = skipped.len();
    if cli.dry_run {
        for job in &jobs {
            print_line(&format!("{}\t{}", job.source.label(), job.sink.label()));
        }
        return if failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    let report = match Report::open(cli.report.as_deref()) {
        Ok(r) => r,
        Err(e) => {
            note!("colorize: {e}");
            return ExitCode::from(2);
        }
    };
    for f in &failures {
        report.line(&f.input, f.output.as_deref(), "failed", Some(&f.message), 0);
    }
    for job in &skipped {
        report.line(
            &job.source.label(),
            Some(&job.sink.label()),
            "skipped",
            None,
            0,
        );
    }
    let swept = sweep_leftovers(&jobs);
    if swept > 0 && !cli.quiet {
        note!("colorize: removed {swept} temporary file(s) left by an interrupted run");
    }
    let failed = AtomicUsize::new(failures.len());
    let done = AtomicUsize::new(0);
    let not_started = AtomicUsize::new(0);
    if !jobs.is_empty() {
        let model = match crate::load_model(&cli.model) {
            Ok(m) => m,
            Err(e) => {
                note!("colorize: model {}: {e}", cli.model);
                return ExitCode::from(1);
            }
        };
        if let Err(e) = model.temperature_for(cli.vividness.unwrap_or(0.0)) {
            note!("colorize: --vividness: {e}");
            return ExitCode::from(2);
        }
        let options = colorize::Options {
            working_size: cli.size.unwrap_or(0),
            saturation: cli.saturation,
            vividness: cli.vividness.unwrap_or(0.0),
            mode: match cli.mode {
                CliMode::Working => colorize::Mode::Working,
                CliMode::Native => colorize::Mode::Native,
            },
            tile_size: cli.tile_size.unwrap_or(0),
            upsampling: match cli.upsampling {
                crate::CliUpsampling::Guided => colorize::Upsampling::Guided,
                crate::CliUpsampling::Bilinear => colorize::Upsampling::Bilinear,
            },
            precision: cli.precision.into(),
            ..Default::default()
        };
        let threads = cli
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let memory = MemoryPool::new(cli.memory_budget.unwrap_or_else(|| {
            colorize::budget::available_memory().map_or(u64::MAX, |m| m / 4 * 3)
        }));
        let show_bar = !cli.quiet && std::io::stderr().is_terminal() && jobs.len() > 1;
        let bar = if show_bar {
            let style = indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} {per_sec} {elapsed_precise}, {eta} left",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            indicatif::ProgressBar::new(jobs.len() as u64).with_style(style)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let stdout_used = jobs.iter().any(|j| matches!(j.sink, Sink::Stdout));
        let print_paths = (cli.print || cli.print0) && !stdout_used;
        // Not while reading an image from stdin: that read would not be interrupted.
        if !jobs.iter().any(|j| matches!(j.source, Source::Stdin)) {
            catch_stop_signals();
        }
        let alpha_noted = AtomicBool::new(false);
        let context = Context {
            cli,
            model: &model,
            options: &options,
            inputs: &inputs,
            memory: &memory,
        };
        let next = AtomicUsize::new(0);
        quiet_panics_in_jobs();
        let work = || loop {
            let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            if STOP.load(Ordering::SeqCst) != 0 {
                not_started.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let t = Instant::now();
            // A panic (a bug, or an allocation the estimate missed) ends this input only:
            // its message becomes the input's error and the batch goes on.
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_job(job, &context)))
                    .unwrap_or_else(|payload| Err(panic_error(payload)));
            let ms = t.elapsed().as_millis() as u64;
            let (input, output) = (job.source.label(), job.sink.label());
            match result {
                Ok(job_done) => {
                    done.fetch_add(1, Ordering::Relaxed);
                    report.line(&input, Some(&output), "colorized", None, ms);
                    if job_done.alpha_dropped && !alpha_noted.swap(true, Ordering::Relaxed) {
                        let format = format!("{:?}", job.format).to_uppercase();
                        bar.suspend(|| {
                            note!(
                                "colorize: note: {format} has no alpha channel; the \
                                 transparency of {input} (and of any other such input) \
                                 is dropped: use PNG, TIFF or WebP to keep it"
                            )
                        });
                    }
                    if print_paths {
                        bar.suspend(|| print_line(&output));
                    }
                }
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    let message = e.to_string();
                    report.line(&input, Some(&output), "failed", Some(&message), ms);
                    bar.suspend(|| note!("colorize: {input}: {message}"));
                }
            }
            bar.inc(1);
        };
        let started_all = std::thread::scope(|scope| {
            let mut started = 0;
            for i in 0..threads.min(jobs.len()) {
                match std::thread::Builder::new()
                    .name(format!("colorize-job-{i}"))
                    .spawn_scoped(scope, work)
                {
                    Ok(_) => started += 1,
                    Err(e) => {
                        note!("colorize: cannot start a worker thread: {e}");
                        break;
                    }
                }
            }
            started > 0
        });
        QUIET_PANICS.store(false, Ordering::Relaxed);
        if !started_all {
            return ExitCode::from(1);
        }
        bar.finish_and_clear();
    }
    let (done, failed, not_started) = (
        done.into_inner(),
        failed.into_inner(),
        not_started.into_inner(),
    );
    if !cli.quiet {
        note!(
            "colorize: {done} colorized, {skipped_count} skipped (already there), {failed} failed, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let signal = STOP.load(Ordering::SeqCst);
    if signal != 0 {
        note!(
            "colorize: stopped by signal {signal}: {not_started} input(s) not started; \
             run again with --skip-existing to finish"
        );
        return ExitCode::from(128 + signal as u8);
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_keep_the_whole_name() {
        let png = ImageFormat::Png;
        for (input, format, expected) in [
            ("scan.1952.06.png", png, "scan.1952.06.png"),
            ("v1.2.final.png", png, "v1.2.final.png"),
            ("d.PNG", png, "d.PNG"),
            ("scan.1952.06.webp", png, "scan.1952.06.png"),
            ("a b.c.tif", ImageFormat::Jpeg, "a b.c.jpg"),
            ("x.jpeg", ImageFormat::Jpeg, "x.jpeg"),
            ("g.1.pgm", ImageFormat::Pnm, "g.1.ppm"),
            ("scan.1952", png, "scan.1952.png"),
            ("noext", png, "noext.png"),
            ("-dash.png", png, "-dash.png"),
            ("façade.été.png", png, "façade.été.png"),
        ] {
            assert_eq!(
                output_name(Path::new(input), format),
                OsString::from(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn shard_hash_is_pinned() {
        // The assignment must never change between versions or machines: a cluster run
        // resumed with a newer build must pick the same inputs.
        // Same values as the Python in docs/scale-out.md.
        assert_eq!(shard_hash(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(shard_hash(b"a.png"), 0x770c_0647_53fc_ca9e);
        assert_eq!(shard_hash(b"scan.1952.06.png"), 0xf6ba_d17a_d55c_e219);
        assert_eq!(shard_of(Path::new("sub/fa\u{e7}ade.png"), 4), 1);
        assert_eq!(shard_of(Path::new("scan.1952.06.png"), 4), 2);
    }

    #[test]
    fn shards_are_balanced_and_cover_everything() {
        for n in [4u32, 7, 16] {
            let mut sizes = vec![0usize; n as usize];
            for i in 0..100_000 {
                let key = format!("d{}/IMG_{i:06}.png", i / 1000);
                let k = shard_of(Path::new(&key), n);
                assert!((1..=n).contains(&k));
                sizes[k as usize - 1] += 1;
            }
            let expected = 100_000 / n as usize;
            assert!(
                sizes.iter().all(|&s| s.abs_diff(expected) * 50 <= expected),
                "{n}: {sizes:?}"
            );
        }
    }

    #[test]
    fn temp_names() {
        assert_eq!(
            temp_target(OsStr::new(".a.b.png.Xy12Zq.colorize-tmp")),
            Some("a.b.png")
        );
        assert_eq!(temp_target(OsStr::new("a.png.Xy12Zq.colorize-tmp")), None);
        assert_eq!(temp_target(OsStr::new(".a.png.colorize-tmp.txt")), None);
        assert_eq!(temp_target(OsStr::new(".a.png.x-y.colorize-tmp")), None);
    }
}
