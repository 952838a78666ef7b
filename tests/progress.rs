//! Progress and stop while the network itself runs, at a working size where one network
//! node takes seconds: reports keep coming at least once a second, a stop returns within a
//! second, and listening for progress never changes a pixel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use colorize::{ErrorKind, Model, Options, Progress};

/// A smooth L* plane with some structure, `width` x `height`.
fn lightness(width: usize, height: usize) -> Vec<f32> {
    (0..width * height)
        .map(|i| {
            let (x, y) = ((i % width) as f32, (i / width) as f32);
            50.0 + 30.0 * (x / 97.0).sin() * (y / 61.0).cos()
        })
        .collect()
}

/// What a GIMP user meets on a 2000x1500 photo at working size 1500: the bar moves at
/// least every second through the network, and Cancel takes effect within one second.
#[test]
fn large_working_size_reports_every_second_and_stops_within_one() {
    let model = Model::default_model().unwrap();
    let (w, h) = (2000, 1500);
    let l = lightness(w, h);
    let mut ab = vec![0.0f32; 2 * w * h];
    let start = Instant::now();
    let reports: Mutex<Vec<(Duration, f32)>> = Mutex::new(Vec::new());
    let stop_requested: Mutex<Option<Instant>> = Mutex::new(None);
    let stopping = AtomicBool::new(false);
    // Stop once the network has visibly advanced (past the resize, into the network's
    // span), as a user would press Cancel while the bar crawls.
    let callback = |fraction: f32| {
        let mut reports = reports.lock().unwrap();
        reports.push((start.elapsed(), fraction));
        let network_reports = reports.iter().filter(|(_, f)| *f > 0.31).count();
        if network_reports >= 8 && !stopping.swap(true, Ordering::SeqCst) {
            *stop_requested.lock().unwrap() = Some(Instant::now());
        }
        !stopping.load(Ordering::SeqCst)
    };
    let options = Options {
        working_size: 1500,
        progress: Some(Progress(&callback)),
        ..Default::default()
    };
    let result = colorize::colorize_l(&model, &options, &l, w, h, w, &mut ab, 2 * w);
    let returned = Instant::now();
    let error = result.expect_err("the run was stopped");
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error}");
    assert!(ab.iter().all(|&v| v == 0.0), "a stopped call wrote a*b*");

    let stop = stop_requested
        .lock()
        .unwrap()
        .expect("the test asked to stop");
    let latency = returned - stop;
    assert!(
        latency < Duration::from_secs(1),
        "the stop took {latency:?} to take effect"
    );
    let reports = reports.lock().unwrap();
    let fractions: Vec<f32> = reports.iter().map(|r| r.1).collect();
    assert!(fractions.windows(2).all(|p| p[0] <= p[1]), "{fractions:?}");
    let longest_gap = reports.windows(2).map(|p| p[1].0 - p[0].0).max().unwrap();
    assert!(
        longest_gap < Duration::from_secs(1),
        "a report gap of {longest_gap:?}: {reports:?}"
    );
    eprintln!("stop took {latency:?}; longest report gap {longest_gap:?}; reports {reports:?}");
    // Within the network the bar moves, not just the clock.
    let network: Vec<f32> = fractions.iter().copied().filter(|&f| f > 0.3).collect();
    assert!(
        network.windows(2).filter(|p| p[1] > p[0]).count() >= 4,
        "the bar stood still in the network: {fractions:?}"
    );
}

/// A progress callback runs the network on a worker thread; the pixels are the same.
#[test]
fn listening_for_progress_changes_no_pixel() {
    let model = Model::default_model().unwrap();
    let (w, h) = (300, 200);
    let l = lightness(w, h);
    let mut quiet = vec![0.0f32; 2 * w * h];
    let options = Options {
        threads: 2,
        ..Default::default()
    };
    colorize::colorize_l(&model, &options, &l, w, h, w, &mut quiet, 2 * w).unwrap();
    let count = Mutex::new(0usize);
    let callback = |_: f32| {
        *count.lock().unwrap() += 1;
        true
    };
    let options = Options {
        threads: 2,
        progress: Some(Progress(&callback)),
        ..Default::default()
    };
    let mut listened = vec![0.0f32; 2 * w * h];
    colorize::colorize_l(&model, &options, &l, w, h, w, &mut listened, 2 * w).unwrap();
    assert!(*count.lock().unwrap() > 0);
    assert_eq!(quiet, listened);
}
