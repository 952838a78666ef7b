//! Archive-scale batches with the `colorize` command: output names that keep the whole
//! input name, --shard (disjoint, covering, independent of discovery order, balanced),
//! --files-from, the --report JSON lines, temporary files of a killed run swept by the next
//! one, and a SIGTERM that stops cleanly.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Output, Stdio};

use common::CliFixture as Fixture;
use common::{grey_png as grey, text};

/// Files in a folder tree, relative, sorted, hidden ones included.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

fn decodes(path: &Path) -> bool {
    image::open(path).is_ok()
}

/// The INPUT<tab>OUTPUT lines of a --dry-run, as a set of inputs.
fn planned(out: &Output) -> BTreeSet<String> {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect()
}

/// The inputs shard `shard` (K/N) of a batch plans: `args` (the inputs) with `-o out
/// --dry-run --shard K/N`, run by `run`.
fn shard_plan(run: impl FnOnce(&[&str]) -> Output, args: &[&str], shard: &str) -> BTreeSet<String> {
    let mut all = args.to_vec();
    all.extend(["--dry-run", "--shard", shard]);
    planned(&run(&all))
}

#[test]
fn outputs_keep_the_whole_input_name() {
    let f = Fixture::new();
    let names = [
        "scan.1952.06.png",
        "scan.1952.07.png",
        "v1.2.final.png",
        "with space.png",
        "two  spaces .png",
        "façade-été-日本.png",
        "-leading-dash.png",
        "sub.dir.v2/p.1.png",
    ];
    for name in names {
        grey(&f.path(&format!("photos/{name}")), 12, 8);
    }
    // A format that is read but not written: only its extension changes.
    grey(&f.path("photos/old.1931.bmp"), 12, 8);
    let out = f.run(&["photos", "-o", "out"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut expected: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    expected.push("old.1931.png".to_string());
    expected.sort();
    assert_eq!(tree(&f.path("out")), expected);
    assert!(expected.iter().all(|n| decodes(&f.path("out").join(n))));

    // Named on the command line, a leading dash after `--`, and --format.
    let out = f.run(&[
        "-o",
        "out2",
        "--format",
        "jpeg",
        "--",
        "photos/-leading-dash.png",
        "photos/v1.2.final.png",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        tree(&f.path("out2")),
        vec!["-leading-dash.jpg", "v1.2.final.jpg"]
    );
    // One file into a folder keeps its name.
    std::fs::create_dir(f.path("one")).unwrap();
    let out = f.run(&["photos/scan.1952.06.png", "-o", "one"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&f.path("one")), vec!["scan.1952.06.png"]);
}

#[test]
fn inputs_differing_only_by_extension_are_refused_never_overwritten() {
    let f = Fixture::new();
    grey(&f.path("photos/a.png"), 8, 8);
    grey(&f.path("photos/a.bmp"), 8, 8);
    grey(&f.path("photos/b.png"), 8, 8);
    // Each keeps its format (bmp is not written: it becomes a.png too).
    let out = f.run(&["photos", "-o", "out"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("out/a.png would be written from each of photos/a.bmp, photos/a.png"),
        "{t}"
    );
    assert_eq!(tree(&f.path("out")), vec!["b.png"], "neither a is written");

    // With --format, inputs that would each keep their format collide too.
    grey(&f.path("jpegs/c.png"), 8, 8);
    image::GrayImage::new(8, 8)
        .save(f.path("jpegs/c.jpg"))
        .unwrap();
    let out = f.run(&["jpegs", "-o", "out-jpeg", "--format", "jpeg"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("would be written from each of"));
    assert!(tree(&f.path("out-jpeg")).is_empty());
    let out = f.run(&["jpegs", "-o", "out-own"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&f.path("out-own")), vec!["c.jpg", "c.png"]);

    // Decided over the whole batch, so no shard writes it either.
    for k in 1..=4 {
        let out = f.run(&["photos", "-o", "sharded", "--shard", &format!("{k}/4")]);
        assert!(
            !f.path("sharded/a.png").exists(),
            "shard {k}: {}",
            text(&out)
        );
    }
    assert_eq!(tree(&f.path("sharded")), vec!["b.png"]);
}

#[test]
fn shards_are_disjoint_cover_the_batch_and_ignore_discovery_order() {
    let f = Fixture::new();
    let mut names = Vec::new();
    for i in 0..30 {
        let name = format!("set{}/scan.{:04}.png", i % 3, i);
        // Tiny files: --dry-run does not decode.
        let path = f.path(&format!("photos/{name}"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        names.push(name);
    }
    let whole = planned(&f.run(&["photos", "-o", "out", "--dry-run"]));
    assert_eq!(whole.len(), 30);
    for n in [1, 2, 3, 7] {
        let mut union = BTreeSet::new();
        let mut sizes = Vec::new();
        for k in 1..=n {
            let part = shard_plan(|a| f.run(a), &["photos", "-o", "out"], &format!("{k}/{n}"));
            assert!(union.is_disjoint(&part), "{k}/{n} overlaps");
            sizes.push(part.len());
            union.extend(part);
        }
        assert_eq!(union, whole, "shards of {n} cover the batch");
        assert_eq!(sizes.iter().sum::<usize>(), 30, "{sizes:?}");
    }

    // The same list in two orders, from a file and from stdin: the same shards.
    let forward = names.join("\n") + "\n";
    let mut reversed = names.clone();
    reversed.reverse();
    let reversed = reversed.join("\r\n");
    std::fs::write(f.path("photos/list.txt"), &forward).unwrap();
    let in_photos = |args: &[&str], stdin: &str| {
        let mut c = f.command();
        c.current_dir(f.path("photos"));
        let mut child = c
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let a = shard_plan(
            |args| in_photos(args, ""),
            &["--files-from", "list.txt", "-o", "../o"],
            &shard,
        );
        let b = shard_plan(
            |args| in_photos(args, &reversed),
            &["--files-from", "-", "-o", "../o"],
            &shard,
        );
        assert_eq!(a, b, "shard {shard}");
        // A folder walk gives the same relative paths, hence the same shards.
        let walked = shard_plan(
            |args| in_photos(args, ""),
            &["set0", "set1", "set2", "-o", "../o"],
            &shard,
        );
        assert_eq!(a, walked, "shard {shard}: list vs folders");
    }
}

#[test]
fn shards_are_balanced() {
    let f = Fixture::new();
    let mut list = String::new();
    for i in 0..1200 {
        let name = format!("d{}/IMG_{i:05}.png", i / 100);
        let path = f.path(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        list.push_str(&name);
        list.push('\0');
    }
    // NUL-separated, as `find -print0` writes.
    // A hash is balanced statistically: 1200 inputs in 4 shards of 300 +- 17 (one standard
    // deviation); the unit tests check 100000 keys in 16 shards to 2 %.
    let n = 4;
    let expected = 1200 / n;
    for k in 1..=n {
        let size = shard_plan(
            |args| f.run_with_stdin(args, list.as_bytes()),
            &["--files-from", "-", "-o", "out"],
            &format!("{k}/{n}"),
        )
        .len();
        assert!(
            size.abs_diff(expected) * 100 <= expected * 15,
            "{k}/{n}: {size} inputs, expected about {expected}"
        );
    }
}

#[test]
fn a_shard_resumes_with_skip_existing_and_reports_each_input() {
    let f = Fixture::new();
    for i in 0..12 {
        grey(&f.path(&format!("photos/p.{i:02}.png")), 16, 12);
    }
    std::fs::write(f.path("photos/broken.png"), b"not a png").unwrap();
    let mut all_lines = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let report = format!("reports/{k}.jsonl");
        let inputs_of_shard = shard_plan(|a| f.run(a), &["photos", "-o", "out"], &shard).len();
        let first = f.run(&[
            "photos", "-o", "out", "--shard", &shard, "--report", &report,
        ]);
        let again = f.run(&[
            "photos",
            "-o",
            "out",
            "--shard",
            &shard,
            "--skip-existing",
            "--report",
            &report,
        ]);
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(f.path(&report))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        assert_eq!(
            lines.len(),
            2 * inputs_of_shard,
            "two runs, one line per input each"
        );
        let (first_run, second_run) = lines.split_at(inputs_of_shard);
        for l in first_run {
            let input = l["input"].as_str().unwrap();
            let status = l["status"].as_str().unwrap();
            assert!(l["milliseconds"].is_u64());
            if input.ends_with("broken.png") {
                assert_eq!(status, "failed", "{l}");
                assert!(l["error"].as_str().unwrap().contains("not an image"), "{l}");
                assert_eq!(first.status.code(), Some(1), "{}", text(&first));
            } else {
                assert_eq!(status, "colorized", "{l}");
                assert!(l["error"].is_null());
                assert!(decodes(&f.path(l["output"].as_str().unwrap())), "{l}");
            }
        }
        for l in second_run {
            let input = l["input"].as_str().unwrap();
            let status = l["status"].as_str().unwrap();
            let expected_status = if input.ends_with("broken.png") {
                "failed"
            } else {
                "skipped"
            };
            assert_eq!(status, expected_status, "{l}: {}", text(&again));
        }
        all_lines.extend(first_run.iter().cloned());
    }
    // The three reports together: each input exactly once.
    let mut count: HashMap<String, usize> = HashMap::new();
    for l in &all_lines {
        *count
            .entry(l["input"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(count.len(), 13, "{count:?}");
    assert!(count.values().all(|&c| c == 1), "{count:?}");
    assert_eq!(tree(&f.path("out")).len(), 12);
}

#[test]
fn files_from_mirrors_relative_paths_and_reports_missing_ones() {
    let f = Fixture::new();
    grey(&f.path("a/one.png"), 8, 8);
    grey(&f.path("b/one.png"), 8, 8);
    grey(&f.path("c d/x.1.png"), 8, 8);
    let list = "a/one.png\n./b/one.png\n\nc d/x.1.png\nmissing.png\n";
    std::fs::write(f.path("list"), list).unwrap();
    let out = f.run(&["--files-from", "list", "-o", "out", "--report", "r.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("missing.png: no such file"),
        "{}",
        text(&out)
    );
    assert_eq!(
        tree(&f.path("out")),
        vec!["a/one.png", "b/one.png", "c d/x.1.png"]
    );
    let report = std::fs::read_to_string(f.path("r.jsonl")).unwrap();
    assert_eq!(report.lines().count(), 4, "{report}");
    assert!(
        report.contains(r#""input":"missing.png","output":"out/missing.png","status":"failed""#),
        "{report}"
    );

    // stdin is for the list or for an image, not both.
    let out = f.run_with_stdin(&["--files-from", "-", "-", "-o", "out"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = f.run(&["a/one.png", "-o", "x.png", "--shard", "5/4"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn temporary_files_of_a_killed_run_are_swept_and_nothing_else() {
    let f = Fixture::new();
    grey(&f.path("photos/a.1.png"), 8, 8);
    grey(&f.path("photos/sub/b.png"), 8, 8);
    std::fs::create_dir_all(f.path("out/sub")).unwrap();
    // What a SIGKILL during `colorize::io::write_atomic` leaves: the same builder it uses.
    let leftover = |dir: &str, name: &str| {
        tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".colorize-tmp")
            .tempfile_in(f.path(dir))
            .unwrap()
            .keep()
            .unwrap()
            .1
    };
    let ours = [leftover("out", "a.1.png"), leftover("out/sub", "b.png")];
    // Not ours to remove: another output's (another shard may be writing it), a file that
    // only looks similar, and a temporary file beside the inputs.
    let theirs = [
        leftover("out", "other.png"),
        leftover("photos", "a.1.png"),
        f.path("out/notes.colorize-tmp.txt"),
        f.path("out/.a.1.png.colorize-tmp"),
    ];
    std::fs::write(&theirs[2], b"x").unwrap();
    std::fs::write(&theirs[3], b"x").unwrap();
    let out = f.run(&["photos", "-o", "out", "--skip-existing"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("removed 2 temporary file"),
        "{}",
        text(&out)
    );
    for p in &ours {
        assert!(!p.exists(), "{} left", p.display());
    }
    for p in &theirs {
        assert!(p.exists(), "{} removed", p.display());
    }
    assert!(decodes(&f.path("out/a.1.png")) && decodes(&f.path("out/sub/b.png")));
}

#[test]
fn sigterm_stops_cleanly_and_a_rerun_finishes() {
    let f = Fixture::new();
    for i in 0..150 {
        grey(&f.path(&format!("photos/{i:03}.png")), 96, 96);
    }
    let mut child = f
        .command()
        .args([
            "photos", "-o", "out", "--jobs", "1", "--report", "r.jsonl", "--print",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let written = tree(&f.path("out"));
    if out.status.code() == Some(143) {
        assert!(stderr.contains("--skip-existing"), "{stderr}");
        assert!(written.len() < 150, "{}", written.len());
    } else {
        // The machine was faster than the signal.
        assert!(out.status.success(), "{stderr}");
    }
    assert!(
        written.iter().all(|p| !p.contains("colorize-tmp")),
        "{written:?}"
    );
    assert!(written.iter().all(|p| decodes(&f.path("out").join(p))));
    let report = std::fs::read_to_string(f.path("r.jsonl")).unwrap();
    assert_eq!(
        report.lines().count(),
        written.len(),
        "one line per finished input"
    );

    let out = f.run(&["photos", "-o", "out", "--skip-existing"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&f.path("out")).len(), 150);
}
