use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::Connection;
use diesel::connection::InstrumentationEvent;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::contract::{self, id, read_json};
use crate::helpers::{TestApp, error_fields, problem};
use crate::on_both_backends;

fn claim_path(claim: &Value) -> String {
    format!("/v1/claims/{}", id(claim))
}

/// The card's version after each change to the claim's attributions.
async fn card_version(app: &TestApp, claim: &Value) -> i64 {
    let response = app.get(&claim_path(claim)).await;
    let etag = contract::header(&response, "etag");
    let card = read_json(response, StatusCode::OK).await;
    assert_eq!(etag, format!("\"{}\"", card["version"]));
    card["version"].as_i64().unwrap()
}

/// Statements the claim card of `claim_id` costs, counted by diesel's
/// instrumentation on a connection of the test's own pool.
async fn statements_for_card(app: &TestApp, claim_id: String) -> (usize, Value) {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            // The card's queries; not the transaction around them (SQLite).
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                let sql = query.to_string();
                if !["BEGIN", "ROLLBACK", "COMMIT"].iter().any(|word| sql.starts_with(word)) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let card = claimtrail::card::load(&mut conn, &claim_id.parse().expect("a claim id")).expect("the card");
        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
        (count.load(Ordering::SeqCst), serde_json::to_value(card).expect("a JSON card"))
    })
    .await
    .expect("the blocking task")
}

/// A claim with `n` attributions, each in its own published source, said
/// by its own speaker and citing its own upstream source.
async fn claim_with_attributions(app: &TestApp, n: usize) -> Value {
    let claim = app.create_claim(&format!("A claim stated {n} times.")).await;
    for i in 0..n {
        let publisher = app.create_agent(&format!("Outlet {i}")).await;
        let source = app.create("/v1/sources", json!({"kind": "article", "title": format!("Story {i}"), "publisher_id": publisher["id"], "content": format!("Officials said the claim {i}.")})).await;
        let upstream = app.create_source(&format!("Upstream {i}"), None).await;
        let speaker = app.create("/v1/agents", json!({"kind": "person", "name": format!("Official {i}")})).await;
        app.create_attribution(json!({
            "claim_id": claim["id"], "source_id": source["id"], "speaker_id": speaker["id"], "mode": "citation",
            "cited_source_id": upstream["id"], "quote": {"exact": format!("the claim {i}")}
        }))
        .await;
    }
    claim
}

