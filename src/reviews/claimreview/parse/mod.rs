//! Reading ClaimReview documents: one ClaimReview object, an array of
//! them, a JSON-LD `@graph` holding them (as fact-checkers embed them in
//! their pages; other nodes of the graph are skipped, and `{"@id": …}`
//! references to them followed), or the Google Fact Check Tools API's
//! `claims[].claimReview[]`. Everything is read and checked by the API's
//! own field rules before anything is written; each problem names its
//! JSON path (`$[0].reviewRating.alternateName`).
//!
//! Hostile documents are bounded: at most [`MAX_REVIEWS`] reviews and
//! [`MAX_APPEARANCES`] appearances per claim, no `@graph` but at the top,
//! and the request body's size limit (`CLAIMTRAIL_MAX_BODY_BYTES`); the
//! JSON parser refuses nesting deeper than 128.

use std::collections::HashMap;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::agents::model::{AgentKind, NewAgent};
use crate::claims::model::{ClaimKind, ClaimStatus, NewClaim};
use crate::error::FieldError;
use crate::http::Body;
use crate::ids::{AgentId, ClaimId, ReviewId, SourceId};
use crate::reviews::model::{NewReview, Rating, ReviewStatus};
use crate::sources::model::{NewSource, SourceKind};
use crate::validate::{Check, PartialDate};

mod fact_check_api;

/// The most reviews one request may hold.
pub const MAX_REVIEWS: usize = 100;

/// The most appearances one claim may list.
pub const MAX_APPEARANCES: usize = 50;

/// A body field's JSON path in the document, for its errors.
type Paths = Vec<(&'static str, String)>;

/// A person or organisation the document names.
#[derive(Debug, Clone)]
pub struct AgentIn {
    pub path: String,
    pub body: NewAgent,
    pub paths: Paths,
}

/// A creative work the document names: where the claim appears.
#[derive(Debug, Clone)]
pub struct WorkIn {
    pub path: String,
    /// What the document calls it: its `@id`, else its URL.
    pub key: String,
    pub body: NewSource,
    pub publisher: Option<AgentIn>,
    /// The key of the work it says it is based on (`isBasedOn`).
    pub based_on: Option<String>,
    pub paths: Paths,
}

/// The claim reviewed.
#[derive(Debug, Clone)]
pub struct ClaimIn {
    pub path: String,
    pub body: NewClaim,
    pub author: Option<AgentIn>,
    /// Every work the claim's description names, each once (by key).
    pub works: Vec<WorkIn>,
    /// The keys of the works it appears in (`appearance`).
    pub appearing: Vec<String>,
    /// The key of `firstAppearance`.
    pub first: Option<String>,
    pub paths: Paths,
}

/// One ClaimReview, read and checked.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub path: String,
    /// Its claim and reviewer ids are placeholders until they are found
    /// or made.
    pub review: NewReview,
    pub claim: ClaimIn,
    pub reviewer: AgentIn,
    pub creator: Option<AgentIn>,
    pub paths: Paths,
}

/// Something the import leaves out, and why.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Note {
    /// The JSON path of what was left out.
    pub path: String,
    pub message: String,
}

/// What a document holds: its reviews, and what was left out of them.
pub struct Read {
    pub items: Vec<Incoming>,
    pub notes: Vec<Note>,
}

/// Reads a document; every problem is listed, each at its JSON path.
pub fn read(document: &Value) -> Result<Read, Vec<FieldError>> {
    let mut reader = Reader::default();
    reader.document(document);
    if reader.errors.is_empty() { Ok(Read { items: reader.items, notes: reader.notes }) } else { Err(reader.errors) }
}

#[derive(Default)]
struct Reader {
    items: Vec<Incoming>,
    notes: Vec<Note>,
    errors: Vec<FieldError>,
    /// The nodes of a top-level `@graph`, by `@id`.
    graph: HashMap<String, Value>,
}

fn types(node: &Map<String, Value>) -> Vec<&str> {
    match node.get("@type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn key_path(path: &str, key: &str) -> String {
    if key.starts_with('@') { format!("{path}[\"{key}\"]") } else { format!("{path}.{key}") }
}

/// The id a `urn:uuid:` identifier names.
fn urn_uuid(id: &str) -> Option<Uuid> {
    id.strip_prefix("urn:uuid:").and_then(|u| Uuid::parse_str(u).ok())
}

/// A nested `@graph` somewhere under `value`: its path.
fn nested_graph(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Object(members) => members.iter().find_map(|(key, member)| {
            let here = key_path(path, key);
            if key == "@graph" { Some(here) } else { nested_graph(member, &here) }
        }),
        Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| nested_graph(item, &format!("{path}[{i}]")))
        }
        _ => None,
    }
}

