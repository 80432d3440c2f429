use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::contract::{self, id, read_json};
use crate::helpers::{TestApp, error_fields, problem};
use crate::on_both_backends;

/// Curly quotes and accents before the quote, so that byte and character
/// offsets differ.
const ARTICLE: &str = "“Bamako’s streets are quiet,” a resident said. \
    The junta’s spokesman said “the situation is under control”. \
    An analyst disagreed: “the situation is under control only in Bamako”.";

/// Where `needle` starts and ends in `text`, counted in characters (found
/// by comparing characters, not bytes) after the `nth` earlier match.
fn char_span(text: &str, needle: &str, nth: usize) -> (i64, i64) {
    let chars: Vec<char> = text.chars().collect();
    let wanted: Vec<char> = needle.chars().collect();
    let start = (0..chars.len())
        .filter(|&i| chars[i..].starts_with(&wanted))
        .nth(nth)
        .unwrap_or_else(|| panic!("{needle} is not in the text {nth} times"));
    (start as i64, (start + wanted.len()) as i64)
}

struct World {
    claim: Value,
    source: Value,
    empty_source: Value,
    speaker: Value,
}

async fn world(app: &TestApp) -> World {
    World {
        claim: app.create_claim("The junta controls the situation.").await,
        source: app.create_source("Bamako report", Some(ARTICLE)).await,
        empty_source: app.create_source("Radio statement", None).await,
        speaker: app.create("/v1/agents", json!({"kind": "person", "name": "Junta spokesman"})).await,
    }
}

async fn quoted(app: &TestApp, w: &World, source: &Value, quote: Value) -> Value {
    app.create_attribution(
        json!({"claim_id": w.claim["id"], "source_id": source["id"], "mode": "quote", "quote": quote}),
    )
    .await
}

fn attribution_path(attribution: &Value) -> String {
    format!("/v1/attributions/{}", id(attribution))
}

