//! Writing what ClaimReview documents describe, through each table's own
//! write path, in the request's one write transaction: the reviewer (and
//! the review's author), the claim, the sources it appears in and their
//! publishers, an attribution per appearance, and the review.
//!
//! **Found or made.** Each record is looked for first, and made only when
//! it is not there (made records are found by the reviews after them):
//! an agent by URL, then by exact name (and kind); a claim by its
//! `urn:uuid:` `@id`, then by exact text; a source by its `urn:uuid:`
//! `@id`, then by URL, then by exact title and publisher; an attribution
//! of the claim in the same source; a review by its `urn:uuid:` `@id`, or
//! as the reviewer's active review of the claim when it has the same URL
//! (another URL is a 409: one active review per claim and reviewer).
//! Records made keep a `urn:uuid:` `@id` as their id.
//!
//! **Attributions made.** An appearance that `isBasedOn` another work
//! cites it (`citation`); else it states the claim itself, as `direct`, or,
//! when the Claim names an `author`, as a `paraphrase` of that speaker.
//! `firstAppearance` gets an attribution of its own only when no
//! appearance is, or is based on, it.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::parse::{AgentIn, ClaimIn, Incoming, Note, Read, WorkIn};
use crate::agents::store as agent_store;
use crate::attributions::model::{Mode, NewAttribution, Stance};
use crate::attributions::store as attribution_store;
use crate::claims::store as claim_store;
use crate::db::schema::{agents, attributions, claims, sources};
use crate::db::write::{StoreError, StoreResult, Tx};
use crate::error::FieldError;
use crate::ids::{AgentId, AttributionId, ClaimId, SourceId};
use crate::reviews::model::NewReview;
use crate::reviews::store as review_store;
use crate::sources::store as source_store;

diesel::define_sql_function! {
    /// SQL `substr`, in characters on both backends.
    fn substr(text: diesel::sql_types::Text, start: diesel::sql_types::Integer, length: diesel::sql_types::Integer) -> diesel::sql_types::Text;
}

/// What `POST /v1/import/claimreview` did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClaimReviewImport {
    /// True when nothing was written: every record was checked, found or
    /// made, and then the transaction rolled back.
    pub dry_run: bool,
    /// Each ClaimReview of the document, in order, with every record it
    /// led to.
    pub items: Vec<ImportedItem>,
    /// What the import left out, and why.
    pub notes: Vec<Note>,
}

/// The records one ClaimReview led to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportedItem {
    /// The ClaimReview's JSON path in the document.
    pub path: String,
    pub records: Vec<Outcome>,
}

crate::validate::text_enum! {
    /// Whether a record was found or made.
    Found {
        /// It was there already (see the operation's rules for how records are matched).
        Matched = "matched",
        /// It was made.
        Created = "created",
    }
}

/// One record an import found or made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Outcome {
    /// `agent`, `source`, `claim`, `attribution` or `review`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Uuid,
    pub result: Found,
    /// Where the document describes it.
    pub path: String,
}

/// Writes every item, all or nothing; in a dry run, nothing is kept.
pub fn run(tx: &mut Tx, read: Read, dry_run: bool) -> StoreResult<(ClaimReviewImport, bool)> {
    let mut items = Vec::with_capacity(read.items.len());
    for incoming in read.items {
        let mut item = ImportedItem { path: incoming.path.clone(), records: Vec::new() };
        ingest(tx, incoming, &mut item.records)?;
        items.push(item);
    }
    Ok((ClaimReviewImport { dry_run, items, notes: read.notes }, !dry_run))
}

fn outcome(records: &mut Vec<Outcome>, kind: &str, id: Uuid, result: Found, path: &str) {
    records.push(Outcome { kind: kind.to_string(), id, result, path: path.to_string() });
}

