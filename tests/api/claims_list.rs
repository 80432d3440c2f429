//! `GET /v1/claims`: every filter, every sort, keyset cursors (stable while
//! claims are created between pages, and refusing tampered cursors), and
//! the query plans behind them.

use std::collections::{BTreeSet, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_fields, problem};
use crate::on_both_backends;

/// A claim body, and its attributions as (source index, speaker index).
type ClaimSpec = (Value, Vec<(usize, Option<usize>)>);

/// A claim of the fixture, with where it is stated.
pub struct Made {
    pub id: String,
    pub claim: Value,
    /// `(source index, speaker index)` of each attribution.
    pub stated: Vec<(usize, Option<usize>)>,
}

/// Claims covering every filter, with two publishers, three sources (two
/// of the first publisher) and two speakers.
pub struct Fixture {
    pub publishers: Vec<String>,
    pub sources: Vec<String>,
    pub speakers: Vec<String>,
    pub claims: Vec<Made>,
}

impl Fixture {
    /// Ids of the claims that satisfy `keep`, sorted.
    pub fn ids(&self, keep: impl Fn(&Made) -> bool) -> BTreeSet<String> {
        self.claims.iter().filter(|m| keep(m)).map(|m| m.id.clone()).collect()
    }

    /// The publisher index of a source index.
    pub fn publisher_of(source: usize) -> usize {
        if source < 2 { 0 } else { 1 }
    }
}

pub async fn make_fixture(app: &TestApp) -> Fixture {
    let mut publishers = Vec::new();
    for name in ["The Guardian", "France 24"] {
        publishers.push(app.create_agent(name).await["id"].as_str().unwrap().to_string());
    }
    let mut sources = Vec::new();
    for (title, publisher) in [("Guardian report", 0), ("Guardian live blog", 0), ("France 24 report", 1)] {
        let source = app
            .create("/v1/sources", json!({"kind": "article", "title": title, "publisher_id": publishers[publisher]}))
            .await;
        sources.push(source["id"].as_str().unwrap().to_string());
    }
    let mut speakers = Vec::new();
    for name in ["Ulf Laessing", "Assimi Goïta"] {
        let agent = app.create("/v1/agents", json!({"kind": "person", "name": name})).await;
        speakers.push(agent["id"].as_str().unwrap().to_string());
    }
    let specs: Vec<ClaimSpec> = vec![
        (
            json!({"text": "JNIM fighters attacked fuel convoys near Kayes.", "kind": "event", "status": "supported",
                   "place": "Kayes, Mali", "tags": ["fuel", "jnim"], "period_start": "2025-03"}),
            vec![(0, Some(0))],
        ),
        (
            json!({"text": "The death toll of the insurgency since 2012 has exceeded 17,700.", "kind": "quantity",
                   "quantity": {"value": 17700, "unit": "deaths", "comparator": "gt"}, "period_start": "2012",
                   "place": "Mali", "tags": ["death-toll"], "status": "disputed"}),
            vec![(1, None), (2, Some(1))],
        ),
        (
            json!({"text": "Barrick will pay Mali $430 million to settle the gold mine dispute.", "kind": "quantity",
                   "quantity": {"value": 430000000, "unit": "USD", "comparator": "eq"},
                   "period_start": "2025-11-18", "period_end": "2025-11-18", "place": "Mali", "tags": ["mining"]}),
            vec![(2, None)],
        ),
        (
            json!({"text": "Schools in Bamako closed for lack of fuel.", "place": "Bamako, Mali",
                   "period_start": "2024", "period_end": "2025", "tags": ["schools", "fuel"]}),
            vec![(0, None)],
        ),
        (json!({"text": "The country is collapsing.", "kind": "opinion", "status": "refuted"}), vec![]),
        (
            json!({"text": "As many as 50 officers were killed in the ambush.", "kind": "quantity",
                   "quantity": {"value": 50, "unit": "officers", "comparator": "lte"},
                   "period_start": "2019-06", "period_end": "2020-02"}),
            vec![(1, Some(0))],
        ),
        (
            json!({"text": "JNIM will seize Bamako before the end of 2026.", "kind": "prediction",
                   "period_end": "2026", "place": "Bamako, Mali", "tags": ["jnim"]}),
            vec![(0, Some(1))],
        ),
        (
            json!({"text": "About 3,000 people died in the fighting that year.", "kind": "quantity",
                   "quantity": {"value": 3000, "unit": "deaths", "comparator": "approx"}, "period_start": "2020",
                   "tags": ["death-toll"]}),
            vec![],
        ),
        (
            json!({"text": "Fuel prices doubled in Kayes.", "status": "supported", "place": "Kayes, Mali",
                   "period_start": "2025-03", "tags": ["fuel", "prices"]}),
            vec![(1, None), (2, None)],
        ),
        (
            json!({"text": "Ecowas leaders met in Abuja.", "kind": "event", "period_start": "2025-03-14",
                   "status": "unverifiable"}),
            vec![(2, Some(0))],
        ),
        (json!({"text": "A statement with no date, place or source."}), vec![]),
    ];
    let mut claims = Vec::new();
    for (body, stated) in specs {
        let claim = app.create("/v1/claims", body).await;
        let id = claim["id"].as_str().unwrap().to_string();
        for &(source, speaker) in &stated {
            app.create_attribution(json!({
                "claim_id": id, "source_id": sources[source], "mode": "direct",
                "speaker_id": speaker.map(|s: usize| speakers[s].clone()),
            }))
            .await;
        }
        // Attributions bump the claim's version; keep the body as created.
        claims.push(Made { id, claim, stated });
    }
    Fixture { publishers, sources, speakers, claims }
}

