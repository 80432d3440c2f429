//! Findability (issue 13): name search with aliases, the claims an agent or
//! a source is behind with their roles, stemmed search, `stated_on`, and
//! list items that draw a result row without a card request.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::Connection;
use diesel::connection::InstrumentationEvent;
use reqwest::StatusCode;
use serde_json::{Value, json};

use claimtrail::claims::model::{ClaimQuery, ClaimSort};

use crate::claims_list::pages;
use crate::helpers::{TestApp, error_fields, problem};
use crate::on_both_backends;

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_string()
}

/// The ids of a list's first page, in order.
async fn listed(app: &TestApp, path: &str) -> Vec<String> {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let page: Value = response.json().await.expect("a page");
    page["items"].as_array().expect("items").iter().map(id).collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

async fn claim_ids(app: &TestApp, query: &str) -> BTreeSet<String> {
    listed(app, &format!("/v1/claims?{query}&limit=200")).await.into_iter().collect()
}

async fn card(app: &TestApp, claim: &str) -> Value {
    app.get(&format!("/v1/claims/{claim}")).await.json().await.expect("a card")
}

on_both_backends! {
    async fn agents_are_found_by_name_alias_or_description_as_typed_best_first(app: TestApp) {
        let soufan = id(&app.create("/v1/agents", json!({"kind": "organization", "name": "The Soufan Center",
            "description": "Non-profit research organization"})).await);
        let jnim = app.create("/v1/agents", json!({"kind": "organization", "name": "Jama'at Nusrat al-Islam wal-Muslimin",
            "aliases": ["JNIM", "Nusrat al-Islam", "jnim"]})).await;
        assert_eq!(jnim["aliases"], json!(["JNIM", "Nusrat al-Islam"]), "repeated aliases are dropped");
        let jnim = id(&jnim);
        let goita = id(&app.create("/v1/agents", json!({"kind": "person", "name": "Assimi Goïta"})).await);
        let mentions = id(&app.create("/v1/agents", json!({"kind": "person", "name": "A researcher",
            "description": "formerly at the Soufan Center"})).await);
        app.create("/v1/agents", json!({"kind": "organization", "name": "Human Rights Watch"})).await;

        assert_eq!(listed(&app, "/v1/agents?q=souf").await, [soufan.clone(), mentions.clone()], "the name weighs more");
        assert_eq!(listed(&app, "/v1/agents?q=SOUFAN%20center").await, [soufan.clone(), mentions.clone()]);
        assert_eq!(listed(&app, "/v1/agents?q=jnim").await, vec![jnim.clone()], "an alias is found");
        assert_eq!(listed(&app, "/v1/agents?q=nusrat").await, vec![jnim.clone()]);
        assert_eq!(listed(&app, "/v1/agents?q=goita").await, vec![goita.clone()], "accents do not matter");
        assert_eq!(listed(&app, "/v1/agents?q=souf&kind=person").await, vec![mentions.clone()], "filters still apply");
        assert!(listed(&app, "/v1/agents?q=soufan%20watch").await.is_empty(), "every word must occur");
        let (paged, _) = pages(&app, "/v1/agents?q=souf", 1).await;
        assert_eq!(paged, [soufan.clone(), mentions.clone()], "pages by cursor, best first");

        // Renaming or re-aliasing is followed at once.
        let path = format!("/v1/agents/{jnim}");
        let response = app.patch(&path, 1, &json!({"aliases": ["GSIM"]})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(listed(&app, "/v1/agents?q=jnim").await.is_empty());
        assert_eq!(listed(&app, "/v1/agents?q=gsim").await, vec![jnim.clone()]);
        assert_eq!(app.delete(&path, 2).await.status(), StatusCode::NO_CONTENT);
        assert!(listed(&app, "/v1/agents?q=gsim").await.is_empty());
    }

    async fn sources_are_found_by_title_publisher_name_or_url(app: TestApp) {
        let guardian = id(&app.create_agent("The Guardian").await);
        let article = id(&app.create("/v1/sources", json!({"kind": "article", "publisher_id": guardian,
            "title": "How al-Qaida-linked jihadist group JNIM is bringing Mali to its knees",
            "url": "https://www.theguardian.com/world/2025/nov/09/jnim-mali"})).await);
        let other = id(&app.create("/v1/sources", json!({"kind": "report", "title": "Fuel blockade in Mali"})).await);
        assert_eq!(listed(&app, "/v1/sources?q=guardian").await, vec![article.clone()], "by the publisher's name");
        assert_eq!(listed(&app, "/v1/sources?q=theguard").await, vec![article.clone()], "by the URL, as typed");
        assert_eq!(listed(&app, "/v1/sources?q=mali").await.len(), 2);
        assert_eq!(listed(&app, "/v1/sources?q=mali&kind=report").await, vec![other.clone()]);
        assert_eq!(listed(&app, "/v1/sources?q=al-qaida%20jni").await, vec![article.clone()]);

        // The publisher renamed, or another publisher: the search follows.
        let response = app.patch(&format!("/v1/agents/{guardian}"), 1, &json!({"name": "Guardian News & Media"})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(listed(&app, "/v1/sources?q=news%20media").await, vec![article.clone()]);
        let response = app.patch(&format!("/v1/sources/{article}"), 1, &json!({"publisher_id": null, "url": null})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(listed(&app, "/v1/sources?q=media").await.is_empty());
    }

    async fn a_name_search_that_cannot_be_searched_is_a_400_naming_q(app: TestApp) {
        for q in ["%22%22", "%F0%9F%99%82", "a*", &"x".repeat(101)] {
            for list in ["agents", "sources"] {
                let body = problem(app.get(&format!("/v1/{list}?q={q}")).await, 400).await;
                assert_eq!(error_fields(&body), ["q"], "{list}?q={q}");
            }
        }
        let agent = id(&app.create_agent("Atlantic Council").await);
        assert_eq!(listed(&app, "/v1/agents?q=%20").await, [agent], "a blank q is no search");
        let first: Value = app.get("/v1/agents?q=atlantic&limit=1").await.json().await.unwrap();
        assert!(first["next_cursor"].is_null());
        let foreign: Value = app.get("/v1/agents?limit=1").await.json().await.unwrap();
        assert!(foreign["next_cursor"].is_null());
    }

    async fn an_agents_claims_include_those_it_is_cited_for_each_with_its_roles(app: TestApp) {
        let think_tank = id(&app.create_agent("The Soufan Center").await);
        let outlet = id(&app.create_agent("A blog").await);
        let analyst = id(&app.create("/v1/agents", json!({"kind": "person", "name": "An analyst"})).await);
        let analysis = id(&app.create("/v1/sources", json!({"kind": "report", "title": "Soufan analysis", "publisher_id": think_tank})).await);
        let post = id(&app.create("/v1/sources", json!({"kind": "article", "title": "Blog post", "publisher_id": outlet})).await);
        let cited = id(&app.create_claim("JNIM's fuel blockade shows the junta's powerlessness.").await);
        let stated = id(&app.create_claim("The Soufan Center publishes on JNIM.").await);
        let said = id(&app.create_claim("The junta is losing ground.").await);
        app.create_claim("Unrelated.").await;
        app.create_attribution(json!({"claim_id": cited, "source_id": post, "mode": "citation", "cited_source_id": analysis})).await;
        app.create_attribution(json!({"claim_id": stated, "source_id": analysis, "mode": "direct", "speaker_id": analyst})).await;
        app.create_attribution(json!({"claim_id": said, "source_id": post, "mode": "quote", "speaker_id": analyst})).await;

        let page: Value = app.get(&format!("/v1/agents/{think_tank}/claims")).await.json().await.unwrap();
        let roles: Vec<(String, Value)> =
            page["items"].as_array().unwrap().iter().map(|c| (id(c), c["roles"].clone())).collect();
        assert_eq!(roles, [(stated.clone(), json!(["publisher"])), (cited.clone(), json!(["cited_publisher"]))]);
        assert_eq!(listed(&app, &format!("/v1/agents/{think_tank}/claims?role=cited_publisher")).await, vec![cited.clone()]);
        assert_eq!(listed(&app, &format!("/v1/agents/{think_tank}/claims?role=speaker,publisher")).await, vec![stated.clone()]);
        let page: Value = app.get(&format!("/v1/agents/{analyst}/claims")).await.json().await.unwrap();
        assert_eq!(page["items"].as_array().unwrap().iter().map(id).collect::<Vec<_>>(), [said.clone(), stated.clone()]);
        assert!(page["items"].as_array().unwrap().iter().all(|c| c["roles"] == json!(["speaker"])));
        let (paged, _) = pages(&app, &format!("/v1/agents/{outlet}/claims?sort=created_at"), 1).await;
        assert_eq!(paged, [cited.clone(), said.clone()]);

        let page: Value = app.get(&format!("/v1/sources/{analysis}/claims")).await.json().await.unwrap();
        let roles: Vec<(String, Value)> =
            page["items"].as_array().unwrap().iter().map(|c| (id(c), c["roles"].clone())).collect();
        assert_eq!(roles, [(stated.clone(), json!(["stating_source"])), (cited.clone(), json!(["cited_source"]))]);
        assert_eq!(listed(&app, &format!("/v1/sources/{analysis}/claims?role=cited_source")).await, vec![cited.clone()]);
        // An item is a full list item: it says who states the claim.
        let item = &page["items"][1];
        assert_eq!(item["sources"][0]["title"], "Blog post");
        assert_eq!(item["sources"][0]["publisher_name"], "A blog");

        for (path, role) in [(format!("/v1/sources/{analysis}/claims"), "speaker"), (format!("/v1/agents/{analyst}/claims"), "cited_source"), (format!("/v1/agents/{analyst}/claims"), "boss")] {
            let body = problem(app.get(&format!("{path}?role={role}")).await, 400).await;
            assert_eq!(error_fields(&body), ["role"], "{path}?role={role}");
        }
        let body = problem(app.get(&format!("/v1/agents/{analyst}/claims?sort=relevance")).await, 400).await;
        assert_eq!(error_fields(&body), ["sort"]);
        let page: Value = app.get(&format!("/v1/agents/{think_tank}/claims?limit=1")).await.json().await.unwrap();
        let cursor = page["next_cursor"].as_str().unwrap();
        let body = problem(app.get(&format!("/v1/agents/{think_tank}/claims?limit=1&role=publisher&cursor={cursor}")).await, 400).await;
        assert_eq!(error_fields(&body), ["cursor"], "a cursor belongs to its roles");
    }

    async fn a_backers_claims_follow_every_write_in_every_sort(app: TestApp) {
        let first = id(&app.create_agent("First outlet").await);
        let second = id(&app.create_agent("Second outlet").await);
        let speaker = id(&app.create("/v1/agents", json!({"kind": "person", "name": "A minister"})).await);
        let older = id(&app.create("/v1/sources", json!({"kind": "article", "title": "Older", "publisher_id": first, "published_on": "2024"})).await);
        let newer = id(&app.create("/v1/sources", json!({"kind": "article", "title": "Newer", "publisher_id": second, "published_on": "2025-06"})).await);
        let c2020 = id(&app.create("/v1/claims", json!({"text": "Claim of 2020.", "period_start": "2020"})).await);
        let cited = id(&app.create_claim("A claim with no period.").await);
        let c2019 = id(&app.create("/v1/claims", json!({"text": "Claim of 2019.", "period_start": "2019-05"})).await);
        let said = app.create_attribution(json!({"claim_id": c2020, "source_id": older, "mode": "quote", "speaker_id": speaker})).await;
        app.create_attribution(json!({"claim_id": cited, "source_id": newer, "mode": "citation", "cited_source_id": older})).await;
        let moved = app.create_attribution(json!({"claim_id": c2019, "source_id": newer, "mode": "direct"})).await;
        let roles = |path: String| {
            let app = &app;
            async move {
                let page: Value = app.get(&path).await.json().await.expect("a page");
                page["items"].as_array().expect("items").iter().map(|c| (id(c), c["roles"].clone())).collect::<Vec<_>>()
            }
        };
        assert_eq!(
            roles(format!("/v1/agents/{first}/claims")).await,
            [(cited.clone(), json!(["cited_publisher"])), (c2020.clone(), json!(["publisher"]))]
        );
        assert_eq!(listed(&app, &format!("/v1/agents/{speaker}/claims")).await, vec![c2020.clone()]);

        // The older source changes publisher: both outlets' lists follow.
        let response = app.patch(&format!("/v1/sources/{older}"), 1, &json!({"publisher_id": second})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(listed(&app, &format!("/v1/agents/{first}/claims")).await.is_empty());
        assert_eq!(
            roles(format!("/v1/agents/{second}/claims")).await,
            [
                (c2019.clone(), json!(["publisher"])),
                (cited.clone(), json!(["publisher", "cited_publisher"])),
                (c2020.clone(), json!(["publisher"]))
            ]
        );
        // Each sort reads the keys the claims have now.
        let path = format!("/v1/agents/{second}/claims");
        assert_eq!(listed(&app, &format!("{path}?sort=period_start")).await, [c2019.clone(), c2020.clone(), cited.clone()]);
        assert_eq!(listed(&app, &format!("{path}?sort=-stated_on")).await, [c2019.clone(), cited.clone(), c2020.clone()]);
        let version = card(&app, &cited).await["version"].as_i64().expect("a version");
        let response = app.patch(&format!("/v1/claims/{cited}"), version, &json!({"period_start": "2018"})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(listed(&app, &format!("{path}?sort=period_start")).await, [cited.clone(), c2019.clone(), c2020.clone()]);
        let response = app.patch(&format!("/v1/sources/{older}"), 2, &json!({"published_on": "2026"})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(listed(&app, &format!("{path}?sort=-stated_on")).await, [c2020.clone(), c2019.clone(), cited.clone()]);
        for sort in ["created_at", "-created_at", "period_start", "-period_start", "stated_on", "-stated_on"] {
            let (paged, _) = pages(&app, &format!("{path}?sort={sort}"), 1).await;
            assert_eq!(paged, listed(&app, &format!("{path}?sort={sort}")).await, "{sort} in pages of 1");
        }

        // An attribution moves to another source, loses its speaker, goes.
        let response = app.patch(&format!("/v1/attributions/{}", id(&moved)), 1, &json!({"source_id": older})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(listed(&app, &format!("/v1/sources/{older}/claims?role=stating_source")).await, [c2019.clone(), c2020.clone()]);
        assert!(listed(&app, &format!("/v1/sources/{newer}/claims")).await.contains(&cited));
        assert!(!listed(&app, &format!("/v1/sources/{newer}/claims")).await.contains(&c2019));
        let response = app.patch(&format!("/v1/attributions/{}", id(&said)), 1, &json!({"speaker_id": null})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(listed(&app, &format!("/v1/agents/{speaker}/claims")).await.is_empty());
        assert_eq!(app.delete(&format!("/v1/attributions/{}", id(&moved)), 2).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(listed(&app, &format!("/v1/sources/{older}/claims?role=stating_source")).await, vec![c2020.clone()]);

        // A deleted claim leaves every list.
        let version = card(&app, &c2019).await["version"].as_i64().expect("a version");
        assert_eq!(app.delete(&format!("/v1/claims/{c2019}"), version).await.status(), StatusCode::NO_CONTENT);
        assert!(!listed(&app, &format!("/v1/agents/{second}/claims")).await.contains(&c2019));
    }

    async fn english_inflections_match_exact_forms_rank_first_and_phrases_stay_phrases(app: TestApp) {
        let coups = id(&app.create_claim("Mali has had two coups since 2020.").await);
        let coup = id(&app.create_claim("The coup of 2021 installed Assimi Goïta.").await);
        let killed = id(&app.create_claim("Fighters killed dozens of civilians.").await);
        let killing = id(&app.create("/v1/claims", json!({"text": "The killing of civilians went on.", "language": "en-GB"})).await);
        let french = id(&app.create("/v1/claims", json!({"text": "Deux coups d'État ont eu lieu.", "language": "fr"})).await);
        let blockade = id(&app.create_claim("The fuel blockades tightened around Bamako.").await);
        let apart = id(&app.create_claim("A blockade of fuel is in force.").await);

        assert_eq!(claim_ids(&app, "q=coup").await, set(&[&coups, &coup]), "a French claim is not stemmed");
        assert_eq!(claim_ids(&app, "q=coups").await, set(&[&coups, &coup, &french]));
        assert_eq!(claim_ids(&app, "q=kill").await, set(&[&killed, &killing]));
        assert_eq!(claim_ids(&app, "q=Killings").await, set(&[&killed, &killing]));
        assert_eq!(claim_ids(&app, "q=coup*").await, set(&[&coups, &coup, &french]), "a prefix matches words as written");
        // Phrases are phrases of the words or their inflections, in order.
        assert_eq!(claim_ids(&app, "q=%22fuel%20blockade%22").await, set(&[&blockade]));
        assert_eq!(claim_ids(&app, "q=fuel%20blockade").await, set(&[&blockade, &apart]));
        assert!(claim_ids(&app, "q=%22blockade%20fuel%22").await.is_empty());
        // The word as written ranks above an inflection of it.
        assert_eq!(listed(&app, "/v1/claims?q=coup&sort=relevance").await, [coup.clone(), coups.clone()]);
        assert_eq!(listed(&app, "/v1/claims?q=coups&sort=relevance").await[..2], [coups.clone(), french.clone()]);
        // Snippets mark the inflected word.
        let page: Value = app.get("/v1/claims?q=kill&snippet=true&sort=relevance").await.json().await.unwrap();
        for item in page["items"].as_array().unwrap() {
            let snippet = item["snippet"].as_str().unwrap();
            assert!(snippet.contains("<mark>killed</mark>") || snippet.contains("<mark>killing</mark>"), "{snippet}");
        }

        // A language change re-stems the claim.
        let response = app.patch(&format!("/v1/claims/{french}"), 1, &json!({"language": "en"})).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(claim_ids(&app, "q=coup").await.contains(&french));
    }

    async fn a_search_finds_the_same_claims_whether_its_matches_are_read_or_its_order_walked(app: TestApp) {
        let texts = [
            ("Mali has had two coups since 2020.", None),
            ("The coup of 2021 installed Assimi Goïta.", Some("en-GB")),
            ("Deux coups d'État ont eu lieu.", Some("fr")),
            ("Un coup de force à Bamako.", Some("fr")),
            ("Fighters killed dozens of civilians.", None),
            ("The killing of civilians went on.", Some("EN")),
            ("Killed, she said, in the fuel blockades.", Some("es")),
            ("The fuel blockade tightened around Bamako.", None),
            ("A blockade of fuel is in force.", None),
        ];
        for (text, language) in texts {
            app.create("/v1/claims", json!({"text": text, "language": language})).await;
        }
        let db = app.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().expect("a connection");
            for q in ["coup", "coups", "kill", "killed", "Killings", "coup*", "\"fuel blockade\"", "fuel blockade", "coup bamako", "civilians killed"] {
                for sort in [None, Some(ClaimSort::OldestFirst), Some(ClaimSort::PeriodStart)] {
                    let query = || ClaimQuery { q: Some(q.to_string()), sort, ..Default::default() };
                    let ids = |page: claimtrail::http::Page<claimtrail::claims::model::ClaimListItem>| {
                        page.items.into_iter().map(|item| item.claim.id.to_string()).collect::<Vec<_>>()
                    };
                    let read = ids(claimtrail::claims::listing::list(&mut conn, query(), 50).expect("a page"));
                    let walked = ids(claimtrail::claims::listing::list_walking(&mut conn, query(), 50).expect("a page"));
                    assert_eq!(walked, read, "q={q} sort={sort:?}");
                    assert!(!read.is_empty(), "q={q} finds something");
                }
            }
        })
        .await
        .expect("the comparison");
    }

    async fn stated_on_is_the_earliest_date_of_the_attributions_and_follows_every_write(app: TestApp) {
        let late = id(&app.create("/v1/sources", json!({"kind": "article", "title": "Late", "published_on": "2025-03"})).await);
        let early = id(&app.create("/v1/sources", json!({"kind": "article", "title": "Early", "published_on": "2024"})).await);
        let undated = id(&app.create_source("Undated", None).await);
        let claim = id(&app.create_claim("Stated twice.").await);
        let other = id(&app.create_claim("Stated once, undated.").await);
        let never = id(&app.create_claim("Never stated.").await);
        assert_eq!(card(&app, &claim).await["stated_on"], Value::Null);

        app.create_attribution(json!({"claim_id": claim, "source_id": late, "mode": "direct"})).await;
        assert_eq!(card(&app, &claim).await["stated_on"], "2025-03");
        let first = app.create_attribution(json!({"claim_id": claim, "source_id": early, "mode": "direct"})).await;
        assert_eq!(card(&app, &claim).await["stated_on"], "2024");
        app.create_attribution(json!({"claim_id": other, "source_id": undated, "mode": "direct"})).await;
        assert_eq!(card(&app, &other).await["stated_on"], Value::Null);

        // An attribution's own date wins over its source's.
        let path = format!("/v1/attributions/{}", id(&first));
        assert_eq!(app.patch(&path, 1, &json!({"stated_on": "2023-05-02"})).await.status(), StatusCode::OK);
        assert_eq!(card(&app, &claim).await["stated_on"], "2023-05-02");
        // A source's date changes.
        assert_eq!(app.patch(&format!("/v1/sources/{undated}"), 1, &json!({"published_on": "2022"})).await.status(), StatusCode::OK);
        assert_eq!(card(&app, &other).await["stated_on"], "2022");
        // The attribution goes.
        assert_eq!(app.delete(&path, 2).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(card(&app, &claim).await["stated_on"], "2025-03");

        let page: Value = app.get("/v1/claims?sort=stated_on").await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.iter().map(id).collect::<Vec<_>>(), [other.clone(), claim.clone(), never.clone()], "undated last");
        assert_eq!(items[1]["stated_on"], "2025-03");
        assert_eq!(listed(&app, "/v1/claims?sort=-stated_on").await, [claim.clone(), other.clone(), never.clone()]);
        for limit in [1, 2] {
            for sort in ["stated_on", "-stated_on"] {
                let (paged, _) = pages(&app, &format!("/v1/claims?sort={sort}"), limit).await;
                assert_eq!(paged, listed(&app, &format!("/v1/claims?sort={sort}")).await, "{sort} in pages of {limit}");
            }
        }
    }

    async fn list_items_carry_the_first_stating_sources_and_the_counts(app: TestApp) {
        let publisher = id(&app.create_agent("The Guardian").await);
        let claim = id(&app.create_claim("Widely stated.").await);
        let mut sources = Vec::new();
        for (i, date) in ["2025-02", "2024-11", "", "2025-01-15", "2024-12"].iter().enumerate() {
            let mut body = json!({"kind": "article", "title": format!("Story {i}"), "publisher_id": publisher,
                "content": format!("They said it was widely stated {i}.")});
            if !date.is_empty() {
                body["published_on"] = json!(date);
            }
            sources.push(id(&app.create("/v1/sources", body).await));
        }
        for (i, source) in sources.iter().enumerate() {
            app.create_attribution(json!({"claim_id": claim, "source_id": source, "mode": "direct",
                "quote": {"exact": format!("widely stated {i}")}})).await;
        }
        // A second attribution in the earliest source counts, but the source once.
        app.create_attribution(json!({"claim_id": claim, "source_id": sources[1], "mode": "direct", "quote": {"exact": "not in the text"}})).await;
        app.create_claim("Stated by no one.").await;

        let page: Value = app.get("/v1/claims?q=widely").await.json().await.unwrap();
        let item = &page["items"][0];
        assert_eq!((item["attribution_count"].as_i64(), item["source_count"].as_i64()), (Some(6), Some(5)));
        assert_eq!(item["stated_on"], "2024-11");
        let shown: Vec<(&str, &str, &str)> = item["sources"].as_array().unwrap().iter().map(|s| {
            (s["title"].as_str().unwrap(), s["published_on"].as_str().unwrap(), s["quote_status"].as_str().unwrap())
        }).collect();
        assert_eq!(shown, [("Story 1", "2024-11", "verified"), ("Story 4", "2024-12", "verified"), ("Story 3", "2025-01-15", "verified")]);
        assert_eq!(item["sources"][0]["publisher_name"], "The Guardian");
        assert_eq!(item["sources"][0]["id"], sources[1].as_str());
        let page: Value = app.get("/v1/claims?q=no%20one").await.json().await.unwrap();
        let item = &page["items"][0];
        assert_eq!((item["attribution_count"].as_i64(), item["source_count"].as_i64()), (Some(0), Some(0)));
        assert_eq!(item["sources"], json!([]));
        assert_eq!(item["stated_on"], Value::Null);
    }

    async fn list_items_follow_every_write_to_their_attributions_sources_and_publishers(app: TestApp) {
        let outlet = id(&app.create_agent("Outlet A").await);
        let other_outlet = id(&app.create_agent("Outlet B").await);
        let alpha = id(&app.create("/v1/sources", json!({"kind": "article", "title": "Alpha", "published_on": "2025", "publisher_id": outlet})).await);
        let beta = id(&app.create_source("Beta", None).await);
        let claim = id(&app.create_claim("Followed closely.").await);
        let first = id(&app.create_attribution(json!({"claim_id": claim, "source_id": alpha, "mode": "direct"})).await);
        let second = id(&app.create_attribution(json!({"claim_id": claim, "source_id": beta, "mode": "direct"})).await);
        // (title, published_on, publisher_name) of each source shown, and the counts.
        let shown = |item: Value| {
            let sources: Vec<(String, Value, Value)> = item["sources"].as_array().expect("sources").iter()
                .map(|s| (s["title"].as_str().expect("a title").to_string(), s["published_on"].clone(), s["publisher_name"].clone()))
                .collect();
            (sources, item["attribution_count"].as_i64(), item["source_count"].as_i64())
        };
        let item_of = |path: String| {
            let app = &app;
            let claim = claim.clone();
            async move {
                let page: Value = app.get(&path).await.json().await.expect("a page");
                page["items"].as_array().expect("items").iter().find(|i| id(i) == claim).cloned().expect("the claim is listed")
            }
        };
        let item = || item_of("/v1/claims?limit=200".to_string());
        assert_eq!(shown(item().await), (vec![
            ("Alpha".into(), json!("2025"), json!("Outlet A")),
            ("Beta".into(), Value::Null, Value::Null),
        ], Some(2), Some(2)));

        // The publisher is renamed.
        assert_eq!(app.patch(&format!("/v1/agents/{outlet}"), 1, &json!({"name": "Outlet Renamed"})).await.status(), StatusCode::OK);
        assert_eq!(shown(item().await).0[0].2, json!("Outlet Renamed"));
        // A source is dated and retitled: it comes first.
        assert_eq!(app.patch(&format!("/v1/sources/{beta}"), 1, &json!({"published_on": "2020", "title": "Beta 2"})).await.status(), StatusCode::OK);
        assert_eq!(shown(item().await).0, vec![
            ("Beta 2".into(), json!("2020"), Value::Null),
            ("Alpha".into(), json!("2025"), json!("Outlet Renamed")),
        ]);
        // A source changes publisher; an attribution gets its own, earlier date.
        assert_eq!(app.patch(&format!("/v1/sources/{alpha}"), 1, &json!({"publisher_id": other_outlet})).await.status(), StatusCode::OK);
        assert_eq!(app.patch(&format!("/v1/attributions/{first}"), 1, &json!({"stated_on": "2019"})).await.status(), StatusCode::OK);
        let expected = (vec![
            ("Alpha".into(), json!("2025"), json!("Outlet B")),
            ("Beta 2".into(), json!("2020"), Value::Null),
        ], Some(2), Some(2));
        assert_eq!(shown(item().await), expected);
        // The publisher's own claim list shows the same item.
        assert_eq!(shown(item_of(format!("/v1/agents/{other_outlet}/claims")).await), expected);
        // Attributions go.
        assert_eq!(app.delete(&format!("/v1/attributions/{second}"), 1).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(shown(item().await), (vec![("Alpha".into(), json!("2025"), json!("Outlet B"))], Some(1), Some(1)));
        assert_eq!(app.delete(&format!("/v1/attributions/{first}"), 2).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(shown(item().await), (vec![], Some(0), Some(0)));
    }

    async fn a_page_of_list_items_costs_the_same_statements_with_1_or_40_claims(app: TestApp) {
        let source = id(&app.create("/v1/sources", json!({"kind": "article", "title": "Report", "publisher_id": id(&app.create_agent("Outlet").await)})).await);
        for i in 0..40 {
            let claim = id(&app.create("/v1/claims", json!({"text": format!("Claim {i}."), "tags": ["a", "b"]})).await);
            for j in 0..(i % 4) {
                let other = id(&app.create_source(&format!("Source {i}-{j}"), None).await);
                app.create_attribution(json!({"claim_id": claim, "source_id": other, "mode": "citation", "cited_source_id": source})).await;
            }
        }
        let backend = app.backend;
        let (one, page_of_one) = statements_for_list(&app, 1).await;
        let (forty, page_of_forty) = statements_for_list(&app, 40).await;
        assert_eq!(page_of_one, 1);
        assert_eq!(page_of_forty, 40);
        assert_eq!(one, forty, "on {backend:?}, a page's statements grow with its size");
        assert!(one <= 5, "on {backend:?}, a page takes {one} statements");
        let (one, _) = statements_for_backed(&app, &source, 1).await;
        let (many, page) = statements_for_backed(&app, &source, 40).await;
        assert_eq!(page, 30);
        assert_eq!(one, many, "on {backend:?}, a source's claim list grows with its size");
        assert!(one <= 7, "on {backend:?}, a source's claim page takes {one} statements");
    }

    async fn only_the_plain_lists_page_statements_are_kept_prepared(app: TestApp) {
        for i in 0..3 {
            app.create_claim(&format!("Fuel convoy {i} was stopped.")).await;
        }
        let filtered = |query: ClaimQuery| ClaimQuery { limit: Some(2), ..query };
        let runs = kept_statements(&app, vec![
            filtered(ClaimQuery { q: Some("fuel".into()), ..Default::default() }),
            filtered(ClaimQuery { kind: Some(claimtrail::claims::model::ClaimKind::Statement), ..Default::default() }),
            filtered(ClaimQuery { place: Some("Bamako".into()), sort: Some(ClaimSort::OldestFirst), ..Default::default() }),
            // The plain list, in a sort no request of this test used.
            filtered(ClaimQuery { sort: Some(ClaimSort::OldestFirst), ..Default::default() }),
            filtered(ClaimQuery { sort: Some(ClaimSort::OldestFirst), ..Default::default() }),
        ])
        .await;
        // A page statement is the one that reads listed rows (`… AS doc`).
        let pages = |kept: &Vec<String>| kept.iter().filter(|sql| sql.contains(" AS doc")).count();
        for (run, kept) in runs[..3].iter().enumerate() {
            assert_eq!(pages(kept), 0, "on {:?}, request {run} kept its page statement: {kept:#?}", app.backend);
        }
        assert_eq!(pages(&runs[3]), 1, "on {:?}, the plain list's page statement is kept: {:#?}", app.backend, runs[3]);
        assert_eq!(runs[4], Vec::<String>::new(), "on {:?}, the second plain page prepares nothing", app.backend);
    }

    async fn origins_name_what_they_are_and_why(app: TestApp) {
        let claim = id(&app.create_claim("Seventeen thousand died.").await);
        let outlet = id(&app.create_source("Outlet", None).await);
        let dataset = id(&app.create_source("Dataset", None).await);
        let direct = id(&app.create_source("Direct report", None).await);
        let minister = id(&app.create("/v1/agents", json!({"kind": "person", "name": "A minister"})).await);
        app.create_attribution(json!({"claim_id": claim, "source_id": outlet, "mode": "citation", "cited_source_id": dataset})).await;
        app.create_attribution(json!({"claim_id": claim, "source_id": direct, "mode": "direct"})).await;
        app.create_attribution(json!({"claim_id": claim, "source_id": outlet, "mode": "quote", "speaker_id": minister})).await;
        let graph: Value = app.get(&format!("/v1/claims/{claim}/provenance")).await.json().await.unwrap();
        let mut origins: Vec<Value> = graph["origins"].as_array().unwrap().clone();
        origins.sort_by_key(|o| o["id"].as_str().unwrap().to_string());
        let mut expected = vec![
            json!({"id": dataset, "type": "source", "title": "Dataset", "why": "cold_trail"}),
            json!({"id": direct, "type": "source", "title": "Direct report", "why": "own_authority"}),
            json!({"id": minister, "type": "agent", "name": "A minister", "why": "speaker"}),
        ];
        expected.sort_by_key(|o| o["id"].as_str().unwrap().to_string());
        assert_eq!(origins, expected);
        assert_eq!(graph["independent_origins"], 3);
        let node_ids: BTreeSet<String> = graph["nodes"].as_array().unwrap().iter().map(id).collect();
        assert!(origins.iter().all(|o| node_ids.contains(o["id"].as_str().unwrap())), "every origin is a node");
    }
}

/// Statements one page of `GET /v1/claims?limit=…` costs (every claim has
/// tags and some attributions), counted on a connection of the test's pool.
async fn statements_for_list(app: &TestApp, limit: i64) -> (usize, usize) {
    counted(app, move |conn| {
        let query = claimtrail::claims::model::ClaimQuery { limit: Some(limit), ..Default::default() };
        claimtrail::claims::listing::list(conn, query, limit).expect("a page").items.len()
    })
    .await
}

/// Statements one page of a source's claims costs.
async fn statements_for_backed(app: &TestApp, source: &str, limit: i64) -> (usize, usize) {
    let source = source.parse().expect("a source id");
    counted(app, move |conn| {
        let query =
            claimtrail::provenance::model::ClaimsOfQuery { role: None, sort: None, limit: Some(limit), cursor: None };
        claimtrail::provenance::store::claims_of_source(conn, &source, &query, limit).expect("a page").items.len()
    })
    .await
}

/// The statements each of these list requests adds to the prepared
/// statement cache of one connection, run one after the other on it.
async fn kept_statements(app: &TestApp, queries: Vec<ClaimQuery>) -> Vec<Vec<String>> {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        let kept = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = kept.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                sink.lock().expect("the list of kept statements").push(sql.to_string());
            }
        });
        let mut runs = Vec::new();
        for query in queries {
            claimtrail::claims::listing::list(&mut conn, query, 2).expect("a page");
            runs.push(std::mem::take(&mut *kept.lock().expect("the list of kept statements")));
        }
        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
        runs
    })
    .await
    .expect("the blocking task")
}

async fn counted(
    app: &TestApp,
    work: impl FnOnce(&mut claimtrail::db::DbConnection) -> usize + Send + 'static,
) -> (usize, usize) {
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let items = work(&mut conn);
        conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
        (count.load(Ordering::SeqCst), items)
    })
    .await
    .expect("the blocking task")
}

/// Every id the OpenAPI document gives as an example is a record of the
/// seed data, so that "Try it out" works on a fresh server.
#[test]
fn the_openapi_examples_name_only_seed_records() {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).expect("the spec");
    let seeds: BTreeSet<String> = claimtrail::seed::records()
        .expect("the seed records")
        .iter()
        .map(|r| claimtrail::seed::seed_id(r.kind, &r.key).to_string())
        .collect();
    // The seed articles hold no verdicts, so no review is a seed record:
    // the review examples name the review that the create example makes
    // (tests/api/operations.rs makes it before trying them).
    let document: serde_json::Value = serde_json::from_str(&spec).expect("the spec is JSON");
    let example_review =
        document["components"]["schemas"]["Review"]["example"]["id"].as_str().expect("an example review");
    let uuid = |s: &str| s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4;
    let mut examples = 0;
    for token in spec.split('"').filter(|t| uuid(t) && *t != example_review) {
        assert!(seeds.contains(token), "{token} in openapi/openapi.json is not a seed record");
        examples += 1;
    }
    assert!(examples >= 10, "only {examples} ids in the spec");
}

/// Name search at 100,000 agents and 100,000 sources on SQLite: the plans
/// read the full-text index and seek the tables, never scan them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_searches_read_the_full_text_index_not_the_tables_on_sqlite() {
    use claimtrail::agents::model::{AgentKind, NewAgent};
    use claimtrail::agents::store::{self as agent_store, AgentRow};
    use claimtrail::db::write::{Actor, Change, Stamp};
    use claimtrail::ids::{AgentId, SourceId};
    use claimtrail::names::{NameSearch, Names};
    use claimtrail::sources::model::{NewSource, SourceKind};
    use claimtrail::sources::store::{self as source_store, SourceRow};

    let app = crate::helpers::spawn_app(claimtrail::db::Backend::Sqlite).await;
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        claimtrail::db::write_tx(&mut conn, Change::now(Actor::Generate), |tx| {
            let stamp = Stamp::created(claimtrail::db::now());
            let agents: Vec<AgentRow> = (0..100_000)
                .map(|i| {
                    let body = NewAgent {
                        id: None,
                        kind: if i % 3 == 0 { AgentKind::Person } else { AgentKind::Organization },
                        name: format!("Agent {i} of the {} institute", claimtrail::generate::vocabulary_word(i % 5000)),
                        description: Some(format!("about {}", claimtrail::generate::vocabulary_word(i % 700))),
                        anonymous: false,
                        affiliation_id: None,
                        url: None,
                        wikidata_id: None,
                        aliases: vec![format!("A{i}")],
                    };
                    AgentRow::new(AgentId::generate(), body, stamp)
                })
                .collect();
            let publishers: Vec<AgentId> = agents.iter().take(500).map(|a| a.id.clone()).collect();
            agent_store::insert(tx, &agents)?;
            let sources: Vec<SourceRow> = (0..100_000)
                .map(|i| {
                    let body = NewSource {
                        id: None,
                        kind: SourceKind::Article,
                        title: format!("Report {i} on {}", claimtrail::generate::vocabulary_word(i % 3000)),
                        url: Some(format!("https://example.org/{i}")),
                        publisher_id: Some(publishers[i % publishers.len()].clone()),
                        byline: None,
                        published_on: None,
                        language: None,
                        content: None,
                        archived_url: None,
                    };
                    SourceRow::new(SourceId::generate(), body, stamp)
                })
                .collect();
            source_store::insert(tx, &sources)
        })
        .expect("100,000 agents and sources");
        claimtrail::db::after_bulk_load(&mut conn).expect("analyzed");
    })
    .await
    .expect("the blocking task");

    let mut conn = app.db.get().expect("a connection");
    let word = claimtrail::generate::vocabulary_word(3);
    for (target, q, filters) in [
        (Names::Agents, "agent 12", vec![]),
        (Names::Agents, word.as_str(), vec![("agents.kind", "person".to_string())]),
        (Names::Sources, "report", vec![]),
        (Names::Sources, "example 77", vec![("sources.kind", "article".to_string())]),
    ] {
        let search = NameSearch::new(target, Some(q), filters, "f", None, 50).expect("valid").expect("not blank");
        let plan = search.explain(&mut conn).expect("a plan");
        for line in &plan {
            for table in ["agents", "sources", "agent_documents", "source_documents"] {
                let scan = format!("SCAN {table}");
                let full_scan =
                    line.trim() == scan || (line.starts_with(&format!("{scan} ")) && !line.contains(" USING "));
                assert!(!full_scan, "{target:?} q={q}: `{line}` reads all of {table}; plan: {plan:#?}");
            }
        }
        assert!(plan.iter().any(|l| l.contains("_fts VIRTUAL TABLE")), "{target:?} q={q}: {plan:#?}");
        let found = search.matches(&mut conn).expect("matches");
        assert!(!found.is_empty(), "{target:?} q={q} finds nothing");
    }
}