on_both_backends! {
    async fn create_attribution_returns_201_with_every_field_and_defaults(app: TestApp) {
        let w = world(&app).await;
        let sent = json!({
            "claim_id": w.claim["id"], "source_id": w.source["id"], "speaker_id": w.speaker["id"], "mode": "citation",
            "cited_source_id": w.empty_source["id"], "locator": "paragraph 2", "stated_on": "2025-11-17"
        });
        let attribution = contract::created(app.post("/v1/attributions", &sent).await, "/v1/attributions").await;
        for (field, value) in sent.as_object().unwrap() {
            assert_eq!(&attribution[field], value, "{field}");
        }
        assert_eq!(attribution["stance"], "affirms");
        for field in ["quote", "quote_status", "quote_start", "quote_end"] {
            assert_eq!(attribution[field], Value::Null, "{field} without a quote");
        }
        let fetched = read_json(app.get(&attribution_path(&attribution)).await, StatusCode::OK).await;
        assert_eq!(fetched, attribution);
    }

    async fn create_attribution_returns_422_naming_every_reference_that_does_not_exist(app: TestApp) {
        let missing = || uuid::Uuid::now_v7().to_string();
        let sent = json!({"claim_id": missing(), "source_id": missing(), "speaker_id": missing(), "mode": "citation", "cited_source_id": missing()});
        let body = problem(app.post("/v1/attributions", &sent).await, 422).await;
        assert_eq!(error_fields(&body), ["claim_id", "source_id", "speaker_id", "cited_source_id"]);
        let w = world(&app).await;
        let body = problem(app.post("/v1/attributions", &json!({"claim_id": w.claim["id"], "source_id": w.source["id"], "mode": "direct", "speaker_id": missing()})).await, 422).await;
        assert_eq!(error_fields(&body), ["speaker_id"]);
        assert!(app.list_all("/v1/attributions").await.is_empty());
        assert_eq!(body_version(&app, &w.claim).await, 1, "a refused attribution does not touch the claim");
    }

    async fn create_attribution_checks_mode_citation_and_its_fields(app: TestApp) {
        let w = world(&app).await;
        let base = json!({"claim_id": w.claim["id"], "source_id": w.source["id"]});
        let with = |extra: Value| {
            let mut sent = base.clone();
            sent.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            sent
        };
        let cases = [
            (with(json!({"mode": "citation"})), vec!["cited_source_id"]),
            (with(json!({"mode": "citation", "cited_source_id": w.source["id"]})), vec!["cited_source_id"]),
            (with(json!({"mode": "hearsay"})), vec!["mode"]),
            (with(json!({})), vec!["mode"]),
            (with(json!({"mode": "quote", "stance": "maybe"})), vec!["stance"]),
            (with(json!({"mode": "quote", "quote": {"exact": ""}})), vec!["quote.exact"]),
            (with(json!({"mode": "quote", "quote": {"prefix": "x"}})), vec!["quote"]),
            (with(json!({"mode": "quote", "quote": {"exact": "x", "start": 3}})), vec!["quote"]),
            (with(json!({"mode": "quote", "quote": {"exact": "x", "suffix": "y".repeat(501)}})), vec!["quote.suffix"]),
            (with(json!({"mode": "quote", "stated_on": "2025-02-30", "locator": ""})), vec!["stated_on", "locator"]),
            (with(json!({"mode": "quote", "quote_status": "verified"})), vec!["quote_status"]),
            (json!({"claim_id": "x", "source_id": w.source["id"], "mode": "direct"}), vec!["claim_id"]),
        ];
        for (sent, fields) in cases {
            let body = problem(app.post("/v1/attributions", &sent).await, 422).await;
            let mut got = error_fields(&body);
            got.sort();
            let mut fields: Vec<String> = fields.into_iter().map(String::from).collect();
            fields.sort();
            assert!(got.len() == fields.len() && got.iter().zip(&fields).all(|(g, f)| g.starts_with(f.as_str())), "{sent} answered {body}");
        }
        assert!(app.list_all("/v1/attributions").await.is_empty());
    }

    async fn create_attribution_keeps_a_client_chosen_id_and_refuses_it_twice(app: TestApp) {
        let w = world(&app).await;
        contract::client_ids(&app, "/v1/attributions", json!({"claim_id": w.claim["id"], "source_id": w.source["id"], "mode": "direct"})).await;
    }

    async fn a_quote_in_the_content_is_verified_with_character_offsets(app: TestApp) {
        let w = world(&app).await;
        let exact = "the situation is under control";
        let attribution = quoted(&app, &w, &w.source, json!({"exact": exact, "suffix": "”."})).await;
        assert_eq!(attribution["quote_status"], "verified");
        let (start, end) = char_span(ARTICLE, exact, 0);
        assert_eq!((attribution["quote_start"].as_i64(), attribution["quote_end"].as_i64()), (Some(start), Some(end)));
        assert_ne!(ARTICLE.find(exact).unwrap() as i64, start, "the text before the quote has multi-byte characters");
        let chars: String = ARTICLE.chars().skip(start as usize).take((end - start) as usize).collect();
        assert_eq!(chars, exact);
    }

    async fn prefix_and_suffix_choose_between_repeated_passages(app: TestApp) {
        let w = world(&app).await;
        let exact = "the situation is under control";
        let second = quoted(&app, &w, &w.source, json!({"exact": exact, "suffix": " only"})).await;
        assert_eq!(second["quote_status"], "verified");
        assert_eq!((second["quote_start"].as_i64().unwrap(), second["quote_end"].as_i64().unwrap()), char_span(ARTICLE, exact, 1));
        let by_prefix = quoted(&app, &w, &w.source, json!({"exact": exact, "prefix": "disagreed: “"})).await;
        assert_eq!(by_prefix["quote_start"], second["quote_start"]);
        let first = quoted(&app, &w, &w.source, json!({"exact": exact, "prefix": "said “"})).await;
        assert_eq!(first["quote_start"].as_i64().unwrap(), char_span(ARTICLE, exact, 0).0);
        let neither = quoted(&app, &w, &w.source, json!({"exact": exact, "prefix": "denied “"})).await;
        assert_eq!(neither["quote_status"], "not_found");
        assert_eq!((&neither["quote_start"], &neither["quote_end"]), (&Value::Null, &Value::Null));
    }

    async fn a_quote_is_found_where_its_occurrences_overlap(app: TestApp) {
        let w = world(&app).await;
        let chant = app.create_source("Chant", Some("“coup, coup, coup”")).await;
        let attribution = quoted(&app, &w, &chant, json!({"exact": "coup, coup", "prefix": "coup, "})).await;
        assert_eq!(attribution["quote_status"], "verified", "{attribution}");
        assert_eq!((attribution["quote_start"].as_i64().unwrap(), attribution["quote_end"].as_i64().unwrap()), (7, 17));
    }

    async fn a_quote_not_in_the_content_is_not_found_and_without_content_unchecked(app: TestApp) {
        let w = world(&app).await;
        let absent = quoted(&app, &w, &w.source, json!({"exact": "the north is lost"})).await;
        assert_eq!(absent["quote_status"], "not_found");
        assert_eq!(absent["quote_start"], Value::Null);
        let unchecked = quoted(&app, &w, &w.empty_source, json!({"exact": "the north is lost"})).await;
        assert_eq!(unchecked["quote_status"], "unchecked");
        assert_eq!(unchecked["quote_end"], Value::Null);
    }

    async fn changing_a_source_content_checks_every_quote_of_it_again(app: TestApp) {
        let w = world(&app).await;
        let verified = quoted(&app, &w, &w.source, json!({"exact": "Bamako’s streets"})).await;
        let missing = quoted(&app, &w, &w.source, json!({"exact": "the north is lost"})).await;
        let unquoted = app.create_attribution(json!({"claim_id": w.claim["id"], "source_id": w.source["id"], "mode": "direct"})).await;
        let elsewhere = quoted(&app, &w, &w.empty_source, json!({"exact": "Bamako’s streets"})).await;
        let claim_version = body_version(&app, &w.claim).await;

        let new_content = "Update: the north is lost. “Bamako’s streets are quiet.”";
        let source_path = format!("/v1/sources/{}", id(&w.source));
        let changed = read_json(app.patch(&source_path, 1, &json!({"content": new_content})).await, StatusCode::OK).await;
        assert_eq!(changed["version"], 2);

        let verified_now = read_json(app.get(&attribution_path(&verified)).await, StatusCode::OK).await;
        assert_eq!(verified_now["quote_status"], "verified");
        let (start, end) = char_span(new_content, "Bamako’s streets", 0);
        assert_eq!((verified_now["quote_start"].as_i64(), verified_now["quote_end"].as_i64()), (Some(start), Some(end)));
        assert_ne!(verified_now["quote_start"], verified["quote_start"]);
        assert_eq!(verified_now["version"], 2);
        let found_now = read_json(app.get(&attribution_path(&missing)).await, StatusCode::OK).await;
        assert_eq!(found_now["quote_status"], "verified");
        assert_eq!(found_now["quote_start"].as_i64(), Some(char_span(new_content, "the north is lost", 0).0));
        assert_eq!(found_now["version"], 2);
        assert_eq!(read_json(app.get(&attribution_path(&unquoted)).await, StatusCode::OK).await, unquoted, "without a quote nothing changes");
        assert_eq!(read_json(app.get(&attribution_path(&elsewhere)).await, StatusCode::OK).await, elsewhere, "other sources' quotes stay");
        assert!(body_version(&app, &w.claim).await > claim_version, "the claim card changed");

        let removed = read_json(app.patch(&source_path, 2, &json!({"content": null})).await, StatusCode::OK).await;
        assert_eq!(removed["content_sha256"], Value::Null);
        let unchecked = read_json(app.get(&attribution_path(&verified)).await, StatusCode::OK).await;
        assert_eq!((&unchecked["quote_status"], &unchecked["quote_start"], &unchecked["version"]), (&json!("unchecked"), &Value::Null, &json!(3)));
    }

    async fn list_attributions_filters_by_claim_source_speaker_and_cited_source(app: TestApp) {
        let w = world(&app).await;
        let other_claim = app.create_claim("Other").await;
        let other_speaker = app.create("/v1/agents", json!({"kind": "person", "name": "Resident"})).await;
        let make = |claim: &Value, source: &Value, speaker: Option<&Value>, cited: Option<&Value>| {
            json!({
                "claim_id": claim["id"], "source_id": source["id"], "speaker_id": speaker.map(|s| s["id"].clone()),
                "mode": if cited.is_some() { "citation" } else { "quote" }, "cited_source_id": cited.map(|c| c["id"].clone())
            })
        };
        let a = app.create_attribution(make(&w.claim, &w.source, Some(&w.speaker), None)).await;
        let b = app.create_attribution(make(&w.claim, &w.empty_source, Some(&other_speaker), Some(&w.source))).await;
        let c = app.create_attribution(make(&other_claim, &w.source, Some(&w.speaker), Some(&w.empty_source))).await;
        let d = app.create_attribution(make(&other_claim, &w.empty_source, None, None)).await;
        let ids = |items: Vec<Value>| items.iter().map(|i| id(i).to_string()).collect::<Vec<_>>();
        let expect = |list: &[&Value]| list.iter().map(|i| id(i).to_string()).collect::<Vec<_>>();
        let cases = [
            (format!("claim_id={}", id(&w.claim)), expect(&[&b, &a])),
            (format!("claim_id={}", id(&other_claim)), expect(&[&d, &c])),
            (format!("source_id={}", id(&w.source)), expect(&[&c, &a])),
            (format!("speaker_id={}", id(&w.speaker)), expect(&[&c, &a])),
            (format!("speaker_id={}", id(&other_speaker)), expect(&[&b])),
            (format!("cited_source_id={}", id(&w.source)), expect(&[&b])),
            (format!("cited_source_id={}", id(&w.empty_source)), expect(&[&c])),
            (format!("claim_id={}&source_id={}", id(&other_claim), id(&w.empty_source)), expect(&[&d])),
            (format!("claim_id={}&speaker_id={}", id(&w.claim), id(&w.speaker)), expect(&[&a])),
            (format!("cited_source_id={}", id(&w.claim)), vec![]),
            (String::new(), expect(&[&d, &c, &b, &a])),
        ];
        for (query, expected) in cases {
            assert_eq!(ids(app.list_all(&format!("/v1/attributions?{query}")).await), expected, "{query}");
        }
    }

    async fn list_attributions_pages_newest_first_and_link_headers_keep_the_filters(app: TestApp) {
        let w = world(&app).await;
        let other = app.create_claim("Other").await;
        let mut of_claim = Vec::new();
        for i in 0..7 {
            let a = app.create_attribution(json!({"claim_id": w.claim["id"], "source_id": w.source["id"], "mode": "direct", "locator": format!("paragraph {i}")})).await;
            of_claim.push(id(&a).to_string());
            app.create_attribution(json!({"claim_id": other["id"], "source_id": w.source["id"], "mode": "direct"})).await;
        }
        of_claim.reverse();
        let filter = format!("claim_id={}", id(&w.claim));
        contract::pages_hold_every_item_once(&app, "/v1/attributions", Some(&filter), &of_claim).await;
    }

    async fn patch_attribution_merges_checks_the_quote_again_and_null_clears_it(app: TestApp) {
        let w = world(&app).await;
        let attribution = quoted(&app, &w, &w.source, json!({"exact": "the north is lost"})).await;
        let path = attribution_path(&attribution);
        let changed = contract::merge_patch(&app, &path, &json!({"stance": "denies", "locator": "paragraph 2"}), &["quote_status", "quote_start", "quote_end"]).await;
        assert_eq!(changed["quote_status"], "not_found");

        let requoted = read_json(app.patch(&path, 2, &json!({"quote": {"exact": "Bamako’s streets", "prefix": "“"}})).await, StatusCode::OK).await;
        assert_eq!(requoted["quote_status"], "verified");
        assert_eq!(requoted["quote_start"].as_i64(), Some(char_span(ARTICLE, "Bamako’s streets", 0).0));
        let moved = read_json(app.patch(&path, 3, &json!({"source_id": w.empty_source["id"]})).await, StatusCode::OK).await;
        assert_eq!((&moved["quote_status"], &moved["quote_start"]), (&json!("unchecked"), &Value::Null));
        let cleared = read_json(app.patch(&path, 4, &json!({"quote": null, "locator": null})).await, StatusCode::OK).await;
        for field in ["quote", "quote_status", "quote_start", "quote_end", "locator"] {
            assert_eq!(cleared[field], Value::Null, "{field}");
        }
        assert_eq!(cleared["stance"], "denies");

        let refused = problem(app.patch(&path, 5, &json!({"mode": "citation"})).await, 422).await;
        assert_eq!(error_fields(&refused), ["cited_source_id"]);
        let refused = problem(app.patch(&path, 5, &json!({"claim_id": uuid::Uuid::now_v7(), "cited_source_id": uuid::Uuid::now_v7()})).await, 422).await;
        assert_eq!(error_fields(&refused), ["claim_id", "cited_source_id"]);
        let refused = problem(app.patch(&path, 5, &json!({"claim_id": null})).await, 422).await;
        assert_eq!(error_fields(&refused), ["claim_id"]);
        assert_eq!(read_json(app.get(&path).await, StatusCode::OK).await, cleared);
    }

    async fn get_attribution_answers_its_etag_and_304_when_if_none_match_names_it(app: TestApp) {
        let w = world(&app).await;
        let attribution = quoted(&app, &w, &w.source, json!({"exact": "quiet"})).await;
        let path = attribution_path(&attribution);
        assert_eq!(app.patch(&path, 1, &json!({"stance": "questions"})).await.status(), StatusCode::OK);
        contract::conditional_get(&app, &path).await;
    }

    async fn delete_attribution_needs_if_match_and_then_it_is_gone(app: TestApp) {
        let w = world(&app).await;
        let attribution = quoted(&app, &w, &w.source, json!({"exact": "quiet"})).await;
        contract::delete(&app, &attribution_path(&attribution)).await;
        assert_eq!(read_json(app.get(&format!("/v1/claims/{}", id(&w.claim))).await, StatusCode::OK).await["attributions"], json!([]));
        contract::delete(&app, &format!("/v1/sources/{}", id(&w.source))).await;
    }

    async fn attribution_ids_that_are_unknown_or_not_uuids_are_404(app: TestApp) {
        contract::unknown_ids(&app, "/v1/attributions").await;
    }

    async fn wrong_methods_on_attribution_paths_are_405_with_allow(app: TestApp) {
        let w = world(&app).await;
        let attribution = quoted(&app, &w, &w.source, json!({"exact": "quiet"})).await;
        contract::wrong_methods(&app, "/v1/attributions", id(&attribution)).await;
    }
}

async fn body_version(app: &TestApp, claim: &Value) -> i64 {
    read_json(app.get(&format!("/v1/claims/{}", id(claim))).await, StatusCode::OK).await["version"].as_i64().unwrap()
}
