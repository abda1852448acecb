//! Recommenders over user and item ids: matrix factorisation (biases and a dot product of
//! learned factors) and a two-tower model (an MLP per side over the embeddings). Both take
//! (n, 2) U32 batches of (user, item) and predict a rating; `recommend` ranks items.

use super::Linear;
use super::{LayerInfo, Network, OutputHead, Parameters, Summary};
use anyhow::{bail, Result};
use candle_core::{DType, Device, IndexOp, Module, Tensor, D};
use candle_nn::Embedding;
use polars::prelude::DataFrame;
use std::collections::HashMap;

/// The sizes and seed of a recommender.
#[derive(Clone, Debug)]
pub struct RecommenderConfig {
    pub users: usize,
    pub items: usize,
    /// Latent factors (embedding width).
    pub factors: usize,
    /// Hidden width of each tower (two-tower model only).
    pub tower: usize,
    pub seed: u64,
    pub device: Device,
}

impl RecommenderConfig {
    /// `users` × `items` ids (0-based), 16 factors, towers of 64.
    pub fn new(users: usize, items: usize) -> RecommenderConfig {
        RecommenderConfig {
            users,
            items,
            factors: 16,
            tower: 64,
            seed: 0,
            device: super::default_device(),
        }
    }

    pub fn factors(mut self, factors: usize) -> RecommenderConfig {
        self.factors = factors;
        self
    }

    pub fn tower(mut self, units: usize) -> RecommenderConfig {
        self.tower = units;
        self
    }

    pub fn seed(mut self, seed: u64) -> RecommenderConfig {
        self.seed = seed;
        self
    }

    pub fn device(mut self, device: &Device) -> RecommenderConfig {
        self.device = device.clone();
        self
    }

    fn check(&self) -> Result<()> {
        if self.users == 0 || self.items == 0 || self.factors == 0 {
            bail!("a recommender needs at least one user, one item and one factor");
        }
        Ok(())
    }
}

/// (user, item) id pairs and ratings from a frame, for a [`crate::data::DataLoader`]: x is
/// (n, 2) U32, y is F32.
///
/// ```
/// use trainbook::prelude::*;
/// let ratings = make_ratings(20, 10, 5, 0).unwrap();
/// let (pairs, stars) = ratings_to_tensors(&ratings.frame, "user", "item", "target", &Device::Cpu).unwrap();
/// assert_eq!((pairs.dims(), stars.dims()), (&[100, 2][..], &[100][..]));
/// ```
pub fn ratings_to_tensors(
    frame: &DataFrame,
    user: &str,
    item: &str,
    rating: &str,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let ids = crate::data::frame_to_tensor(frame, &[user, item], DType::F32, device)?;
    if ids.min_all()?.to_scalar::<f32>()? < 0.0 {
        bail!("user and item ids must be 0 or more; map them to 0..n first");
    }
    let values = crate::data::values_to_tensor(frame, rating, DType::F32, device)?;
    Ok((ids.to_dtype(DType::U32)?, values))
}

/// The (user, item) pairs of a frame, only those rated at least `liked`'s threshold if given.
fn interactions(
    frame: &DataFrame,
    user: &str,
    item: &str,
    liked: Option<(&str, f64)>,
) -> Result<Vec<(usize, u32)>> {
    let ids = crate::data::frame_to_tensor(frame, &[user, item], DType::F64, &Device::Cpu)?;
    let ids = ids.to_vec2::<f64>()?;
    if let Some(row) = ids.iter().position(|p| p[0] < 0.0 || p[1] < 0.0) {
        bail!("row {row} has a negative user or item id; map ids to 0..n first");
    }
    let ratings: Option<Vec<f64>> = match liked {
        Some((rating, _)) => Some(
            crate::data::values_to_tensor(frame, rating, DType::F64, &Device::Cpu)?.to_vec1()?,
        ),
        None => None,
    };
    Ok(ids
        .into_iter()
        .enumerate()
        .filter(|(row, _)| match (&ratings, liked) {
            (Some(r), Some((_, threshold))) => r[*row] >= threshold,
            _ => true,
        })
        .map(|(_, pair)| (pair[0] as usize, pair[1] as u32))
        .collect())
}

/// The items each of `users` users has in `frame` (index = user id), e.g. what to leave out of
/// their recommendations; with `liked = Some((rating column, threshold))` only the items they
/// rated at least that high, e.g. the held-out items a good recommender should find.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("user" => [0u32, 0, 1], "item" => [2u32, 5, 2], "target" => [5.0, 2.0, 4.0]).unwrap();
/// assert_eq!(items_by_user(&frame, "user", "item", 3, None).unwrap(), vec![vec![2, 5], vec![2], vec![]]);
/// assert_eq!(items_by_user(&frame, "user", "item", 3, Some(("target", 4.0))).unwrap(), vec![vec![2], vec![2], vec![]]);
/// ```
pub fn items_by_user(
    frame: &DataFrame,
    user: &str,
    item: &str,
    users: usize,
    liked: Option<(&str, f64)>,
) -> Result<Vec<Vec<u32>>> {
    let mut by_user = vec![Vec::new(); users];
    for (u, i) in interactions(frame, user, item, liked)? {
        if u >= users {
            bail!("user id {u} in column {user:?} is outside 0..{users}; pass the number of users");
        }
        by_user[u].push(i);
    }
    Ok(by_user)
}