on_both_backends! {
    async fn create_claim_returns_201_with_defaults_and_the_card_shows_it(app: TestApp) {
        let claim = contract::created(app.post("/v1/claims", &json!({"text": "Mali's junta has lost control of the north."})).await, "/v1/claims").await;
        assert_eq!(claim["kind"], "statement");
        assert_eq!(claim["status"], "unreviewed");
        assert_eq!(claim["tags"], json!([]));
        for field in ["subject", "quantity", "period_start", "period_end", "place", "language"] {
            assert_eq!(claim[field], Value::Null, "{field}");
        }
        let card = read_json(app.get(&claim_path(&claim)).await, StatusCode::OK).await;
        assert_eq!((&card["attributions"], &card["reviews"]), (&json!([]), &json!([])), "a new claim has neither");
        assert_eq!(contract::without(&card, &["attributions", "reviews", "stated_on"]), claim);
    }

    async fn create_claim_stores_every_field_and_drops_repeated_tags(app: TestApp) {
        let sent = json!({
            "text": "The death toll from Mali's insurgency since 2012 has exceeded 17,700.",
            "kind": "quantity", "subject": "Deaths in Mali's insurgency since 2012",
            "quantity": {"value": 17700.0, "upper": null, "unit": "deaths", "comparator": "gt"},
            "period_start": "2012", "period_end": "2025-11-18", "place": "Mali",
            "tags": ["sahel", "insurgency", "sahel", "death-toll", "insurgency"], "status": "supported", "language": "en"
        });
        let claim = contract::created(app.post("/v1/claims", &sent).await, "/v1/claims").await;
        for (field, value) in sent.as_object().unwrap() {
            if field != "tags" {
                assert_eq!(&claim[field], value, "{field}");
            }
        }
        let tags: Vec<&str> = claim["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(tags.iter().collect::<BTreeSet<_>>(), BTreeSet::from([&"death-toll", &"insurgency", &"sahel"]));
        assert_eq!(tags.len(), 3, "repeated tags are dropped: {tags:?}");
        let card = read_json(app.get(&claim_path(&claim)).await, StatusCode::OK).await;
        assert_eq!(contract::without(&card, &["attributions", "reviews", "stated_on"]), claim, "the card shows what the create answered");
    }

    async fn create_claim_checks_quantities(app: TestApp) {
        let cases = [
            (json!({"value": 10, "unit": "deaths", "comparator": "between"}), "quantity.upper"),
            (json!({"value": 10, "upper": 5, "unit": "deaths", "comparator": "between"}), "quantity.upper"),
            (json!({"value": 10, "upper": 20, "unit": "deaths", "comparator": "gt"}), "quantity.upper"),
            (json!({"value": 10, "unit": "", "comparator": "eq"}), "quantity.unit"),
            (json!({"value": "ten", "unit": "deaths", "comparator": "eq"}), "quantity.value"),
            (json!({"value": 10, "unit": "deaths", "comparator": "about"}), "quantity.comparator"),
            (json!({"value": 10, "unit": "deaths", "comparator": "eq", "confidence": 1}), "quantity"),
            (json!({"value": 10, "comparator": "eq"}), "quantity"),
        ];
        for (quantity, field) in cases {
            let body = problem(app.post("/v1/claims", &json!({"text": "x", "kind": "quantity", "quantity": quantity})).await, 422).await;
            let fields = error_fields(&body);
            assert!(fields.len() == 1 && fields[0].starts_with(field), "{quantity} answered {body}");
        }
        let between = app.create("/v1/claims", json!({"text": "Between 10 and 20 died.", "quantity": {"value": 10, "upper": 20, "unit": "deaths", "comparator": "between"}})).await;
        assert_eq!(between["quantity"], json!({"value": 10.0, "upper": 20.0, "unit": "deaths", "comparator": "between"}));
        assert_eq!(app.list_all("/v1/claims").await.len(), 1);
    }

    async fn create_claim_checks_periods_text_length_and_tags(app: TestApp) {
        let cases = [
            (json!({"text": "x", "period_start": "2025-03", "period_end": "2025-02-28"}), "period_end"),
            (json!({"text": "x", "period_start": "2025", "period_end": "2024"}), "period_end"),
            (json!({"text": "x", "period_start": "2025-13"}), "period_start"),
            (json!({"text": "x", "period_end": "2025-02-30"}), "period_end"),
            (json!({"text": "é".repeat(5001)}), "text"),
            (json!({"text": ""}), "text"),
            (json!({"text": "  "}), "text"),
            (json!({"text": "x", "tags": (0..51).map(|i| format!("t{i}")).collect::<Vec<_>>()}), "tags"),
            (json!({"text": "x", "tags": ["ok", "t".repeat(101)]}), "tags[1]"),
            (json!({"text": "x", "tags": "mali"}), "tags"),
            (json!({"text": "x", "status": "true"}), "status"),
            (json!({"text": "x", "kind": "rumour"}), "kind"),
            (json!({"text": "x", "language": "en_GB"}), "language"),
        ];
        for (sent, field) in cases {
            let body = problem(app.post("/v1/claims", &sent).await, 422).await;
            assert_eq!(error_fields(&body), [field], "{body}");
        }
        assert!(app.list_all("/v1/claims").await.is_empty());
        for sent in [
            json!({"text": "é".repeat(5000)}),
            json!({"text": "x", "period_start": "2025", "period_end": "2025-03"}),
            json!({"text": "x", "period_start": "2025-02-01", "period_end": "2025-02"}),
            json!({"text": "x", "tags": (0..50).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
        ] {
            app.create("/v1/claims", sent).await;
        }
    }

    async fn create_claim_keeps_a_client_chosen_id_and_refuses_it_twice(app: TestApp) {
        contract::client_ids(&app, "/v1/claims", json!({"text": "Barrick will pay Mali $430 million."})).await;
    }

    async fn get_claim_answers_its_etag_and_304_when_if_none_match_names_it(app: TestApp) {
        let claim = app.create_claim("x").await;
        assert_eq!(app.patch(&claim_path(&claim), 1, &json!({"place": "Mali"})).await.status(), StatusCode::OK);
        contract::conditional_get(&app, &claim_path(&claim)).await;
    }

    async fn list_claims_pages_newest_first_with_link_headers(app: TestApp) {
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(id(&app.create_claim(&format!("Claim {i}")).await).to_string());
        }
        ids.reverse();
        contract::pages_hold_every_item_once(&app, "/v1/claims", None, &ids).await;
    }

    async fn the_claim_card_embeds_attributions_with_source_publisher_speaker_and_cited_source(app: TestApp) {
        let guardian = app.create_agent("The Guardian").await;
        let acss = app.create_agent("Africa Center for Strategic Studies").await;
        let analyst = app.create("/v1/agents", json!({"kind": "person", "name": "Ulf Laessing", "description": "head of the Sahel programme"})).await;
        let article = app.create("/v1/sources", json!({"kind": "article", "title": "JNIM brings Mali to its knees", "publisher_id": guardian["id"], "published_on": "2025-11", "url": "https://www.theguardian.com/x"})).await;
        let data = app.create("/v1/sources", json!({"kind": "dataset", "title": "Fatalities in the Sahel", "publisher_id": acss["id"]})).await;
        let claim = app.create_claim("Deaths exceeded 17,700.").await;
        let quoted = app.create_attribution(json!({"claim_id": claim["id"], "source_id": article["id"], "speaker_id": analyst["id"], "mode": "quote", "locator": "paragraph 14"})).await;
        let cited = app.create_attribution(json!({"claim_id": claim["id"], "source_id": article["id"], "mode": "citation", "cited_source_id": data["id"], "stance": "questions"})).await;
        let other_claim = app.create_claim("Unrelated.").await;
        app.create_attribution(json!({"claim_id": other_claim["id"], "source_id": data["id"], "mode": "direct"})).await;

        let card = read_json(app.get(&claim_path(&claim)).await, StatusCode::OK).await;
        let attributions = card["attributions"].as_array().unwrap();
        assert_eq!(attributions.len(), 2, "only this claim's attributions: {card}");
        let stored_quoted = read_json(app.get(&format!("/v1/attributions/{}", id(&quoted))).await, StatusCode::OK).await;
        assert_eq!(contract::without(&attributions[0], &["source", "speaker", "cited_source"]), stored_quoted);
        assert_eq!(attributions[0]["source"], json!({
            "id": article["id"], "kind": "article", "title": "JNIM brings Mali to its knees", "url": "https://www.theguardian.com/x",
            "published_on": "2025-11",
            "publisher": {"id": guardian["id"], "kind": "organization", "name": "The Guardian", "description": null, "anonymous": false}
        }));
        assert_eq!(attributions[0]["speaker"], json!({"id": analyst["id"], "kind": "person", "name": "Ulf Laessing", "description": "head of the Sahel programme", "anonymous": false}));
        assert_eq!(attributions[0]["cited_source"], Value::Null);
        assert_eq!(attributions[1]["id"], cited["id"]);
        assert_eq!(attributions[1]["stance"], "questions");
        assert_eq!(attributions[1]["speaker"], Value::Null);
        assert_eq!(attributions[1]["cited_source"]["title"], "Fatalities in the Sahel");
        assert_eq!(attributions[1]["cited_source"]["publisher"]["name"], "Africa Center for Strategic Studies");
    }

    async fn the_claim_card_costs_the_same_statements_with_1_or_30_attributions(app: TestApp) {
        let one = claim_with_attributions(&app, 1).await;
        let thirty = claim_with_attributions(&app, 30).await;
        let (for_one, card) = statements_for_card(&app, id(&one).to_string()).await;
        assert_eq!(card["attributions"].as_array().unwrap().len(), 1);
        let (for_thirty, card) = statements_for_card(&app, id(&thirty).to_string()).await;
        let attributions = card["attributions"].as_array().unwrap();
        assert_eq!(attributions.len(), 30);
        assert!(attributions.iter().all(|a| a["source"]["publisher"].is_object() && a["speaker"].is_object() && a["cited_source"].is_object()));
        let backend = app.backend;
        assert_eq!(for_one, for_thirty, "on {backend:?}, the card's statements grow with its attributions");
        // PostgreSQL reads the card in one statement (one round trip).
        let most = if backend == claimtrail::db::Backend::Postgres { 1 } else { 5 };
        assert!(for_one <= most, "on {backend:?}, a card takes {for_one} statements");
    }

    async fn a_claim_version_grows_when_its_attributions_are_created_changed_or_deleted(app: TestApp) {
        let claim = app.create_claim("x").await;
        let source = app.create_source("s", None).await;
        assert_eq!(card_version(&app, &claim).await, 1);
        let attribution = app.create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "direct"})).await;
        assert_eq!(card_version(&app, &claim).await, 2);
        let path = format!("/v1/attributions/{}", id(&attribution));
        assert_eq!(app.patch(&path, 1, &json!({"stance": "denies"})).await.status(), StatusCode::OK);
        assert_eq!(card_version(&app, &claim).await, 3);
        problem(app.patch(&claim_path(&claim), 2, &json!({"status": "refuted"})).await, 412).await;

        let other = app.create_claim("y").await;
        assert_eq!(app.patch(&path, 2, &json!({"claim_id": other["id"]})).await.status(), StatusCode::OK);
        assert_eq!(card_version(&app, &claim).await, 4, "the claim it left changed");
        assert_eq!(card_version(&app, &other).await, 2, "the claim it joined changed");
        assert_eq!(app.delete(&path, 3).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(card_version(&app, &other).await, 3);
        assert_eq!(card_version(&app, &claim).await, 4);
    }

    async fn a_claim_card_changes_version_when_a_source_or_agent_it_shows_changes_what_it_shows(app: TestApp) {
        let publisher = app.create_agent("Africanews").await;
        let speaker = app.create("/v1/agents", json!({"kind": "person", "name": "A minister"})).await;
        let cited_publisher = app.create_agent("Business Insider Africa").await;
        let article = app.create("/v1/sources", json!({"kind": "article", "title": "Mali on edge", "publisher_id": publisher["id"]})).await;
        let cited = app.create("/v1/sources", json!({"kind": "article", "title": "Barrick pays", "publisher_id": cited_publisher["id"]})).await;
        let quoted = app.create_claim("quoted").await;
        app.create_attribution(json!({"claim_id": quoted["id"], "source_id": article["id"], "speaker_id": speaker["id"], "mode": "quote"})).await;
        let citing = app.create_claim("citing").await;
        app.create_attribution(json!({"claim_id": citing["id"], "source_id": article["id"], "mode": "citation", "cited_source_id": cited["id"]})).await;
        let bystander = app.create_claim("unrelated").await;
        let versions = || async { (card_version(&app, &quoted).await, card_version(&app, &citing).await, card_version(&app, &bystander).await) };
        assert_eq!(versions().await, (2, 2, 1));

        // A change the cards do not show (the source's language) leaves them.
        let article_path = format!("/v1/sources/{}", id(&article));
        assert_eq!(app.patch(&article_path, 1, &json!({"language": "en"})).await.status(), StatusCode::OK);
        assert_eq!(versions().await, (2, 2, 1));
        // The stated source's title is on both cards.
        assert_eq!(app.patch(&article_path, 2, &json!({"title": "Mali is on edge"})).await.status(), StatusCode::OK);
        assert_eq!(versions().await, (3, 3, 1));
        // The cited source is on the citing card only, so is its publisher.
        let cited_path = format!("/v1/sources/{}", id(&cited));
        assert_eq!(app.patch(&cited_path, 1, &json!({"url": "https://example.org/barrick"})).await.status(), StatusCode::OK);
        assert_eq!(versions().await, (3, 4, 1));
        let cited_publisher_path = format!("/v1/agents/{}", id(&cited_publisher));
        assert_eq!(app.patch(&cited_publisher_path, 1, &json!({"name": "Business Insider"})).await.status(), StatusCode::OK);
        assert_eq!(versions().await, (3, 5, 1));
        // The speaker is on the quoting card; the publisher on both.
        let speaker_path = format!("/v1/agents/{}", id(&speaker));
        assert_eq!(app.patch(&speaker_path, 1, &json!({"anonymous": true})).await.status(), StatusCode::OK);
        assert_eq!(versions().await, (4, 5, 1));
        let publisher_path = format!("/v1/agents/{}", id(&publisher));
        assert_eq!(app.patch(&publisher_path, 1, &json!({"description": "Pan-African news channel"})).await.status(), StatusCode::OK);
        assert_eq!(versions().await, (5, 6, 1));

        // So a cached card is not answered 304 once its summaries changed.
        let response = app.anonymous(Method::GET, &claim_path(&quoted)).header("if-none-match", "\"4\"").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let card: Value = response.json().await.unwrap();
        assert_eq!(card["attributions"][0]["source"]["publisher"]["description"], "Pan-African news channel");
    }

    async fn patch_claim_merges_needs_if_match_and_null_clears_an_optional_field(app: TestApp) {
        let claim = app.create("/v1/claims", json!({
            "text": "Barrick will pay Mali $430 million.", "kind": "quantity", "subject": "Barrick settlement",
            "quantity": {"value": 430000000, "unit": "USD", "comparator": "eq"}, "tags": ["mining"], "place": "Mali"
        })).await;
        let path = claim_path(&claim);
        let changed = contract::merge_patch(&app, &path, &json!({"status": "supported", "tags": ["barrick", "mining"]}), &[]).await;
        assert_eq!(changed["quantity"]["value"], 430000000.0);

        let merged = read_json(app.patch(&path, 2, &json!({"quantity": {"comparator": "approx"}})).await, StatusCode::OK).await;
        assert_eq!(merged["quantity"], json!({"value": 430000000.0, "upper": null, "unit": "USD", "comparator": "approx"}), "RFC 7396 merges nested objects");
        let cleared = read_json(app.patch(&path, 3, &json!({"quantity": null, "subject": null, "tags": ["mining", "mining"]})).await, StatusCode::OK).await;
        assert_eq!(cleared["quantity"], Value::Null);
        assert_eq!(cleared["subject"], Value::Null);
        assert_eq!(cleared["tags"], json!(["mining"]));
        assert_eq!(cleared["place"], "Mali");
        assert_eq!(cleared["version"], 4);

        let invalid = problem(app.patch(&path, 4, &json!({"period_start": "2025", "period_end": "2024-12"})).await, 422).await;
        assert_eq!(error_fields(&invalid), ["period_end"]);
        let invalid = problem(app.patch(&path, 4, &json!({"quantity": {"value": 1, "unit": "USD", "comparator": "between"}})).await, 422).await;
        assert_eq!(error_fields(&invalid), ["quantity.upper"]);
        let invalid = problem(app.patch(&path, 4, &json!({"text": null})).await, 422).await;
        assert_eq!(error_fields(&invalid), ["text"]);
        let card = read_json(app.get(&path).await, StatusCode::OK).await;
        assert_eq!(contract::without(&card, &["attributions", "reviews", "stated_on"]), cleared);
    }

    async fn delete_claim_needs_if_match_and_then_it_is_gone(app: TestApp) {
        let claim = app.create("/v1/claims", json!({"text": "x", "tags": ["a", "b"]})).await;
        contract::delete(&app, &claim_path(&claim)).await;
        let again = app.create("/v1/claims", json!({"id": claim["id"], "text": "x", "tags": ["a"]})).await;
        assert_eq!(again["tags"], json!(["a"]), "the deleted claim's tags went with it");
    }

    async fn delete_claim_returns_409_while_attributions_refer_to_it(app: TestApp) {
        let claim = app.create_claim("x").await;
        let source = app.create_source("s", None).await;
        app.create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "direct"})).await;
        contract::delete_refused_while_referenced(&app, &claim_path(&claim), "attributions (claim_id)").await;
    }

    async fn claim_ids_that_are_unknown_or_not_uuids_are_404(app: TestApp) {
        contract::unknown_ids(&app, "/v1/claims").await;
    }

    async fn wrong_methods_on_claim_paths_are_405_with_allow(app: TestApp) {
        let claim = app.create_claim("x").await;
        contract::wrong_methods(&app, "/v1/claims", id(&claim)).await;
    }
}

