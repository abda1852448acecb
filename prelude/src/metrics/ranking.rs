//! Top-k recommendation quality: how many of the items a user liked in held-out data appear in
//! the k items recommended to them.

use crate::display::{MimeBundle, Render};
use anyhow::{bail, Result};

/// Precision, recall and hit rate at k, averaged over the users who liked at least one
/// held-out item (the others cannot be scored and are left out, as in most recommender
/// libraries).
#[derive(Clone, Debug, PartialEq)]
pub struct RankingScores {
    pub k: usize,
    /// Mean share of the k recommendations that the user liked.
    pub precision: f64,
    /// Mean share of the user's liked items that were recommended.
    pub recall: f64,
    /// Share of users with at least one liked item among their k recommendations.
    pub hit_rate: f64,
    /// Users scored.
    pub users: usize,
}

/// Scores top-k lists: `recommended[u]` holds user u's recommendations best first (only the
/// first `k` count), `relevant[u]` the items u liked in held-out data.
///
/// ```
/// use trainbook::prelude::*;
/// let recommended = vec![vec![1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]];
/// let relevant = vec![vec![2, 9], vec![7], vec![]]; // user 2 liked nothing held out
/// let scores = ranking_scores(&recommended, &relevant, 3).unwrap();
/// assert_eq!(scores.users, 2);
/// assert!((scores.precision - (1.0 / 3.0 + 0.0) / 2.0).abs() < 1e-12);
/// assert_eq!((scores.recall, scores.hit_rate), (0.25, 0.5));
/// ```
pub fn ranking_scores(
    recommended: &[Vec<u32>],
    relevant: &[Vec<u32>],
    k: usize,
) -> Result<RankingScores> {
    if recommended.len() != relevant.len() {
        bail!(
            "{} recommendation lists but {} relevant-item lists; give one of each per user",
            recommended.len(),
            relevant.len()
        );
    }
    if k == 0 {
        bail!("k must be at least 1");
    }
    let (mut precision, mut recall, mut hits, mut users) = (0.0, 0.0, 0usize, 0usize);
    for (top, liked) in recommended.iter().zip(relevant) {
        if liked.is_empty() {
            continue;
        }
        let found = top.iter().take(k).filter(|i| liked.contains(i)).count();
        precision += found as f64 / k as f64;
        recall += found as f64 / liked.len() as f64;
        hits += usize::from(found > 0);
        users += 1;
    }
    if users == 0 {
        bail!("no user has a relevant item, so nothing can be scored; check the held-out data");
    }
    Ok(RankingScores {
        k,
        precision: precision / users as f64,
        recall: recall / users as f64,
        hit_rate: hits as f64 / users as f64,
        users,
    })
}

impl Render for RankingScores {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(format!(
            "precision@{k} {:.4}, recall@{k} {:.4}, hit rate@{k} {:.4} over {} users",
            self.precision,
            self.recall,
            self.hit_rate,
            self.users,
            k = self.k
        ))
    }
}
