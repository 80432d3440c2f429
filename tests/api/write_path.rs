//! The one write path: the generator, import and the API's create write the
//! same rows for the same records; a card's version follows every field its
//! summaries show, found from the card itself; and every list refuses a
//! cursor made for other filters.

use std::io::BufReader;

use claimtrail::agents::store::AgentRow;
use claimtrail::attributions::store::AttributionRow;
use claimtrail::claims::store::{ClaimRow, TagRow};
use claimtrail::db::schema::{agents, attributions, claim_tags, claims, sources};
use claimtrail::db::{Db, DbConnection};
use claimtrail::sources::store::SourceRow;
use claimtrail::transfer::{self, Keys};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_fields, fresh_database, problem, spawn_app};
use crate::on_both_backends;

/// Every row of the resource tables, in id order.
#[derive(Debug, PartialEq)]
struct Tables {
    agents: Vec<AgentRow>,
    sources: Vec<SourceRow>,
    claims: Vec<ClaimRow>,
    tags: Vec<TagRow>,
    attributions: Vec<AttributionRow>,
}

fn tables(conn: &mut DbConnection) -> Tables {
    Tables {
        agents: agents::table.order(agents::id).select(AgentRow::as_select()).load(conn).expect("agents"),
        sources: sources::table.order(sources::id).select(SourceRow::as_select()).load(conn).expect("sources"),
        claims: claims::table.order(claims::id).select(ClaimRow::as_select()).load(conn).expect("claims"),
        tags: claim_tags::table
            .order((claim_tags::claim_id, claim_tags::tag))
            .select((claim_tags::claim_id, claim_tags::tag))
            .load(conn)
            .expect("tags"),
        attributions: attributions::table
            .order(attributions::id)
            .select(AttributionRow::as_select())
            .load(conn)
            .expect("attributions"),
    }
}

/// The rows without their stamps: a create sets its own time and version.
fn unstamped(mut t: Tables) -> Tables {
    let at = chrono::NaiveDateTime::default();
    macro_rules! clear {
        ($rows:expr, $row:ident => $stamped:expr) => {
            for $row in &mut $rows {
                ($stamped.created_at, $stamped.updated_at, $stamped.version) = (at, at, 1);
            }
        };
    }
    clear!(t.agents, row => row);
    clear!(t.sources, row => row.meta);
    clear!(t.claims, row => row);
    clear!(t.attributions, row => row);
    t
}

/// The members of an exported record that a create body may not hold.
const READ_ONLY: [&str; 7] =
    ["created_at", "updated_at", "version", "content_sha256", "quote_status", "quote_start", "quote_end"];

