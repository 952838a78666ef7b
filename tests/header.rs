//! The committed C header equals the one cbindgen generates from src/capi.rs (refresh it
//! with `COLORIZE_UPDATE_HEADER=1 cargo build --release`), its version macros equal
//! Cargo.toml's version and `colorize_version()`, and the library exports exactly the
//! functions the header declares.

mod common;

use std::collections::BTreeSet;

const COMMITTED: &str = include_str!("../include/colorize.h");

#[test]
fn committed_header_equals_generated_header() {
    let generated = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/colorize.h")).expect(
        "build.rs did not generate the header (see the cbindgen warning in the build output)",
    );
    assert!(
        generated == COMMITTED,
        "include/colorize.h is stale: run `COLORIZE_UPDATE_HEADER=1 cargo build --release` and commit it"
    );
}

fn macro_value(name: &str) -> String {
    let prefix = format!("#define {name} ");
    COMMITTED
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} missing from the header"))
        .trim()
        .trim_matches('"')
        .to_string()
}

#[test]
fn version_macros_equal_cargo_and_runtime_version() {
    let from_macros = format!(
        "{}.{}.{}",
        macro_value("COLORIZE_VERSION_MAJOR"),
        macro_value("COLORIZE_VERSION_MINOR"),
        macro_value("COLORIZE_VERSION_PATCH")
    );
    assert_eq!(from_macros, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        macro_value("COLORIZE_VERSION_STRING"),
        env!("CARGO_PKG_VERSION")
    );
    // The C function, as a C caller links it (the symbol the library exports).
    extern "C" {
        fn colorize_version() -> *const std::ffi::c_char;
    }
    let runtime = unsafe { std::ffi::CStr::from_ptr(colorize_version()) };
    assert_eq!(runtime.to_str().unwrap(), from_macros);
}

/// Names of functions declared in the header: an identifier followed by `(` on a line
/// that is not a comment.
fn declared_functions() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in COMMITTED.lines().map(str::trim) {
        if line.starts_with('*')
            || line.starts_with("/*")
            || line.starts_with("//")
            || line.starts_with('#')
        {
            continue;
        }
        if let Some(open) = line.find('(') {
            let before = &line[..open];
            let name = before
                .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or("");
            if name.starts_with("colorize_") {
                names.insert(name.to_string());
            }
        }
    }
    names
}

#[test]
fn library_exports_exactly_the_declared_functions() {
    let declared = declared_functions();
    assert!(declared.len() >= 14, "{declared:?}");
    let lib = common::library_dir().join("libcolorize.so");
    let out = std::process::Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&lib)
        .output()
        .expect("nm");
    let exported: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .filter(|s| s.starts_with("colorize_"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        exported,
        declared,
        "exports of {} vs the header",
        lib.display()
    );
}