/// Every page of a list, following `next_cursor` with the given page size:
/// the ids in order and the number of pages.
pub async fn pages(app: &TestApp, path: &str, limit: usize) -> (Vec<String>, usize) {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut ids = Vec::new();
    let mut next = format!("{path}{separator}limit={limit}");
    let mut count = 0;
    loop {
        let response = app.get(&next).await;
        assert_eq!(response.status(), StatusCode::OK, "listing {next}");
        let page: Value = response.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit);
        ids.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        count += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => next = format!("{path}{separator}limit={limit}&cursor={cursor}"),
            None => return (ids, count),
        }
    }
}

pub async fn ids_of(app: &TestApp, path: &str) -> BTreeSet<String> {
    let (ids, _) = pages(app, path, 200).await;
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "{path} lists a claim twice");
    set
}

fn text(m: &Made, field: &str) -> Option<String> {
    m.claim[field].as_str().map(str::to_string)
}

/// The first and last day a partial date can mean (`2025-02` → `2025-02-01`, `2025-02-31`).
fn first_day(date: &str) -> String {
    match date.len() {
        4 => format!("{date}-01-01"),
        7 => format!("{date}-01"),
        _ => date.to_string(),
    }
}

fn last_day(date: &str) -> String {
    match date.len() {
        4 => format!("{date}-12-31"),
        7 => format!("{date}-31"),
        _ => date.to_string(),
    }
}

/// Whether a claim's period overlaps `[from, to]` (either open).
fn overlaps(m: &Made, from: Option<&str>, to: Option<&str>) -> bool {
    let (start, end) = (text(m, "period_start"), text(m, "period_end"));
    if start.is_none() && end.is_none() {
        return false;
    }
    let starts_in_time = match (&start, to) {
        (Some(start), Some(to)) => first_day(start) <= last_day(to),
        _ => true,
    };
    let ends_in_time = match (&end, from) {
        (Some(end), Some(from)) => last_day(end) >= first_day(from),
        _ => true,
    };
    starts_in_time && ends_in_time
}

/// Whether the claim's text or subject has the word (any case).
fn mentions(m: &Made, word: &str) -> bool {
    ["text", "subject"]
        .iter()
        .filter_map(|field| text(m, field))
        .any(|t| t.to_lowercase().split(|c: char| !c.is_alphanumeric()).any(|w| w == word))
}

fn value(m: &Made) -> Option<f64> {
    m.claim["quantity"]["value"].as_f64()
}

