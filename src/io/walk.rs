//! The one list of image extensions and the one folder walker.

use super::*;

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

/// A folder's identity, to enter each folder once.
pub(super) fn folder_id(meta: &std::fs::Metadata) -> (u64, u64) {
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

pub(super) fn walk_folder(
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
