//! The trainer behind the `train` feature: data, network, losses, the loop with
//! checkpoints, reports, and ONNX export. The binary `colorize-train` is a thin CLI over it.

pub mod checkpoint;
pub mod classes;
pub mod data;
pub mod export;
pub mod loss;
pub mod net;
pub mod onnx_init;
pub mod optim;
pub mod prepare;
pub mod report;
pub mod trainer;

#[cfg(test)]
mod tests;

/// Picks the device from `auto|cpu|cuda`.
pub fn device(choice: &str) -> anyhow::Result<tch::Device> {
    match choice {
        "cpu" => Ok(tch::Device::Cpu),
        "cuda" => {
            anyhow::ensure!(
                tch::Cuda::is_available(),
                "--device cuda: no CUDA device is available to libtorch"
            );
            Ok(tch::Device::Cuda(0))
        }
        "auto" => Ok(tch::Device::cuda_if_available()),
        other => anyhow::bail!("unknown device '{other}' (expected auto, cpu or cuda)"),
    }
}
