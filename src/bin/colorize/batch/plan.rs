//! Planning a batch: inputs (files, folders, globs, stdin, a --files-from list) expanded
//! into jobs with their output paths; outputs that would overwrite an input or be written
//! from two inputs refused; temporary files a killed run left swept.

use super::*;

/// The suffix of the temporary files `colorize::io::write_atomic` makes next to an output:
/// `.NAME.RANDOM.colorize-tmp` for the output `NAME`.
pub(super) const TEMP_SUFFIX: &str = ".colorize-tmp";

#[derive(Debug, Clone)]
pub(super) enum Source {
    Stdin,
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub(super) enum Sink {
    Stdout,
    File(PathBuf),
}

#[derive(Debug)]
pub(super) struct Job {
    pub(super) source: Source,
    pub(super) sink: Sink,
    pub(super) format: ImageFormat,
    pub(super) key: PathBuf,
}

impl Source {
    pub(super) fn label(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

impl Sink {
    pub(super) fn label(&self) -> String {
        match self {
            Sink::Stdout => "<stdout>".to_string(),
            Sink::File(p) => p.display().to_string(),
        }
    }
}

/// An input that could not be planned or was refused before any work.
pub(super) struct Failure {
    pub(super) input: String,
    pub(super) output: Option<String>,
    pub(super) message: String,
    /// Shard key; `None` for a command-line argument that expanded to nothing (reported by
    /// every shard).
    pub(super) key: Option<PathBuf>,
}

pub(super) fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Where an input was found.
pub(super) enum Origin {
    Stdin,
    /// Named on the command line, directly or by a glob.
    Argument,
    /// Found in a folder given on the command line: (folder, path inside it).
    Folder(PathBuf, PathBuf),
    /// A line of --files-from.
    Listed,
}

pub(super) struct Found {
    pub(super) source: Source,
    pub(super) origin: Origin,
}

impl Found {
    /// The shard key: the path inside the folder it was found in (prefixed with the
    /// folder's name when there are several inputs, as the output folder mirrors it), or
    /// the path as written on the command line or in the list, `.` components dropped.
    pub(super) fn key(&self, several: bool) -> PathBuf {
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
    pub(super) fn relative_output(&self, several: bool, format: ImageFormat) -> PathBuf {
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
pub(super) fn read_list(spec: &Path) -> Result<Vec<PathBuf>, String> {
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

pub(super) struct Plan {
    /// The jobs of this shard (of the whole batch without --shard).
    pub(super) jobs: Vec<Job>,
    /// Failures of this shard, and argument-level ones.
    pub(super) failures: Vec<Failure>,
    /// Entries of input folders passed over, with why (said on stderr).
    pub(super) notes: Vec<String>,
    /// Inputs in the whole batch.
    pub(super) total: usize,
    /// Lexically absolute paths of every input of the whole batch, and canonical paths of
    /// this shard's: an output equal to any of them is refused.
    pub(super) inputs: HashSet<PathBuf>,
}

pub(super) fn plan(cli: &Cli) -> Result<Plan, String> {
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
pub(super) fn overwrites_input(out: &Path, inputs: &HashSet<PathBuf>) -> bool {
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
pub(super) fn refuse_shared_outputs(jobs: Vec<Job>, failures: &mut Vec<Failure>) -> Vec<Job> {
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
pub(super) fn sweep_leftovers(jobs: &[Job]) -> usize {
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
pub(super) fn temp_target(file_name: &OsStr) -> Option<&str> {
    let name = file_name.to_str()?;
    let inner = name.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let (target, random) = inner.rsplit_once('.')?;
    (!target.is_empty() && !random.is_empty() && random.chars().all(|c| c.is_ascii_alphanumeric()))
        .then_some(target)
}