/// A store's refusal, told at the JSON path of what it refused.
fn at(path: &str, paths: &[(&'static str, String)]) -> impl Fn(StoreError) -> StoreError {
    let (path, paths) = (path.to_string(), paths.to_vec());
    move |error| match error {
        StoreError::Invalid(errors) => StoreError::Invalid(
            errors
                .into_iter()
                .map(|e| {
                    let field = paths.iter().find(|(f, _)| *f == e.field).map(|(_, p)| p.clone());
                    FieldError::new(field.unwrap_or_else(|| format!("{path}.{}", e.field)), e.message)
                })
                .collect(),
        ),
        StoreError::Conflict(detail) => StoreError::Conflict(format!("{path}: {detail}")),
        StoreError::Exists { what, id } => {
            StoreError::Conflict(format!("{path}: a {what} with id {id} already exists"))
        }
        other => other,
    }
}

fn ingest(tx: &mut Tx, incoming: Incoming, records: &mut Vec<Outcome>) -> StoreResult<()> {
    let Incoming { path, mut review, claim, reviewer, creator, paths } = incoming;
    let reviewer_id = agent(tx, &reviewer, records)?;
    let author_id = creator.as_ref().map(|c| agent(tx, c, records)).transpose()?;
    let claim_id = ingest_claim(tx, claim, records)?;
    review.claim_id = claim_id.clone();
    review.reviewer_id = reviewer_id.clone();
    review.author_id = author_id;
    ingest_review(tx, review, &path, &paths, records)
}

fn ingest_review(
    tx: &mut Tx,
    review: NewReview,
    path: &str,
    paths: &[(&'static str, String)],
    records: &mut Vec<Outcome>,
) -> StoreResult<()> {
    let conflict = |detail: String| StoreError::Conflict(format!("{path}: {detail}"));
    if let Some(id) = &review.id
        && let Some(existing) = review_store::find(tx.conn, id).map(Some).or_else(not_found_is_none)?
    {
        if existing.claim_id != review.claim_id || existing.reviewer_id != review.reviewer_id {
            return Err(conflict(format!("review {id} exists, of another claim or by another reviewer")));
        }
        outcome(records, "review", id.uuid(), Found::Matched, path);
        return Ok(());
    }
    if let Some(active) = review_store::active_review(tx.conn, &review.claim_id, &review.reviewer_id, None)? {
        if active.url == review.url {
            outcome(records, "review", active.id.uuid(), Found::Matched, path);
            return Ok(());
        }
        return Err(conflict(format!(
            "the reviewer already has a review of this claim that is not withdrawn (review {}, {}); \
             withdraw it first",
            active.id,
            active.status.as_str()
        )));
    }
    let made = review_store::create(tx, review).map_err(at(path, paths))?;
    outcome(records, "review", made.id.uuid(), Found::Created, path);
    Ok(())
}

fn not_found_is_none<T>(error: StoreError) -> StoreResult<Option<T>> {
    match error {
        StoreError::NotFound(_) => Ok(None),
        other => Err(other),
    }
}

/// Finds or makes an agent: by URL, then by exact name and kind.
fn agent(tx: &mut Tx, agent: &AgentIn, records: &mut Vec<Outcome>) -> StoreResult<AgentId> {
    let mut found: Option<AgentId> = None;
    if let Some(url) = &agent.body.url {
        found = agents::table
            .filter(agents::url.eq(url))
            .order((agents::created_at, agents::id))
            .select(agents::id)
            .first(tx.conn)
            .optional()?;
    }
    if found.is_none() {
        found = agents::table
            .filter(agents::name.eq(&agent.body.name))
            .filter(agents::kind.eq(agent.body.kind))
            .order((agents::created_at, agents::id))
            .select(agents::id)
            .first(tx.conn)
            .optional()?;
    }
    if let Some(id) = found {
        outcome(records, "agent", id.uuid(), Found::Matched, &agent.path);
        return Ok(id);
    }
    let made = agent_store::create(tx, agent.body.clone()).map_err(at(&agent.path, &agent.paths))?;
    outcome(records, "agent", made.id.uuid(), Found::Created, &agent.path);
    Ok(made.id)
}

/// Finds or makes the claim, its sources and their attributions.
fn ingest_claim(tx: &mut Tx, claim: ClaimIn, records: &mut Vec<Outcome>) -> StoreResult<ClaimId> {
    let mut found = None;
    if let Some(id) = &claim.body.id
        && claims::table.find(id).count().get_result::<i64>(tx.conn)? > 0
    {
        found = Some(id.clone());
    }
    if found.is_none() {
        let prefix: String = claim.body.text.chars().take(64).collect();
        found = claims::table
            .filter(substr(claims::text, 1, 64).eq(prefix))
            .filter(claims::text.eq(&claim.body.text))
            .order((claims::created_at, claims::id))
            .select(claims::id)
            .first(tx.conn)
            .optional()?;
    }
    let claim_id = match found {
        Some(id) => {
            outcome(records, "claim", id.uuid(), Found::Matched, &claim.path);
            id
        }
        None => {
            let made = claim_store::create(tx, claim.body.clone()).map_err(at(&claim.path, &claim.paths))?;
            outcome(records, "claim", made.id.uuid(), Found::Created, &claim.path);
            made.id
        }
    };
    let speaker = claim.author.as_ref().map(|a| agent(tx, a, records)).transpose()?;

    // Sources first, the works others are based on before them.
    let mut ids: Vec<(String, SourceId)> = Vec::new();
    let mut order: Vec<&WorkIn> = claim.works.iter().filter(|w| w.based_on.is_none()).collect();
    order.extend(claim.works.iter().filter(|w| w.based_on.is_some()));
    for work in order {
        let id = source(tx, work, records)?;
        ids.push((work.key.clone(), id));
    }
    let id_of = |key: &str| ids.iter().find(|(k, _)| k == key).map(|(_, id)| id.clone());
    let cited: Vec<&String> = claim.works.iter().filter_map(|w| w.based_on.as_ref()).collect();
    let mut stating: Vec<&String> = claim.appearing.iter().collect();
    if let Some(first) = &claim.first
        && !stating.contains(&first)
        && !cited.contains(&first)
    {
        stating.push(first);
    }
    for key in stating {
        let Some(work) = claim.works.iter().find(|w| &w.key == key) else { continue };
        let (Some(source_id), cited_id) = (id_of(key), work.based_on.as_deref().and_then(id_of)) else { continue };
        attribution(tx, &claim_id, source_id, cited_id, speaker.clone(), &work.path, records)?;
    }
    Ok(claim_id)
}

/// Finds or makes a source: by `urn:uuid:` id, URL, then title and publisher.
fn source(tx: &mut Tx, work: &WorkIn, records: &mut Vec<Outcome>) -> StoreResult<SourceId> {
    let publisher = work.publisher.as_ref().map(|p| agent(tx, p, records)).transpose()?;
    let mut found: Option<SourceId> = None;
    if let Some(id) = &work.body.id
        && sources::table.find(id).count().get_result::<i64>(tx.conn)? > 0
    {
        found = Some(id.clone());
    }
    if found.is_none()
        && let Some(url) = &work.body.url
    {
        found = sources::table
            .filter(sources::url.eq(url))
            .order((sources::created_at, sources::id))
            .select(sources::id)
            .first(tx.conn)
            .optional()?;
    }
    if found.is_none() {
        let mut same = sources::table.filter(sources::title.eq(&work.body.title)).into_boxed();
        same = match &publisher {
            Some(p) => same.filter(sources::publisher_id.eq(p)),
            None => same.filter(sources::publisher_id.is_null()),
        };
        found = same.order((sources::created_at, sources::id)).select(sources::id).first(tx.conn).optional()?;
    }
    if let Some(id) = found {
        outcome(records, "source", id.uuid(), Found::Matched, &work.path);
        return Ok(id);
    }
    let mut body = work.body.clone();
    body.publisher_id = publisher;
    let made = source_store::create(tx, body).map_err(at(&work.path, &work.paths))?;
    outcome(records, "source", made.id.uuid(), Found::Created, &work.path);
    Ok(made.id)
}

/// Finds the claim's attribution in the source, or makes one.
fn attribution(
    tx: &mut Tx,
    claim_id: &ClaimId,
    source_id: SourceId,
    cited: Option<SourceId>,
    speaker: Option<AgentId>,
    path: &str,
    records: &mut Vec<Outcome>,
) -> StoreResult<()> {
    let found: Option<AttributionId> = attributions::table
        .filter(attributions::claim_id.eq(claim_id))
        .filter(attributions::source_id.eq(&source_id))
        .order((attributions::created_at, attributions::id))
        .select(attributions::id)
        .first(tx.conn)
        .optional()?;
    if let Some(id) = found {
        outcome(records, "attribution", id.uuid(), Found::Matched, path);
        return Ok(());
    }
    let mode = match (&cited, &speaker) {
        (Some(_), _) => Mode::Citation,
        (None, Some(_)) => Mode::Paraphrase,
        (None, None) => Mode::Direct,
    };
    let body = NewAttribution {
        id: None,
        claim_id: claim_id.clone(),
        source_id,
        speaker_id: speaker,
        mode,
        stance: Stance::Affirms,
        cited_source_id: cited,
        quote: None,
        locator: None,
        stated_on: None,
    };
    let made = attribution_store::create(tx, body).map_err(at(path, &[]))?;
    outcome(records, "attribution", made.id.uuid(), Found::Created, path);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_refusal_is_told_at_the_documents_paths() {
        let paths = vec![("title", "$[0].itemReviewed.appearance[0].name".to_string())];
        let error = at("$[0].itemReviewed.appearance[0]", &paths)(StoreError::Invalid(vec![
            FieldError::new("title", "too long"),
            FieldError::new("byline", "bad"),
        ]));
        let StoreError::Invalid(errors) = error else { panic!("still invalid") };
        assert_eq!(errors[0].field, "$[0].itemReviewed.appearance[0].name");
        assert_eq!(errors[1].field, "$[0].itemReviewed.appearance[0].byline");
    }
}
