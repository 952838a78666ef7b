//! The shipped default model's quality, and the `vivid` model's at its default vividness, on
//! a fixed subset of MiniPlaces validation photos (two per class,
//! tests/data/miniplaces-val-guard.txt) must not fall more than 0.2 dB below the gain over
//! grey that docs/quality.md reports for that subset, nor their colourfulness ratio (output /
//! truth) more than 0.05 below the reported one. A retrained or re-exported model, or an
//! engine change that degrades or mutes colour, fails here.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_colorize");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// How far below the documented gain the measured gain may fall.
const TOLERANCE_DB: f64 = 0.2;
/// How far below the documented colourfulness ratio the measured one may fall.
const TOLERANCE_RATIO: f64 = 0.05;
/// The lines of docs/quality.md that record the subset's figures of the default model and of
/// `vivid`, e.g. `guard subset: grey 23.20 dB, default 24.50 dB, gain +1.30 dB (ratio 0.49)`.
const DEFAULT_GUARD_LINE: &str = "guard subset:";
const VIVID_GUARD_LINE: &str = "guard subset of vivid:";

/// The number after `label` on the line of docs/quality.md that starts with `guard_line`.
fn documented(guard_line: &str, label: &str) -> f64 {
    let doc =
        std::fs::read_to_string(Path::new(ROOT).join("docs/quality.md")).expect("docs/quality.md");
    let line = doc
        .lines()
        .find(|l| l.starts_with(guard_line))
        .unwrap_or_else(|| panic!("docs/quality.md has no line starting `{guard_line}`"));
    let value = line
        .split(label)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the guard line gives no `{label}` figure: {line:?}"));
    value
        .trim_start_matches('+')
        .trim_end_matches(')')
        .parse()
        .unwrap_or_else(|_| panic!("cannot read `{label}` in {line:?}"))
}

#[test]
fn default_model_keeps_its_documented_gain_over_grey() {
    guard("default", DEFAULT_GUARD_LINE);
}

#[test]
fn vivid_model_keeps_its_documented_gain_and_colour() {
    guard("vivid", VIVID_GUARD_LINE);
}

/// `model` (at its default vividness) on the guard subset against the figures on the line
/// of docs/quality.md that starts with `guard_line`.
fn guard(model: &str, guard_line: &str) {
    let val = Path::new(ROOT).join("../shared/data/miniplaces-128/val");
    assert!(
        val.is_dir(),
        "{} is needed for the quality guard",
        val.display()
    );
    let list = Path::new(ROOT).join("tests/data/miniplaces-val-guard.txt");
    let output = Command::new(BIN)
        .args([
            "eval",
            "--model",
            model,
            "--json",
            "--quiet",
            "--files-from",
        ])
        .arg(&list)
        .arg(&val)
        .output()
        .expect("run colorize eval");
    assert!(
        output.status.success(),
        "colorize eval failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["images"], 200);
    let psnr = |i: usize| report["results"][i]["psnr_db"].as_f64().unwrap();
    assert_eq!(report["results"][0]["baseline"], true);
    let gain = psnr(1) - psnr(0);
    let ratio = report["results"][1]["colourfulness_ratio"]
        .as_f64()
        .unwrap();
    let (documented_gain, documented_ratio) = (
        documented(guard_line, "gain "),
        documented(guard_line, "(ratio "),
    );
    eprintln!(
        "{guard_line} grey {:.2} dB, {model} {:.2} dB, gain {gain:+.2} dB (ratio {ratio:.2}); \
         documented gain {documented_gain:+.2}, ratio {documented_ratio:.2}",
        psnr(0),
        psnr(1)
    );
    assert!(
        gain >= documented_gain - TOLERANCE_DB,
        "{model}'s gain over grey on the guard subset is {gain:+.2} dB, more than \
         {TOLERANCE_DB} dB below the {documented_gain:+.2} dB that docs/quality.md reports"
    );
    assert!(
        ratio >= documented_ratio - TOLERANCE_RATIO,
        "{model}'s colourfulness ratio on the guard subset is {ratio:.2}, more than \
         {TOLERANCE_RATIO} below the {documented_ratio:.2} that docs/quality.md reports"
    );
}
