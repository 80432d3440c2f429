//! Provenance: where a claim comes from (`/v1/claims/{id}/provenance`, as
//! JSON, W3C PROV-JSON, Graphviz DOT or an SVG picture), and the reverse
//! look-ups from a source or an agent to the claims it is behind.

pub mod dot;
mod drawing;
pub mod model;
pub mod prov_json;
pub mod store;
pub mod svg;
pub mod trail;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::ReadAccess;
use crate::claims::model::Claim;
use crate::db::Db;
use crate::error::{ApiError, Problem};
use crate::http::{self, Page, Params};
use crate::ids::{AgentId, ClaimId, SourceId};
use model::{ClaimsOfQuery, DEFAULT_MAX_DEPTH, Format, MAX_DEPTH_CAP, Provenance, ProvenanceQuery};

pub fn configure(config: &mut ServiceConfig) {
    config.service(get_provenance).service(list_claims_of_source).service(list_claims_of_agent);
}

/// Trace a claim to its origins
///
/// Walks the claim's attributions and, through `cited_source_id`, the same
/// claim's attributions in the cited sources, up to `max_depth` citation hops
/// (0 to 64, default 16); a citation loop is walked once.
///
/// **Where the trail starts.** At every source that states the claim and
/// that no other source on record cites for it: where a reader meets the
/// claim first. Sources that only cite one another in a closed loop start it
/// too. These sources have depth 0; a cited source is one hop deeper than
/// the nearest source citing it.
///
/// **Edges**, one or two per attribution, each naming the attribution, its
/// mode and its stance, all pointing upstream:
/// - `states`: claim → source, for the attributions of the sources where the
///   trail starts;
/// - `cites`: source → cited source, for an attribution with
///   `cited_source_id`; the walk goes on with the cited source's own
///   attributions of the claim;
/// - `says`: source → speaker, for an attribution that names a speaker; for a
///   citation, the speaker spoke in the cited source, so the edge leaves the
///   cited source.
///
/// **Origins** are where the trails end, judged at the attribution that ends
/// each trail: a source whose attribution names neither a cited source nor a
/// speaker (it asserts the claim on its own authority, or quotes no one by
/// name), a speaker, or a cited source with no attribution of the claim on
/// record (listed in `unresolved` as well: the trail goes cold there, and we
/// cannot see past it, so it counts as one distinct end). A cited source with
/// attributions of its own is not an end: its attributions are. Only
/// attributions with stance `affirms` make origins: a denial (or a
/// `questions`) is drawn with its stance and listed in `denials`, but it
/// corroborates nothing, and it hides nothing either: a source that affirms
/// the claim on its own authority is an origin even if only a denier cites
/// it. `independent_origins` counts distinct origins: ten outlets repeating
/// one France 24 report are one origin, not ten. A trail cut at `max_depth`
/// ends in no origin; its last source is listed in `truncated`.
///
/// **Formats**: `format=json` (the default, `application/json`),
/// `prov-json` (W3C PROV-JSON, `application/prov+json`), `dot` (Graphviz,
/// `text/vnd.graphviz`) or `svg` (a picture, `image/svg+xml`). Without
/// `format`, the `Accept` header chooses (`application/json` with a
/// `profile` naming PROV also gets PROV-JSON); a header that accepts none of
/// these is a 406. Pictures are drawn for graphs of at most 80 nodes (a
/// larger one is a 422 naming `format`: read it as DOT or JSON, or lower
/// `max_depth`).
///
/// The answer takes five queries whatever the size of the graph.
#[utoipa::path(
    tag = "provenance", operation_id = "getClaimProvenance",
    params(("id" = Uuid, Path, description = "The claim's id", example = "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338"), ProvenanceQuery),
    responses(
        (status = 200, description = "The provenance graph, in the requested format", content(
            (Provenance = "application/json"),
            (prov_json::ProvDocument = "application/prov+json"),
            (String = "text/vnd.graphviz"),
            (String = "image/svg+xml"),
        ), headers(("Vary" = String, description = "`Accept`: the format follows it when `format` is absent"))),
        (status = 406, description = "The Accept header accepts none of the formats", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "An SVG was asked for a graph of more than 80 nodes", body = Problem,
            content_type = "application/problem+json"),
    )
)]
#[get("/claims/{id}/provenance")]
async fn get_provenance(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<ClaimId>,
    Params(query): Params<ProvenanceQuery>,
) -> Result<HttpResponse, ApiError> {
    let max_depth = match query.max_depth {
        None => DEFAULT_MAX_DEPTH,
        Some(depth) => i32::try_from(depth)
            .ok()
            .filter(|d| (0..=MAX_DEPTH_CAP).contains(d))
            .ok_or_else(|| ApiError::bad_parameter("max_depth", format!("must be between 0 and {MAX_DEPTH_CAP}")))?,
    };
    let format = match query.format {
        Some(format) => format,
        None => negotiate(&req)?,
    };
    let id = id.into_inner();
    let graph = db.run(move |conn| store::provenance(conn, &id, max_depth)).await?;
    let body = match format {
        Format::Json => serde_json::to_string(&graph).map_err(ApiError::internal)?,
        Format::ProvJson => serde_json::to_string(&prov_json::document(&graph)).map_err(ApiError::internal)?,
        Format::Dot => dot::render(&graph),
        // Laying out a large graph takes a while: keep it off the event loop.
        Format::Svg => web::block(move || svg::render(&graph)).await.map_err(ApiError::internal)??,
    };
    let content_type = match format {
        Format::Dot => "text/vnd.graphviz; charset=utf-8",
        other => other.media_type(),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::VARY, HeaderValue::from_static("Accept")))
        .body(body))
}

