//! Good records of one kind, checked against the database together (one
//! query per kind of reference) and written through each table's write path.

use std::collections::HashSet;

use super::Importer;
use super::LineError;
use super::records::{
    AgentRecord, AttributionRecord, ClaimRecord, KeyRecord, ReviewRecord, RevisionRecord, SourceRecord,
    check_verification,
};
use crate::agents::store::{self as agents, AgentRow};
use crate::attributions::store::{self as attributions, AttributionRow};
use crate::auth::{self, KeyRow};
use crate::claims::store::{self as claims, ClaimRow, tag_rows};
use crate::db::write::StoreResult;
use crate::error::FieldError;
use crate::ids::{AgentId, SourceId};
use crate::reviews::model::ReviewStatus;
use crate::reviews::store::{self as reviews, ReviewRow};
use crate::revisions::store as revision_store;
use crate::sources::store::{self as sources, SourceRow};

/// Records of one kind waiting to be checked and written, in file order.
pub enum Batch {
    Empty,
    Agents(Vec<AgentRecord>),
    Sources(Vec<SourceRecord>),
    Claims(Vec<ClaimRecord>),
    Attributions(Vec<AttributionRecord>),
    Reviews(Vec<ReviewRecord>),
    Keys(Vec<KeyRecord>),
    Revisions(Vec<RevisionRecord>),
}

impl Batch {
    pub fn len(&self) -> usize {
        match self {
            Batch::Empty => 0,
            Batch::Agents(v) => v.len(),
            Batch::Sources(v) => v.len(),
            Batch::Claims(v) => v.len(),
            Batch::Attributions(v) => v.len(),
            Batch::Reviews(v) => v.len(),
            Batch::Keys(v) => v.len(),
            Batch::Revisions(v) => v.len(),
        }
    }
}

impl Importer<'_, '_> {
    /// Checks the waiting records against the database and writes the good ones.
    pub(super) fn flush(&mut self) -> StoreResult<()> {
        self.batch_bytes = 0;
        match std::mem::replace(&mut self.batch, Batch::Empty) {
            Batch::Empty => Ok(()),
            Batch::Agents(records) => self.write_agents(records),
            Batch::Sources(records) => self.write_sources(records),
            Batch::Claims(records) => self.write_claims(records),
            Batch::Attributions(records) => self.write_attributions(records),
            Batch::Reviews(records) => self.write_reviews(records),
            Batch::Keys(records) => self.write_keys(records),
            Batch::Revisions(records) => self.write_revisions(records),
        }
    }

    fn write_agents(&mut self, records: Vec<AgentRecord>) -> StoreResult<()> {
        let ids: Vec<AgentId> = records.iter().map(|r| r.id.clone()).collect();
        let taken = agents::existing(self.tx.conn, &ids)?;
        let targets: Vec<AgentId> = records.iter().filter_map(|r| r.body.affiliation_id.clone()).collect();
        let mut known = agents::existing(self.tx.conn, &targets)?;
        let mut written = HashSet::new();
        let mut rows = Vec::with_capacity(records.len());
        for AgentRecord { line, id, mut body, stamp } in records {
            if taken.contains(&id) || written.contains(&id) {
                self.conflict(line, id.as_str(), "an agent");
                continue;
            }
            if let Some(target) = &body.affiliation_id
                && !known.contains(target)
                && let Some(at) = self.rejected.get(target.as_str()).copied()
            {
                let error = FieldError::new(
                    "affiliation_id",
                    format!("agent {target} is on line {at}, which was not imported"),
                );
                self.reject(line, id.as_str(), vec![error]);
                continue;
            }
            if let Some(target) = body.affiliation_id.take_if(|target| !known.contains(target)) {
                // Written without it for now: it comes later in the file, or
                // closes a cycle. Set once every agent is in.
                self.forward_affiliations.push((line, id.clone(), target));
            }
            known.insert(id.clone());
            written.insert(id.clone());
            rows.push(AgentRow::new(id, body, stamp));
        }
        agents::insert(self.tx, &rows)?;
        self.imported.agents += rows.len() as u64;
        Ok(())
    }

    /// Sets the affiliations that pointed forward; one that points nowhere
    /// is an error on its agent's line.
    pub(super) fn set_forward_affiliations(&mut self) -> StoreResult<()> {
        let pending = std::mem::take(&mut self.forward_affiliations);
        let targets: Vec<AgentId> = pending.iter().map(|(_, _, target)| target.clone()).collect();
        let known = agents::existing(self.tx.conn, &targets)?;
        let mut found = Vec::new();
        for (line, id, target) in pending {
            if known.contains(&target) {
                found.push((id, target));
                continue;
            }
            let error = match self.rejected.get(target.as_str()) {
                Some(at) => format!("agent {target} is on line {at}, which was not imported"),
                None => format!("no agent with id {target} in the file or in the database"),
            };
            self.imported.agents -= 1;
            self.reject(line, id.as_str(), vec![FieldError::new("affiliation_id", error)]);
        }
        agents::set_affiliations(self.tx, &found)
    }