impl Reader {
    fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    fn note(&mut self, path: &str, message: impl Into<String>) {
        self.notes.push(Note { path: path.to_string(), message: message.into() });
    }

    fn document(&mut self, document: &Value) {
        match document {
            Value::Array(items) => {
                if items.len() > MAX_REVIEWS {
                    return self.fail("$", format!("holds {} items; at most {MAX_REVIEWS} per request", items.len()));
                }
                for (i, item) in items.iter().enumerate() {
                    self.top_node(item, &format!("$[{i}]"), false);
                }
            }
            Value::Object(members) if members.contains_key("@graph") => self.graph_document(members),
            Value::Object(members) if members.contains_key("claims") && !members.contains_key("@type") => {
                self.fact_check_api(members.get("claims"), "$.claims")
            }
            Value::Object(members) if members.contains_key("claimReview") && !members.contains_key("@type") => {
                self.fact_check_api_claim(document, "$")
            }
            Value::Object(_) => self.top_node(document, "$", false),
            _ => self.fail(
                "$",
                "must be a ClaimReview object, an array of them, a JSON-LD @graph, or a Fact Check Tools API answer",
            ),
        }
        if self.errors.is_empty() && self.items.is_empty() {
            self.fail("$", "holds no ClaimReview");
        }
        if self.items.len() > MAX_REVIEWS {
            self.fail("$", format!("holds {} ClaimReviews; at most {MAX_REVIEWS} per request", self.items.len()));
        }
    }

    fn graph_document(&mut self, members: &Map<String, Value>) {
        let Some(Value::Array(nodes)) = members.get("@graph") else {
            return self.fail("$[\"@graph\"]", "must be an array of nodes");
        };
        if nodes.len() > 10 * MAX_REVIEWS {
            return self.fail("$[\"@graph\"]", format!("holds {} nodes; at most {}", nodes.len(), 10 * MAX_REVIEWS));
        }
        for node in nodes {
            if let Some(id) = node.get("@id").and_then(Value::as_str) {
                self.graph.insert(id.to_string(), node.clone());
            }
        }
        for (i, node) in nodes.iter().enumerate() {
            self.top_node(node, &format!("$[\"@graph\"][{i}]"), true);
        }
    }

    /// A node at the top of the document (or of its graph): a ClaimReview.
    fn top_node(&mut self, node: &Value, path: &str, in_graph: bool) {
        let Value::Object(members) = node else {
            return self.fail(path, "must be a ClaimReview object");
        };
        if let Some(graph) = nested_graph(node, path) {
            return self.fail(&graph, "a @graph inside a node is not read; put the ClaimReviews at the top");
        }
        if !types(members).contains(&"ClaimReview") {
            if in_graph {
                return self.note(path, "not a ClaimReview: skipped");
            }
            return self.fail(&key_path(path, "@type"), "must be ClaimReview");
        }
        self.claim_review(members, path);
    }

    /// A node, or the node a `{"@id": …}` reference names in the graph.
    fn resolve<'v>(&'v self, value: &'v Value) -> &'v Value {
        match value {
            Value::Object(m) if m.len() == 1 => {
                m.get("@id").and_then(Value::as_str).and_then(|id| self.graph.get(id)).unwrap_or(value)
            }
            _ => value,
        }
    }