/// The format the `Accept` header prefers: for each format, the quality of
/// the most specific media range that matches it; the highest wins, ties go
/// to the order of [`Format::ALL`]. No header means JSON.
fn negotiate(req: &HttpRequest) -> Result<Format, ApiError> {
    let values: Vec<&str> = req.headers().get_all(header::ACCEPT).filter_map(|v| v.to_str().ok()).collect();
    if values.iter().all(|v| v.trim().is_empty()) {
        return Ok(Format::Json);
    }
    let ranges: Vec<MediaRange> = values.iter().flat_map(|v| v.split(',')).filter_map(MediaRange::parse).collect();
    // A header with no readable media range says nothing: answer the default.
    if ranges.is_empty() {
        return Ok(Format::Json);
    }
    let quality = |format: Format| {
        ranges
            .iter()
            .filter_map(|range| range.specificity(format).map(|s| (s, range.quality)))
            .max_by(|a, b| a.0.cmp(&b.0))
            .map_or(0.0, |(_, q)| q)
    };
    let mut best: Option<(Format, f32)> = None;
    for format in Format::ALL {
        let q = quality(format);
        if q > 0.0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((format, q));
        }
    }
    best.map(|(format, _)| format).ok_or_else(|| {
        let offered: Vec<&str> = Format::ALL.iter().map(|f| f.media_type()).collect();
        ApiError::not_acceptable(format!(
            "The provenance graph is available as {}; or choose with the `format` parameter.",
            offered.join(", ")
        ))
    })
}

/// One media range of an `Accept` header.
struct MediaRange {
    main: String,
    sub: String,
    /// A `profile` parameter that names PROV.
    prov_profile: bool,
    quality: f32,
}

impl MediaRange {
    fn parse(text: &str) -> Option<MediaRange> {
        let mut parts = text.split(';');
        let (main, sub) = parts.next()?.trim().split_once('/')?;
        let mut range = MediaRange {
            main: main.trim().to_ascii_lowercase(),
            sub: sub.trim().to_ascii_lowercase(),
            prov_profile: false,
            quality: 1.0,
        };
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                // An unreadable weight is ignored rather than refused.
                "q" => range.quality = value.parse::<f32>().ok().filter(|q| (0.0..=1.0).contains(q)).unwrap_or(1.0),
                "profile" => range.prov_profile = value.to_ascii_lowercase().contains("prov"),
                _ => {}
            }
        }
        Some(range)
    }

    /// How specifically this range names the format, `None` if it does not.
    fn specificity(&self, format: Format) -> Option<u8> {
        let (main, sub) = format.media_type().split_once('/')?;
        let exact = self.main == main && self.sub == sub;
        let json_with_prov_profile = self.main == "application" && self.sub == "json" && self.prov_profile;
        match format {
            Format::ProvJson if json_with_prov_profile => Some(4),
            Format::Json if json_with_prov_profile => None,
            _ if exact => Some(3),
            _ if self.main == main && self.sub == "*" => Some(2),
            _ if self.main == "*" && self.sub == "*" => Some(1),
            _ => None,
        }
    }
}

/// List the claims a source states
///
/// The claims that this source has an attribution of (whatever its mode
/// and stance), newest first, in pages of `limit`.
#[utoipa::path(
    tag = "provenance", operation_id = "listClaimsOfSource",
    params(("id" = Uuid, Path, description = "The source's id", example = "c6a8706d-f757-568a-bb3a-bda55545ee21"), ClaimsOfQuery),
    responses((status = 200, description = "A page of claims", body = Page<Claim>))
)]
#[get("/sources/{id}/claims")]
async fn list_claims_of_source(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<SourceId>,
    Params(query): Params<ClaimsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = http::page_limit(query.limit)?;
    let id = id.into_inner();
    let page = db.run(move |conn| store::claims_of_source(conn, &id, &query, limit)).await?;
    Ok(http::page(&req, page))
}

/// List the claims an agent says or publishes
///
/// The claims this agent is the speaker of in some attribution, or that a
/// source it publishes states; newest first, in pages of `limit`.
#[utoipa::path(
    tag = "provenance", operation_id = "listClaimsOfAgent",
    params(("id" = Uuid, Path, description = "The agent's id", example = "dadc5658-6eb7-549b-892b-ebf148ec0882"), ClaimsOfQuery),
    responses((status = 200, description = "A page of claims", body = Page<Claim>))
)]
#[get("/agents/{id}/claims")]
async fn list_claims_of_agent(
    _: ReadAccess,
    req: HttpRequest,
    db: web::Data<Db>,
    id: web::Path<AgentId>,
    Params(query): Params<ClaimsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = http::page_limit(query.limit)?;
    let id = id.into_inner();
    let page = db.run(move |conn| store::claims_of_agent(conn, &id, &query, limit)).await?;
    Ok(http::page(&req, page))
}
