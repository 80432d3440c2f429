//! Reference checks: that referenced rows exist (422 naming the field) and
//! that a row about to be deleted is no longer referenced (409 saying by what).

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::DbConnection;
use super::schema::{agents, attributions, claims, reviews, sources};
use super::write::{StoreError, StoreResult};
use crate::error::FieldError;

/// A table that other rows refer to.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Agent,
    Source,
    Claim,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Agent => "agent",
            Target::Source => "source",
            Target::Claim => "claim",
        }
    }
}

/// Whether a row with this id exists.
pub fn exists(conn: &mut DbConnection, target: Target, id: &str) -> QueryResult<bool> {
    let n: i64 = match target {
        Target::Agent => agents::table.filter(agents::id.eq(id)).select(count_star()).first(conn)?,
        Target::Source => sources::table.filter(sources::id.eq(id)).select(count_star()).first(conn)?,
        Target::Claim => claims::table.filter(claims::id.eq(id)).select(count_star()).first(conn)?,
    };
    Ok(n > 0)
}

/// `Invalid` naming every field whose referenced row does not exist.
pub fn require(conn: &mut DbConnection, references: &[(&str, Target, Option<&str>)]) -> StoreResult<()> {
    let mut errors = Vec::new();
    for (field, target, id) in references {
        if let Some(id) = id
            && !exists(conn, *target, id)?
        {
            errors.push(FieldError::new(*field, format!("no {} with id {id}", target.name())));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(StoreError::Invalid(errors)) }
}

/// `Referenced` when rows still refer to `id`, naming them; `Ok` when none do.
pub fn ensure_unreferenced(conn: &mut DbConnection, target: Target, id: &str) -> StoreResult<()> {
    let counts: Vec<(&str, i64)> = match target {
        Target::Agent => vec![
            (
                "agents (affiliation_id)",
                agents::table.filter(agents::affiliation_id.eq(id)).select(count_star()).first(conn)?,
            ),
            (
                "sources (publisher_id)",
                sources::table.filter(sources::publisher_id.eq(id)).select(count_star()).first(conn)?,
            ),
            (
                "attributions (speaker_id)",
                attributions::table.filter(attributions::speaker_id.eq(id)).select(count_star()).first(conn)?,
            ),
            (
                "reviews (reviewer_id)",
                reviews::table.filter(reviews::reviewer_id.eq(id)).select(count_star()).first(conn)?,
            ),
            ("reviews (author_id)", reviews::table.filter(reviews::author_id.eq(id)).select(count_star()).first(conn)?),
        ],
        Target::Source => vec![
            (
                "attributions (source_id)",
                attributions::table.filter(attributions::source_id.eq(id)).select(count_star()).first(conn)?,
            ),
            (
                "attributions (cited_source_id)",
                attributions::table.filter(attributions::cited_source_id.eq(id)).select(count_star()).first(conn)?,
            ),
        ],
        Target::Claim => vec![
            (
                "attributions (claim_id)",
                attributions::table.filter(attributions::claim_id.eq(id)).select(count_star()).first(conn)?,
            ),
            ("reviews (claim_id)", reviews::table.filter(reviews::claim_id.eq(id)).select(count_star()).first(conn)?),
        ],
    };
    let by: Vec<String> = counts.into_iter().filter(|(_, n)| *n > 0).map(|(what, n)| format!("{n} {what}")).collect();
    if by.is_empty() { Ok(()) } else { Err(StoreError::Referenced { what: target.name(), by }) }
}
