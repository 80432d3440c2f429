//! Revisions: every change of every resource, readable, restorable, and in
//! commit order as the change feed (`/v1/changes`, and its Server-Sent
//! Events stream).
//!
//! Each write path records its revisions in the writing transaction's
//! [`Tx`]; they are written just before it commits (see `store::append`).

pub mod feed;
pub mod model;
pub mod store;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::{ReadAccess, WriteAccess};
use crate::db::Db;
use crate::db::write::{READ_ONLY_FIELDS, ResourceType, RevisionAction, StoreError, StoreResult, Tombstone, Tx};
use crate::error::ApiError;
use crate::http::{self, Body, Params, Precondition, parse_body};
use crate::ids::{AgentId, AttributionId, ClaimId, ReviewId, SourceId};
use crate::reviews::Audience;
use crate::{agents, attributions, claims, reviews, sources};
use model::{RevisionOut, RevisionsQuery};

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(list_agent_revisions)
        .service(get_agent_revision)
        .service(restore_agent_revision)
        .service(list_source_revisions)
        .service(get_source_revision)
        .service(restore_source_revision)
        .service(list_claim_revisions)
        .service(get_claim_revision)
        .service(restore_claim_revision)
        .service(list_attribution_revisions)
        .service(get_attribution_revision)
        .service(restore_attribution_revision)
        .service(list_review_revisions)
        .service(get_review_revision)
        .service(restore_review_revision)
        .service(feed::list_changes)
        .service(feed::stream_changes);
}

/// The revision list, one revision and restore of one kind of resource.
macro_rules! revision_routes {
    (
        $kind:expr, $id:ty, $example:tt,
        $list:ident = $list_path:tt, $list_op:tt, $list_summary:tt,
        $get:ident = $get_path:tt, $get_op:tt, $get_summary:tt,
        $restore:ident = $restore_path:tt, $restore_op:tt, $restore_summary:tt
    ) => {
        // Summaries and descriptions are given to utoipa as strings: it
        // does not read doc comments that a macro puts together.
        #[utoipa::path(
            tag = "revisions", operation_id = $list_op, summary = $list_summary,
            description = "Newest first, in pages of `limit`; the revisions of a deleted resource stay \
                readable, its tombstone first. Each says who made the change (`actor`), when, with what \
                comment, and what the resource was after it.",
            params(("id" = Uuid, Path, description = "The resource's id", example = $example), RevisionsQuery),
            responses((status = 200, description = "A page of revisions", body = crate::http::Page<RevisionOut>,
                headers(("Link" = String, description = "`<…>; rel=\"next\"`: the next page, when there is one"))))
        )]
        #[get($list_path)]
        async fn $list(
            _: ReadAccess,
            req: HttpRequest,
            db: web::Data<Db>,
            id: web::Path<$id>,
            Params(query): Params<RevisionsQuery>,
        ) -> Result<HttpResponse, ApiError> {
            let limit = http::page_limit(query.limit)?;
            let id = id.into_inner().to_string();
            let first_page = query.cursor.is_none();
            let mut page =
                db.run(move |conn| store::of_resource(conn, $kind, &id, query.cursor.as_deref(), limit)).await?;
            // A draft review's revisions are the desk's.
            let audience = Audience::of(&req);
            page.items.retain(|revision| audience.sees_revision(revision));
            if first_page && page.items.is_empty() && page.next_cursor.is_none() {
                return Err(StoreError::NotFound($kind.as_str()).into());
            }
            Ok(http::page(&req, page))
        }

        #[utoipa::path(
            tag = "revisions", operation_id = $get_op, summary = $get_summary,
            description = "The revision that made `version`: the resource as it was then (`null` for the \
                deletion), who made the change, when, and why.",
            params(("id" = Uuid, Path, description = "The resource's id", example = $example),
                ("version" = i32, Path, description = "The version the revision made", example = 1)),
            responses((status = 200, description = "The revision", body = RevisionOut))
        )]
        #[get($get_path)]
        async fn $get(
            _: ReadAccess,
            req: HttpRequest,
            db: web::Data<Db>,
            path: web::Path<($id, i32)>,
        ) -> Result<HttpResponse, ApiError> {
            let (id, version) = path.into_inner();
            let id = id.to_string();
            let revision = db.run(move |conn| store::find(conn, $kind, &id, version)).await?.into_api();
            if !Audience::of(&req).sees_revision(&revision) {
                return Err(StoreError::NotFound("revision").into());
            }
            Ok(HttpResponse::Ok().json(revision))
        }

        #[utoipa::path(
            tag = "revisions", operation_id = $restore_op, summary = $restore_summary,
            description = "Makes the revision's fields current again, as a new version, checked as a PATCH \
                is (a reference to something since deleted is a 409 naming it). Needs `If-Match` with the \
                current ETag; for a deleted resource, the ETag of its tombstone (its last version), and then \
                it is made again with its id.",
            params(("id" = Uuid, Path, description = "The resource's id", example = $example),
                ("version" = i32, Path, description = "The version to make current again", example = 1)),
            responses(
                (status = 200, description = "The resource as restored, at its new version", body = Object,
                    headers(("ETag" = String, description = "Its new version"))),
            )
        )]
        #[post($restore_path)]
        async fn $restore(
            access: WriteAccess,
            req: HttpRequest,
            db: web::Data<Db>,
            path: web::Path<($id, i32)>,
        ) -> Result<HttpResponse, ApiError> {
            let precondition = Precondition::required(&req)?;
            let (id, version) = path.into_inner();
            let (resource, version) =
                db.write(access.change, move |tx| restore(tx, $kind, id.as_str(), version, precondition)).await?;
            Ok(http::resource(&req, version, &resource))
        }
    };
}

