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
#[derive(Debug)]
pub struct Loss {
    pub terms: Vec<(f64, Term)>,
    pub huber_delta: f64,
    /// Per-pixel weights for the L2 and Huber terms by the target's a*b* bin (see
    /// [`Rebalance`]); `None` weighs every pixel alike.
    pub rebalance: Option<Rebalance>,
}

/// Colour rebalancing (Zhang, Isola & Efros 2016, §2.2): pixels whose true a*b* is rare
/// in the training set weigh more, w ∝ ((1-λ)·p(bin) + λ/Q)^-1 normalised to E[w] = 1,
/// so regression stops pulling every colour towards the common grey-brown.
#[derive(Debug)]
pub struct Rebalance {
    /// Weight per bin, BINS x BINS over a*, b* in [-RANGE, RANGE) (units of a*b*/100).
    pub weights: Tensor,
}

pub const REBALANCE_BINS: i64 = 22;
const REBALANCE_RANGE: f64 = 1.1;

impl Rebalance {
    /// Builds the weights from training targets (N, 2, H, W) in a*b*/100 units.
    pub fn from_targets(ab: &Tensor, lambda: f64) -> Self {
        let bins = bin_index(ab).flatten(0, -1);
        let q = REBALANCE_BINS * REBALANCE_BINS;
        let counts = bins.bincount(None::<Tensor>, q).to_kind(Kind::Float);
        let p = &counts / counts.sum(Kind::Float);
        let occupied = counts.gt(0.0).to_kind(Kind::Float);
        let n_occupied = occupied.sum(Kind::Float);
        // Bins unseen in the sample get the largest weight (p = 0), never NaN.
        let w = ((&p * (1.0 - lambda)) + n_occupied.reciprocal() * lambda).reciprocal();
        // Normalise so the expected weight under the data is 1.
        let expected = (&w * &p).sum(Kind::Float);
        Rebalance {
            weights: w / expected,
        }
    }

    pub fn from_values(values: &[f32]) -> Self {
        Rebalance {
            weights: Tensor::from_slice(values),
        }
    }

    pub fn values(&self) -> Vec<f32> {
        Vec::<f32>::try_from(&self.weights.to_kind(Kind::Float)).unwrap_or_default()
    }

    /// Per-pixel weights (N, 1, H, W) for targets (N, 2, H, W).
    fn pixel_weights(&self, target: &Tensor) -> Tensor {
        let idx = bin_index(target);
        let shape = idx.size();
        self.weights
            .to_device(target.device())
            .index_select(0, &idx.flatten(0, -1))
            .view(shape.as_slice())
    }
}

/// Bin of each pixel's (a, b): (N, 1, H, W) int64.
fn bin_index(ab: &Tensor) -> Tensor {
    let scaled = ((ab + REBALANCE_RANGE) * (REBALANCE_BINS as f64 / (2.0 * REBALANCE_RANGE)))
        .floor()
        .clamp(0.0, (REBALANCE_BINS - 1) as f64)
        .to_kind(Kind::Int64);
    let a = scaled.narrow(1, 0, 1);
    let b = scaled.narrow(1, 1, 1);
    a * REBALANCE_BINS + b
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
        Ok(Loss {
            terms,
            huber_delta,
            rebalance: None,
        })
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
            let value = match (term, &self.rebalance) {
                (Term::L2, None) => prediction.mse_loss(target, Reduction::Mean),
                (Term::Huber, None) => {
                    prediction.huber_loss(target, Reduction::Mean, self.huber_delta)
                }
                (Term::L2, Some(r)) => (prediction.mse_loss(target, Reduction::None)
                    * r.pixel_weights(target))
                .mean(Kind::Float),
                (Term::Huber, Some(r)) => {
                    (prediction.huber_loss(target, Reduction::None, self.huber_delta)
                        * r.pixel_weights(target))
                    .mean(Kind::Float)
                }
                (Term::PairwiseMse, _) => pairwise_mse(prediction, target),
            };
            total += value * *weight;
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
        let _rng = super::super::tests::seeded_rng(seed);
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
    fn rebalancing_weighs_rare_colours_more_and_averages_one() {
        // 90% of pixels near grey, 10% strongly blue.
        let ab = Tensor::zeros([10, 2, 4, 4], (Kind::Float, tch::Device::Cpu));
        let _ = ab.get(0).get(1).fill_(-0.6);
        let r = Rebalance::from_targets(&ab, 0.5);
        let w = r.pixel_weights(&ab);
        let (rare, common) = (
            w.get(0).mean(Kind::Float).double_value(&[]),
            w.get(5).mean(Kind::Float).double_value(&[]),
        );
        // Two occupied bins, p = 0.1 and 0.9, λ = 0.5: w ∝ 1/(0.05 + 0.25) vs 1/(0.45 + 0.25).
        assert!(
            (rare / common - 0.7 / 0.3).abs() < 1e-3,
            "rare {rare} common {common}"
        );
        let mean = w.mean(Kind::Float).double_value(&[]);
        assert!((mean - 1.0).abs() < 1e-4, "E[w] = {mean}");
        // Weighted L2 equals the hand-computed weighted mean.
        let mut loss = Loss::parse("l2", 0.1).unwrap();
        let p = ab.zeros_like() + 0.1;
        let by_hand = ((&p - &ab).square() * &w)
            .mean(Kind::Float)
            .double_value(&[]);
        loss.rebalance = Some(r);
        assert!((loss.compute(&p, &ab).double_value(&[]) - by_hand).abs() < 1e-6);
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