on_both_backends! {
    async fn the_generator_import_and_the_api_write_identical_rows_for_the_same_records(app: TestApp) {
        // The generator's rows...
        let generated_db = app.db.clone();
        let (export, generated) = tokio::task::spawn_blocking(move || {
            claimtrail::generate::generate(&generated_db, 120, 5).expect("the generator runs");
            let mut conn = generated_db.get().expect("a connection");
            let mut out = Vec::new();
            transfer::export(&mut conn, &mut out, Keys::Leave, transfer::History::Include).expect("the export runs");
            (out, tables(&mut conn))
        })
        .await
        .expect("the blocking task");
        assert!(generated.claims.len() == 120 && generated.attributions.len() > 120, "{} claims", generated.claims.len());
        assert!(generated.attributions.iter().any(|a| a.quote_exact.is_some()), "some quotes");

        // ...imported elsewhere...
        let (url, _dir) = fresh_database(app.backend);
        let file = export.clone();
        let imported = tokio::task::spawn_blocking(move || {
            let db = Db::connect(&url, 2).expect("a new database");
            let mut conn = db.get().expect("a connection");
            let report = transfer::import(&mut conn, BufReader::new(file.as_slice()), false, claimtrail::db::write::Change::now(claimtrail::db::write::Actor::Import), claimtrail::db::FileUse::Shared).expect("the import runs");
            assert!(report.errors.is_empty(), "{:?}", report.errors);
            tables(&mut conn)
        })
        .await
        .expect("the blocking task");
        assert_eq!(imported, generated, "import keeps every column, stamps included");

        // ...and created one by one over HTTP on a third database.
        let api = spawn_app(app.backend).await;
        for line in String::from_utf8(export).expect("UTF-8").lines() {
            let record: Value = serde_json::from_str(line).expect("a record line");
            let path = match record["type"].as_str() {
                Some("agent") => "/v1/agents",
                Some("source") => "/v1/sources",
                Some("claim") => "/v1/claims",
                Some("attribution") => "/v1/attributions",
                _ => continue,
            };
            let mut body = record["data"].clone();
            for member in READ_ONLY {
                body.as_object_mut().expect("an object").remove(member);
            }
            api.create(path, body).await;
        }
        let created = tokio::task::spawn_blocking(move || tables(&mut api.db.get().expect("a connection")))
            .await
            .expect("the blocking task");
        assert_eq!(unstamped(created), unstamped(generated), "a create writes what the generator writes");
    }

    async fn a_cards_version_moves_with_every_field_its_summaries_show_and_no_other(app: TestApp) {
        let publisher = app.create_agent("The Daily Record").await;
        let speaker = app.create("/v1/agents", json!({"kind": "person", "name": "A. Speaker", "description": "minister"})).await;
        let source = app
            .create("/v1/sources", json!({"kind": "article", "title": "The story", "publisher_id": publisher["id"],
                "url": "https://example.org/story", "published_on": "2025-03", "byline": "A. Writer"}))
            .await;
        let claim = app.create_claim("The thing happened.").await;
        let claim_path = format!("/v1/claims/{}", claim["id"].as_str().unwrap());
        app.create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "quote",
            "speaker_id": speaker["id"]}))
        .await;

        let card: Value = app.get(&claim_path).await.json().await.unwrap();
        let attribution = &card["attributions"][0];
        let mut checked = Vec::new();
                // The publisher first: changing the source's publisher moves the card to another one.
        for (summary, resource) in [("source.publisher", &publisher), ("speaker", &speaker), ("source", &source)] {
            let shown = summary.split('.').fold(attribution, |v, key| &v[key]).clone();
            let path = format!(
                "/v1/{}/{}",
                if summary == "source" { "sources" } else { "agents" },
                resource["id"].as_str().unwrap()
            );
            for (field, value) in shown.as_object().expect("a summary object") {
                if field == "id" {
                    continue;
                }
                let before = card_version(&app, &claim_path).await;
                let (member, new) = change_field(&app, &path, field, value).await;
                let after: Value = app.get(&claim_path).await.json().await.unwrap();
                let now_shown = summary.split('.').fold(&after["attributions"][0], |v, key| &v[key]);
                assert_ne!(&now_shown[field], value, "{summary}.{field} changed on the card ({member} = {new})");
                assert!(after["version"].as_i64().unwrap() > before, "{summary}.{field}: the version moved");
                checked.push(format!("{summary}.{field}"));
            }
        }
        assert!(checked.len() >= 13, "every summary field was changed: {checked:?}");

        // Fields the card does not show leave its version alone.
        let before = card_version(&app, &claim_path).await;
        let source_path = format!("/v1/sources/{}", source["id"].as_str().unwrap());
        let current: Value = app.get(&source_path).await.json().await.unwrap();
        let response = app.patch(&source_path, current["version"].as_i64().unwrap(), &json!({"byline": "B. Writer"})).await;
        assert_eq!(response.status(), StatusCode::OK);
        let agent_path = format!("/v1/agents/{}", speaker["id"].as_str().unwrap());
        let current: Value = app.get(&agent_path).await.json().await.unwrap();
        let response =
            app.patch(&agent_path, current["version"].as_i64().unwrap(), &json!({"url": "https://example.org/me"})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(card_version(&app, &claim_path).await, before, "byline and url are not on the card");
    }

    async fn every_list_refuses_a_cursor_made_for_other_filters(app: TestApp) {
        let db = app.db.clone();
        tokio::task::spawn_blocking(move || claimtrail::seed::load(&db)).await.unwrap().expect("the seed data loads");
        let seed = |kind: &str, key: &str| claimtrail::seed::seed_id(kind, key).to_string();
        let guardian_article = seed("source", "guardian-jnim-article");
        let blog = seed("source", "mali-on-edge-blog-post");
        let guardian = seed("agent", "the-guardian");
        let lists = [
            ("/v1/agents?kind=organization", "/v1/agents?kind=person"),
            ("/v1/sources?kind=article", "/v1/sources?kind=report"),
            (&format!("/v1/attributions?source_id={guardian_article}"), &format!("/v1/attributions?source_id={blog}")),
            ("/v1/claims?tag=jnim", "/v1/claims?tag=coup"),
            (&format!("/v1/sources/{guardian_article}/claims?x="), &format!("/v1/sources/{blog}/claims?x=")),
            (&format!("/v1/agents/{guardian}/claims?x="), &format!("/v1/agents/{}/claims?x=", seed("agent", "ulf-laessing"))),
        ]
        .map(|(a, b)| (a.replace("?x=", "?"), b.replace("?x=", "?")));
        for (made_for, used_with) in lists {
            let page: Value = app.get(&format!("{made_for}&limit=1")).await.json().await.unwrap();
            let cursor = page["next_cursor"].as_str().unwrap_or_else(|| panic!("{made_for} has a second page"));
            let same = app.get(&format!("{made_for}&limit=1&cursor={cursor}")).await;
            assert_eq!(same.status(), StatusCode::OK, "{made_for} takes its own cursor");
            let refused = problem(app.get(&format!("{used_with}&limit=1&cursor={cursor}")).await, 400).await;
            assert_eq!(error_fields(&refused), ["cursor"], "{used_with}: {refused}");
        }
    }
}

async fn card_version(app: &TestApp, path: &str) -> i64 {
    let card: Value = app.get(path).await.json().await.unwrap();
    card["version"].as_i64().unwrap()
}

/// Changes the resource member behind a summary field to another valid
/// value, whatever the field: `publisher` is set through `publisher_id` to
/// a new agent; a flag flips; text takes the first candidate the API
/// accepts. Answers the member and its new value.
async fn change_field(app: &TestApp, path: &str, field: &str, shown: &Value) -> (String, Value) {
    let candidates: Vec<(String, Value)> = match shown {
        Value::Object(_) => {
            let other = app.create_agent(&format!("Another {field}")).await;
            vec![(format!("{field}_id"), other["id"].clone())]
        }
        Value::Bool(b) => vec![(field.to_string(), json!(!b))],
        _ => [
            json!(format!("{} (changed)", shown.as_str().unwrap_or(field))),
            json!(format!("https://example.org/changed-{field}")),
            json!("2024-02"),
            json!("report"),
            json!("organization"),
            json!("person"),
        ]
        .into_iter()
        .filter(|candidate| candidate != shown)
        .map(|candidate| (field.to_string(), candidate))
        .collect(),
    };
    for (member, value) in candidates {
        let current: Value = app.get(path).await.json().await.unwrap();
        let response = app.patch(path, current["version"].as_i64().unwrap(), &json!({ &member: value })).await;
        if response.status() == StatusCode::OK {
            return (member, value);
        }
    }
    panic!("no value found for the new summary field `{field}` of {path}: teach change_field one");
}
