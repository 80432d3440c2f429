//! The reviews a claim card shows, and which writes change cards because
//! of them: every write of a review (its claim's card), and a change of an
//! agent that a card shows as a reviewer or an author (see
//! [`super::agent_changed`]).

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AgentSummary;
use crate::claims::store as claim_store;
use crate::db::DbConnection;
use crate::db::schema::reviews;
use crate::db::write::{StoreError, StoreResult, Tx};
use crate::ids::{AgentId, ClaimId};
use crate::reviews::model::Review;
use crate::reviews::store::ReviewRow;

/// One review on a claim card, with its reviewer and author.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CardReview {
    #[serde(flatten)]
    pub review: Review,
    /// The fact-checking organisation whose verdict it is.
    pub reviewer: AgentSummary,
    /// The person who wrote it, when named (`null` otherwise).
    #[schema(required = true)]
    pub author: Option<AgentSummary>,
}

/// The agents these reviews name (reviewers and authors).
pub fn agents_named_by(rows: &[ReviewRow]) -> Vec<AgentId> {
    rows.iter().flat_map(|r| std::iter::once(r.reviewer_id.clone()).chain(r.author_id.clone())).collect()
}

/// Reviews with the summaries of the agents they name, all in `agents`.
pub fn with_summaries(rows: Vec<ReviewRow>, agents: &HashMap<AgentId, AgentSummary>) -> StoreResult<Vec<CardReview>> {
    let summary = |id: &AgentId| {
        agents.get(id).cloned().ok_or_else(|| StoreError::Broken(format!("a review names missing agent {id}")))
    };
    rows.into_iter()
        .map(|row| {
            let reviewer = summary(&row.reviewer_id)?;
            let author = row.author_id.as_ref().map(summary).transpose()?;
            Ok(CardReview { review: row.into_api(), reviewer, author })
        })
        .collect()
}

/// After a review was created, changed, restored or deleted: the cards of
/// these claims changed (the desk's view shows drafts, so a draft's write
/// counts too).
pub fn changed(tx: &mut Tx, claim_ids: &[ClaimId], cause: &str) -> StoreResult<()> {
    claim_store::bump_versions(tx, claim_ids, cause)
}

/// The claims whose cards show this agent as a reviewer or an author.
pub fn claims_naming(conn: &mut DbConnection, agent: &AgentId) -> StoreResult<Vec<ClaimId>> {
    Ok(reviews::table
        .select(reviews::claim_id)
        .filter(reviews::reviewer_id.eq(agent).or(reviews::author_id.eq(agent)))
        .distinct()
        .load(conn)?)
}

crate::validate::text_enum! {
    /// What a claim card adds to what everyone sees.
    CardInclude {
        /// Draft reviews too (needs a `write` key).
        Drafts = "drafts",
    }
}

/// Parameters of `GET /v1/claims/{id}`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CardQuery {
    /// `drafts`: show draft reviews as well as published ones. Drafts are
    /// the desk's: asking for them without a key of scope `write` is a 403.
    #[param(inline)]
    pub include: Option<CardInclude>,
}

impl CardQuery {
    /// Whether the card shows drafts: 403 when a request without a `write`
    /// key asks for them.
    pub fn drafts(&self, audience: crate::reviews::Audience) -> Result<bool, crate::error::ApiError> {
        match (self.include, audience) {
            (None, _) => Ok(false),
            (Some(CardInclude::Drafts), crate::reviews::Audience::Desk) => Ok(true),
            (Some(CardInclude::Drafts), crate::reviews::Audience::Public) => Err(crate::error::ApiError::forbidden(
                "Draft reviews are shown to keys of scope `write` only; leave out `include=drafts`.",
            )),
        }
    }
}
