//! Full-text search (`q`): what it finds, its syntax, inputs that must not
//! break it, snippets, relevance, and the same answers on both backends.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::claims_list::{ids_of, pages};
use crate::helpers::{TestApp, error_fields, problem, spawn_app};
use crate::on_both_backends;

/// Form-encodes a query value.
fn enc(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn search(app: &TestApp, q: &str) -> BTreeSet<String> {
    ids_of(app, &format!("/v1/claims?q={}", enc(q))).await
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_string()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// On SQLite, FTS5's own check that its index holds exactly what
/// `claim_documents` holds: a trigger that told the index a wrong old value
/// would show here.
fn assert_search_index_consistent(app: &TestApp) {
    use diesel::RunQueryDsl;
    if app.backend == claimtrail::db::Backend::Sqlite {
        let mut conn = app.db.get().expect("a connection");
        diesel::sql_query("INSERT INTO claims_fts (claims_fts, rank) VALUES ('integrity-check', 1)")
            .execute(&mut *conn)
            .expect("the full-text index matches its documents");
    }
}

on_both_backends! {
    async fn words_are_found_in_the_text_the_subject_and_the_quotes(app: TestApp) {
        let source = id(&app.create_source("Guardian report", None).await);
        let in_text = id(&app.create_claim("JNIM is blockading fuel supplies in Mali.").await);
        let in_subject = id(&app.create("/v1/claims", json!({"text": "Queues at every station.", "subject": "The fuel shortage"})).await);
        let in_quote = id(&app.create_claim("Supplies to the capital are disrupted.").await);
        app.create_attribution(json!({"claim_id": in_quote, "source_id": source, "mode": "direct",
            "quote": {"exact": "fighters have blocked key routes used by fuel tankers"}})).await;
        let elsewhere = id(&app.create_claim("Gold exports rose.").await);

        assert_eq!(search(&app, "fuel").await, set(&[&in_text, &in_subject, &in_quote]));
        assert_eq!(search(&app, "tankers").await, set(&[&in_quote]));
        assert_eq!(search(&app, "gold").await, set(&[&elsewhere]));
        // Every word must occur, in any field and any order.
        assert_eq!(search(&app, "mali fuel").await, set(&[&in_text]));
        assert_eq!(search(&app, "shortage station").await, set(&[&in_subject]));
        assert_eq!(search(&app, "fuel capital").await, set(&[&in_quote]));
        assert!(search(&app, "fuel gold").await.is_empty());
    }

    async fn a_quoted_phrase_needs_its_words_adjacent_and_in_order(app: TestApp) {
        let phrase = id(&app.create_claim("JNIM's fuel blockade of Mali tightened.").await);
        let apart = id(&app.create_claim("The blockade cut fuel supplies.").await);
        let hyphen = id(&app.create_claim("A fuel-blockade is in place.").await);
        assert_eq!(search(&app, "fuel blockade").await, set(&[&phrase, &apart, &hyphen]));
        assert_eq!(search(&app, "\"fuel blockade\"").await, set(&[&phrase, &hyphen]));
        assert_eq!(search(&app, "\"blockade fuel\"").await, BTreeSet::new());
        assert_eq!(search(&app, "\"blockade cut\" supplies").await, set(&[&apart]));
        // Words joined by punctuation are a phrase of their parts.
        assert_eq!(search(&app, "fuel-blockade").await, set(&[&phrase, &hyphen]));
    }

    async fn a_phrase_does_not_run_from_the_text_into_the_subject(app: TestApp) {
        app.create("/v1/claims", json!({"text": "Prices rose on fuel", "subject": "Blockade effects"})).await;
        assert_eq!(search(&app, "fuel blockade").await.len(), 1);
        assert!(search(&app, "\"fuel blockade\"").await.is_empty());
    }

    async fn a_trailing_star_finds_every_word_starting_so(app: TestApp) {
        let jihadist = id(&app.create_claim("A jihadist group seized the town.").await);
        let jihadists = id(&app.create_claim("Jihadists attacked a convoy.").await);
        let jihad = id(&app.create_claim("They called for jihad.").await);
        app.create_claim("The junta denied it.").await;
        assert_eq!(search(&app, "jihad*").await, set(&[&jihadist, &jihadists, &jihad]));
        assert_eq!(search(&app, "jihadi*").await, set(&[&jihadist, &jihadists]));
        assert_eq!(search(&app, "jihad").await, set(&[&jihad]));
        assert_eq!(search(&app, "\"jihadist gr\"*").await, set(&[&jihadist]));
    }

    async fn case_and_accents_do_not_matter(app: TestApp) {
        let menaka = id(&app.create_claim("Fighting near Ménaka displaced thousands.").await);
        let goita = id(&app.create_claim("Assimi GOÏTA was sworn in.").await);
        assert_eq!(search(&app, "menaka").await, set(&[&menaka]));
        assert_eq!(search(&app, "MÉNAKA").await, set(&[&menaka]));
        assert_eq!(search(&app, "goita").await, set(&[&goita]));
        assert_eq!(search(&app, "Goïta sworn").await, set(&[&goita]));
    }

    async fn the_search_index_follows_every_write(app: TestApp) {
        let source = id(&app.create_source("Report", None).await);
        let claim = app.create_claim("Convoys were attacked.").await;
        let claim_id = id(&claim);
        assert_eq!(search(&app, "convoys").await, set(&[&claim_id]));

        let patched: Value = app.patch(&format!("/v1/claims/{claim_id}"), 1, &json!({"text": "Tankers were burned.", "subject": "Logistics"})).await.json().await.unwrap();
        assert!(search(&app, "convoys").await.is_empty());
        assert_eq!(search(&app, "tankers logistics").await, set(&[&claim_id]));

        let attribution = app.create_attribution(json!({"claim_id": claim_id, "source_id": source, "mode": "direct",
            "quote": {"exact": "drivers refused to travel"}})).await;
        assert_eq!(search(&app, "drivers").await, set(&[&claim_id]));
        let second = app.create_attribution(json!({"claim_id": claim_id, "source_id": id(&app.create_source("Other", None).await),
            "mode": "direct", "quote": {"exact": "checkpoints everywhere"}})).await;
        assert_eq!(search(&app, "drivers checkpoints").await, set(&[&claim_id]));

        let attribution_id = id(&attribution);
        let response = app.patch(&format!("/v1/attributions/{attribution_id}"), 1, &json!({"quote": {"exact": "roads were mined"}})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(search(&app, "drivers").await.is_empty());
        assert_eq!(search(&app, "mined").await, set(&[&claim_id]));

        // Moving an attribution to another claim moves its quote.
        let other = id(&app.create_claim("Another claim.").await);
        let response = app.patch(&format!("/v1/attributions/{attribution_id}"), 2, &json!({"claim_id": other})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(search(&app, "mined").await, set(&[&other]));

        assert_eq!(app.delete(&format!("/v1/attributions/{}", id(&second)), 1).await.status(), StatusCode::NO_CONTENT);
        assert!(search(&app, "checkpoints").await.is_empty());
        assert_eq!(search(&app, "tankers").await, set(&[&claim_id]));

        let version = app.get(&format!("/v1/claims/{claim_id}")).await.json::<Value>().await.unwrap()["version"].as_i64().unwrap();
        assert!(version > patched["version"].as_i64().unwrap());
        assert_eq!(app.delete(&format!("/v1/claims/{claim_id}"), version).await.status(), StatusCode::NO_CONTENT);
        assert!(search(&app, "tankers").await.is_empty());
        assert_search_index_consistent(&app);
    }

    async fn searches_with_filters_follow_writes_to_tags_attributions_and_publishers(app: TestApp) {
        let guardian = id(&app.create_agent("The Guardian").await);
        let france24 = id(&app.create_agent("France 24").await);
        let speaker = id(&app.create("/v1/agents", json!({"kind": "person", "name": "Ulf Laessing"})).await);
        let source = app.create("/v1/sources", json!({"kind": "article", "title": "Report", "publisher_id": guardian})).await;
        let source_id = id(&source);
        let other_source = id(&app.create("/v1/sources", json!({"kind": "article", "title": "Other"})).await);
        let claim = app.create("/v1/claims", json!({"text": "Fuel convoys were attacked.", "tags": ["fuel"]})).await;
        let claim_id = id(&claim);
        app.create_claim("Fuel prices rose.").await;
        let found = |query: String| {
            let app = &app;
            async move { ids_of(app, &format!("/v1/claims?q=fuel&{query}")).await }
        };
        for sort in ["-created_at", "relevance"] {
            assert_eq!(found(format!("tag=fuel&sort={sort}")).await, set(&[&claim_id]));
            assert!(found(format!("publisher_id={guardian}&sort={sort}")).await.is_empty());
        }

        let attribution = app.create_attribution(json!({"claim_id": claim_id, "source_id": source_id, "mode": "direct", "speaker_id": speaker})).await;
        assert_eq!(found(format!("publisher_id={guardian}")).await, set(&[&claim_id]));
        assert_eq!(found(format!("source_id={source_id}&speaker_id={speaker}&sort=relevance")).await, set(&[&claim_id]));

        // The source changes hands.
        let response = app.patch(&format!("/v1/sources/{source_id}"), 1, &json!({"publisher_id": france24})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(found(format!("publisher_id={guardian}")).await.is_empty());
        assert_eq!(found(format!("publisher_id={france24}&sort=relevance")).await, set(&[&claim_id]));

        // The attribution moves to another source and loses its speaker.
        let response = app.patch(&format!("/v1/attributions/{}", id(&attribution)), 1, &json!({"source_id": other_source, "speaker_id": null})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(found(format!("publisher_id={france24}")).await.is_empty());
        assert!(found(format!("speaker_id={speaker}")).await.is_empty());
        assert_eq!(found(format!("source_id={other_source}")).await, set(&[&claim_id]));

        // Tags change.
        let version = app.get(&format!("/v1/claims/{claim_id}")).await.json::<Value>().await.unwrap()["version"].as_i64().unwrap();
        let response = app.patch(&format!("/v1/claims/{claim_id}"), version, &json!({"tags": ["convoys", "jnim"]})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(found("tag=fuel".into()).await.is_empty());
        assert_eq!(found("tag=jnim".into()).await, set(&[&claim_id]));

        assert_eq!(app.delete(&format!("/v1/attributions/{}", id(&attribution)), 2).await.status(), StatusCode::NO_CONTENT);
        assert!(found(format!("source_id={other_source}")).await.is_empty());
        assert_search_index_consistent(&app);
    }

    async fn whatever_is_typed_the_answer_is_a_200_or_a_400_naming_q(app: TestApp) {
        let source = id(&app.create_source("Report", None).await);
        let claim = id(&app.create_claim("JNIM's \"fuel blockade\" (al-Qaida) hit 17.7% of trucks — see https://example.org/x?y=1 🙂").await);
        app.create_attribution(json!({"claim_id": claim, "source_id": source, "mode": "direct", "quote": {"exact": "Jama’at Nusrat ul-Islam"}})).await;
        let long_words = "word ".repeat(400);
        let cases: Vec<(String, u16)> = vec![
            ("fuel".into(), 200),
            ("\"fuel blockade\"".into(), 200),
            ("\"fuel blockade".into(), 200),
            ("fuel\"".into(), 200),
            ("\"\"\"".into(), 400),
            ("fuel AND blockade".into(), 200),
            ("fuel OR blockade".into(), 200),
            ("NOT fuel".into(), 200),
            ("fuel NEAR/2 blockade".into(), 200),
            ("AND".into(), 400),
            ("AND OR".into(), 200),
            ("*".into(), 400),
            ("f*".into(), 400),
            ("fu*".into(), 200),
            ("*fuel".into(), 200),
            ("fuel**".into(), 200),
            ("-fuel".into(), 200),
            ("fuel -blockade".into(), 200),
            ("+fuel".into(), 200),
            ("text:fuel".into(), 200),
            ("{text subject}: fuel".into(), 200),
            ("^fuel".into(), 200),
            ("(fuel".into(), 200),
            ("fuel)".into(), 200),
            ("fuel' OR 1=1 --".into(), 200),
            ("'; DROP TABLE claims; --".into(), 200),
            ("\\".into(), 400),
            ("fuel\\".into(), 200),
            ("a:*".into(), 200),
            ("fuel & blockade | !trucks <-> x:*".into(), 200),
            ("17.7%".into(), 200),
            ("al-Qaida".into(), 200),
            ("Jama’at".into(), 200),
            ("Ménaka".into(), 200),
            ("Москва".into(), 200),
            ("北京".into(), 200),
            ("🙂".into(), 400),
            ("🙂 fuel 🙂".into(), 200),
            ("\u{0}".into(), 400),
            ("fuel\u{0}blockade".into(), 400),
            ("\u{200b}fuel\u{feff}".into(), 200),
            ("e\u{301}".into(), 200),
            ("%".into(), 400),
            ("_".into(), 400),
            (".".into(), 400),
            ("x".repeat(100), 200),
            ("x".repeat(101), 400),
            ("fuel ".repeat(400), 200),
            (long_words[..2000].to_string(), 200),
            ((0..300).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" "), 400),
            ("y".repeat(2001), 400),
            ("é".repeat(1000), 400),
        ];
        for (q, status) in cases {
            let response = app.get(&format!("/v1/claims?q={}&snippet=true", enc(&q))).await;
            let short: String = q.chars().take(40).collect();
            if status == 200 {
                assert_eq!(response.status(), StatusCode::OK, "q={short:?}: {:?}", response.text().await);
            } else {
                let body = problem(response, 400).await;
                assert_eq!(error_fields(&body), ["q"], "q={short:?}");
            }
        }
        for q in ["\"fuel blockade", "fuel AND blockade", "al-Qaida", "17.7%", "Jama’at", "+fuel", "-fuel", "(fuel"] {
            assert!(!search(&app, q).await.is_empty(), "{q:?} should find the claim");
        }
    }

    async fn snippets_mark_the_matches_in_escaped_text_when_asked(app: TestApp) {
        let source = id(&app.create_source("Report", None).await);
        let text = "Officials said <b>fuel</b> & water ran out after the blockade began in the north of the country last week.";
        let claim = id(&app.create_claim(text).await);
        let quoted = id(&app.create_claim("Drivers stopped.").await);
        app.create_attribution(json!({"claim_id": quoted, "source_id": source, "mode": "direct",
            "quote": {"exact": "no fuel could reach Bamako"}})).await;

        let page: Value = app.get("/v1/claims?q=fuel&snippet=true").await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        let snippet_of = |claim_id: &str| -> String {
            items.iter().find(|c| c["id"] == claim_id).unwrap()["snippet"].as_str().unwrap().to_string()
        };
        let snippet = snippet_of(&claim);
        assert!(snippet.contains("<mark>fuel</mark>"), "{snippet}");
        // SQLite keeps the tag as text, escaped; PostgreSQL's headline drops it.
        assert!(snippet.contains("&amp;") && !snippet.contains("<b>"), "{snippet}");
        let snippet = snippet_of(&quoted);
        assert!(snippet.contains("<mark>fuel</mark>") && snippet.contains("Bamako"), "{snippet}");

        let page: Value = app.get("/v1/claims?q=fuel").await.json().await.unwrap();
        assert!(page["items"].as_array().unwrap().iter().all(|c| c.get("snippet").is_none()));
        let page: Value = app.get("/v1/claims?snippet=true").await.json().await.unwrap();
        assert!(page["items"].as_array().unwrap().iter().all(|c| c.get("snippet").is_none()));
        let page: Value = app.get("/v1/claims?q=water%20blockade&snippet=true&sort=relevance").await.json().await.unwrap();
        let snippet = page["items"][0]["snippet"].as_str().unwrap();
        assert!(snippet.contains("<mark>water</mark>") && snippet.contains("<mark>blockade</mark>"), "{snippet}");
    }

    async fn relevance_puts_the_best_match_first_and_pages_through_every_match_once(app: TestApp) {
        let best = id(&app.create_claim("Blockade, blockade: the blockade tightens.").await);
        let filler = "officials reported that supplies of many goods fell sharply across several regions during the rainy season while";
        let weak = id(&app.create_claim(&format!("{filler} {filler} a blockade was mentioned once.")).await);
        let mut all = vec![best.clone(), weak.clone()];
        for i in 0..7 {
            all.push(id(&app.create_claim(&format!("Blockade report number {i} from the north.")).await));
        }
        app.create_claim("Nothing about it.").await;
        let page: Value = app.get("/v1/claims?q=blockade&sort=relevance").await.json().await.unwrap();
        let order: Vec<String> = page["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(order.first(), Some(&best));
        assert_eq!(order.last(), Some(&weak));
        for limit in [1, 2, 4] {
            let (listed, _) = pages(&app, "/v1/claims?q=blockade&sort=relevance", limit).await;
            assert_eq!(listed, order, "pages of {limit}");
        }
        assert_eq!(order.iter().cloned().collect::<BTreeSet<_>>(), all.into_iter().collect());
    }

    async fn relevance_with_a_filter_that_sets_the_best_matches_aside_still_lists_the_rest_in_order(app: TestApp) {
        // Twenty short claims rank best for "blockade" and are opinions;
        // the three events rank below all of them, each below the one before.
        for i in 0..20 {
            app.create("/v1/claims", json!({"text": format!("Blockade {i}."), "kind": "opinion"})).await;
        }
        let filler = "officials reported that supplies fell across several regions";
        let mut facts = Vec::new();
        for words in 1..=3 {
            let text = format!("{} a blockade was mentioned.", vec![filler; words].join(" "));
            facts.push(id(&app.create("/v1/claims", json!({"text": text, "kind": "event"})).await));
        }
        let path = "/v1/claims?q=blockade&kind=event&sort=relevance";
        for limit in [1, 2, 3, 50] {
            let (listed, _) = pages(&app, path, limit).await;
            assert_eq!(listed, facts, "pages of {limit}");
        }
        let (opinions, _) = pages(&app, "/v1/claims?q=blockade&kind=opinion&sort=relevance", 7).await;
        assert_eq!(opinions.len(), 20);
    }
}

/// On PostgreSQL a claim's rank depends on it and the query only, so paging
/// by relevance is exact even while claims are written between pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relevance_pages_stay_stable_under_writes_on_postgres() {
    let app = spawn_app(claimtrail::db::Backend::Postgres).await;
    let mut before = BTreeSet::new();
    for i in 0..12 {
        let text = format!("{} fuel report {i}", "fuel ".repeat(i % 4));
        before.insert(id(&app.create_claim(&text).await));
    }
    let mut seen = Vec::new();
    let mut next = "/v1/claims?q=fuel&sort=relevance&limit=5".to_string();
    let mut round = 0;
    loop {
        let page: Value = app.get(&next).await.json().await.unwrap();
        seen.extend(page["items"].as_array().unwrap().iter().map(id));
        for j in 0..3 {
            app.create_claim(&format!("{} fuel update {round}-{j}", "fuel ".repeat(j))).await;
        }
        round += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => next = format!("/v1/claims?q=fuel&sort=relevance&limit=5&cursor={cursor}"),
            None => break,
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a claim was listed twice");
    assert!(before.is_subset(&unique), "a claim that existed before paging was skipped");
}

/// Claims of the seed data (and a few made to be awkward), created with the
/// same ids on both backends, then searched with every word they contain,
/// English inflections of many of them, and a list of phrases and
/// prefixes: both backends must find the same claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_query_finds_the_same_claims_on_sqlite_and_postgresql() {
    let sqlite = spawn_app(claimtrail::db::Backend::Sqlite).await;
    let postgres = spawn_app(claimtrail::db::Backend::Postgres).await;
    let seeds: Vec<Value> = serde_json::from_str(include_str!("../../seeds/claims.json")).unwrap();
    let quotes: Vec<Value> = serde_json::from_str(include_str!("../../seeds/attributions.json")).unwrap();
    let mut claims: Vec<Value> = seeds
        .iter()
        .enumerate()
        .map(|(i, seed)| {
            let mut claim = json!({"id": format!("00000000-0000-4000-8000-{i:012}"), "text": seed["text"]});
            if let Some(subject) = seed.get("subject") {
                claim["subject"] = subject.clone();
            }
            claim
        })
        .collect();
    for (i, text) in [
        "Prices rose 17.7% (from $1,200.50) — see https://example.org/fuel-prices?id=3 or mail info@example.org.",
        "L'armée a quitté Ménaka ; « c'est fini », dit-il… Œuvre, naïve, Ægis.",
        "COVID-19 and H5N1 cases: 3,000+ reported; x86_64 builds; e-mail; re-election; co-operation.",
        "Москва и 北京 and emoji 🙂🔥 between words; ½ of 5.",
    ]
    .into_iter()
    .enumerate()
    {
        claims.push(json!({"id": format!("00000000-0000-4000-9000-{i:012}"), "text": text}));
    }
    for app in [&sqlite, &postgres] {
        let source = app
            .create(
                "/v1/sources",
                json!({"id": "00000000-0000-4000-a000-000000000001", "kind": "article", "title": "Seeds"}),
            )
            .await;
        for claim in &claims {
            app.create("/v1/claims", claim.clone()).await;
        }
        for (i, quote) in quotes.iter().enumerate() {
            let (Some(exact), Some(key)) = (quote["quote"]["exact"].as_str(), quote["claim"].as_str()) else {
                continue;
            };
            let Some(index) = seeds.iter().position(|s| s["key"] == key) else { continue };
            app.create_attribution(json!({
                "id": format!("00000000-0000-4000-b000-{i:012}"),
                "claim_id": claims[index]["id"], "source_id": source["id"], "mode": "direct", "quote": {"exact": exact},
            }))
            .await;
        }
    }
    let mut queries: BTreeSet<String> = BTreeSet::new();
    let texts = claims
        .iter()
        .map(|c| c["text"].as_str().unwrap().to_string())
        .chain(quotes.iter().filter_map(|q| q["quote"]["exact"].as_str().map(str::to_string)));
    for text in texts {
        for word in text.split_whitespace() {
            queries.insert(word.to_string());
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.len() >= 3 {
            queries.insert(format!("\"{} {} {}\"", words[0], words[1], words[2]));
            queries.insert(format!("{}*", words[1].chars().take(3).collect::<String>()));
        }
    }
    // English inflections of the seed words, which both backends stem alike.
    let words: BTreeSet<String> = queries
        .iter()
        .filter(|q| q.len() >= 4 && q.chars().all(|c| c.is_ascii_alphabetic()))
        .map(|q| q.to_lowercase())
        .collect();
    for word in words.iter().step_by(3) {
        for suffix in ["s", "ed", "ing", "ly"] {
            queries.insert(format!("{word}{suffix}"));
        }
        queries.insert(format!("\"{word}s\""));
    }
    let mut compared = 0;
    for q in &queries {
        let path = format!("/v1/claims?q={}&limit=200", enc(q));
        let (a, b) = (sqlite.get(&path).await, postgres.get(&path).await);
        assert_eq!(a.status(), b.status(), "q={q:?}");
        if a.status() != StatusCode::OK {
            continue;
        }
        let ids = |page: Value| -> BTreeSet<String> { page["items"].as_array().unwrap().iter().map(id).collect() };
        let (a, b) = (ids(a.json().await.unwrap()), ids(b.json().await.unwrap()));
        assert_eq!(a, b, "q={q:?} finds different claims on SQLite and PostgreSQL");
        compared += 1;
    }
    assert!(compared > 1000, "only {compared} queries compared");
    // Stemming finds what the words as written miss, on both backends.
    for app in [&sqlite, &postgres] {
        let (coup, coups) = (search(app, "coup").await, search(app, "coups").await);
        assert_eq!(coup, coups, "coup and coups find the same claims");
        assert!(!coup.is_empty());
        assert!(search(app, "killings").await.is_superset(&search(app, "killed").await));
    }
}

#[derive(diesel::QueryableByName)]
struct Scores {
    #[diesel(sql_type = diesel::sql_types::Double)]
    fts5: f64,
    #[diesel(sql_type = diesel::sql_types::Double)]
    ours: f64,
}

/// Each expression's matches scored by FTS5's configured `rank` (`bm25`)
/// and by `claimtrail_bm25`, which the claim list ranks by on SQLite.
fn scores(conn: &mut claimtrail::db::DbConnection, expressions: &[&str]) -> Vec<Vec<Scores>> {
    use diesel::RunQueryDsl;
    use diesel::sql_types::Text;
    let sql = format!(
        "SELECT claims_fts.rank AS fts5, {}(claims_fts, ?, {}) AS ours FROM claims_fts \
         WHERE claims_fts MATCH ? ORDER BY claims_fts.rowid",
        claimtrail::db::bm25::FUNCTION,
        claimtrail::claims::listing::RANK_WEIGHTS
    );
    expressions
        .iter()
        .map(|expression| {
            diesel::sql_query(&sql)
                .bind::<Text, _>(*expression)
                .bind::<Text, _>(*expression)
                .load::<Scores>(conn)
                .expect("the expression is ranked")
        })
        .collect()
}

fn assert_same_scores(all: &[Vec<Scores>], expressions: &[&str], matches: &[usize]) {
    for ((scores, expression), expected) in all.iter().zip(expressions).zip(matches) {
        assert_eq!(scores.len(), *expected, "matches of {expression}");
        for score in scores {
            assert_eq!(
                score.ours.to_bits(),
                score.fts5.to_bits(),
                "{expression}: ours {} against bm25 {}",
                score.ours,
                score.fts5
            );
        }
    }
}

/// On SQLite relevance is `claimtrail_bm25`: FTS5's `bm25` keeping each
/// query text's IDFs until the database changes. Its scores are `bm25`'s
/// bit for bit (words, stems, prefixes, phrases, facet terms of weight 0):
/// on the first run of a query, on the next (from what it kept), after
/// another connection's commit changed how many claims hold the words, and
/// inside a write transaction that changed them without committing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_relevance_scores_are_fts5_bm25_scores_before_and_after_writes() {
    use diesel::Connection;
    let app = spawn_app(claimtrail::db::Backend::Sqlite).await;
    for text in [
        "Security forces secured the road to Gao.",
        "The security council met; security was the agenda.",
        "Markets for securities fell in Bamako.",
        "A fuel blockade by JNIM cut supplies.",
        "Gold exports rose as the blockade eased.",
    ] {
        app.create_claim(text).await;
    }
    app.create("/v1/claims", json!({"text": "Security guards were hired.", "tags": ["security"]})).await;
    let tag = format!("t{}", hex::encode("security"));
    let with_tag = format!("({{text subject quotes}} : \"security\" OR stems : \"secur\") AND facets : \"{tag}\"");
    let expressions = [
        "({text subject quotes} : \"security\" OR stems : \"secur\")",
        "{text subject quotes} : \"secur\"*",
        "{text subject quotes} : \"fuel blockade\"",
        "{text subject quotes stems} : \"blockade\" AND {text subject quotes stems} : \"gold\"",
        with_tag.as_str(),
    ];
    let mut conn = app.db.get().expect("a connection");
    let first = scores(&mut conn, &expressions);
    assert_same_scores(&first, &expressions, &[4, 4, 1, 1, 1]);
    assert_same_scores(&scores(&mut conn, &expressions), &expressions, &[4, 4, 1, 1, 1]);

    // Another connection commits: more claims hold "security", so its IDF
    // falls; what this connection kept for the query must go.
    for i in 0..6 {
        app.create_claim(&format!("Security patrol {i} reported calm.")).await;
    }
    let after = scores(&mut conn, &expressions);
    assert_same_scores(&after, &expressions, &[10, 10, 1, 1, 1]);
    assert_ne!(after[0][0].ours.to_bits(), first[0][0].ours.to_bits(), "the first claim's score moved with the IDF");

    // Inside a write transaction, before it commits: the data version has
    // not moved, yet the words have.
    conn.transaction::<(), diesel::result::Error, _>(|conn| {
        use diesel::RunQueryDsl;
        diesel::sql_query("UPDATE claims SET text = 'Gold, gold and a blockade.' WHERE text LIKE 'Security patrol%'")
            .execute(conn)?;
        let inside = scores(conn, &expressions);
        assert_same_scores(&inside, &expressions, &[4, 4, 1, 7, 1]);
        Err(diesel::result::Error::RollbackTransaction)
    })
    .expect_err("rolled back");
    assert_same_scores(&scores(&mut conn, &expressions), &expressions, &[10, 10, 1, 1, 1]);
}

/// Lines naming every row where `claim_terms` and what FTS5 indexed (read
/// back through an `fts5vocab` table of every token) disagree, and every
/// term whose counts in `claim_term_docs` are not `claim_terms`' own: none
/// when the triggers keep them right; then a last line, "rows N".
pub fn claim_terms_against_fts5(db: &claimtrail::db::Db) -> Vec<String> {
    crate::helpers::run_sql(
        db,
        "CREATE VIRTUAL TABLE IF NOT EXISTS claims_fts_instances USING fts5vocab(claims_fts, instance);",
    );
    crate::helpers::lines_of(
        db,
        "WITH lengths AS (SELECT doc, count(*) AS n FROM claims_fts_instances GROUP BY doc),
         expected AS (
             SELECT i.term AS term, sum(i.col IN ('text', 'subject', 'quotes')) AS written,
                 sum(i.col = 'stems') AS stemmed, l.n AS length, i.doc AS doc
             FROM claims_fts_instances i JOIN lengths l ON l.doc = i.doc
             WHERE i.col <> 'facets' GROUP BY i.term, i.doc)
         SELECT 'missing ' || term || ' ' || doc AS line FROM (
             SELECT * FROM expected EXCEPT SELECT term, written, stemmed, length, doc FROM claim_terms)
         UNION ALL
         SELECT 'extra ' || term || ' ' || doc AS line FROM (
             SELECT term, written, stemmed, length, doc FROM claim_terms EXCEPT SELECT * FROM expected)
         UNION ALL
         SELECT 'counts ' || term AS line FROM (
             SELECT * FROM (SELECT term, sum(written > 0), sum(stemmed > 0), count(*) FROM claim_terms GROUP BY term)
             EXCEPT SELECT term, written, stemmed, docs FROM claim_term_docs)
         UNION ALL
         SELECT 'counted ' || term AS line FROM (
             SELECT term, written, stemmed, docs FROM claim_term_docs
             EXCEPT SELECT * FROM (SELECT term, sum(written > 0), sum(stemmed > 0), count(*) FROM claim_terms GROUP BY term))
         UNION ALL
         SELECT 'rows ' || count(*) AS line FROM claim_terms",
    )
}

/// On SQLite a search of one word by relevance reads its best matches from
/// `claim_terms` and stops once nothing unread can beat them (see
/// `claims::listing::top`). It must give the rows and ranks, to the bit,
/// that ranking every match gives: first pages of several sizes, the pages
/// after them by cursor, words with stems and without, accents, words
/// nowhere; and again after writes changed the texts and quotes, which the
/// triggers must carry into `claim_terms` as FTS5 indexes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_of_one_or_two_words_by_relevance_from_claim_terms_is_the_full_ranking() {
    use claimtrail::claims::listing::{RankedBy, ranked_by};
    use claimtrail::claims::model::{ClaimQuery, ClaimSort};
    let app = spawn_app(claimtrail::db::Backend::Sqlite).await;
    // The searched words among fillers, so that few are in most claims
    // (a word in more than half has the smallest IDF, the same for all).
    let fillers: Vec<String> = (0..40).map(|i| format!("filler{i}")).collect();
    let mut vocabulary = vec![
        "security",
        "security",
        "secure",
        "securities",
        "secured",
        "officials",
        "official",
        "killed",
        "kill",
        "killing",
        "the",
        "the",
        "the",
        "mali",
        "gold",
        "Sécurité",
        "forces",
        "attack",
        "road",
        "town",
        "said",
    ];
    vocabulary.extend(fillers.iter().map(String::as_str));
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let records: Vec<Value> = (0..1000)
        .map(|i| {
            let words: Vec<&str> = (0..2 + next() % 30).map(|_| vocabulary[next() % vocabulary.len()]).collect();
            let at = format!("2001-01-01T{:02}:{:02}:{:02}Z", i / 3600, i / 60 % 60, i % 60);
            let tags: Vec<&str> = if i % 3 == 0 { vec!["security"] } else { vec![] };
            json!({"type": "claim", "data": {
                "id": format!("0193a7e0-0000-7000-8000-{:012x}", 0xe000 + i),
                "text": words.join(" "), "tags": tags, "created_at": at, "updated_at": at, "version": 1,
            }})
        })
        .collect();
    // A word in three claims only, beside one in most.
    let records: Vec<Value> = records
        .into_iter()
        .chain((0..3).map(|i| {
            json!({"type": "claim", "data": {
                "id": format!("0193a7e0-0000-7000-8000-{:012x}", 0xf000 + i),
                "text": format!("the vuraka of the road {i}"), "tags": [],
                "created_at": "2001-01-02T00:00:00Z", "updated_at": "2001-01-02T00:00:00Z", "version": 1,
            }})
        }))
        .collect();
    // A claim in French has no stems: `secur` is a word written there,
    // which the stem phrase of `security` does not match.
    let records: Vec<Value> = records
        .into_iter()
        .chain(std::iter::once(json!({"type": "claim", "data": {
            "id": "0193a7e0-0000-7000-8000-00000000f100", "language": "fr",
            "text": "secur officials secur", "tags": [],
            "created_at": "2001-01-03T00:00:00Z", "updated_at": "2001-01-03T00:00:00Z", "version": 1,
        }})))
        .collect();
    let response = crate::transfer::post_import(&app, "", crate::transfer::transfer_file(&records)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text().await);

    // `carried`: the lists of this check's searches were kept before the
    // writes since, and are carried over them.
    let check = |app: &TestApp, carried: bool| {
        let db = app.db.clone();
        async move {
            let lines = claim_terms_against_fts5(&db);
            assert_eq!(lines.len(), 1, "claim_terms differs from FTS5: {:?}", &lines[..lines.len().min(10)]);
            assert!(lines[0] != "rows 0", "claim_terms is empty");
            tokio::task::spawn_blocking(move || {
                let mut conn = db.get().expect("a connection");
                let query = |q: &str, cursor: Option<String>| ClaimQuery {
                    q: Some(q.to_string()),
                    sort: Some(ClaimSort::Relevance),
                    cursor,
                    ..Default::default()
                };
                for q in [
                    "security",
                    "Security",
                    "secured",
                    "officials",
                    "kill",
                    "killed",
                    "the",
                    "mali",
                    "securite",
                    "nowhere",
                    "security officials",
                    "officials security",
                    "killed mali",
                    "the gold",
                    "the the",
                    "secured security",
                    "Sécurité kill",
                    "security nowhere",
                ] {
                    for (limit, first_batch) in [(1, 1), (7, 1), (7, 64), (50, 2), (50, 64)] {
                        let best = ranked_by(
                            &mut conn,
                            query(q, None),
                            limit,
                            RankedBy::Terms { first_batch, max_rows: usize::MAX },
                        )
                        .expect("ranks")
                        .unwrap_or_else(|| panic!("q={q} limit={limit}: answered from claim_terms"));
                        let all = ranked_by(&mut conn, query(q, None), limit, RankedBy::Counted)
                            .expect("ranks")
                            .expect("every match ranked");
                        let bits = |rows: &[(i64, f64)]| {
                            rows.iter().map(|(doc, rank)| (*doc, rank.to_bits())).collect::<Vec<_>>()
                        };
                        assert_eq!(bits(&best), bits(&all), "q={q} limit={limit} first_batch={first_batch}");
                        let merged = ranked_by(&mut conn, query(q, None), limit, RankedBy::Postings)
                            .expect("ranks")
                            .unwrap_or_else(|| panic!("q={q} limit={limit}: ranked from the posting lists"));
                        assert_eq!(bits(&merged), bits(&all), "q={q} limit={limit}: from the posting lists");
                        if !q.contains("nowhere") {
                            let enough = if q.contains(' ') { 8.min(limit as usize + 1) } else { limit as usize + 1 };
                            assert!(all.len() >= enough, "q={q} limit={limit}: only {} matches", all.len());
                        }
                    }
                    // Page after page by cursor: the pages of the full
                    // ranking (`list_walking` ranks every match), as the
                    // server reads them (with its kept posting lists) and
                    // without them.
                    let mut pages = [Vec::new(), Vec::new(), Vec::new()];
                    for (walk, ids) in pages.iter_mut().enumerate() {
                        let mut cursor = None;
                        loop {
                            let page = match walk {
                                0 => claimtrail::claims::listing::list(&mut conn, query(q, cursor), 7),
                                1 => claimtrail::claims::listing::list_walking(&mut conn, query(q, cursor), 7),
                                _ => claimtrail::claims::listing::list_kept(&mut conn, query(q, cursor), 7, db.terms()),
                            }
                            .expect("a page");
                            ids.push(page.items.into_iter().map(|item| item.claim.id.to_string()).collect::<Vec<_>>());
                            cursor = page.next_cursor;
                            if cursor.is_none() || ids.len() == 12 {
                                break;
                            }
                        }
                    }
                    assert_eq!(pages[0], pages[1], "q={q}");
                    assert_eq!(pages[2], pages[1], "q={q}, with the kept posting lists");
                }
                // Of the server's searches of two words of like weight
                // since the last commit, the first is ranked by FTS5, the
                // second too while it has the posting lists (each word as
                // written and as a stem) read in the background, and the
                // ones after use them: the pages above did that for
                // `security officials`, so the same words in the other
                // order are from kept lists once the read is done (asked
                // again until then, ten seconds at most).
                let count = |result: &str| db.terms().cache().counter().with_label_values(&[result]).get();
                let (read, fts5) = (count("read"), count("fts5"));
                assert!(read > 0 && fts5 > 0, "read {read}, fts5 {fts5}");
                let mut asked = 0;
                let kept = loop {
                    let kept = count("kept");
                    claimtrail::claims::listing::list_kept(&mut conn, query("officials security", None), 7, db.terms())
                        .expect("a page");
                    if count("kept") == kept + 1 {
                        break kept + 1;
                    }
                    asked += 1;
                    assert!(asked < 100, "the lists were never kept");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                };
                assert!(db.terms().cache().bytes() > 0, "the lists are kept");
                assert_eq!(count("read"), read, "read once");
                let fts5 = count("fts5");
                // Inside a transaction already open, whose snapshot may be
                // older than the epoch, no kept list is used.
                diesel::Connection::transaction::<_, diesel::result::Error, _>(&mut *conn, |conn| {
                    claimtrail::claims::listing::list_kept(conn, query("officials security", None), 7, db.terms())
                        .expect("a page");
                    Ok(())
                })
                .expect("the transaction");
                assert_eq!((count("kept"), count("fts5")), (kept, fts5 + 1), "by FTS5 inside a transaction");
                // Two words of unlike weight (`the` is in most claims): the
                // threshold algorithm answers. Once it has read far (here:
                // past 0 rows), their lists are wanted, read in the
                // background from the second such search, and merged from
                // then on without the threshold algorithm, whether it
                // would have finished (here: no row limit) or given up
                // (here: past 0 rows). The pages are the full ranking's
                // all along.
                let walk = |conn: &mut claimtrail::db::DbConnection, q: &str, rows: Option<(usize, usize)>| {
                    let mut ids = Vec::new();
                    let mut cursor = None;
                    loop {
                        let page = match rows {
                            None => claimtrail::claims::listing::list_walking(conn, query(q, cursor), 7),
                            Some((far_rows, max_rows)) => claimtrail::claims::listing::list_kept_reading(
                                conn,
                                query(q, cursor),
                                7,
                                db.terms(),
                                far_rows,
                                max_rows,
                            ),
                        }
                        .expect("a page");
                        ids.push(page.items.into_iter().map(|item| item.claim.id.to_string()).collect::<Vec<_>>());
                        cursor = page.next_cursor;
                        if cursor.is_none() || ids.len() == 6 {
                            return ids;
                        }
                    }
                };
                // After the writes, the lists kept before them are carried
                // over them: merged from the first page on.
                for (q, max_rows) in [("the filler7", usize::MAX), ("filler8 the", 0)] {
                    let full = walk(&mut conn, q, None);
                    assert!(full.len() > 1, "q={q}: several pages");
                    let (kept, wanted) = (count("kept"), count("terms"));
                    let mut asked = 0;
                    while count("kept") == kept {
                        assert_eq!(walk(&mut conn, q, Some((0, max_rows))), full, "q={q}");
                        asked += 1;
                        assert!(asked < 100, "q={q}: the lists were never kept");
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    if carried {
                        assert_eq!(count("terms"), wanted, "q={q}: carried, never wanted");
                        assert_eq!(count("kept"), kept + full.len() as u64, "q={q}: every page merged");
                    } else {
                        assert!(count("terms") >= wanted + 2, "q={q}: wanted by the first two searches");
                    }
                    // Merged at once: the threshold algorithm would give up
                    // at its first rows and never read far, leaving FTS5.
                    let (kept, wanted) = (count("kept"), count("terms"));
                    assert_eq!(walk(&mut conn, q, Some((usize::MAX, 0))), full, "q={q}, merged");
                    assert_eq!(count("kept"), kept + full.len() as u64, "q={q}: every page merged");
                    assert_eq!(count("terms"), wanted, "q={q}: without the threshold algorithm");
                }
                // Once the rare word's rows are read, no unread claim can
                // match: the search stops there, with fewer matches than
                // the page holds, rather than read the common word's rows
                // (allowed here far fewer than it has) and give up.
                for limit in [1, 2, 7, 50] {
                    let search = || query("the vuraka", None);
                    let best = ranked_by(&mut conn, search(), limit, RankedBy::Terms { first_batch: 1, max_rows: 60 })
                        .expect("ranks")
                        .unwrap_or_else(|| panic!("limit={limit}: answered from claim_terms within 60 rows"));
                    let all = ranked_by(&mut conn, search(), limit, RankedBy::Counted).expect("ranks").expect("rows");
                    let bits =
                        |rows: &[(i64, f64)]| rows.iter().map(|(doc, rank)| (*doc, rank.to_bits())).collect::<Vec<_>>();
                    assert_eq!(bits(&best), bits(&all), "limit={limit}");
                    assert_eq!(all.len(), 3.min(limit as usize + 1), "limit={limit}");
                }
                // The server takes that pair from `claim_terms`; page after
                // page of one claim by cursor, the pages of the full ranking.
                assert!(
                    ranked_by(&mut conn, query("the vuraka", None), 1, RankedBy::TermsWhenCheaper)
                        .expect("ranks")
                        .is_some(),
                    "the vuraka: from claim_terms"
                );
                let mut pages = [Vec::new(), Vec::new()];
                for (walk, ids) in pages.iter_mut().enumerate() {
                    let mut cursor = None;
                    loop {
                        let page = if walk == 1 {
                            claimtrail::claims::listing::list_walking(&mut conn, query("the vuraka", cursor), 1)
                        } else {
                            claimtrail::claims::listing::list(&mut conn, query("the vuraka", cursor), 1)
                        }
                        .expect("a page");
                        ids.extend(page.items.into_iter().map(|item| item.claim.id.to_string()));
                        cursor = page.next_cursor;
                        if cursor.is_none() || ids.len() > 3 {
                            break;
                        }
                    }
                }
                assert_eq!(pages[0], pages[1], "the vuraka, page by page");
                assert_eq!(pages[0].len(), 3, "the vuraka: its three claims");
                // The server takes two words from `claim_terms` only when
                // one weighs far less than the other ("the" is in most
                // claims); two of like weight are ranked whole.
                let mut chosen = |q: &str| {
                    ranked_by(&mut conn, query(q, None), 7, RankedBy::TermsWhenCheaper).expect("ranks").is_some()
                };
                assert!(chosen("the gold"), "a word in most claims and another: from claim_terms");
                assert!(chosen("security"), "one word: from claim_terms");
                assert!(!chosen("security officials"), "two words of like weight: ranked whole");
                // Three words are ranked whole.
                let best = ranked_by(
                    &mut conn,
                    query("security officials mali", None),
                    7,
                    RankedBy::Terms { first_batch: 64, max_rows: usize::MAX },
                )
                .expect("ranks");
                assert!(best.is_none(), "three words are not answered from claim_terms");
                // Ranked whole, with the IDFs of one-word phrases from
                // `claim_term_docs`: the ranks of counting them all, on
                // another connection (each keeps what it counted).
                let mut other = db.get().expect("a second connection");
                for (name, q, tag) in [
                    ("two words", "security officials", None),
                    ("a word and a stopword", "kill the", None),
                    ("a prefix and a word", "secur* officials", None),
                    ("a phrase and a word", "\"the security\" mali", None),
                    ("a tag and a word", "security", Some("security")),
                    ("a tag and two words", "security road", Some("security")),
                ] {
                    let search = || ClaimQuery { tag: tag.map(str::to_string), ..query(q, None) };
                    let known = ranked_by(&mut conn, search(), 50, RankedBy::KnownIdfs).expect("ranks").expect("rows");
                    let counted = ranked_by(&mut other, search(), 50, RankedBy::Counted).expect("ranks").expect("rows");
                    let bits =
                        |rows: &[(i64, f64)]| rows.iter().map(|(doc, rank)| (*doc, rank.to_bits())).collect::<Vec<_>>();
                    assert_eq!(bits(&known), bits(&counted), "{name}");
                    assert!(!known.is_empty(), "{name}: finds claims");
                }
            })
            .await
            .expect("the comparison");
        }
    };
    check(&app, false).await;

    // Writes: new texts, a quote (the `quotes` column), a new claim.
    let source = id(&app
        .create_source("Security report", Some("Officials said security forces killed the security chief."))
        .await);
    for i in [3, 17, 42] {
        let claim = format!("0193a7e0-0000-7000-8000-{:012x}", 0xe000 + i);
        let response = app
            .patch(
                &format!("/v1/claims/{claim}"),
                1,
                &json!({"text": "security security security, said the officials"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        app.create_attribution(json!({"claim_id": claim, "source_id": source, "mode": "direct",
            "quote": {"exact": "security forces killed the security chief"}}))
            .await;
    }
    app.create_claim("Security.").await;
    check(&app, true).await;
}

/// Two words of like weight are ranked from their posting lists kept in
/// memory (SQLite): a commit, through the API or by another connection,
/// is seen by the next search at once, the lists carried over it (the
/// documents it changed read again, from `claim_terms_log`); when the log
/// cannot tell what changed (every document did, or its rows since the
/// lists were read are gone), the lists are ranked by FTS5 and read again
/// whole, as the first time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_words_ranked_from_kept_posting_lists_see_every_commit() {
    let app = crate::helpers::spawn_app_with(claimtrail::db::Backend::Sqlite, |s| {
        s.metrics.metrics_bind = Some("127.0.0.1:0".to_string());
    })
    .await;
    // `claimtrail_posting_lists_total` by result: kept, read, fts5.
    let counts = || async {
        let metrics = app.metrics_address.clone().expect("a metrics listener");
        let text = app.client.get(format!("{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
        ["kept", "read", "fts5"].map(|result| {
            let name = format!(r#"claimtrail_posting_lists_total{{result="{result}"}} "#);
            text.lines().find_map(|line| line.strip_prefix(name.as_str())).and_then(|v| v.parse::<u64>().ok())
        })
    };
    for i in 0..40 {
        let text = match i % 4 {
            0 => format!("Security officials met in Gao on day {i}, with many others present at length."),
            1 => format!("Officials of the security council spoke on day {i}, after a long and tiring session."),
            2 => format!("Security was tight on day {i}."),
            _ => format!("Officials said nothing on day {i}."),
        };
        app.create_claim(&text).await;
    }
    let path = "/v1/claims?q=security%20officials&sort=relevance&limit=5";
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().into_iter().flatten().filter_map(|i| i["id"].as_str().map(str::to_string)).collect()
    };
    // The bytes of lists the server keeps.
    let kept_bytes = || async {
        let metrics = app.metrics_address.clone().expect("a metrics listener");
        let text = app.client.get(format!("{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines().find_map(|line| line.strip_prefix("claimtrail_posting_lists_bytes ")?.parse::<u64>().ok())
    };
    // Three times: ranked by FTS5; by FTS5, the lists read in the
    // background (waited for, ten seconds at most); from the kept lists.
    let three = || async {
        let mut pages = Vec::new();
        for time in 0..3 {
            if time == 2 {
                let mut asked = 0;
                while kept_bytes().await.unwrap_or(0) == 0 {
                    asked += 1;
                    assert!(asked < 100, "the lists were never kept");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
            pages.push(ids(&app.get(path).await.json::<Value>().await.expect("a page")));
        }
        pages
    };
    let before = three().await;
    assert_eq!(before[0].len(), 5, "{before:?}");
    assert!(before.iter().all(|page| page == &before[0]), "the same page each time: {before:?}");
    assert_eq!(counts().await, [Some(1), Some(1), Some(1)], "kept, read, fts5");

    // A claim that holds both words, short: the best match once committed.
    let best = app.create_claim("Security officials; security officials.").await;
    let id = best["id"].as_str().expect("an id").to_string();
    for page in three().await {
        assert_eq!(page.first(), Some(&id), "the new claim first: {page:?}");
    }
    assert_eq!(counts().await, [Some(4), Some(1), Some(1)], "kept, read, fts5: carried over the commit");

    // Written by another connection, outside the server.
    crate::helpers::run_sql(&app.db, &format!("UPDATE claims SET text = 'Nothing to see here.' WHERE id = '{id}'"));
    for page in three().await {
        assert_eq!(page, before[0], "the claim no longer holds the words");
    }
    assert_eq!(counts().await, [Some(7), Some(1), Some(1)], "kept, read, fts5: and over the other connection's");

    // Every document changed (as a bulk write that fills `claim_terms`
    // again whole logs it): the lists are read again.
    crate::helpers::run_sql(&app.db, "INSERT INTO claim_terms_log (doc) VALUES (-1)");
    assert!(three().await.iter().all(|page| page == &before[0]));
    assert_eq!(counts().await, [Some(8), Some(2), Some(2)], "kept, read, fts5: read again");

    // The log's rows since the lists were read are gone (it keeps 4,096).
    let logged = (0..4200).map(|_| "(1)").collect::<Vec<_>>().join(", ");
    crate::helpers::run_sql(&app.db, &format!("INSERT INTO claim_terms_log (doc) VALUES {logged}"));
    assert!(three().await.iter().all(|page| page == &before[0]));
    assert_eq!(counts().await, [Some(9), Some(3), Some(3)], "kept, read, fts5: read again");
    // The same with few rows since: the first of them gone.
    crate::helpers::run_sql(
        &app.db,
        "INSERT INTO claim_terms_log (doc) VALUES (1), (2); \
         DELETE FROM claim_terms_log WHERE seq < (SELECT max(seq) FROM claim_terms_log)",
    );
    assert!(three().await.iter().all(|page| page == &before[0]));
    assert_eq!(counts().await, [Some(10), Some(4), Some(4)], "kept, read, fts5: read again");

    // The claim holds the words again, through the API: carried.
    let claim: Value = app.get(&format!("/v1/claims/{id}")).await.json().await.expect("the claim");
    let version = claim["version"].as_i64().expect("a version");
    let body = serde_json::json!({"text": "Security officials; security officials."});
    let changed = app.patch(&format!("/v1/claims/{id}"), version, &body).await;
    assert_eq!(changed.status(), 200);
    for page in three().await {
        assert_eq!(page.first(), Some(&id), "the claim first again: {page:?}");
    }
    assert_eq!(counts().await, [Some(13), Some(4), Some(4)], "kept, read, fts5: carried again");

    // The log emptied: what changed since cannot be told.
    crate::helpers::run_sql(&app.db, "DELETE FROM claim_terms_log");
    for page in three().await {
        assert_eq!(page.first(), Some(&id), "the claim still first: {page:?}");
    }
    assert_eq!(counts().await, [Some(14), Some(5), Some(5)], "kept, read, fts5: read again");
}

/// The relevance search looks up what the documents it read hold of the
/// search's terms through `claim_terms_by_doc`, whatever the statistics
/// say: with those `ANALYZE` wrote at a million claims under an
/// `analysis_limit` (a dozen rows per term), SQLite read every row of each
/// term instead and checked it against the documents, 30 ms a search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relevance_search_looks_up_documents_by_document_whatever_the_statistics_say() {
    let app = spawn_app(claimtrail::db::Backend::Sqlite).await;
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        let claimtrail::db::DbConnection::Sqlite(sqlite) = &mut *conn else { panic!("a SQLite database") };
        diesel::connection::SimpleConnection::batch_execute(
            sqlite,
            "ANALYZE;
             DELETE FROM sqlite_stat1 WHERE tbl = 'claim_terms';
             INSERT INTO sqlite_stat1 VALUES ('claim_terms', 'claim_terms', '26762272 12 10 10 4 1'),
                 ('claim_terms', 'claim_terms_by_doc', '26762272 27 1');
             ANALYZE sqlite_schema;",
        )
        .expect("the statistics are written");
        for terms in [&["security", "secur"][..], &["mali"][..]] {
            let plan = claimtrail::claims::listing::terms_lookup_plan(&mut conn, &[1, 2, 3], terms).expect("a plan");
            assert!(
                plan.iter().any(|line| line.contains("claim_terms_by_doc (doc=? AND term=?)")),
                "terms {terms:?}: {plan:?}"
            );
            assert!(!plan.iter().any(|line| line.contains("PRIMARY KEY")), "terms {terms:?}: {plan:?}");
        }
    })
    .await
    .expect("the plans");
}