    /// A text member: a string (or a one-string array); anything else is
    /// an error at its path.
    fn text(&mut self, node: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        match node.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Array(items) if items.len() == 1 && items[0].is_string() => items[0].as_str().map(str::to_string),
            _ => {
                self.fail(&key_path(path, key), "must be a string");
                None
            }
        }
    }

    /// A number member: a JSON number or a string holding one.
    fn number(&mut self, node: &Map<String, Value>, path: &str, key: &str) -> Option<f64> {
        let n = match node.get(key)? {
            Value::Null => return None,
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        if n.is_none_or(|n| !n.is_finite()) {
            self.fail(&key_path(path, key), "must be a finite number");
            return None;
        }
        n
    }

    /// A date member: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or a date and time
    /// (the day is kept).
    fn date(&mut self, node: &Map<String, Value>, path: &str, key: &str) -> Option<PartialDate> {
        let text = self.text(node, path, key)?;
        let day = text.get(..10).filter(|_| text.len() > 10 && text.as_bytes()[10] == b'T').unwrap_or(&text);
        match PartialDate::parse(day) {
            Ok(date) => Some(date),
            Err(e) => {
                self.fail(&key_path(path, key), e.to_string());
                None
            }
        }
    }

    fn claim_review(&mut self, node: &Map<String, Value>, path: &str) {
        let errors_before = self.errors.len();
        let absent = |key: &str| node.get(key).is_none_or(Value::is_null);
        let text = self.text(node, path, "claimReviewed");
        if absent("claimReviewed") {
            self.fail(&key_path(path, "claimReviewed"), "is required: the claim's text");
        }
        let url = self.text(node, path, "url");
        if absent("url") {
            self.fail(&key_path(path, "url"), "is required: the article that explains the verdict");
        }
        let rating = self.rating(node, path);
        let reviewer = match node.get("author").map(|a| self.resolve(a).clone()) {
            None => {
                self.fail(&key_path(path, "author"), "is required: the fact-checking organisation");
                None
            }
            Some(author) => self.agents(&author, &key_path(path, "author"), AgentKind::Organization),
        };
        let (reviewer, author_person) = match reviewer {
            Some((first, person)) => (Some(first), person),
            None => (None, None),
        };
        let creator = match node.get("creator").map(|c| self.resolve(c).clone()) {
            Some(creator) => self.agents(&creator, &key_path(path, "creator"), AgentKind::Person).map(|(a, _)| a),
            None => author_person,
        };
        let claim = match node.get("itemReviewed").map(|c| self.resolve(c).clone()) {
            None => Some(ClaimIn::bare(path)),
            Some(Value::Object(item)) => self.claim(&item, &key_path(path, "itemReviewed")),
            Some(_) => {
                self.fail(&key_path(path, "itemReviewed"), "must be a Claim object");
                None
            }
        };
        let id = node.get("@id").and_then(Value::as_str).and_then(urn_uuid).map(ReviewId::from);
        let summary = self.text(node, path, "reviewBody").or_else(|| self.text(node, path, "description"));
        let review = NewReview {
            id,
            claim_id: ClaimId::from(Uuid::nil()),
            reviewer_id: AgentId::from(Uuid::nil()),
            author_id: None,
            rating: rating.unwrap_or(Rating { label: "-".to_string(), value: None, best: None, worst: None }),
            summary,
            url,
            language: self.text(node, path, "inLanguage"),
            published_on: self.date(node, path, "datePublished"),
            status: ReviewStatus::Published,
        };
        let paths = vec![
            ("rating.label", key_path(path, "reviewRating.alternateName")),
            ("rating.value", key_path(path, "reviewRating.ratingValue")),
            ("rating.best", key_path(path, "reviewRating.bestRating")),
            ("rating.worst", key_path(path, "reviewRating.worstRating")),
            ("summary", key_path(path, "reviewBody")),
            ("url", key_path(path, "url")),
            ("language", key_path(path, "inLanguage")),
        ];
        if self.errors.len() > errors_before {
            return;
        }
        let (Some(text), Some(reviewer), Some(mut claim)) = (text, reviewer, claim) else { return };
        claim.body.text = text;
        claim.paths.push(("text", key_path(path, "claimReviewed")));
        self.check(&review, &paths, path);
        self.check(&claim.body, &claim.paths, &claim.path);
        self.items.push(Incoming { path: path.to_string(), review, claim, reviewer, creator, paths });
    }

    fn rating(&mut self, node: &Map<String, Value>, path: &str) -> Option<Rating> {
        let here = key_path(path, "reviewRating");
        let rating = match node.get("reviewRating").map(|r| self.resolve(r).clone()) {
            None => {
                self.fail(&here, "is required: the verdict (a Rating with alternateName)");
                return None;
            }
            Some(Value::Object(rating)) => rating,
            Some(_) => {
                self.fail(&here, "must be a Rating object");
                return None;
            }
        };
        let label = self.text(&rating, &here, "alternateName").or_else(|| self.text(&rating, &here, "name"));
        if label.is_none() {
            self.fail(&key_path(&here, "alternateName"), "is required: the textual verdict");
        }
        Some(Rating {
            label: label?,
            value: self.number(&rating, &here, "ratingValue"),
            best: self.number(&rating, &here, "bestRating"),
            worst: self.number(&rating, &here, "worstRating"),
        })
    }

    /// An agent, or the first of an array of them; with an array, the first
    /// person after an organisation too (a review's author and creator).
    fn agents(&mut self, value: &Value, path: &str, default: AgentKind) -> Option<(AgentIn, Option<AgentIn>)> {
        match value {
            Value::Array(items) if items.is_empty() => {
                self.fail(path, "must name at least one person or organisation");
                None
            }
            Value::Array(items) => {
                let items: Vec<Value> = items.iter().take(10).map(|i| self.resolve(i).clone()).collect();
                let first = self.agent(&items[0], &format!("{path}[0]"), default)?;
                let person = items.iter().enumerate().skip(1).find_map(|(i, item)| {
                    (item.get("@type").and_then(Value::as_str) == Some("Person")).then_some((i, item))
                });
                let person = match person {
                    Some((i, item)) if first.body.kind == AgentKind::Organization => {
                        self.agent(item, &format!("{path}[{i}]"), AgentKind::Person)
                    }
                    _ => None,
                };
                Some((first, person))
            }
            _ => self.agent(value, path, default).map(|a| (a, None)),
        }
    }

    /// A person or organisation: an object, or a bare name.
    fn agent(&mut self, value: &Value, path: &str, default: AgentKind) -> Option<AgentIn> {
        let agent = match self.resolve(value).clone() {
            Value::String(name) => AgentIn::named(name, default, path),
            Value::Object(node) => {
                let kind = match types(&node).as_slice() {
                    [] => default,
                    t if t.contains(&"Person") => AgentKind::Person,
                    _ => AgentKind::Organization,
                };
                let name = self.text(&node, path, "name");
                if name.is_none() {
                    self.fail(&key_path(path, "name"), "is required");
                }
                let same_as = match node.get("sameAs") {
                    Some(Value::Array(links)) => links.iter().filter_map(Value::as_str).find_map(wikidata_id),
                    Some(Value::String(link)) => wikidata_id(link),
                    _ => None,
                };
                let mut agent = AgentIn::named(name?, kind, path);
                agent.body.url = self.text(&node, path, "url");
                agent.body.wikidata_id = same_as;
                agent
            }
            _ => {
                self.fail(path, "must be a Person or Organization object, or a name");
                return None;
            }
        };
        self.check(&agent.body, &agent.paths, path);
        Some(agent)
    }

    fn claim(&mut self, item: &Map<String, Value>, path: &str) -> Option<ClaimIn> {
        let kinds = types(item);
        if !kinds.is_empty() && !kinds.contains(&"Claim") {
            self.fail(&key_path(path, "@type"), "must be Claim");
            return None;
        }
        let mut claim = ClaimIn::bare(path);
        claim.path = path.to_string();
        claim.body.id = item.get("@id").and_then(Value::as_str).and_then(urn_uuid).map(ClaimId::from);
        if let Some(author) = item.get("author") {
            claim.author = self.agents(author, &key_path(path, "author"), AgentKind::Person).map(|(a, _)| a);
        }
        if let Some(first) = item.get("firstAppearance") {
            claim.first = self.work(first, &key_path(path, "firstAppearance"), &mut claim.works, true);
        }
        let appearances: Vec<(String, &Value)> = match item.get("appearance") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.len() > MAX_APPEARANCES => {
                let here = key_path(path, "appearance");
                self.fail(&here, format!("lists {} works; at most {MAX_APPEARANCES}", items.len()));
                return None;
            }
            Some(Value::Array(items)) => {
                items.iter().enumerate().map(|(i, v)| (format!("{}[{i}]", key_path(path, "appearance")), v)).collect()
            }
            Some(one) => vec![(key_path(path, "appearance"), one)],
        };
        for (here, value) in appearances {
            if let Some(key) = self.work(value, &here, &mut claim.works, true)
                && !claim.appearing.contains(&key)
            {
                claim.appearing.push(key);
            }
        }
        Some(claim)
    }

    /// A creative work, added to `works` unless one with its key is there
    /// already; answers its key.
    fn work(&mut self, value: &Value, path: &str, works: &mut Vec<WorkIn>, follow: bool) -> Option<String> {
        let value = self.resolve(value).clone();
        let node = match value {
            Value::String(url) => Map::from_iter([("url".to_string(), Value::String(url))]),
            Value::Object(node) => node,
            _ => {
                self.fail(path, "must be a CreativeWork object or a URL");
                return None;
            }
        };
        let id = self.text(&node, path, "@id");
        let url = self.text(&node, path, "url");
        let Some(key) = id.clone().or_else(|| url.clone()) else {
            self.fail(path, "needs a url or an @id to be told apart");
            return None;
        };
        let described = node.keys().any(|k| k != "@id");
        if works.iter().any(|w| w.key == key) || !described {
            if !described && !works.iter().any(|w| w.key == key) {
                self.fail(path, format!("names {key}, which the document does not describe"));
                return None;
            }
            return Some(key);
        }
        let (kind, genre) = (types(&node), self.text(&node, path, "genre"));
        let title = self.text(&node, path, "name").or_else(|| self.text(&node, path, "headline"));
        let body = NewSource {
            id: id.as_deref().and_then(urn_uuid).map(SourceId::from),
            kind: source_kind(&kind, genre.as_deref()),
            title: title.or_else(|| url.clone()).unwrap_or_else(|| key.clone()),
            url,
            publisher_id: None,
            byline: None,
            published_on: self.date(&node, path, "datePublished"),
            language: None,
            content: None,
            archived_url: None,
        };
        let publisher = match node.get("publisher") {
            Some(p) => self.agents(p, &key_path(path, "publisher"), AgentKind::Organization).map(|(a, _)| a),
            None => None,
        };
        let paths = vec![("title", key_path(path, "name")), ("url", key_path(path, "url"))];
        self.check(&body, &paths, path);
        let index = works.len();
        works.push(WorkIn { path: path.to_string(), key: key.clone(), body, publisher, based_on: None, paths });
        match node.get("isBasedOn") {
            Some(based) if follow => {
                let based = match based {
                    Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
                    other => other.clone(),
                };
                if !based.is_null() {
                    works[index].based_on = self.work(&based, &key_path(path, "isBasedOn"), works, false);
                }
            }
            Some(_) => self.note(&key_path(path, "isBasedOn"), "only one step of isBasedOn is read"),
            None => {}
        }
        Some(key)
    }

    fn check<T: Body>(&mut self, body: &T, paths: &Paths, path: &str) {
        let mut check = Check::new();
        body.check(&mut check);
        for error in check.into_errors() {
            let at = paths.iter().find(|(field, _)| *field == error.field).map(|(_, p)| p.clone());
            let at = at.unwrap_or_else(|| key_path(path, &error.field));
            self.fail(&at, error.message);
        }
    }
}

