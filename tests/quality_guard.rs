//! The shipped default model's quality on a fixed subset of MiniPlaces validation photos
//! (two per class, tests/data/miniplaces-val-guard.txt) must not fall more than 0.2 dB
//! below the gain over grey that docs/quality.md reports for that subset. A retrained or
//! re-exported default, or an engine change that degrades colour, fails here.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_colorize");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// How far below the documented gain the measured gain may fall.
const TOLERANCE_DB: f64 = 0.2;
/// The line of docs/quality.md that records the subset's figures, e.g.
/// `guard subset: grey 23.20 dB, default 24.50 dB, gain +1.30 dB`.
const GUARD_LINE: &str = "guard subset:";

fn documented_gain() -> f64 {
    let doc =
        std::fs::read_to_string(Path::new(ROOT).join("docs/quality.md")).expect("docs/quality.md");
    let line = doc
        .lines()
        .find(|l| l.contains(GUARD_LINE))
        .expect("docs/quality.md has a `guard subset:` line");
    let gain = line
        .split("gain ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the guard line gives `gain +X.XX dB`");
    gain.trim_start_matches('+')
        .parse()
        .unwrap_or_else(|_| panic!("cannot read the gain in {line:?}"))
}

#[test]
fn default_model_keeps_its_documented_gain_over_grey() {
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
            "default",
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
    let documented = documented_gain();
    eprintln!(
        "guard subset: grey {:.2} dB, default {:.2} dB, gain {gain:+.2} dB (documented {documented:+.2})",
        psnr(0),
        psnr(1)
    );
    assert!(
        gain >= documented - TOLERANCE_DB,
        "the default's gain over grey on the guard subset is {gain:+.2} dB, more than \
         {TOLERANCE_DB} dB below the {documented:+.2} dB that docs/quality.md reports"
    );
}
