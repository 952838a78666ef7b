//! Installed models: `--model NAME` finds NAME.onnx in the COLORIZE_MODEL_PATH folders,
//! then the user's folder ($XDG_DATA_HOME/colorize/models, by default
//! ~/.local/share/colorize/models), then the system's ($XDG_DATA_DIRS, by default
//! /usr/local/share and /usr/share, + colorize/models); names cannot leave those folders,
//! embedded models win, and `--list-models` shows them. The CLI is run with the variables
//! set on the child only, so no test changes this process's environment; unless a test
//! says otherwise, XDG_DATA_HOME and XDG_DATA_DIRS point at empty folders, so that models
//! installed on the machine (e.g. the Debian package colorize-models) do not show.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_colorize");

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    /// A temp folder with `models/mytest.onnx` (a valid test model), `models2/` (empty),
    /// `work/in.png` (grey) and the working folder `work/`.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let setup = Setup { dir };
        std::fs::create_dir_all(setup.path("models")).unwrap();
        std::fs::create_dir_all(setup.path("models2")).unwrap();
        std::fs::create_dir_all(setup.path("work")).unwrap();
        std::fs::write(
            setup.path("models/mytest.onnx"),
            colorize::onnx::linear_test_model(0.5, -0.25),
        )
        .unwrap();
        let img =
            image::GrayImage::from_fn(40, 30, |x, y| image::Luma([((x * 5 + y * 3) % 256) as u8]));
        img.save(setup.path("work/in.png")).unwrap();
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `colorize ARGS` in `work/`, with XDG_DATA_HOME and XDG_DATA_DIRS at empty folders.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.path("work"))
            .env("XDG_DATA_HOME", self.path("empty-data-home"))
            .env("XDG_DATA_DIRS", self.path("empty-data-dir"));
        command
    }

    /// Runs `colorize ARGS` in `work/` with COLORIZE_MODEL_PATH = `model_path`.
    fn run(&self, model_path: &str, args: &[&str]) -> Output {
        self.command(args)
            .env("COLORIZE_MODEL_PATH", model_path)
            .output()
            .unwrap()
    }

    /// Writes the valid test model as `folder/colorize/models/NAME.onnx` (a data folder in
    /// the XDG sense) or, for a plain model folder, `folder/NAME.onnx`; returns the folder
    /// the model is in.
    fn install(&self, folder: &str, name: &str, valid: bool) -> PathBuf {
        let dir = self.path(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = if valid {
            colorize::onnx::linear_test_model(0.5, -0.25)
        } else {
            b"not onnx: loading this file fails".to_vec()
        };
        std::fs::write(dir.join(format!("{name}.onnx")), bytes).unwrap();
        dir
    }

    fn folders(&self, names: &[&str]) -> String {
        let paths: Vec<String> = names
            .iter()
            .map(|n| self.path(n).display().to_string())
            .collect();
        paths.join(":")
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn is_coloured(path: &Path) -> bool {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    img.pixels().any(|p| p[0] != p[1] || p[1] != p[2])
}

#[test]
fn installed_model_by_name() {
    let s = Setup::new();
    // Empty entries are ignored; the first folder that has the file wins.
    let path = format!(":{}::{}:", s.folders(&["models2"]), s.folders(&["models"]));
    let out = s.run(&path, &["in.png", "-o", "out.png", "--model", "mytest"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(is_coloured(&s.path("work/out.png")));
}

#[test]
fn first_folder_wins() {
    let s = Setup::new();
    // A broken file of the same name in a later folder is never read...
    std::fs::write(s.path("models2/mytest.onnx"), b"not onnx").unwrap();
    let out = s.run(
        &s.folders(&["models", "models2"]),
        &["in.png", "-o", "a.png", "--model", "mytest"],
    );
    assert!(out.status.success(), "{}", text(&out));
    // ... and in an earlier folder it is the one loaded, with the file's contract checks.
    let out = s.run(
        &s.folders(&["models2", "models"]),
        &["in.png", "-o", "b.png", "--model", "mytest"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a valid ONNX file"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("models2"), "{}", text(&out));
    assert!(!s.path("work/b.png").exists());
}

#[test]
fn unknown_name_lists_searched_folders() {
    let s = Setup::new();
    let out = s.run(
        &s.folders(&["models", "models2"]),
        &["in.png", "-o", "out.png", "--model", "nosuch"],
    );
    assert_ne!(out.status.code(), Some(0));
    let t = text(&out);
    assert!(t.contains("unknown model name 'nosuch'"), "{t}");
    assert!(t.contains("COLORIZE_MODEL_PATH"), "{t}");
    assert!(t.contains(&s.path("models").display().to_string()), "{t}");
    assert!(t.contains(&s.path("models2").display().to_string()), "{t}");
    assert!(!s.path("work/out.png").exists());

    // Unset: the message says so and names the user's and the system's folders searched.
    let out = s
        .command(&["in.png", "-o", "out.png", "--model", "mytest"])
        .env_remove("COLORIZE_MODEL_PATH")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let t = text(&out);
    assert!(t.contains("COLORIZE_MODEL_PATH is not set"), "{t}");
    let user = s.path("empty-data-home/colorize/models");
    let system = s.path("empty-data-dir/colorize/models");
    assert!(
        t.contains(&format!("{}, {}", user.display(), system.display())),
        "{t}"
    );
}

/// COLORIZE_MODEL_PATH, then $XDG_DATA_HOME/colorize/models, then colorize/models in each
/// $XDG_DATA_DIRS folder in order: the first folder with NAME.onnx wins. Each step is shown
/// by a valid model in the folder that must win and a broken file of the same name in every
/// folder after it (loading one of those would fail).
#[test]
fn search_order_model_path_user_system() {
    let s = Setup::new();
    let run = |model_path: Option<&str>, args: &[&str]| {
        let mut command = s.command(args);
        command
            .env("XDG_DATA_HOME", s.path("data-home"))
            .env(
                "XDG_DATA_DIRS",
                format!(
                    "{}:relative/ignored:{}",
                    s.path("data-dir1").display(),
                    s.path("data-dir2").display()
                ),
            )
            .env_remove("COLORIZE_MODEL_PATH");
        if let Some(path) = model_path {
            command.env("COLORIZE_MODEL_PATH", path);
        }
        command.output().unwrap()
    };
    let user = s.install("data-home/colorize/models", "m", true);
    s.install("data-dir1/colorize/models", "m", false);
    s.install("data-dir2/colorize/models", "m", false);
    // The user's folder comes before the system's.
    let out = run(None, &["in.png", "-o", "user.png", "--model", "m"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(is_coloured(&s.path("work/user.png")));
    // COLORIZE_MODEL_PATH comes before the user's folder.
    s.install("data-home/colorize/models", "m", false);
    s.install("plain", "m", true);
    let plain = s.path("plain").display().to_string();
    let out = run(Some(&plain), &["in.png", "-o", "path.png", "--model", "m"]);
    assert!(out.status.success(), "{}", text(&out));
    // Without it the broken user's file is the one found: its error names it.
    let out = run(None, &["in.png", "-o", "fails.png", "--model", "m"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out).contains(&user.join("m.onnx").display().to_string()),
        "{}",
        text(&out)
    );
    // The first system folder comes before the second.
    let system1 = s.install("data-dir1/colorize/models", "only-system", true);
    s.install("data-dir2/colorize/models", "only-system", false);
    let out = run(
        None,
        &["in.png", "-o", "system.png", "--model", "only-system"],
    );
    assert!(out.status.success(), "{}", text(&out));
    // --list-models: each name once, with the folder that wins.
    let out = run(Some(&plain), &["--list-models"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let installed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("(installed in"))
        .collect();
    assert_eq!(
        installed,
        [
            format!("m (installed in {plain})"),
            format!("only-system (installed in {})", system1.display()),
        ],
        "{stdout}"
    );
    // A relative XDG_DATA_DIRS entry is ignored (the XDG specification): nothing from it.
    s.install("work/relative/ignored/colorize/models", "relative", true);
    let out = run(
        None,
        &["in.png", "-o", "relative.png", "--model", "relative"],
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
}

/// Without XDG_DATA_HOME the user's folder is ~/.local/share/colorize/models; without
/// XDG_DATA_DIRS the system's are /usr/local/share/colorize/models and
/// /usr/share/colorize/models (where the Debian package colorize-models installs).
#[test]
fn default_user_and_system_folders() {
    let s = Setup::new();
    s.install("home/.local/share/colorize/models", "in-home", true);
    let run = |args: &[&str], xdg_data_home: Option<&str>| {
        let mut command = s.command(args);
        command
            .env("HOME", s.path("home"))
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_DATA_DIRS")
            .env_remove("COLORIZE_MODEL_PATH");
        if let Some(value) = xdg_data_home {
            command.env("XDG_DATA_HOME", value);
        }
        command.output().unwrap()
    };
    let out = run(&["in.png", "-o", "home.png", "--model", "in-home"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(is_coloured(&s.path("work/home.png")));
    // An empty or relative XDG_DATA_HOME counts as unset.
    for value in ["", "relative/data"] {
        let out = run(
            &["in.png", "-o", "home2.png", "--model", "in-home"],
            Some(value),
        );
        assert!(
            out.status.success(),
            "XDG_DATA_HOME={value:?}: {}",
            text(&out)
        );
    }
    let out = run(
        &["in.png", "-o", "x.png", "--model", "nosuch-model-name"],
        None,
    );
    let t = text(&out);
    let home = s.path("home/.local/share/colorize/models");
    assert!(
        t.contains(&format!(
            "in: {}, /usr/local/share/colorize/models, /usr/share/colorize/models (",
            home.display()
        )),
        "{t}"
    );
    let folders = colorize::model_folders();
    assert!(
        folders.ends_with(&[
            PathBuf::from("/usr/local/share/colorize/models"),
            PathBuf::from("/usr/share/colorize/models")
        ]) || std::env::var_os("XDG_DATA_DIRS").is_some(),
        "{folders:?}"
    );
}

#[test]
fn names_cannot_leave_the_folders() {
    let s = Setup::new();
    let path = s.folders(&["models"]);
    // Files that a name escaping the folder would reach.
    let model = colorize::onnx::linear_test_model(0.5, -0.25);
    std::fs::write(s.path("x.onnx"), &model).unwrap();
    std::fs::write(s.path("models/.hidden.onnx"), &model).unwrap();
    std::fs::write(s.path("models/..x.onnx"), &model).unwrap();
    for name in ["../x", ".hidden", "..x", "..", "a\\b"] {
        let out = s.run(&path, &["in.png", "-o", "out.png", "--model", name]);
        assert_ne!(out.status.code(), Some(0), "--model {name}: {}", text(&out));
        assert!(!s.path("work/out.png").exists(), "--model {name}");
    }
    let out = s.run(&path, &["in.png", "-o", "out.png", "--model", ".hidden"]);
    assert!(text(&out).contains("not a model name"), "{}", text(&out));
    // Hidden and '..' names are not listed either.
    let out = s.run(&path, &["--list-models"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("hidden"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("..x"));
}

#[test]
fn library_refuses_names_that_are_not_plain() {
    // Checked before any folder is searched, so this needs no environment. NoModel, so
    // callers that try a name and then a file (the GIMP plug-ins) fall back.
    for name in ["../x", "a/b", "a\\b", "..", "a..b", ".hidden", "", "a\0b"] {
        let e = colorize::Model::from_name(name).unwrap_err();
        assert_eq!(e.kind(), colorize::ErrorKind::NoModel, "{name:?}");
        assert!(e.to_string().contains("is not a model name"), "{e}");
    }
}

#[test]
fn embedded_name_wins_over_installed_file() {
    let Some(embedded) = colorize::available_models().first().copied() else {
        common::skip("this build has no embedded models");
        return;
    };
    let s = Setup::new();
    // Loading this file would fail, so success means the embedded model was used.
    std::fs::write(s.path(&format!("models/{embedded}.onnx")), b"not onnx").unwrap();
    let path = s.folders(&["models"]);
    let out = s.run(&path, &["in.png", "-o", "out.png", "--model", embedded]);
    assert!(out.status.success(), "{}", text(&out));
    let out = s.run(&path, &["--list-models"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        stdout.contains(&format!("{embedded} (installed in "))
            && stdout.contains("hidden by the embedded model"),
        "{stdout}"
    );
}

#[test]
fn list_models_shows_installed_models() {
    let s = Setup::new();
    std::fs::write(s.path("models2/mytest.onnx"), b"shadowed").unwrap();
    std::fs::write(s.path("models2/other.onnx"), b"listed, not loaded").unwrap();
    std::fs::write(s.path("models2/notes.txt"), b"not a model").unwrap();
    let out = s.run(
        &format!(
            "{}:{}",
            s.folders(&["models", "models2"]),
            s.path("absent").display()
        ),
        &["--list-models"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = stdout.lines().collect();
    for name in colorize::available_models() {
        assert!(lines.iter().any(|l| l.starts_with(name)), "{stdout}");
    }
    let mytest = format!("mytest (installed in {})", s.path("models").display());
    let other = format!("other (installed in {})", s.path("models2").display());
    assert!(lines.contains(&mytest.as_str()), "{stdout}");
    assert!(lines.contains(&other.as_str()), "{stdout}");
    // Listed once (first folder wins), sorted, nothing else from the folders.
    assert_eq!(lines.iter().filter(|l| l.starts_with("mytest")).count(), 1);
    let installed: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("(installed in"))
        .collect();
    assert_eq!(installed, [&mytest.as_str(), &other.as_str()], "{stdout}");
}

#[test]
fn a_name_is_a_name_and_a_path_is_a_path() {
    let s = Setup::new();
    let path = s.folders(&["models"]);
    // Files in the working folder named like models: loading one of them would fail.
    std::fs::write(s.path("work/default"), b"planted, not onnx").unwrap();
    std::fs::write(s.path("work/mytest"), b"planted, not onnx").unwrap();
    std::fs::write(
        s.path("work/local.onnx"),
        colorize::onnx::linear_test_model(0.5, -0.25),
    )
    .unwrap();

    // Names: the embedded default and the installed model, never the planted files.
    let out = s.run(
        &path,
        &["in.png", "-o", "default.png", "--model", "default"],
    );
    assert!(
        !text(&out).contains("not a valid ONNX file"),
        "{}",
        text(&out)
    );
    if colorize::default_model_name().is_some() {
        assert!(out.status.success(), "{}", text(&out));
        assert!(is_coloured(&s.path("work/default.png")));
    } else {
        assert!(
            text(&out).contains("no embedded default model"),
            "{}",
            text(&out)
        );
    }
    let out = s.run(&path, &["in.png", "-o", "name.png", "--model", "mytest"]);
    assert!(out.status.success(), "{}", text(&out));

    // Paths: a `/` or a `.onnx` ending, even without a folder part.
    for planted in ["./default", "./mytest"] {
        let out = s.run(&path, &["in.png", "-o", "path.png", "--model", planted]);
        assert!(!out.status.success(), "--model {planted}");
        assert!(
            text(&out).contains("not a valid ONNX file"),
            "{}",
            text(&out)
        );
        assert!(!s.path("work/path.png").exists());
    }
    let out = s.run(
        &path,
        &["in.png", "-o", "local.png", "--model", "local.onnx"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(is_coloured(&s.path("work/local.png")));
    // `mytest.onnx` is the file in the working folder (absent), not the installed model.
    let out = s.run(&path, &["in.png", "-o", "x.png", "--model", "mytest.onnx"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("unknown model name"), "{}", text(&out));
    assert!(!s.path("work/x.png").exists());
}

#[test]
fn library_rule_for_names_and_paths() {
    use colorize::{ErrorKind, Model};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("model");
    std::fs::write(&file, colorize::onnx::linear_test_model(0.5, -0.25)).unwrap();
    // A separator makes a path, with or without `.onnx`.
    let model = Model::from_name_or_path(file.to_str().unwrap()).unwrap();
    assert_eq!(model.name(), file.display().to_string());
    // A `.onnx` ending makes a path: a missing file is a load error, not an unknown name.
    let e = Model::from_name_or_path("surely-absent-model.onnx").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModelLoad, "{e}");
    // Anything else is a name.
    let e = Model::from_name_or_path("surely-absent-model").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoModel, "{e}");
    assert!(e.to_string().contains("unknown model name"), "{e}");
    if let Some(name) = colorize::available_models().first() {
        assert!(Model::from_name_or_path(name).is_ok());
    }
}