    fn write_sources(&mut self, records: Vec<SourceRecord>) -> StoreResult<()> {
        let ids: Vec<SourceId> = records.iter().map(|r| r.id.clone()).collect();
        let taken = sources::existing(self.tx.conn, &ids)?;
        let publishers: Vec<AgentId> = records.iter().filter_map(|r| r.body.publisher_id.clone()).collect();
        let known = agents::existing(self.tx.conn, &publishers)?;
        let mut written = HashSet::new();
        let mut rows = Vec::with_capacity(records.len());
        for SourceRecord { line, id, body, stamp } in records {
            if taken.contains(&id) || written.contains(&id) {
                self.conflict(line, id.as_str(), "a source");
                continue;
            }
            if let Some(publisher) = &body.publisher_id
                && !known.contains(publisher)
            {
                let error = self.missing("publisher_id", "agent", publisher.as_str());
                self.reject(line, id.as_str(), vec![error]);
                continue;
            }
            written.insert(id.clone());
            rows.push(SourceRow::new(id, body, stamp));
        }
        sources::insert(self.tx, &rows)?;
        self.imported.sources += rows.len() as u64;
        Ok(())
    }

    fn write_claims(&mut self, records: Vec<ClaimRecord>) -> StoreResult<()> {
        let ids: Vec<_> = records.iter().map(|r| r.id.clone()).collect();
        let taken = claims::existing(self.tx.conn, &ids)?;
        let mut written = HashSet::new();
        let (mut rows, mut tags) = (Vec::with_capacity(records.len()), Vec::new());
        for ClaimRecord { line, id, body, stamp } in records {
            if taken.contains(&id) || written.contains(&id) {
                self.conflict(line, id.as_str(), "a claim");
                continue;
            }
            written.insert(id.clone());
            tags.extend(tag_rows(&id, &body.tags));
            rows.push(ClaimRow::new(id, &body, stamp));
        }
        claims::insert(self.tx, &rows, &tags)?;
        self.imported.claims += rows.len() as u64;
        Ok(())
    }

    fn write_attributions(&mut self, records: Vec<AttributionRecord>) -> StoreResult<()> {
        let ids: Vec<_> = records.iter().map(|r| r.id.clone()).collect();
        let taken = attributions::existing(self.tx.conn, &ids)?;
        let claim_ids: Vec<_> = records.iter().map(|r| r.body.claim_id.clone()).collect();
        let known_claims = claims::existing(self.tx.conn, &claim_ids)?;
        let source_ids: Vec<SourceId> = records
            .iter()
            .flat_map(|r| std::iter::once(r.body.source_id.clone()).chain(r.body.cited_source_id.clone()))
            .collect();
        let known_sources = sources::existing(self.tx.conn, &source_ids)?;
        let speaker_ids: Vec<AgentId> = records.iter().filter_map(|r| r.body.speaker_id.clone()).collect();
        let known_agents = agents::existing(self.tx.conn, &speaker_ids)?;

        let mut good = Vec::with_capacity(records.len());
        let mut written = HashSet::new();
        for record in records {
            if taken.contains(&record.id) || !written.insert(record.id.clone()) {
                self.conflict(record.line, record.id.as_str(), "an attribution");
                continue;
            }
            let body = &record.body;
            let mut errors = Vec::new();
            if !known_claims.contains(&body.claim_id) {
                errors.push(self.missing("claim_id", "claim", body.claim_id.as_str()));
            }
            if !known_sources.contains(&body.source_id) {
                errors.push(self.missing("source_id", "source", body.source_id.as_str()));
            }
            if let Some(speaker) = body.speaker_id.as_ref().filter(|s| !known_agents.contains(*s)) {
                errors.push(self.missing("speaker_id", "agent", speaker.as_str()));
            }
            if let Some(cited) = body.cited_source_id.as_ref().filter(|c| !known_sources.contains(*c)) {
                errors.push(self.missing("cited_source_id", "source", cited.as_str()));
            }
            if errors.is_empty() {
                good.push(record);
            } else {
                self.reject(record.line, record.id.as_str(), errors);
            }
        }

        let verified = attributions::verify(self.tx.conn, good.iter().map(|r| r.body.clone()).collect())?;
        let mut rows = Vec::with_capacity(good.len());
        for (record, verified) in good.into_iter().zip(verified) {
            let errors = check_verification(&record, verified.verification());
            if errors.is_empty() {
                rows.push(AttributionRow::new(record.id, verified, record.stamp));
            } else {
                self.reject(record.line, record.id.as_str(), errors);
            }
        }
        attributions::insert(self.tx, &rows)?;
        self.imported.attributions += rows.len() as u64;
        Ok(())
    }