/// PostgreSQL's card, read in one statement as JSON, is the card the five
/// separate reads give, field for field: numbers, dates, timestamps,
/// Unicode, tags, quotes, cited sources, speakers, publishers with
/// aliases, and published and draft reviews; and its rows are the rows
/// the per-table reads give, timestamps included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_card_in_one_statement_is_the_card_of_five_reads() {
    let app = crate::helpers::spawn_app(claimtrail::db::Backend::Postgres).await;
    let outlet = app.create("/v1/agents", json!({"kind": "organization", "name": "Le Monde — Afrique", "aliases": ["LM", "Le Monde"], "url": "https://lemonde.fr"})).await;
    let analyst = app
        .create(
            "/v1/agents",
            json!({"kind": "person", "name": "Ulf Laessing", "description": "Sahel \"programme\" head"}),
        )
        .await;
    let source = app.create("/v1/sources", json!({"kind": "article", "title": "Mali: l'État et les mines", "publisher_id": outlet["id"], "published_on": "2025-11-18", "language": "fr", "content": "Barrick paiera 430 millions de dollars au Mali, selon le ministre."})).await;
    let upstream =
        app.create("/v1/sources", json!({"kind": "dataset", "title": "ACLED", "published_on": "2024"})).await;
    let claim = app.create("/v1/claims", json!({"text": "Barrick will pay Mali $430 million — “in full”.", "subject": "Barrick",
        "quantity": {"value": 1e-30, "upper": 123.45678901234568, "unit": "USD", "comparator": "between"},
        "period_start": "2025", "period_end": "2025-11", "place": "Bamako", "language": "en", "tags": ["mining", "gold", "Mali"]})).await;
    app.create_attribution(
        json!({"claim_id": claim["id"], "source_id": source["id"], "speaker_id": analyst["id"], "mode": "quote",
        "quote": {"exact": "430 millions de dollars"}, "locator": "§2", "stated_on": "2025-11-17"}),
    )
    .await;
    app.create_attribution(json!({"claim_id": claim["id"], "source_id": source["id"], "mode": "citation", "cited_source_id": upstream["id"], "stance": "questions"})).await;
    let desk = app.create_agent("Fact-check desk").await;
    for (status, label, reviewer) in [("published", "Mostly true", &outlet), ("draft", "False", &desk)] {
        app.create("/v1/reviews", json!({"claim_id": claim["id"], "reviewer_id": reviewer["id"], "author_id": analyst["id"], "rating": {"label": label, "value": 2.5, "best": 5, "worst": 1}, "summary": "Vérifié.", "url": "https://example.org/check", "published_on": "2025-12", "status": status})).await;
    }
    let claim_id: claimtrail::ids::ClaimId = claim["id"].as_str().unwrap().parse().unwrap();
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        for drafts in [false, true] {
            let one = claimtrail::card::load_with(&mut conn, &claim_id, drafts).expect("the card in one statement");
            let five = claimtrail::card::read(&mut conn, &claim_id, drafts).expect("the card in five reads");
            assert_eq!(one.reviews.len(), if drafts { 2 } else { 1 });
            assert_eq!(one.attributions.len(), 2);
            assert_eq!(serde_json::to_value(&one).unwrap(), serde_json::to_value(&five).unwrap());
            // The rows themselves, fields the card does not show included.
            let parts = claimtrail::card::parts_in_one_statement(&mut conn, &claim_id, drafts).expect("the parts");
            let ids = std::slice::from_ref(&claim_id);
            assert_eq!(parts.attributions, claimtrail::attributions::store::of_claims(&mut conn, ids).unwrap());
            assert_eq!(parts.reviews, claimtrail::reviews::store::of_claims(&mut conn, ids, drafts).unwrap());
            let claim = claimtrail::claims::store::get(&mut conn, &claim_id).unwrap();
            assert_eq!(serde_json::to_value(&parts.claim).unwrap(), serde_json::to_value(&claim).unwrap());
        }
        let quantity = claimtrail::claims::store::get(&mut conn, &claim_id).unwrap().quantity.expect("a figure");
        assert_eq!((quantity.value, quantity.upper), (1e-30, Some(123.45678901234568)));
        // A date stored by something else, that a create would refuse, is
        // read as stored, as diesel reads it.
        {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE sources SET published_on = '2025-13' WHERE title = 'ACLED'")
                .execute(&mut conn)
                .unwrap();
        }
        let one = claimtrail::card::load(&mut conn, &claim_id).expect("the card with an odd stored date");
        let five = claimtrail::card::read(&mut conn, &claim_id, false).expect("the card in five reads");
        assert_eq!(serde_json::to_value(&one).unwrap(), serde_json::to_value(&five).unwrap());
        assert!(serde_json::to_string(&one).unwrap().contains("\"2025-13\""));
        let missing = claimtrail::ids::ClaimId::generate();
        assert!(matches!(
            claimtrail::card::load(&mut conn, &missing),
            Err(claimtrail::db::write::StoreError::NotFound(_))
        ));
    })
    .await
    .expect("the blocking task");
}