revision_routes!(
    ResourceType::Agent,
    AgentId,
    "dadc5658-6eb7-549b-892b-ebf148ec0882",
    list_agent_revisions = "/agents/{id}/revisions",
    "listAgentRevisions",
    "List the revisions of an agent",
    get_agent_revision = "/agents/{id}/revisions/{version}",
    "getAgentRevision",
    "Get one revision of an agent",
    restore_agent_revision = "/agents/{id}/revisions/{version}/restore",
    "restoreAgentRevision",
    "Restore a revision of an agent"
);
revision_routes!(
    ResourceType::Source,
    SourceId,
    "c6a8706d-f757-568a-bb3a-bda55545ee21",
    list_source_revisions = "/sources/{id}/revisions",
    "listSourceRevisions",
    "List the revisions of a source",
    get_source_revision = "/sources/{id}/revisions/{version}",
    "getSourceRevision",
    "Get one revision of a source",
    restore_source_revision = "/sources/{id}/revisions/{version}/restore",
    "restoreSourceRevision",
    "Restore a revision of a source"
);
revision_routes!(
    ResourceType::Claim,
    ClaimId,
    "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338",
    list_claim_revisions = "/claims/{id}/revisions",
    "listClaimRevisions",
    "List the revisions of a claim",
    get_claim_revision = "/claims/{id}/revisions/{version}",
    "getClaimRevision",
    "Get one revision of a claim",
    restore_claim_revision = "/claims/{id}/revisions/{version}/restore",
    "restoreClaimRevision",
    "Restore a revision of a claim"
);
revision_routes!(
    ResourceType::Attribution,
    AttributionId,
    "b80a7a2b-e755-5ecb-bfa1-880fd9890af8",
    list_attribution_revisions = "/attributions/{id}/revisions",
    "listAttributionRevisions",
    "List the revisions of an attribution",
    get_attribution_revision = "/attributions/{id}/revisions/{version}",
    "getAttributionRevision",
    "Get one revision of an attribution",
    restore_attribution_revision = "/attributions/{id}/revisions/{version}/restore",
    "restoreAttributionRevision",
    "Restore a revision of an attribution"
);

revision_routes!(
    ResourceType::Review,
    ReviewId,
    "0193a7e0-7c1e-7000-8000-000000000001",
    list_review_revisions = "/reviews/{id}/revisions",
    "listReviewRevisions",
    "List the revisions of a review",
    get_review_revision = "/reviews/{id}/revisions/{version}",
    "getReviewRevision",
    "Get one revision of a review",
    restore_review_revision = "/reviews/{id}/revisions/{version}/restore",
    "restoreReviewRevision",
    "Restore a revision of a review"
);

/// Makes revision `version` of a resource current again (see the restore
/// routes); answers the resource as the API shows it, and its version.
fn restore(
    tx: &mut Tx,
    kind: ResourceType,
    id: &str,
    version: i32,
    precondition: Precondition,
) -> StoreResult<(Value, i32)> {
    let revision = store::find(tx.conn, kind, id, version)?;
    let Some(data) = revision.into_api().data else {
        return Err(StoreError::invalid(
            "version",
            format!("version {version} is the deletion; restore the version before it"),
        ));
    };
    let tombstone = match store::latest(tx.conn, kind, id)? {
        Some(last) if last.action == RevisionAction::Delete => {
            let created_at = data["created_at"].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok());
            let created_at = created_at
                .ok_or_else(|| StoreError::Broken(format!("revision {version} of {id} has no created_at")))?;
            Some(Tombstone { version: last.version, created_at: created_at.naive_utc() })
        }
        _ => None,
    };
    let value = |resource: &dyn erased::Resource| (resource.json(), resource.version());
    Ok(match kind {
        ResourceType::Agent => {
            let body = writable(data)?;
            value(&agents::store::restore(tx, &parse_id(id)?, body, precondition, tombstone)?)
        }
        ResourceType::Source => {
            let body = writable(data)?;
            value(&sources::store::restore(tx, &parse_id(id)?, body, precondition, tombstone)?)
        }
        ResourceType::Claim => {
            let body = writable(data)?;
            value(&claims::store::restore(tx, &parse_id(id)?, body, precondition, tombstone)?)
        }
        ResourceType::Attribution => {
            let body = writable(data)?;
            value(&attributions::store::restore(tx, &parse_id(id)?, body, precondition, tombstone)?)
        }
        ResourceType::Review => {
            let body = writable(data)?;
            value(&reviews::store::restore(tx, &parse_id(id)?, body, precondition, tombstone)?)
        }
        ResourceType::Key => return Err(StoreError::NotFound("revision")),
    })
}

fn parse_id<T: std::str::FromStr>(id: &str) -> StoreResult<T> {
    id.parse().map_err(|_| StoreError::NotFound("revision"))
}

/// A revision's data as a create body: what the server sets left out.
fn writable<T: Body>(mut data: Value) -> StoreResult<T> {
    if let Some(members) = data.as_object_mut() {
        for field in READ_ONLY_FIELDS {
            members.remove(field);
        }
    }
    parse_body(data).map_err(StoreError::Invalid)
}

/// The resources as restore answers them.
mod erased {
    use serde_json::Value;

    pub trait Resource {
        fn json(&self) -> Value;
        fn version(&self) -> i32;
    }

    macro_rules! resource {
        ($($t:ty),+) => {$(
            impl Resource for $t {
                fn json(&self) -> Value {
                    serde_json::to_value(self).unwrap_or_default()
                }
                fn version(&self) -> i32 {
                    self.version
                }
            }
        )+};
    }

    resource!(
        crate::agents::model::Agent,
        crate::sources::model::Source,
        crate::claims::model::Claim,
        crate::attributions::model::Attribution,
        crate::reviews::model::Review
    );
}