/// The Wikidata item a `sameAs` link names, if it names one.
fn wikidata_id(link: &str) -> Option<String> {
    let rest = link.split_once("wikidata.org/")?.1;
    let q = rest.rsplit('/').next()?;
    (q.starts_with('Q') && q.len() > 1 && q[1..].bytes().all(|b| b.is_ascii_digit())).then(|| q.to_string())
}

/// The source kind of a schema.org type (and `genre`, for the kinds
/// schema.org has no type for).
pub fn source_kind(types: &[&str], genre: Option<&str>) -> SourceKind {
    let is = |names: &[&str]| types.iter().any(|t| names.contains(t));
    if is(&[
        "Article",
        "NewsArticle",
        "ScholarlyArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "ReportageNewsArticle",
        "BackgroundNewsArticle",
        "BlogPosting",
        "TechArticle",
    ]) {
        SourceKind::Article
    } else if is(&["Report"]) {
        SourceKind::Report
    } else if is(&["Dataset"]) {
        SourceKind::Dataset
    } else if is(&[
        "BroadcastEvent",
        "VideoObject",
        "AudioObject",
        "RadioEpisode",
        "TVEpisode",
        "PodcastEpisode",
        "Clip",
    ]) {
        SourceKind::Broadcast
    } else if is(&["SocialMediaPosting", "DiscussionForumPosting"]) {
        SourceKind::SocialPost
    } else if is(&["WebPage", "WebSite"]) {
        SourceKind::WebPage
    } else {
        match genre {
            Some("statement") => SourceKind::Statement,
            Some("interview") => SourceKind::Interview,
            _ => SourceKind::Other,
        }
    }
}

impl AgentIn {
    fn named(name: String, kind: AgentKind, path: &str) -> AgentIn {
        AgentIn {
            path: path.to_string(),
            body: NewAgent {
                id: None,
                kind,
                name,
                description: None,
                anonymous: false,
                affiliation_id: None,
                url: None,
                wikidata_id: None,
                aliases: Vec::new(),
            },
            paths: vec![
                ("name", key_path(path, "name")),
                ("url", key_path(path, "url")),
                ("wikidata_id", key_path(path, "sameAs")),
            ],
        }
    }
}

impl ClaimIn {
    /// A claim with nothing but its text (filled in later).
    fn bare(path: &str) -> ClaimIn {
        ClaimIn {
            path: path.to_string(),
            body: NewClaim {
                id: None,
                text: String::new(),
                kind: ClaimKind::Statement,
                subject: None,
                quantity: None,
                period_start: None,
                period_end: None,
                place: None,
                tags: Vec::new(),
                status: ClaimStatus::Unreviewed,
                language: None,
            },
            author: None,
            works: Vec::new(),
            appearing: Vec::new(),
            first: None,
            paths: Vec::new(),
        }
    }
}