    /// Reviews: their claims and agents on earlier lines or stored, an
    /// author who is a person, and at most one review per claim and
    /// reviewer that is not withdrawn (in the file and the database).
    fn write_reviews(&mut self, records: Vec<ReviewRecord>) -> StoreResult<()> {
        let ids: Vec<_> = records.iter().map(|r| r.id.clone()).collect();
        let taken = reviews::existing(self.tx.conn, &ids)?;
        let claim_ids: Vec<_> = records.iter().map(|r| r.body.claim_id.clone()).collect();
        let known_claims = claims::existing(self.tx.conn, &claim_ids)?;
        let agent_ids: Vec<AgentId> = records
            .iter()
            .flat_map(|r| std::iter::once(r.body.reviewer_id.clone()).chain(r.body.author_id.clone()))
            .collect();
        let known_agents = agents::existing(self.tx.conn, &agent_ids)?;
        let author_ids: Vec<AgentId> = records.iter().filter_map(|r| r.body.author_id.clone()).collect();
        let persons = agents::persons(self.tx.conn, &author_ids)?;
        let mut written = HashSet::new();
        let mut active = HashSet::new();
        let mut rows = Vec::with_capacity(records.len());
        for ReviewRecord { line, id, body, stamp } in records {
            if taken.contains(&id) || !written.insert(id.clone()) {
                self.conflict(line, id.as_str(), "a review");
                continue;
            }
            let mut errors = Vec::new();
            if !known_claims.contains(&body.claim_id) {
                errors.push(self.missing("claim_id", "claim", body.claim_id.as_str()));
            }
            for (field, agent) in [("reviewer_id", Some(&body.reviewer_id)), ("author_id", body.author_id.as_ref())] {
                if let Some(agent) = agent.filter(|a| !known_agents.contains(*a)) {
                    errors.push(self.missing(field, "agent", agent.as_str()));
                }
            }
            if let Some(author) = body.author_id.as_ref().filter(|a| known_agents.contains(*a) && !persons.contains(*a))
            {
                errors.push(FieldError::new("author_id", format!("agent {author} is an organization, not a person")));
            }
            let pair = (body.claim_id.clone(), body.reviewer_id.clone());
            let is_active = body.status != ReviewStatus::Withdrawn;
            if errors.is_empty()
                && is_active
                && (active.contains(&pair) || reviews::active_review(self.tx.conn, &pair.0, &pair.1, None)?.is_some())
            {
                errors.push(FieldError::new(
                    "reviewer_id",
                    "this reviewer already has a review of this claim that is not withdrawn (one per claim and reviewer)",
                ));
            }
            if errors.is_empty() {
                if is_active {
                    active.insert(pair);
                }
                rows.push(ReviewRow::new(id, body, stamp));
            } else {
                self.reject(line, id.as_str(), errors);
            }
        }
        reviews::insert(self.tx, &rows)?;
        self.imported.reviews += rows.len() as u64;
        Ok(())
    }

    fn write_keys(&mut self, records: Vec<KeyRecord>) -> StoreResult<()> {
        let ids: Vec<String> = records.iter().map(|r| r.data.id.clone()).collect();
        let taken = auth::existing_keys(self.tx.conn, &ids)?;
        let mut written = HashSet::new();
        let mut rows = Vec::with_capacity(records.len());
        for KeyRecord { line, data } in records {
            if taken.contains(&data.id) || !written.insert(data.id.clone()) {
                self.conflict(line, &data.id, "an API key");
                continue;
            }
            rows.push(KeyRow {
                id: data.id,
                name: data.name,
                scope: data.scope,
                secret_sha256: data.secret_sha256,
                created_at: data.created_at.naive_utc(),
                revoked_at: data.revoked_at.map(|at| at.naive_utc()),
                last_used_at: None,
            });
        }
        auth::insert_keys(self.tx, &rows)?;
        self.imported.keys += rows.len() as u64;
        Ok(())
    }

    /// Revisions carried by the file, in its order (commit order), after
    /// those the database holds; one already held is a conflict.
    fn write_revisions(&mut self, records: Vec<RevisionRecord>) -> StoreResult<()> {
        let ids: Vec<String> = records.iter().map(|r| r.row.resource_id.clone()).collect();
        let mut taken = revision_store::versions_of(self.tx.conn, &ids)?;
        let mut rows = Vec::with_capacity(records.len());
        for RevisionRecord { line, row } in records {
            if !taken.insert((row.resource_type, row.resource_id.clone(), row.version)) {
                let what = format!(
                    "a revision (version {} of {} {})",
                    row.version,
                    row.resource_type.as_str(),
                    row.resource_id
                );
                self.report(LineError { line, message: format!("{what} already exists"), conflict: true });
                continue;
            }
            rows.push(row);
        }
        self.imported.revisions += rows.len() as u64;
        revision_store::append_imported(self.tx.conn, rows)
    }
}
