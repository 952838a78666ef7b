//! Training losses on a*b* (scaled by 1/AB_SCALE): L2, Huber and pairwise MSE, alone or
//! in weighted sums such as `pmse+0.5*l2`.

use anyhow::{bail, Context, Result};
use tch::{Kind, Reduction, Tensor};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Term {
    L2,
    Huber,
    PairwiseMse,
}

impl Term {
    fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "l2" | "mse" => Term::L2,
            "huber" => Term::Huber,
            "pmse" | "pairwise-mse" => Term::PairwiseMse,
            other => bail!("unknown loss '{other}' (expected l2, huber or pairwise-mse)"),
        })
    }

    fn name(self) -> &'static str {
        match self {
            Term::L2 => "l2",
            Term::Huber => "huber",
            Term::PairwiseMse => "pairwise-mse",
        }
    }
}

/// A weighted sum of loss terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Loss {
    pub terms: Vec<(f64, Term)>,
    pub huber_delta: f64,
}

impl Loss {
    /// Parses `l2`, `huber`, `pairwise-mse` (or `pmse`) and weighted sums: `pmse+0.5*l2`.
    pub fn parse(spec: &str, huber_delta: f64) -> Result<Self> {
        let mut terms = Vec::new();
        for part in spec.split('+') {
            let part = part.trim();
            let (weight, name) = match part.split_once('*') {
                Some((w, n)) => (
                    w.trim()
                        .parse::<f64>()
                        .with_context(|| format!("bad loss weight in '{part}'"))?,
                    n.trim(),
                ),
                None => (1.0, part),
            };
            terms.push((weight, Term::parse(name)?));
        }
        if huber_delta <= 0.0 {
            bail!("--huber-delta must be positive");
        }
        Ok(Loss { terms, huber_delta })
    }

    /// Canonical text of the loss, for metadata and checkpoints.
    pub fn describe(&self) -> String {
        self.terms
            .iter()
            .map(|(w, t)| {
                if *w == 1.0 {
                    t.name().to_string()
                } else {
                    format!("{w}*{}", t.name())
                }
            })
            .collect::<Vec<_>>()
            .join("+")
    }

    /// Scalar loss between prediction and target, both (N, C, H, W).
    pub fn compute(&self, prediction: &Tensor, target: &Tensor) -> Tensor {
        let mut total = Tensor::zeros([], (Kind::Float, prediction.device()));
        for (weight, term) in &self.terms {
            let value = match term {
                Term::L2 => prediction.mse_loss(target, Reduction::Mean),
                Term::Huber => prediction.huber_loss(target, Reduction::Mean, self.huber_delta),
                Term::PairwiseMse => pairwise_mse(prediction, target),
            };
            total = total + value * *weight;
        }
        total
    }
}

/// TensorFlow's `mean_pairwise_squared_error` per image: the mean over ordered pairs
/// i != j of ((p_i - p_j) - (y_i - y_j))^2 over all of an image's values, computed in O(n)
/// as 2(n·Σd² - (Σd)²) / (n(n-1)) with d = p - y; averaged over the batch (TensorFlow sums
/// it over the batch, which only rescales the learning rate). Blind to a constant offset,
/// which is why it is often paired with an L2 or Huber term.
pub fn pairwise_mse(prediction: &Tensor, target: &Tensor) -> Tensor {
    let batch = prediction.size()[0];
    let d = (prediction - target).view([batch, -1]);
    let n = d.size()[1] as f64;
    let sum = d.sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    let sum_sq = d
        .square()
        .sum_dim_intlist([1i64].as_slice(), false, Kind::Float);
    let per_image = (sum_sq * n - sum.square()) * (2.0 / (n * (n - 1.0)));
    per_image.mean(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: &Tensor) -> Vec<f64> {
        let flat = t.to_kind(Kind::Double).flatten(0, -1);
        Vec::<f64>::try_from(&flat).unwrap()
    }

    fn sample(seed: i64) -> (Tensor, Tensor) {
        tch::manual_seed(seed);
        let p = Tensor::randn([3, 2, 4, 5], (Kind::Float, tch::Device::Cpu));
        let y = Tensor::randn([3, 2, 4, 5], (Kind::Float, tch::Device::Cpu)) * 0.5;
        (p, y)
    }

    #[test]
    fn pairwise_matches_the_quadratic_definition() {
        let (p, y) = sample(1);
        let (pv, yv) = (values(&p), values(&y));
        let n = 2 * 4 * 5;
        let mut total = 0.0;
        for img in 0..3 {
            let (ps, ys) = (&pv[img * n..(img + 1) * n], &yv[img * n..(img + 1) * n]);
            let mut acc = 0.0;
            for i in 0..n {
                for j in 0..n {
                    if i != j {
                        acc += ((ps[i] - ps[j]) - (ys[i] - ys[j])).powi(2);
                    }
                }
            }
            total += acc / (n * (n - 1)) as f64;
        }
        let naive = total / 3.0;
        let fast = pairwise_mse(&p, &y).double_value(&[]);
        assert!(
            (naive - fast).abs() < 1e-4 * naive.max(1.0),
            "naive {naive} fast {fast}"
        );
    }

    #[test]
    fn pairwise_ignores_a_constant_offset() {
        let (p, y) = sample(2);
        let a = pairwise_mse(&p, &y).double_value(&[]);
        let b = pairwise_mse(&(&p + 3.0), &y).double_value(&[]);
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        assert!(a > 0.1);
    }

    #[test]
    fn l2_and_huber_match_their_definitions() {
        let (p, y) = sample(3);
        let (pv, yv) = (values(&p), values(&y));
        let n = pv.len() as f64;
        let l2: f64 = pv
            .iter()
            .zip(&yv)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / n;
        let delta = 0.3;
        let huber: f64 = pv
            .iter()
            .zip(&yv)
            .map(|(a, b)| {
                let e = (a - b).abs();
                if e <= delta {
                    0.5 * e * e
                } else {
                    delta * (e - 0.5 * delta)
                }
            })
            .sum::<f64>()
            / n;
        let got_l2 = Loss::parse("l2", delta)
            .unwrap()
            .compute(&p, &y)
            .double_value(&[]);
        let got_huber = Loss::parse("huber", delta)
            .unwrap()
            .compute(&p, &y)
            .double_value(&[]);
        assert!((got_l2 - l2).abs() < 1e-5, "{got_l2} vs {l2}");
        assert!((got_huber - huber).abs() < 1e-5, "{got_huber} vs {huber}");
        let sum = Loss::parse("huber+0.5*l2", delta)
            .unwrap()
            .compute(&p, &y)
            .double_value(&[]);
        assert!((sum - (huber + 0.5 * l2)).abs() < 1e-5);
    }

    #[test]
    fn parse_rejects_unknown_terms() {
        assert!(Loss::parse("l3", 0.1).is_err());
        assert!(Loss::parse("x*l2", 0.1).is_err());
        assert!(Loss::parse("l2", 0.0).is_err());
        assert_eq!(
            Loss::parse("pmse+0.5*l2", 0.1).unwrap().describe(),
            "pairwise-mse+0.5*l2"
        );
    }
}
