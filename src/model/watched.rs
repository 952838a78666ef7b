//! Running a plan while the calling thread keeps reporting progress and listening for a stop.
//!
//! tract evaluates a plan node by node, and its largest nodes take seconds at a large
//! working size (a 3x3 convolution over 3 megapixels is one matrix product tract cannot
//! interrupt); optimizing a plan for a new shape takes a second or more too. Checking for a
//! stop between nodes would leave a progress bar still and a Cancel button dead for that
//! long. Instead, when a call has a progress callback, the plan is built and run on a worker
//! thread and the calling thread polls it every [`POLL`]:
//!
//! - it reports an estimate of the fraction done: [`BUILD_SHARE`] of the span for building
//!   the plan, then the finished nodes weighted by their cost (multiply-adds, plus the
//!   elements they write), the running node's share growing with the time it has run
//!   against the time the rate so far predicts for it;
//! - on a stop it returns [`ErrorKind::Cancelled`] at once. The worker skips every node after
//!   the one it is in; that one finishes in the background and its result is dropped. Its
//!   inputs and outputs are its own tensors, so nothing the caller passed in is touched
//!   after the call returns.
//!
//! The callback is still only ever called on the calling thread, as `Options::progress`
//! documents.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tract_linalg::multithread::{multithread_tract_scope, Executor};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::Cost;
use tract_onnx::tract_core::plan::{eval, SimpleState};

use crate::error::{Error, ErrorKind, Result};
use crate::job::Job;

/// How often the calling thread reports progress (and so how soon a stop takes effect).
const POLL: Duration = Duration::from_millis(100);

/// The share of the span given to building the plan (a cached plan skips it at once).
const BUILD_SHARE: f64 = 0.1;

/// How long building a plan is expected to take, for the estimate while it runs.
const BUILD_EXPECTED: Duration = Duration::from_secs(1);

/// One multiply-add against one element written. A matrix product runs about 100
/// multiply-adds in the time an element-wise node writes one element to memory it has
/// used before, and several hundred when that memory is fresh (a network's large
/// activations are: each run allocates them anew); an element counts as this many.
const ELEMENT_WEIGHT: f64 = 256.0;

/// Where the worker is, as the polling thread sees it.
#[derive(Clone, Copy)]
enum Stage {
    /// Building the plan, since the call started.
    Building,
    /// Running node after node: `start..end` is the running node's share of the plan,
    /// `rate` the share per second of the nodes before it, `since` when it started.
    Running {
        start: f64,
        end: f64,
        rate: f64,
        since: Instant,
    },
}

/// What the worker shares with the polling thread.
struct Shared {
    /// Set by the polling thread: skip every node not yet started.
    stop: AtomicBool,
    stage: Mutex<Stage>,
}

/// Builds a plan with `build` and runs it on `inputs`, both on a worker thread, tract's
/// matrix products on `executor`, while progress goes through `job` (mapped onto `span` of
/// its current stage) at least every [`POLL`]. The outer error is a stop, a plan that could
/// not be built, or a worker that died; the inner one is tract's.
pub(super) fn run(
    build: impl FnOnce() -> Result<Arc<TypedSimplePlan>> + Send + 'static,
    inputs: TVec<TValue>,
    executor: Executor,
    job: &Job,
    span: (f32, f32),
) -> Result<TractResult<TVec<TValue>>> {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        stage: Mutex::new(Stage::Building),
    });
    let (sender, receiver) = mpsc::channel();
    let worker_shared = shared.clone();
    std::thread::Builder::new()
        .name("colorize-network".into())
        .spawn(move || {
            let result = build().map(|plan| run_plan(&plan, inputs, executor, &worker_shared));
            // The receiver is gone after a stop; the result is not wanted then.
            let _ = sender.send(result);
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::Inference,
                format!("cannot start the network's worker thread: {e}"),
            )
        })?;
    loop {
        match receiver.recv_timeout(POLL) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let stage = *shared.stage.lock().unwrap_or_else(|e| e.into_inner());
                let fraction = estimate(stage, started, Instant::now());
                let (low, high) = span;
                if let Err(stop) = job.report(low + (high - low) * fraction as f32) {
                    shared.stop.store(true, Ordering::Relaxed);
                    return Err(stop);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::new(
                    ErrorKind::Inference,
                    "the network's worker thread stopped without a result",
                ))
            }
        }
    }
}

