//! `--profile SIZE`: where tract spends its time, node by node, on the optimized concrete
//! plan for a SIZE x SIZE input (the same kind of plan `Model` caches), on `--threads`. For PERF_NOTES.md:
//! it is how each lever was chosen.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::{eval, SimpleState};

pub fn run(model_path: &Path, size: usize, runs: usize) -> Result<()> {
    let start = Instant::now();
    let mut network = tract_onnx::onnx()
        .model_for_path(model_path)?
        .with_input_fact(0, f32::fact([1, 1, size, size]).into())?;
    // A classification model's second input, the softmax temperature, at 1.
    let with_temperature = network.input_outlets()?.len() == 2;
    if with_temperature {
        network = network.with_input_fact(1, f32::fact([1]).into())?;
    }
    let typed = network.into_optimized()?; // knobs: from the environment or --tract-knob, not Model's
    let plan = Arc::new(TypedSimplePlan::new(typed)?);
    println!(
        "optimized plan for {size}x{size} in {:.0} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    let input: Tensor = Tensor::from_shape(
        &[1, 1, size, size],
        &crate::images::lightness_plane(size, size),
    )?;
    let mut totals: Vec<(usize, String, f64)> = Vec::new();
    let mut state = SimpleState::new(&plan)?;
    let mut wall = Vec::new();
    // On the benchmark's rayon pool (`--threads`), as the engine runs its plans.
    let executor = tract_linalg::multithread::Executor::RayonGlobal;
    tract_linalg::multithread::multithread_tract_scope(executor, || -> Result<()> {
        for run in 0..runs + 1 {
            let mut times: Vec<(usize, String, f64)> = Vec::new();
            let start = Instant::now();
            state
                .run_plan_with_eval(
                    if with_temperature {
                        tvec!(
                            input.clone().into_tvalue(),
                            tensor1(&[1.0f32]).into_tvalue()
                        )
                    } else {
                        tvec!(input.clone().into_tvalue())
                    },
                    |session, op_state, node, inputs| {
                        let t = Instant::now();
                        let out = eval(session, op_state, node, inputs);
                        times.push((
                            node.id,
                            format!("{} {}", node.op().name(), node.name),
                            t.elapsed().as_secs_f64(),
                        ));
                        out
                    },
                )
                .context("profiling run")?;
            if run == 0 {
                continue; // warm-up
            }
            wall.push(start.elapsed().as_secs_f64());
            if totals.is_empty() {
                totals = times;
            } else {
                for (total, t) in totals.iter_mut().zip(times) {
                    total.2 += t.2;
                }
            }
        }
        Ok(())
    })?;
    let n = runs.max(1) as f64;
    let sum: f64 = totals.iter().map(|t| t.2).sum::<f64>() / n;
    totals.sort_by(|a, b| b.2.total_cmp(&a.2));
    println!(
        "mean run {:.1} ms; nodes by time:",
        wall.iter().sum::<f64>() / n * 1e3
    );
    for (id, name, t) in totals.iter().take(20) {
        let t = t / n;
        println!(
            "  {:>8.1} ms {:>5.1}%  #{id} {name}",
            t * 1e3,
            100.0 * t / sum
        );
    }
    for node in plan.model().nodes() {
        if totals.iter().take(8).any(|t| t.0 == node.id) {
            println!("#{} {}: {:?}", node.id, node.name, node.op());
        }
    }
    Ok(())
}
