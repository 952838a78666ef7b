//! Build script: generates the C header with cbindgen (into OUT_DIR; `COLORIZE_UPDATE_HEADER=1`
//! also refreshes the committed include/colorize.h) and embeds the trained models found in
//! src/models (none yet is fine: the default model is then absent).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    generate_header(&root, &out_dir);
    embed_models(&root, &out_dir);
}

/// The header's version macros, from Cargo.toml's version.
fn version_macros() -> String {
    let part = |name: &str| std::env::var(name).expect("cargo sets the version variables");
    format!(
        "\n#define COLORIZE_VERSION_MAJOR {}\n#define COLORIZE_VERSION_MINOR {}\n#define COLORIZE_VERSION_PATCH {}\n#define COLORIZE_VERSION_STRING \"{}\"",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
        part("CARGO_PKG_VERSION"),
    )
}

fn generate_header(root: &Path, out_dir: &Path) {
    println!("cargo:rerun-if-changed=src/capi.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=COLORIZE_UPDATE_HEADER");
    let mut config = match cbindgen::Config::from_file(root.join("cbindgen.toml")) {
        Ok(config) => config,
        Err(e) => {
            println!("cargo:warning=cbindgen.toml: {e}; the C header is not generated");
            return;
        }
    };
    config.after_includes = Some(version_macros());
    let header = out_dir.join("colorize.h");
    match cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/capi.rs"))
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(&header);
            if std::env::var_os("COLORIZE_UPDATE_HEADER").is_some() {
                std::fs::copy(&header, root.join("include/colorize.h"))
                    .expect("cannot write include/colorize.h");
            }
        }
        // A warning, not a failure, so that a half-edited capi.rs does not block other
        // builds; the header freshness test fails instead.
        Err(e) => println!("cargo:warning=cbindgen cannot generate the C header: {e}"),
    }
}

fn embed_models(root: &Path, out_dir: &Path) {
    let models = root.join("src/models");
    println!("cargo:rerun-if-changed=src/models");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&models)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "onnx"))
        .filter_map(|path| Some((path.file_stem()?.to_str()?.to_string(), path)))
        .collect();
    found.sort();
    let mut code = String::from("/// (name, ONNX bytes) of each embedded model.\npub static EMBEDDED_MODELS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &found {
        println!("cargo:rerun-if-changed={}", path.display());
        writeln!(
            code,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let default_file = models.join("DEFAULT");
    let default = std::fs::read_to_string(&default_file)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(name) = &default {
        if !found.iter().any(|(n, _)| n == name) {
            println!("cargo:warning=src/models/DEFAULT names '{name}' but src/models/{name}.onnx does not exist");
        }
    }
    writeln!(code, "/// Name of the default model (src/models/DEFAULT), if any.\npub static DEFAULT_MODEL: Option<&str> = {default:?};").unwrap();
    std::fs::write(out_dir.join("embedded_models.rs"), code)
        .expect("cannot write embedded_models.rs");
}
