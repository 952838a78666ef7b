//! Adam with its state held as named tensors, so a checkpoint can save and restore it
//! exactly (tch's built-in optimisers do not expose their state).

use tch::Tensor;

pub struct Adam {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub step: i64,
    /// (parameter name, first moment, second moment)
    pub moments: Vec<(String, Tensor, Tensor)>,
}

impl Adam {
    pub fn new(params: &[(String, &Tensor)], lr: f64) -> Self {
        let moments = params
            .iter()
            .map(|(name, p)| (name.clone(), p.zeros_like(), p.zeros_like()))
            .collect();
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            step: 0,
            moments,
        }
    }

    /// One update of every parameter from its `.grad()`; clears the gradients.
    pub fn step(&mut self, params: &[(String, &Tensor)]) {
        self.step += 1;
        let bias1 = 1.0 - self.beta1.powi(self.step as i32);
        let bias2 = 1.0 - self.beta2.powi(self.step as i32);
        tch::no_grad(|| {
            for ((_, p), (_, m, v)) in params.iter().zip(self.moments.iter_mut()) {
                let mut grad = p.grad();
                if !grad.defined() {
                    continue;
                }
                *m = &*m * self.beta1 + &grad * (1.0 - self.beta1);
                *v = &*v * self.beta2 + grad.square() * (1.0 - self.beta2);
                let update = (&*m / bias1) / ((&*v / bias2).sqrt() + self.eps) * self.lr;
                let _ = p.shallow_clone().f_sub_(&update);
                let _ = grad.zero_();
            }
        });
    }
}