/// Item ids by popularity in `frame`, most first: how many users have the item (or, with
/// `liked`, rated it at least the threshold). Recommending these to everyone is the baseline a
/// personalised recommender must beat.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("user" => [0u32, 1, 1], "item" => [2u32, 2, 0], "target" => [5.0, 4.0, 1.0]).unwrap();
/// assert_eq!(popular_items(&frame, "user", "item", None).unwrap(), vec![2, 0]);
/// ```
pub fn popular_items(
    frame: &DataFrame,
    user: &str,
    item: &str,
    liked: Option<(&str, f64)>,
) -> Result<Vec<u32>> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for (_, i) in interactions(frame, user, item, liked)? {
        *counts.entry(i).or_default() += 1;
    }
    let mut ranked: Vec<(u32, usize)> = counts.into_iter().collect();
    // Ties by id, so the ranking is the same on every run.
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(ranked.into_iter().map(|(i, _)| i).collect())
}

/// Scores every item for `user` with `score`, leaves out `seen`, and returns the best `k`.
fn top_k(
    model: &dyn Network,
    users: usize,
    items: usize,
    user: u32,
    seen: &[u32],
    k: usize,
) -> Result<Vec<(u32, f64)>> {
    if user as usize >= users {
        bail!(
            "user {user} is outside the model's {users} users (ids 0..{})",
            users - 1
        );
    }
    let device = model.parameters().device();
    let pairs: Vec<u32> = (0..items as u32).flat_map(|i| [user, i]).collect();
    let x = Tensor::from_vec(pairs, (items, 2), device)?;
    let scores = model.predict_values(&x)?;
    let mut ranked: Vec<(u32, f64)> = scores
        .into_iter()
        .enumerate()
        .map(|(i, s)| (i as u32, s))
        .filter(|(i, _)| !seen.contains(i))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    Ok(ranked)
}

fn check_ids(input: &Tensor, users: usize, items: usize) -> candle_core::Result<()> {
    let max = input.max(0)?.to_vec1::<u32>()?;
    if max.len() == 2 && (max[0] as usize >= users || max[1] as usize >= items) {
        candle_core::bail!(
            "ids out of range: the model has {users} users and {items} items, the batch has user {} and item {}",
            max[0],
            max[1]
        );
    }
    Ok(())
}

/// Matrix factorisation: rating ≈ mean + user bias + item bias + ⟨user factors, item factors⟩.
///
/// ```
/// use trainbook::prelude::*;
/// let model = MatrixFactorization::new(RecommenderConfig::new(10, 5).device(&Device::Cpu)).unwrap();
/// let top = model.recommend(3, &[0, 1], 2).unwrap();
/// assert_eq!(top.len(), 2);
/// assert!(top.iter().all(|(item, _)| *item >= 2));
/// ```
pub struct MatrixFactorization {
    config: RecommenderConfig,
    params: Parameters,
    user_factors: Embedding,
    item_factors: Embedding,
    user_bias: Embedding,
    item_bias: Embedding,
    mean: Tensor,
}

impl MatrixFactorization {
    pub fn new(config: RecommenderConfig) -> Result<MatrixFactorization> {
        config.check()?;
        let params = Parameters::new(config.seed, &config.device);
        let vb = params.builder();
        let small = candle_nn::Init::Randn {
            mean: 0.0,
            stdev: 0.1,
        };
        let zero = candle_nn::Init::Const(0.0);
        let table =
            |rows: usize, width: usize, name: &str, init| -> candle_core::Result<Embedding> {
                Ok(Embedding::new(
                    vb.get_with_hints((rows, width), name, init)?,
                    width,
                ))
            };
        Ok(MatrixFactorization {
            user_factors: table(config.users, config.factors, "user_factors", small)?,
            item_factors: table(config.items, config.factors, "item_factors", small)?,
            user_bias: table(config.users, 1, "user_bias", zero)?,
            item_bias: table(config.items, 1, "item_bias", zero)?,
            mean: vb.get_with_hints(1, "mean", zero)?,
            config,
            params,
        })
    }

    /// The `k` best-scored items for `user` that are not in `seen`, best first.
    pub fn recommend(&self, user: u32, seen: &[u32], k: usize) -> Result<Vec<(u32, f64)>> {
        top_k(self, self.config.users, self.config.items, user, seen, k)
    }
}

impl Network for MatrixFactorization {
    fn forward_t(&self, input: &Tensor, _train: bool) -> candle_core::Result<Tensor> {
        check_ids(input, self.config.users, self.config.items)?;
        let users = input.i((.., 0))?.contiguous()?;
        let items = input.i((.., 1))?.contiguous()?;
        let dot = (self.user_factors.forward(&users)? * self.item_factors.forward(&items)?)?
            .sum_keepdim(D::Minus1)?;
        let biases = (self.user_bias.forward(&users)? + self.item_bias.forward(&items)?)?;
        (dot + biases)?.broadcast_add(&self.mean)
    }