/// A search with many matches walked newest or oldest first reads the
/// claims in windows and their matches from a range of the full-text index
/// (or, where the window's documents are far apart, probes them one by
/// one): on 3,000 generated claims and claims imported later with older
/// dates (their documents are the newest), every page of the walk, cursor
/// by cursor, holds what reading the matches and sorting them holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_walked_in_windows_pages_through_the_same_claims_as_one_reading_its_matches_on_sqlite() {
    let app = crate::helpers::spawn_app(claimtrail::db::Backend::Sqlite).await;
    let db = app.db.clone();
    tokio::task::spawn_blocking(move || claimtrail::generate::generate(&db, 3000, 5))
        .await
        .unwrap()
        .expect("generated data");
    let texts = [
        ("Securities were sold off as security worsened.", Some("en")),
        ("The army secured the road; security held.", None),
        ("La sécurité de Gao: security forces left.", Some("fr")),
        ("Officials said the attack was repelled.", None),
    ];
    let records: Vec<Value> = (0..400)
        .map(|i| {
            let (text, language) = texts[i % texts.len()];
            let at = format!("2001-01-01T00:{:02}:{:02}Z", i / 60, i % 60);
            json!({"type": "claim", "data": {
                "id": format!("0193a7e0-0000-7000-8000-{:012x}", 0xd000 + i),
                "text": format!("{text} ({i})"), "language": language,
                "created_at": at, "updated_at": at, "version": 1,
            }})
        })
        .collect();
    let response = crate::transfer::post_import(&app, "", crate::transfer::transfer_file(&records)).await;
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.text().await);

    let db = app.db.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = db.get().expect("a connection");
        for q in ["security", "the", "secured", "said attack"] {
            for sort in [None, Some(ClaimSort::OldestFirst)] {
                for reviewed in [None, Some(false)] {
                    let query = |cursor: Option<String>| ClaimQuery {
                        q: Some(q.to_string()),
                        sort,
                        reviewed,
                        cursor,
                        ..Default::default()
                    };
                    let mut pages = [Vec::new(), Vec::new()];
                    for (walk, ids) in pages.iter_mut().enumerate() {
                        let mut cursor = None;
                        loop {
                            let page = if walk == 1 {
                                claimtrail::claims::listing::list_walking(&mut conn, query(cursor), 100)
                            } else {
                                claimtrail::claims::listing::list(&mut conn, query(cursor), 100)
                            }
                            .expect("a page");
                            ids.push(page.items.into_iter().map(|item| item.claim.id.to_string()).collect::<Vec<_>>());
                            cursor = page.next_cursor;
                            if cursor.is_none() {
                                break;
                            }
                        }
                    }
                    let [read, walked] = pages;
                    assert_eq!(walked, read, "q={q} sort={sort:?} reviewed={reviewed:?}");
                    let found: usize = read.iter().map(Vec::len).sum();
                    assert!(found > 100, "q={q}: only {found} claims");
                }
            }
            // A window reads the sort's index alone (and seeks the
            // tables a filter needs); the matches come from the full-text
            // index, by range or by row.
            let query = ClaimQuery { q: Some(q.to_string()), reviewed: Some(false), ..Default::default() };
            let plan = claimtrail::claims::listing::explain_walking(&mut conn, query).expect("a plan");
            assert!(
                plan.iter().any(|l| l.starts_with("SCAN claims USING COVERING INDEX claims_by_created")),
                "{plan:#?}"
            );
            assert!(plan.iter().filter(|l| l.contains("claims_fts VIRTUAL TABLE")).count() >= 2, "{plan:#?}");
            for line in &plan {
                assert!(!["SCAN claims", "SCAN claim_documents", "SCAN reviews"].contains(&line.trim()), "{plan:#?}");
            }
        }
    })
    .await
    .expect("the comparison");
}