on_both_backends! {
    async fn each_filter_lists_exactly_the_claims_that_match_it(app: TestApp) {
        let f = make_fixture(&app).await;
        let has_tag = |m: &Made, tag: &str| m.claim["tags"].as_array().unwrap().iter().any(|t| t == tag);
        let cases: Vec<(String, BTreeSet<String>)> = vec![
            ("kind=quantity".into(), f.ids(|m| m.claim["kind"] == "quantity")),
            ("kind=event".into(), f.ids(|m| m.claim["kind"] == "event")),
            ("status=supported".into(), f.ids(|m| m.claim["status"] == "supported")),
            ("status=unreviewed".into(), f.ids(|m| m.claim["status"] == "unreviewed")),
            ("tag=fuel".into(), f.ids(|m| has_tag(m, "fuel"))),
            ("tag=death-toll".into(), f.ids(|m| has_tag(m, "death-toll"))),
            (format!("source_id={}", f.sources[0]), f.ids(|m| m.stated.iter().any(|s| s.0 == 0))),
            (format!("source_id={}", f.sources[2]), f.ids(|m| m.stated.iter().any(|s| s.0 == 2))),
            (format!("speaker_id={}", f.speakers[0]), f.ids(|m| m.stated.iter().any(|s| s.1 == Some(0)))),
            (format!("speaker_id={}", f.speakers[1]), f.ids(|m| m.stated.iter().any(|s| s.1 == Some(1)))),
            (
                format!("publisher_id={}", f.publishers[0]),
                f.ids(|m| m.stated.iter().any(|s| Fixture::publisher_of(s.0) == 0)),
            ),
            (
                format!("publisher_id={}", f.publishers[1]),
                f.ids(|m| m.stated.iter().any(|s| Fixture::publisher_of(s.0) == 1)),
            ),
            ("place=Kayes%2C%20Mali".into(), f.ids(|m| m.claim["place"] == "Kayes, Mali")),
            ("place=Mali".into(), f.ids(|m| m.claim["place"] == "Mali")),
            ("unit=deaths".into(), f.ids(|m| m.claim["quantity"]["unit"] == "deaths")),
            ("value_min=100".into(), f.ids(|m| value(m).is_some_and(|v| v >= 100.0))),
            ("value_max=3000".into(), f.ids(|m| value(m).is_some_and(|v| v <= 3000.0))),
            ("value_min=50&value_max=17700".into(), f.ids(|m| value(m).is_some_and(|v| (50.0..=17700.0).contains(&v)))),
            ("period_from=2025".into(), f.ids(|m| overlaps(m, Some("2025"), None))),
            ("period_to=2019".into(), f.ids(|m| overlaps(m, None, Some("2019")))),
            ("period_from=2019-07&period_to=2019-12".into(), f.ids(|m| overlaps(m, Some("2019-07"), Some("2019-12")))),
            ("period_from=2025-11-18&period_to=2025-11-18".into(), f.ids(|m| overlaps(m, Some("2025-11-18"), Some("2025-11-18")))),
            ("period_from=2026-01".into(), f.ids(|m| overlaps(m, Some("2026-01"), None))),
        ];
        for (query, expected) in cases {
            assert!(!expected.is_empty(), "the fixture has no claim for {query}");
            assert!(expected.len() < f.claims.len(), "every claim matches {query}");
            let listed = ids_of(&app, &format!("/v1/claims?{query}")).await;
            assert_eq!(listed, expected, "GET /v1/claims?{query}");
            if query.contains("sort=relevance") {
                // Pages of one claim walk the same order as one big page
                // (on SQLite, claims are read in batches after ranking).
                let path = format!("/v1/claims?{query}");
                let (one_by_one, _) = pages(&app, &path, 1).await;
                let (at_once, _) = pages(&app, &path, 200).await;
                assert_eq!(one_by_one, at_once, "GET {path}, a claim per page");
            }
        }
    }

    async fn filters_combine_with_and(app: TestApp) {
        let f = make_fixture(&app).await;
        let has_tag = |m: &Made, tag: &str| m.claim["tags"].as_array().unwrap().iter().any(|t| t == tag);
        let cases: Vec<(String, BTreeSet<String>)> = vec![
            (
                "kind=quantity&place=Mali&period_from=2012".into(),
                f.ids(|m| m.claim["kind"] == "quantity" && m.claim["place"] == "Mali" && overlaps(m, Some("2012"), None)),
            ),
            (
                format!("tag=fuel&publisher_id={}", f.publishers[0]),
                f.ids(|m| has_tag(m, "fuel") && m.stated.iter().any(|s| Fixture::publisher_of(s.0) == 0)),
            ),
            (
                format!("status=supported&tag=fuel&source_id={}&q=fuel", f.sources[1]),
                f.ids(|m| m.claim["status"] == "supported" && has_tag(m, "fuel") && m.stated.iter().any(|s| s.0 == 1)),
            ),
            (
                format!("publisher_id={}&period_from=2020&period_to=2025", f.publishers[1]),
                f.ids(|m| m.stated.iter().any(|s| Fixture::publisher_of(s.0) == 1) && overlaps(m, Some("2020"), Some("2025"))),
            ),
            ("unit=deaths&value_min=5000".into(), f.ids(|m| m.claim["quantity"]["unit"] == "deaths" && value(m).is_some_and(|v| v >= 5000.0))),
            // Searches whose candidates come from a tag, or from the search
            // with the tag checked in memory (relevance), or per claim.
            ("q=fuel&tag=jnim".into(), f.ids(|m| mentions(m, "fuel") && has_tag(m, "jnim"))),
            ("q=fuel&tag=jnim&sort=relevance".into(), f.ids(|m| mentions(m, "fuel") && has_tag(m, "jnim"))),
            (
                format!("q=fuel&publisher_id={}&sort=relevance", f.publishers[1]),
                f.ids(|m| mentions(m, "fuel") && m.stated.iter().any(|s| Fixture::publisher_of(s.0) == 1)),
            ),
            (
                format!("q=fuel&publisher_id={}&tag=fuel&period_from=2025&sort=relevance", f.publishers[0]),
                f.ids(|m| {
                    mentions(m, "fuel")
                        && has_tag(m, "fuel")
                        && m.stated.iter().any(|s| Fixture::publisher_of(s.0) == 0)
                        && overlaps(m, Some("2025"), None)
                }),
            ),
        ];
        for (query, expected) in cases {
            assert!(!expected.is_empty(), "the fixture has no claim for {query}");
            let listed = ids_of(&app, &format!("/v1/claims?{query}")).await;
            assert_eq!(listed, expected, "GET /v1/claims?{query}");
            if query.contains("sort=relevance") {
                // Pages of one claim walk the same order as one big page
                // (on SQLite, claims are read in batches after ranking).
                let path = format!("/v1/claims?{query}");
                let (one_by_one, _) = pages(&app, &path, 1).await;
                let (at_once, _) = pages(&app, &path, 200).await;
                assert_eq!(one_by_one, at_once, "GET {path}, a claim per page");
            }
        }
        let none = ids_of(&app, "/v1/claims?kind=opinion&tag=fuel").await;
        assert!(none.is_empty());
    }

    async fn every_sort_pages_through_every_claim_once_in_its_order(app: TestApp) {
        let f = make_fixture(&app).await;
        let key = |m: &Made| {
            let at = chrono::DateTime::parse_from_rfc3339(m.claim["created_at"].as_str().unwrap()).unwrap();
            (at, m.id.clone())
        };
        let mut oldest_first: Vec<&Made> = f.claims.iter().collect();
        oldest_first.sort_by_key(|m| key(m));
        let ids = |claims: &[&Made]| claims.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        let mut newest_first = oldest_first.clone();
        newest_first.reverse();

        let mut with_period: Vec<&Made> = f.claims.iter().filter(|m| text(m, "period_start").is_some()).collect();
        with_period.sort_by_key(|m| (text(m, "period_start"), m.id.clone()));
        let mut without_period: Vec<&Made> = f.claims.iter().filter(|m| text(m, "period_start").is_none()).collect();
        without_period.sort_by_key(|m| m.id.clone());
        let period_first: Vec<String> = ids(&with_period).into_iter().chain(ids(&without_period)).collect();
        let period_last: Vec<String> =
            ids(&with_period).into_iter().rev().chain(ids(&without_period).into_iter().rev()).collect();

        let cases = [
            ("/v1/claims", ids(&newest_first)),
            ("/v1/claims?sort=-created_at", ids(&newest_first)),
            ("/v1/claims?sort=created_at", ids(&oldest_first)),
            ("/v1/claims?sort=period_start", period_first),
            ("/v1/claims?sort=-period_start", period_last),
        ];
        for (path, expected) in cases {
            for limit in [1, 3, 200] {
                let (listed, page_count) = pages(&app, path, limit).await;
                assert_eq!(listed, expected, "{path} in pages of {limit}");
                assert_eq!(page_count, expected.len().div_ceil(limit).max(1), "{path} in pages of {limit}");
            }
        }
    }

    async fn period_start_sorts_partial_dates_as_text_and_puts_claims_without_one_last(app: TestApp) {
        for start in ["2013", "2012-01-05", "2012", "2012-01"] {
            app.create("/v1/claims", json!({"text": format!("Since {start}"), "period_start": start})).await;
        }
        app.create("/v1/claims", json!({"text": "Open start", "period_end": "2012"})).await;
        let starts = |page: Value| -> Vec<Value> {
            page["items"].as_array().unwrap().iter().map(|c| c["period_start"].clone()).collect()
        };
        let page: Value = app.get("/v1/claims?sort=period_start").await.json().await.unwrap();
        assert_eq!(starts(page), [json!("2012"), json!("2012-01"), json!("2012-01-05"), json!("2013"), Value::Null]);
        let page: Value = app.get("/v1/claims?sort=-period_start").await.json().await.unwrap();
        assert_eq!(starts(page), [json!("2013"), json!("2012-01-05"), json!("2012-01"), json!("2012"), Value::Null]);
    }

    async fn pages_stay_stable_while_claims_are_created_between_requests(app: TestApp) {
        let mut before = Vec::new();
        for i in 0..12 {
            let period = if i % 3 == 0 { Value::Null } else { json!(format!("20{:02}", 10 + i)) };
            let claim = app
                .create("/v1/claims", json!({"text": format!("Fuel convoy report {i}"), "period_start": period}))
                .await;
            before.push(claim["id"].as_str().unwrap().to_string());
        }
        for path in [
            "/v1/claims",
            "/v1/claims?sort=created_at",
            "/v1/claims?sort=period_start",
            "/v1/claims?sort=-period_start",
            "/v1/claims?q=fuel",
            "/v1/claims?q=convoy&sort=created_at",
        ] {
            let mut seen = Vec::new();
            let mut next = format!("{path}{}limit=5", if path.contains('?') { '&' } else { '?' });
            let mut round = 0;
            loop {
                let page: Value = app.get(&next).await.json().await.unwrap();
                seen.extend(page["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()));
                // New claims, before and after the cursor in every order.
                for (j, period) in [json!("2009"), json!("2030"), Value::Null].into_iter().enumerate() {
                    let text = format!("Fuel convoy update {round}-{j}");
                    app.create("/v1/claims", json!({"text": text, "period_start": period})).await;
                }
                round += 1;
                match page["next_cursor"].as_str() {
                    Some(cursor) => next = format!("{path}{}limit=5&cursor={cursor}", if path.contains('?') { '&' } else { '?' }),
                    None => break,
                }
            }
            let unique: HashSet<&String> = seen.iter().collect();
            assert_eq!(unique.len(), seen.len(), "{path} listed a claim twice: {seen:?}");
            for id in &before {
                assert!(unique.contains(id), "{path} skipped claim {id}, which existed before paging began");
            }
        }
    }

    async fn a_tampered_or_foreign_cursor_is_a_400_naming_cursor(app: TestApp) {
        for i in 0..3 {
            app.create_claim(&format!("Claim {i}")).await;
        }
        let page: Value = app.get("/v1/claims?limit=1").await.json().await.unwrap();
        let cursor = page["next_cursor"].as_str().unwrap().to_string();
        assert_eq!(app.get(&format!("/v1/claims?limit=1&cursor={cursor}")).await.status(), StatusCode::OK);
        let mut tampered = Vec::new();
        for i in [0, cursor.len() / 2, cursor.len() - 1] {
            let mut chars: Vec<char> = cursor.chars().collect();
            chars[i] = if chars[i] == 'x' { 'y' } else { 'x' };
            tampered.push(chars.into_iter().collect::<String>());
        }
        tampered.push(cursor[..cursor.len() - 4].to_string());
        tampered.push(format!("{cursor}AAAA"));
        tampered.push("not-a-cursor".to_string());
        tampered.push("eyJhdCI6IjIwMjUtMDEtMDFUMDA6MDA6MDAiLCJpZCI6IngifQ".to_string());
        for bad in tampered {
            let body = problem(app.get(&format!("/v1/claims?limit=1&cursor={bad}")).await, 400).await;
            assert_eq!(error_fields(&body), ["cursor"], "{bad}");
        }
        for other in ["sort=created_at", "kind=event", "q=claim"] {
            let body = problem(app.get(&format!("/v1/claims?limit=1&{other}&cursor={cursor}")).await, 400).await;
            assert_eq!(error_fields(&body), ["cursor"], "a cursor of the default list used with {other}");
        }
    }

    async fn a_cursor_made_for_other_filters_is_a_400_and_one_for_the_same_list_pages_on(app: TestApp) {
        let fixture = make_fixture(&app).await;
        let (guardian, france24) = (&fixture.publishers[0], &fixture.publishers[1]);
        let filters = format!("q=fuel&tag=fuel&publisher_id={guardian}");
        let matching = fixture.ids(|m| {
            mentions(m, "fuel")
                && m.claim["tags"].as_array().unwrap().iter().any(|t| t == "fuel")
                && m.stated.iter().any(|&(source, _)| Fixture::publisher_of(source) == 0)
        });
        assert!(matching.len() >= 3, "the fixture has few matches: {matching:?}");
        let page: Value = app.get(&format!("/v1/claims?{filters}&limit=1")).await.json().await.unwrap();
        let first = page["items"][0]["id"].as_str().unwrap().to_string();
        let cursor = page["next_cursor"].as_str().unwrap().to_string();
        let speaker = &fixture.speakers[0];
        for other in [
            format!("q=fuel&tag=fuel&publisher_id={france24}"),
            format!("q=fuel&tag=jnim&publisher_id={guardian}"),
            format!("q=fuel*&tag=fuel&publisher_id={guardian}"),
            format!("tag=fuel&publisher_id={guardian}"),
            "q=fuel&tag=fuel".to_string(),
            format!("{filters}&speaker_id={speaker}"),
            format!("{filters}&kind=statement"),
            format!("{filters}&period_from=2020"),
            format!("{filters}&value_min=1"),
            format!("{filters}&sort=period_start"),
        ] {
            let body = problem(app.get(&format!("/v1/claims?{other}&limit=1&cursor={cursor}")).await, 400).await;
            assert_eq!(error_fields(&body), ["cursor"], "a cursor of `{filters}` used with `{other}`: {body}");
        }
        // The same list, however its parameters are written: blanks around
        // `q`, the default sort named, another page size, snippets.
        for same in [
            format!("publisher_id={guardian}&tag=fuel&q=%20fuel%20&limit=1"),
            format!("{filters}&sort=-created_at&limit=1"),
            format!("{filters}&limit=50&snippet=true"),
        ] {
            let response = app.get(&format!("/v1/claims?{same}&cursor={cursor}")).await;
            assert_eq!(response.status(), StatusCode::OK, "a cursor of `{filters}` used with `{same}`");
            let next: Value = response.json().await.unwrap();
            let ids: Vec<&str> = next["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
            assert!(!ids.is_empty() && !ids.contains(&first.as_str()), "`{same}` did not page on: {ids:?}");
            assert!(ids.iter().all(|id| matching.contains(*id)), "`{same}` listed claims outside the filters: {ids:?}");
        }
    }

    async fn bad_parameters_are_a_400_naming_the_parameter(app: TestApp) {
        let cases = [
            ("kind=robot", "kind"),
            ("status=true", "status"),
            ("source_id=42", "source_id"),
            ("publisher_id=", "publisher_id"),
            ("period_from=2025-13", "period_from"),
            ("period_to=yesterday", "period_to"),
            ("period_from=2025&period_to=2024", "period_to"),
            ("value_min=lots", "value_min"),
            ("value_min=NaN", "value_min"),
            ("value_max=inf", "value_max"),
            ("value_min=10&value_max=1", "value_max"),
            ("sort=newest", "sort"),
            ("sort=relevance", "sort"),
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=ten", "limit"),
            ("snippet=maybe", "snippet"),
            ("tag=a%00b", "tag"),
            ("place=%00", "place"),
            ("unit=%00", "unit"),
            ("color=red", "color"),
            ("q=%22%22", "q"),
        ];
        for (query, field) in cases {
            let body = problem(app.get(&format!("/v1/claims?{query}")).await, 400).await;
            assert_eq!(error_fields(&body), [field], "GET /v1/claims?{query}: {body}");
        }
    }

    async fn a_page_with_more_to_come_links_to_the_next_one(app: TestApp) {
        for i in 0..3 {
            app.create_claim(&format!("Fuel claim {i}")).await;
        }
        let response = app.get("/v1/claims?q=fuel&limit=2").await;
        let link = response.headers()["link"].to_str().unwrap().to_string();
        let page: Value = response.json().await.unwrap();
        let cursor = page["next_cursor"].as_str().unwrap();
        assert!(link.starts_with("</v1/claims?") && link.ends_with(">; rel=\"next\""), "{link}");
        assert!(link.contains("q=fuel") && link.contains(cursor), "{link}");
        let next = &link[1..link.find('>').unwrap()];
        let last: Value = app.get(next).await.json().await.unwrap();
        assert_eq!(last["items"].as_array().unwrap().len(), 1);
        assert!(last["next_cursor"].is_null());
    }
}

/// A server on 3,000 generated claims (the plan tests' database), and a
/// source of it that has a publisher.
async fn generated(backend: claimtrail::db::Backend) -> (TestApp, Value) {
    let app = crate::helpers::spawn_app(backend).await;
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || claimtrail::generate::generate(&db, 3000, 11))
        .await
        .unwrap()
        .expect("generated data");
    let sources: Value = app.get("/v1/sources?limit=200").await.json().await.unwrap();
    let source = sources["items"].as_array().unwrap().iter().find(|s| s["publisher_id"].is_string()).unwrap().clone();
    (app, source)
}

/// The query plans of the list's common queries on a generated database:
/// every read of `claims`, `attributions`, `claim_tags`, `claim_documents`
/// and `reviews` must seek an index. A `SCAN … USING INDEX` is
/// accepted: it walks the sort's index and stops when the page is full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_common_list_queries_never_scan_a_whole_table_on_sqlite() {
    use claimtrail::claims::listing::explain;
    use claimtrail::claims::model::{ClaimKind, ClaimQuery, ClaimSort, ClaimStatus};
    use claimtrail::validate::PartialDate;

    let (app, source) = generated(claimtrail::db::Backend::Sqlite).await;
    let source_id = source["id"].as_str().unwrap().parse().ok();
    let publisher_id = source["publisher_id"].as_str().unwrap().parse().ok();
    let attributions: Value = app.get("/v1/attributions?limit=200").await.json().await.unwrap();
    let speaker_id =
        attributions["items"].as_array().unwrap().iter().find_map(|a| a["speaker_id"].as_str()).unwrap().parse().ok();
    let common = Some("the".to_string());
    let rare = Some(claimtrail::generate::vocabulary_word(20_000));
    let (from, to) = (PartialDate::parse("2020").ok(), PartialDate::parse("2021").ok());
    let queries: Vec<(&str, ClaimQuery)> = vec![
        ("first page", ClaimQuery::default()),
        ("oldest first", ClaimQuery { sort: Some(ClaimSort::OldestFirst), ..Default::default() }),
        ("by period", ClaimQuery { sort: Some(ClaimSort::PeriodStart), ..Default::default() }),
        ("by period, latest first", ClaimQuery { sort: Some(ClaimSort::PeriodStartDesc), ..Default::default() }),
        ("by stated_on", ClaimQuery { sort: Some(ClaimSort::StatedOn), ..Default::default() }),
        ("by stated_on, latest first", ClaimQuery { sort: Some(ClaimSort::StatedOnDesc), ..Default::default() }),
        (
            "publisher by stated_on, latest first",
            ClaimQuery {
                publisher_id: publisher_id.clone(),
                sort: Some(ClaimSort::StatedOnDesc),
                ..Default::default()
            },
        ),
        ("kind", ClaimQuery { kind: Some(ClaimKind::Prediction), ..Default::default() }),
        ("status", ClaimQuery { status: Some(ClaimStatus::Retracted), ..Default::default() }),
        ("tag", ClaimQuery { tag: Some("jnim".into()), ..Default::default() }),
        ("source", ClaimQuery { source_id, ..Default::default() }),
        ("speaker", ClaimQuery { speaker_id, ..Default::default() }),
        ("publisher", ClaimQuery { publisher_id: publisher_id.clone(), ..Default::default() }),
        ("place", ClaimQuery { place: Some("Gao, Mali".into()), ..Default::default() }),
        ("unit", ClaimQuery { unit: Some("deaths".into()), ..Default::default() }),
        ("value range", ClaimQuery { value_min: Some(1000.0), value_max: Some(5000.0), ..Default::default() }),
        ("period", ClaimQuery { period_from: from.clone(), period_to: to.clone(), ..Default::default() }),
        ("common word", ClaimQuery { q: common.clone(), ..Default::default() }),
        ("rare word", ClaimQuery { q: rare.clone(), ..Default::default() }),
        ("common word by relevance", ClaimQuery { q: common, sort: Some(ClaimSort::Relevance), ..Default::default() }),
        ("rare word by period", ClaimQuery { q: rare, sort: Some(ClaimSort::PeriodStart), ..Default::default() }),
        (
            "publisher and period",
            ClaimQuery {
                publisher_id: publisher_id.clone(),
                period_from: from.clone(),
                period_to: to.clone(),
                ..Default::default()
            },
        ),
        ("reviewed", ClaimQuery { reviewed: Some(true), ..Default::default() }),
        ("not reviewed", ClaimQuery { reviewed: Some(false), ..Default::default() }),
        ("reviewer", ClaimQuery { reviewer_id: publisher_id.clone(), ..Default::default() }),
        ("rating label", ClaimQuery { rating_label: Some("False".into()), ..Default::default() }),
        (
            "not reviewed, by period",
            ClaimQuery { reviewed: Some(false), sort: Some(ClaimSort::PeriodStart), ..Default::default() },
        ),
        (
            "reviewer and a word",
            ClaimQuery { reviewer_id: publisher_id.clone(), q: Some("fuel".into()), ..Default::default() },
        ),
        (
            "rating label and a word by relevance",
            ClaimQuery {
                rating_label: Some("False".into()),
                q: Some("fuel".into()),
                sort: Some(ClaimSort::Relevance),
                ..Default::default()
            },
        ),
        (
            "not reviewed and a common word",
            ClaimQuery { reviewed: Some(false), q: Some("the".into()), ..Default::default() },
        ),
        (
            "publisher, period and a word by relevance",
            ClaimQuery {
                publisher_id,
                period_from: from,
                period_to: to,
                q: Some("fuel".into()),
                sort: Some(ClaimSort::Relevance),
                ..Default::default()
            },
        ),
    ];
    let mut conn = app.db.get().expect("a connection");
    let mut plans: Vec<(String, Vec<String>)> = Vec::new();
    for (name, query) in queries {
        plans.push((name.to_string(), explain(&mut conn, query).expect("a plan")));
    }
    // The claims an agent or a source is behind, in every role.
    use claimtrail::claims::listing::backing::{Backer, Backing};
    let agent: claimtrail::ids::AgentId = source["publisher_id"].as_str().unwrap().parse().unwrap();
    let cited: claimtrail::ids::SourceId = source["id"].as_str().unwrap().parse().unwrap();
    for (backer, role) in [
        (Backer::Agent(agent.clone()), None),
        (Backer::Agent(agent.clone()), Some("cited_publisher")),
        (Backer::Agent(agent), Some("speaker")),
        (Backer::Source(cited.clone()), None),
        (Backer::Source(cited), Some("cited_source")),
    ] {
        for sort in [None, Some(ClaimSort::StatedOnDesc)] {
            let name = format!("{backer:?} as {role:?} by {sort:?}");
            let backing = Backing::new(backer.clone(), role).expect("roles");
            plans.push((name, claimtrail::claims::listing::explain_backed(&mut conn, backing, sort).expect("a plan")));
        }
    }
    for (name, plan) in plans {
        assert!(!plan.is_empty(), "{name}: no plan");
        for line in &plan {
            for table in ["claims", "attributions", "claim_tags", "claim_documents", "reviews", "claim_backers"] {
                let scan = format!("SCAN {table}");
                let full_scan =
                    line.trim() == scan || (line.starts_with(&format!("{scan} ")) && !line.contains(" USING "));
                assert!(!full_scan, "{name}: `{line}` reads all of {table}; plan: {plan:#?}");
            }
        }
    }
}

/// The plan PostgreSQL keeps for each statement a page of the list, a
/// claim's card and provenance, a claim's attributions and reviews run: prepared
/// statements are planned once for any value (a generic plan) after five
/// runs, so each statement is prepared here and explained that way. None
/// may read all of a table with a row per claim or more (on 3,000
/// generated claims). A lookup of the
/// page's claims by a list of ids bound as JSON was a sequential scan of
/// `claim_tags` on every page: PostgreSQL cannot see into the JSON function
/// and planned it as 100 rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statements_behind_a_page_keep_plans_that_seek_on_postgres() {
    use std::sync::{Arc, Mutex};

    use claimtrail::claims::listing::backing::{Backer, Backing};
    use claimtrail::claims::model::{ClaimQuery, ClaimSort};
    use claimtrail::db::DbConnection;
    use diesel::connection::{InstrumentationEvent, SimpleConnection};
    use diesel::sql_types::Text;
    use diesel::{Connection, QueryableByName, RunQueryDsl};

    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text)]
        #[diesel(column_name = "QUERY PLAN")]
        line: String,
    }

    let (app, source) = generated(claimtrail::db::Backend::Postgres).await;
    let claims: Value = app.get("/v1/claims?limit=1").await.json().await.unwrap();
    let claim_id: claimtrail::ids::ClaimId = claims["items"][0]["id"].as_str().unwrap().parse().unwrap();
    let publisher: claimtrail::ids::AgentId = source["publisher_id"].as_str().unwrap().parse().unwrap();

    let db = app.db.clone();
    let plans = tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        let statements = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = statements.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                let sql = query.to_string();
                let sql = sql.split(" -- binds: ").next().unwrap_or_default().to_string();
                if sql.starts_with("SELECT") || sql.starts_with("WITH") {
                    seen.lock().unwrap().push(sql);
                }
            }
        });
        for query in [
            ClaimQuery::default(),
            ClaimQuery { q: Some("fuel".into()), ..Default::default() },
            ClaimQuery { q: Some("fuel".into()), sort: Some(ClaimSort::Relevance), ..Default::default() },
        ] {
            let page = claimtrail::claims::listing::list(&mut conn, query, 50).expect("a page");
            assert!(!page.items.is_empty(), "the generated claims are listed");
        }
        let backing = Backing::new(Backer::Agent(publisher), None).expect("roles");
        let backed = claimtrail::claims::listing::list_backed(&mut conn, backing, None, None, String::new(), 50)
            .expect("a page of backed claims");
        assert!(!backed.items.is_empty(), "the publisher backs generated claims");
        claimtrail::card::load(&mut conn, &claim_id).expect("a card");
        claimtrail::provenance::store::provenance(&mut conn, &claim_id, 10).expect("a provenance graph");
        let of_claim = serde_json::from_value(json!({"claim_id": claim_id.as_str()})).expect("a query");
        claimtrail::attributions::store::list(&mut conn, &of_claim, 50).expect("attributions");
        let of_claim = serde_json::from_value(json!({"claim_id": claim_id.as_str()})).expect("a query");
        claimtrail::reviews::store::list(&mut conn, &of_claim, 50, claimtrail::reviews::Audience::Desk)
            .expect("reviews");
        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});

        let statements = statements.lock().unwrap().clone();
        let DbConnection::Pg(pg) = &mut *conn else { panic!("a PostgreSQL connection") };
        diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(pg).expect("generic plans");
        let mut plans = Vec::new();
        for (i, sql) in statements.iter().enumerate() {
            let params = (1..=64).take_while(|n| sql.contains(&format!("${n}"))).count();
            pg.batch_execute(&format!("PREPARE planned_{i} AS {sql}")).expect("the statement prepares");
            let nulls = vec!["NULL"; params].join(", ");
            let execute = if params == 0 {
                format!("EXPLAIN EXECUTE planned_{i}")
            } else {
                format!("EXPLAIN EXECUTE planned_{i}({nulls})")
            };
            let plan: Vec<PlanLine> = diesel::sql_query(execute).load(pg).expect("a generic plan");
            plans.push((sql.clone(), plan.into_iter().map(|l| l.line).collect::<Vec<String>>()));
        }
        plans
    })
    .await
    .expect("the blocking task");

    assert!(plans.len() >= 10, "the statements were seen: {}", plans.len());
    assert!(
        plans.iter().any(|(sql, _)| sql.contains("FROM claim_tags")),
        "the page's tags are among the statements explained"
    );
    // `reviews` is not among them: the generator writes none, and a scan of
    // an empty table is the right plan for it.
    for (sql, plan) in &plans {
        for line in plan {
            for table in ["claims", "attributions", "claim_tags", "claim_statings", "claim_backers"] {
                assert!(
                    !line.contains(&format!("Seq Scan on {table} "))
                        && !line.ends_with(&format!("Seq Scan on {table}")),
                    "`{sql}` reads all of {table}: {plan:#?}"
                );
            }
        }
    }
}