/// The worker's run of `plan`, recording each node's start in `shared`.
fn run_plan(
    plan: &Arc<TypedSimplePlan>,
    inputs: TVec<TValue>,
    executor: Executor,
    shared: &Shared,
) -> TractResult<TVec<TValue>> {
    let shares = node_shares(plan);
    let set_stage = |stage| *shared.stage.lock().unwrap_or_else(|e| e.into_inner()) = stage;
    multithread_tract_scope(executor, || {
        let mut state = SimpleState::new(plan)?;
        let first_node = Instant::now();
        state.run_plan_with_eval(inputs, |session, op_state, node, node_inputs| {
            if shared.stop.load(Ordering::Relaxed) {
                tract_onnx::tract_core::internal::bail!("stopped");
            }
            if let Some(&(start, end)) = shares.get(&node.id) {
                let elapsed = first_node.elapsed().as_secs_f64();
                let rate = if start > 0.0 && elapsed > 0.0 {
                    start / elapsed
                } else {
                    0.0
                };
                set_stage(Stage::Running {
                    start,
                    end,
                    rate,
                    since: Instant::now(),
                });
            }
            eval(session, op_state, node, node_inputs)
        })
    })
}

/// The fraction of the span done at `now` in `stage`, for a call started at `started`.
/// Within a stage the estimate approaches the stage's end and never reaches it: it moves
/// at the expected pace, then ever slower when the stage overruns its expected time.
fn estimate(stage: Stage, started: Instant, now: Instant) -> f64 {
    let approach = |elapsed: f64, expected: f64| 1.0 - (-elapsed / expected.max(1e-3)).exp();
    match stage {
        Stage::Building => {
            let elapsed = now.duration_since(started).as_secs_f64();
            BUILD_SHARE * approach(elapsed, BUILD_EXPECTED.as_secs_f64())
        }
        Stage::Running {
            start,
            end,
            rate,
            since,
        } => {
            let elapsed = now.duration_since(since).as_secs_f64();
            // Without a rate yet (the first nodes), a second per node share of 1 %.
            let expected = match rate > 0.0 {
                true => (end - start) / rate,
                false => (end - start) * 100.0,
            };
            let within = start + (end - start) * approach(elapsed, expected);
            (BUILD_SHARE + (1.0 - BUILD_SHARE) * within).clamp(0.0, 1.0)
        }
    }
}

/// Each evaluated node's id and its (start, end) as fractions of the whole plan's weight.
fn node_shares(plan: &TypedSimplePlan) -> HashMap<usize, (f64, f64)> {
    let model = plan.model();
    let order = plan.order_without_consts();
    let weights: Vec<f64> = order
        .iter()
        .map(|&id| node_weight(model, model.node(id)))
        .collect();
    let total: f64 = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut sum = 0.0;
    order
        .iter()
        .zip(weights)
        .map(|(&id, weight)| {
            let start = sum / total;
            sum += weight;
            (id, (start, sum / total))
        })
        .collect()
}

/// A node's estimated cost: its multiply-adds, plus [`ELEMENT_WEIGHT`] per element it
/// writes (what an element-wise node costs). 1 when neither is known, so that every node
/// still counts.
fn node_weight(model: &TypedModel, node: &TypedNode) -> f64 {
    let multiply_adds: i64 = model
        .node_input_facts(node.id)
        .ok()
        .and_then(|facts| node.op.cost(&facts).ok())
        .map(|costs| {
            costs
                .iter()
                .filter(|(kind, _)| matches!(kind, Cost::FMA(_)))
                .filter_map(|(_, count)| count.to_i64().ok())
                .sum()
        })
        .unwrap_or(0);
    let elements: i64 = node
        .outputs
        .iter()
        .filter_map(|output| output.fact.shape.volume().to_i64().ok())
        .sum();
    (multiply_adds as f64 + ELEMENT_WEIGHT * elements as f64).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_keeps_moving_and_stays_within_the_running_node() {
        let t0 = Instant::now();
        let at = |seconds: f64| t0 + Duration::from_secs_f64(seconds);
        // Building: moves, never past its share.
        let building = [0.1, 0.5, 5.0].map(|s| estimate(Stage::Building, t0, at(s)));
        assert!(building[0] < building[1] && building[1] < building[2]);
        assert!(building[2] < BUILD_SHARE);
        // A node of 10..20 % that the rate so far (10 % a second) expects to take 1 s.
        let node = Stage::Running {
            start: 0.1,
            end: 0.2,
            rate: 0.1,
            since: t0,
        };
        let running = [0.0, 0.5, 1.0, 3.0, 10.0].map(|s| estimate(node, t0, at(s)));
        let span = |f: f64| BUILD_SHARE + (1.0 - BUILD_SHARE) * f;
        assert!((running[0] - span(0.1)).abs() < 1e-9);
        assert!(running.windows(2).all(|p| p[0] < p[1]), "{running:?}");
        assert!(
            running[2] > span(0.15),
            "about 2/3 of the node after its expected time"
        );
        assert!(running[4] < span(0.2), "never past the node's end");
    }
}