    fn parameters(&self) -> &Parameters {
        &self.params
    }

    fn head(&self) -> OutputHead {
        OutputHead::Regression(1)
    }

    fn input_shape(&self) -> Vec<usize> {
        vec![2]
    }

    fn input_dtype(&self) -> DType {
        DType::U32
    }

    fn summary(&self) -> Summary {
        let c = &self.config;
        Summary {
            model: "Matrix factorisation".into(),
            input: vec![2],
            layers: vec![
                LayerInfo {
                    name: "user_factors".into(),
                    kind: format!("Embedding({} users → {}) + bias", c.users, c.factors),
                    output: vec![c.factors],
                    params: c.users * (c.factors + 1),
                },
                LayerInfo {
                    name: "item_factors".into(),
                    kind: format!("Embedding({} items → {}) + bias", c.items, c.factors),
                    output: vec![c.factors],
                    params: c.items * (c.factors + 1),
                },
                LayerInfo {
                    name: "mean".into(),
                    kind: "dot product + biases + mean".into(),
                    output: vec![1],
                    params: 1,
                },
            ],
            total: self.params.count(),
            trainable: self.params.trainable_count(),
        }
    }
}

struct Tower {
    embedding: Embedding,
    hidden: Linear,
    output: Linear,
}

impl Tower {
    fn new(
        rows: usize,
        config: &RecommenderConfig,
        vb: candle_nn::VarBuilder,
    ) -> candle_core::Result<Tower> {
        let embedding = candle_nn::embedding(rows, config.factors, vb.pp("embedding"))?;
        Ok(Tower {
            embedding,
            hidden: Linear::new(config.factors, config.tower, vb.pp("hidden"))?,
            output: Linear::new(config.tower, config.factors, vb.pp("output"))?,
        })
    }

    fn forward(&self, ids: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.embedding.forward(ids)?;
        self.output
            .forward(&super::relu(&self.hidden.forward(&x)?)?)
    }
}

/// The two-tower model: a user tower and an item tower (embedding → ReLU MLP → vector), the
/// rating predicted as their dot product plus a learned mean. Item vectors can be computed
/// once and searched, which is why retrieval systems use it.
///
/// ```
/// use trainbook::prelude::*;
/// let model = TwoTower::new(RecommenderConfig::new(10, 5).factors(8).tower(16).device(&Device::Cpu)).unwrap();
/// assert_eq!(model.recommend(0, &[], 3).unwrap().len(), 3);
/// ```
pub struct TwoTower {
    config: RecommenderConfig,
    params: Parameters,
    users: Tower,
    items: Tower,
    mean: Tensor,
}

impl TwoTower {
    pub fn new(config: RecommenderConfig) -> Result<TwoTower> {
        config.check()?;
        let params = Parameters::new(config.seed, &config.device);
        let vb = params.builder();
        Ok(TwoTower {
            users: Tower::new(config.users, &config, vb.pp("user_tower"))?,
            items: Tower::new(config.items, &config, vb.pp("item_tower"))?,
            mean: vb.get_with_hints(1, "mean", candle_nn::Init::Const(0.0))?,
            config,
            params,
        })
    }

    /// The `k` best-scored items for `user` that are not in `seen`, best first.
    pub fn recommend(&self, user: u32, seen: &[u32], k: usize) -> Result<Vec<(u32, f64)>> {
        top_k(self, self.config.users, self.config.items, user, seen, k)
    }
}

impl Network for TwoTower {
    fn forward_t(&self, input: &Tensor, _train: bool) -> candle_core::Result<Tensor> {
        check_ids(input, self.config.users, self.config.items)?;
        let users = self.users.forward(&input.i((.., 0))?.contiguous()?)?;
        let items = self.items.forward(&input.i((.., 1))?.contiguous()?)?;
        (users * items)?
            .sum_keepdim(D::Minus1)?
            .broadcast_add(&self.mean)
    }

    fn parameters(&self) -> &Parameters {
        &self.params
    }

    fn head(&self) -> OutputHead {
        OutputHead::Regression(1)
    }

    fn input_shape(&self) -> Vec<usize> {
        vec![2]
    }

    fn input_dtype(&self) -> DType {
        DType::U32
    }

    fn summary(&self) -> Summary {
        let c = &self.config;
        let tower = |rows: usize, name: &str| LayerInfo {
            name: format!("{name}_tower"),
            kind: format!(
                "Embedding({rows} → {}) → Linear({} → {}) + ReLU → Linear({} → {})",
                c.factors, c.factors, c.tower, c.tower, c.factors
            ),
            output: vec![c.factors],
            params: rows * c.factors + 2 * (c.factors * c.tower) + c.tower + c.factors,
        };
        Summary {
            model: "Two-tower recommender".into(),
            input: vec![2],
            layers: vec![
                tower(c.users, "user"),
                tower(c.items, "item"),
                LayerInfo {
                    name: "mean".into(),
                    kind: "dot product + mean".into(),
                    output: vec![1],
                    params: 1,
                },
            ],
            total: self.params.count(),
            trainable: self.params.trainable_count(),
        }
    }
}
