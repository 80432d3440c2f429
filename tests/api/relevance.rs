//! Relevance on SQLite: `claimtrail_bm25`'s scores against FTS5's `bm25`,
//! and one- and two-word searches answered from `claim_terms` and the
//! posting lists kept from it, against the full ranking, across writes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::search::id;

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

/// Forty claims, most holding `security`, `officials` or both, in
/// documents of unlike lengths: two words of like weight.
async fn security_and_officials(app: &TestApp) {
    for i in 0..40 {
        let text = match i % 4 {
            0 => format!("Security officials met in Gao on day {i}, with many others present at length."),
            1 => format!("Officials of the security council spoke on day {i}, after a long and tiring session."),
            2 => format!("Security was tight on day {i}."),
            _ => format!("Officials said nothing on day {i}."),
        };
        app.create_claim(&text).await;
    }
}

/// The search of [`security_and_officials`]' two words, by relevance.
const SECURITY_OFFICIALS: &str = "/v1/claims?q=security%20officials&sort=relevance&limit=5";

/// The ids of a page of claims, in order.
fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().into_iter().flatten().filter_map(|i| i["id"].as_str().map(str::to_string)).collect()
}

/// A metrics listener's `claimtrail_posting_lists_total` by result (kept,
/// read, fts5) and `claimtrail_posting_lists_bytes`.
async fn posting_lists(client: &reqwest::Client, metrics: &str) -> ([Option<u64>; 3], Option<u64>) {
    let text = client.get(format!("{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
    let counts = ["kept", "read", "fts5"].map(|result| {
        let name = format!(r#"claimtrail_posting_lists_total{{result="{result}"}} "#);
        text.lines().find_map(|line| line.strip_prefix(name.as_str())).and_then(|v| v.parse::<u64>().ok())
    });
    let bytes = text.lines().find_map(|line| line.strip_prefix("claimtrail_posting_lists_bytes ")?.parse::<u64>().ok());
    (counts, bytes)
}

/// A server on SQLite with a metrics listener, and that listener's address.
async fn with_metrics() -> (TestApp, String) {
    let app = crate::helpers::spawn_app_with(claimtrail::db::Backend::Sqlite, |s| {
        s.metrics.metrics_bind = Some("127.0.0.1:0".to_string());
    })
    .await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    (app, metrics)
}

/// [`with_metrics`], on a database file other servers may open too: the
/// server, the file and its metrics listener's address.
async fn with_metrics_on_a_file() -> (TestApp, String, String) {
    let (url, dir) = crate::helpers::fresh_database(claimtrail::db::Backend::Sqlite);
    let with_metrics = |s: &mut claimtrail::config::Settings| s.metrics.metrics_bind = Some("127.0.0.1:0".to_string());
    let app = crate::helpers::spawn_app_at(claimtrail::db::Backend::Sqlite, url.clone(), dir, with_metrics).await;
    let metrics = app.metrics_address.clone().expect("a metrics listener");
    (app, url, metrics)
}

/// Waits (ten seconds at most) until the server behind the metrics
/// listener keeps some posting lists.
async fn until_lists_are_kept(client: &reqwest::Client, metrics: &str) {
    for _ in 0..100 {
        if posting_lists(client, metrics).await.1.unwrap_or(0) > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the lists were never kept");
}

/// A server started on a database reads the posting lists that a server
/// on it kept before (their terms are written to a file beside the
/// database as they are kept) before any search asks: the first search of
/// two words searched before is ranked from them, not by FTS5, and gives
/// the same page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_ranks_a_search_made_before_from_lists_read_before_it_comes() {
    let (first, url, first_metrics) = with_metrics_on_a_file().await;
    security_and_officials(&first).await;
    // Ranked by FTS5; by FTS5 with the lists read; from the lists.
    first.get(SECURITY_OFFICIALS).await;
    first.get(SECURITY_OFFICIALS).await;
    until_lists_are_kept(&first.client, &first_metrics).await;
    let page: Value = first.get(SECURITY_OFFICIALS).await.json().await.expect("a page");
    assert_eq!(posting_lists(&first.client, &first_metrics).await.0, [Some(1), Some(1), Some(1)]);
    // Written just after the lists are kept, by the thread that read them.
    let file = format!("{url}.posting-lists.json");
    for _ in 0..100 {
        if std::path::Path::new(&file).exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let remembered: Vec<String> =
        serde_json::from_slice(&std::fs::read(&file).expect("the terms, beside the database"))
            .expect("a list of terms");
    assert!(["security", "officials"].iter().all(|term| remembered.iter().any(|r| r == term)), "{remembered:?}");

    // A second server on the same file (built without the keys the test
    // helper writes, so that no commit comes while it reads the lists).
    let (address, metrics) = server_on(&url, claimtrail::config::DEFAULT_STORED_LISTS_MIN_CLAIMS).await;
    until_lists_are_kept(&first.client, &metrics).await;
    let again: Value =
        first.client.get(format!("{address}{SECURITY_OFFICIALS}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ids(&again), ids(&page), "the same page");
    assert_eq!(ids(&page).len(), 5);
    assert_eq!(posting_lists(&first.client, &metrics).await.0, [Some(1), Some(0), Some(0)], "kept, read, fts5");
}

/// Another server on `url`, with a metrics listener, that stores the
/// posting lists of the terms in at least `min` claims (none of the test
/// helper's keys are written, so that it commits nothing of its own): its
/// address and its metrics listener's.
async fn server_on(url: &str, min: u64) -> (String, String) {
    let mut settings = claimtrail::config::Settings::for_database(url);
    settings.metrics.metrics_bind = Some("127.0.0.1:0".to_string());
    settings.stored_lists_min_claims = min;
    let app = claimtrail::Application::build(settings).await.expect("the app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics = format!("http://127.0.0.1:{}", app.metrics_port().expect("a metrics listener"));
    tokio::spawn(app.run_until_stopped());
    (address, metrics)
}

/// A metrics listener's `claimtrail_stored_posting_lists_total` by event:
/// loaded, stale, written.
async fn stored_lists(client: &reqwest::Client, metrics: &str) -> [u64; 3] {
    let text = client.get(format!("{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
    ["loaded", "stale", "written"].map(|event| {
        let name = format!(r#"claimtrail_stored_posting_lists_total{{event="{event}"}} "#);
        text.lines().find_map(|line| line.strip_prefix(name.as_str())).and_then(|v| v.parse().ok()).unwrap_or(0)
    })
}

/// Waits (ten seconds at most) until the server behind the metrics
/// listener has written `lists` posting lists to the database.
async fn until_lists_are_stored(client: &reqwest::Client, metrics: &str, lists: u64) {
    for _ in 0..100 {
        if stored_lists(client, metrics).await[2] >= lists {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the lists were never stored: {:?}", stored_lists(client, metrics).await);
}

/// A server stores the posting lists of the terms in at least
/// `--stored-lists-min-claims` claims in the database when it starts, and
/// the first search of two such words on a server is ranked from them,
/// not by FTS5, with the same page; a stored list is carried over the
/// documents changed since it was stored, and one the log no longer
/// reaches back to is found stale and stored anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_search_on_a_server_is_ranked_from_posting_lists_stored_in_the_database() {
    let (app, url, app_metrics) = with_metrics_on_a_file().await;
    security_and_officials(&app).await;
    // The helper's server stores none (the default is 20,000 claims).
    let by_fts5: Value = app.get(SECURITY_OFFICIALS).await.json().await.expect("a page");
    assert_eq!(posting_lists(&app.client, &app_metrics).await.0, [Some(0), Some(0), Some(1)], "kept, read, fts5");
    assert_eq!(stored_lists(&app.client, &app_metrics).await, [0, 0, 0]);
    assert_eq!(ids(&by_fts5).len(), 5);
    // (Not the field break between a claim's fields, which no search reads.)
    let common = "SELECT count(*) AS line FROM claim_term_docs WHERE docs >= 20 AND term <> char(57360)";
    let common: u64 = crate::helpers::lines_of(&app.db, common)[0].parse().expect("a count");
    let stored = "SELECT count(*) AS line FROM claim_term_lists";
    assert_eq!(crate::helpers::lines_of(&app.db, stored), ["0"]);
    assert!(common >= 4, "security, officials and their stems at least: {common}");

    // A server that stores the lists of terms in 20 claims or more: all of
    // them, at start; its first search is ranked from them.
    let (second, second_metrics) = server_on(&url, 20).await;
    until_lists_are_stored(&app.client, &second_metrics, common).await;
    assert_eq!(crate::helpers::lines_of(&app.db, stored), [common.to_string()]);
    let search = |address: String| {
        let client = &app.client;
        async move { client.get(format!("{address}{SECURITY_OFFICIALS}")).send().await.unwrap().json::<Value>().await }
    };
    let page = search(second.clone()).await.expect("a page");
    assert_eq!(ids(&page), ids(&by_fts5), "the same page");
    assert_eq!(posting_lists(&app.client, &second_metrics).await.0, [Some(1), Some(0), Some(0)], "kept, read, fts5");
    let [loaded, stale, written] = stored_lists(&app.client, &second_metrics).await;
    assert!(loaded >= 2 && stale == 0 && written == common, "loaded, stale, written: {loaded}, {stale}, {written}");

    // A claim that holds both words, short: the best match. A server
    // started after it finds the stored lists current (the log tells what
    // changed since), stores none, and carries them over the new claim.
    let best = app.create_claim("Security officials; security officials.").await;
    let id = best["id"].as_str().expect("an id").to_string();
    let (third, third_metrics) = server_on(&url, 20).await;
    let page = search(third).await.expect("a page");
    assert_eq!(ids(&page).first(), Some(&id), "the new claim first: {page}");
    assert_eq!(posting_lists(&app.client, &third_metrics).await.0, [Some(1), Some(0), Some(0)], "kept, read, fts5");
    let [loaded, stale, written] = stored_lists(&app.client, &third_metrics).await;
    assert!(loaded >= 2 && stale == 0 && written == 0, "loaded, stale, written: {loaded}, {stale}, {written}");

    // Every document changed, as a bulk write that fills `claim_terms`
    // again logs it: the stored lists are stale, and the next server stores
    // them anew before its first search finds them.
    // (Without the file of the terms kept, so that the server reads no
    // list at start besides those it stores.)
    crate::helpers::run_sql(&app.db, "INSERT INTO claim_terms_log (doc) VALUES (-1)");
    std::fs::remove_file(format!("{url}.posting-lists.json")).expect("the terms kept, beside the database");
    let (fourth, fourth_metrics) = server_on(&url, 20).await;
    until_lists_are_stored(&app.client, &fourth_metrics, common).await;
    // (Then read as the lists of terms in a quarter of the claims: loaded.)
    let [_, stale, written] = stored_lists(&app.client, &fourth_metrics).await;
    assert_eq!([stale, written], [common, common], "every one stale, stored anew");
    let page = search(fourth).await.expect("a page");
    assert_eq!(ids(&page).first(), Some(&id), "the new claim still first: {page}");
    assert_eq!(posting_lists(&app.client, &fourth_metrics).await.0, [Some(1), Some(0), Some(0)], "kept, read, fts5");

    // A list in a format this build cannot read (a later version's) is
    // not used, and the next server stores it anew.
    crate::helpers::run_sql(&app.db, "UPDATE claim_term_lists SET format = 9 WHERE term = 'security'");
    std::fs::remove_file(format!("{url}.posting-lists.json")).expect("the terms kept, beside the database");
    let (_, fifth_metrics) = server_on(&url, 20).await;
    until_lists_are_stored(&app.client, &fifth_metrics, 1).await;
    let [_, stale, written] = stored_lists(&app.client, &fifth_metrics).await;
    assert_eq!([stale, written], [1, 1], "stale, written");
    let format =
        "SELECT format || ' ' || hex(substr(list, 1, 4)) AS line FROM claim_term_lists WHERE term = 'security'";
    assert_eq!(crate::helpers::lines_of(&app.db, format), ["1 43544C31"], "format 1, marked CTL1");
}

/// The terms a server on `url` has written beside the database as those
/// whose lists it keeps, once they include `term` (ten seconds at most).
async fn until_terms_kept_include(url: &str, term: &str) -> Vec<String> {
    let file = format!("{url}.posting-lists.json");
    for _ in 0..100 {
        let terms: Vec<String> =
            std::fs::read(&file).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default();
        if terms.iter().any(|kept| kept == term) {
            return terms;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the lists of '{term}' were never kept");
}

/// A metrics listener's `claimtrail_posting_lists_indexed_total`, once it
/// is at least `least` (ten seconds at most; what it is then, if never).
async fn lists_indexed(client: &reqwest::Client, metrics: &str, least: u64) -> u64 {
    let mut indexed = 0;
    for _ in 0..100 {
        let text = client.get(format!("{metrics}/metrics")).send().await.unwrap().text().await.unwrap();
        let line = text.lines().find_map(|line| line.strip_prefix("claimtrail_posting_lists_indexed_total "));
        indexed = line.and_then(|v| v.parse().ok()).unwrap_or(0);
        if indexed >= least {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    indexed
}

/// A server reads at start, before any search asks, the stored posting
/// lists of the terms in a quarter of the claims or more (and only
/// those), and indexes them: its first search of two such words is
/// ranked from them, with the same page as FTS5's, none loaded for it. So
/// does a server started later on the same file, with no file of the
/// terms kept before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_reads_at_start_the_stored_lists_of_the_terms_in_a_quarter_of_the_claims() {
    let (app, url, _) = with_metrics_on_a_file().await;
    // 48 claims: `security` and `officials` in 30 each, `gao` in 10 and
    // `bamako` in 8 (fewer than 12, a quarter, but stored with 5).
    security_and_officials(&app).await;
    for i in 0..8 {
        app.create_claim(&format!("Troops reached Bamako on day {i}.")).await;
    }
    let by_fts5: Value = app.get(SECURITY_OFFICIALS).await.json().await.expect("a page");
    assert_eq!(ids(&by_fts5).len(), 5);
    let stored = "SELECT term AS line FROM claim_term_lists WHERE term IN ('bamako', 'gao', 'security') ORDER BY term";
    let break_held = "SELECT count(*) AS line FROM claim_term_docs WHERE term = char(57360) AND docs >= 5";
    assert_eq!(crate::helpers::lines_of(&app.db, break_held), ["1"], "the field break, in every claim");
    let break_stored = "SELECT count(*) AS line FROM claim_term_lists WHERE term = char(57360)";

    for (server, expect) in [("the first", "written"), ("a second", "current")] {
        let (address, metrics) = server_on(&url, 5).await;
        let kept = until_terms_kept_include(&url, "security").await;
        assert_eq!(crate::helpers::lines_of(&app.db, stored), ["bamako", "gao", "security"], "{expect}");
        assert_eq!(crate::helpers::lines_of(&app.db, break_stored), ["0"], "no search reads the field break");
        for common in ["security", "secur", "officials", "offici", "day"] {
            assert!(kept.contains(&common.to_string()), "{server} server keeps {common}: {kept:?}");
        }
        for rarer in ["bamako", "gao"] {
            assert!(!kept.contains(&rarer.to_string()), "{server} server does not read {rarer}: {kept:?}");
        }
        let indexed = lists_indexed(&app.client, &metrics, kept.len() as u64).await;
        assert_eq!(indexed, kept.len() as u64, "{server} server indexes every list it read: {kept:?}");
        let (searches, bytes) = posting_lists(&app.client, &metrics).await;
        assert_eq!(searches, [Some(0), Some(0), Some(0)], "no search yet");
        assert!(bytes.unwrap_or(0) > 0, "{server} server keeps lists before any search");
        let [loaded, stale, _] = stored_lists(&app.client, &metrics).await;
        assert!(loaded >= 5 && stale == 0, "loaded, stale: {loaded}, {stale}");

        let page: Value =
            app.client.get(format!("{address}{SECURITY_OFFICIALS}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(ids(&page), ids(&by_fts5), "the same page");
        assert_eq!(posting_lists(&app.client, &metrics).await.0, [Some(1), Some(0), Some(0)], "kept, read, fts5");
        assert_eq!(stored_lists(&app.client, &metrics).await[0], loaded, "none loaded for the search");
        std::fs::remove_file(format!("{url}.posting-lists.json")).expect("the terms kept, beside the database");
    }
}

/// The posting lists a server reads whole in the background for searches
/// are stored too, when their terms are in enough claims: a server that
/// started on an empty database (and so stored nothing at start) stores
/// the lists of `security officials` once its second search has them read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_read_for_searches_are_stored_when_their_terms_are_in_enough_claims() {
    let (url, dir) = crate::helpers::fresh_database(claimtrail::db::Backend::Sqlite);
    let (storing, storing_metrics) = server_on(&url, 20).await;
    let app = crate::helpers::spawn_app_at(claimtrail::db::Backend::Sqlite, url.clone(), dir, |_| {}).await;
    security_and_officials(&app).await;
    let terms = "SELECT term AS line FROM claim_term_lists ORDER BY term";
    assert_eq!(crate::helpers::lines_of(&app.db, terms), Vec::<String>::new(), "none stored at start");

    // Ranked by FTS5; by FTS5, the lists read in the background and stored.
    for _ in 0..2 {
        let response = app.client.get(format!("{storing}{SECURITY_OFFICIALS}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    until_lists_are_stored(&app.client, &storing_metrics, 2).await;
    let stored = crate::helpers::lines_of(&app.db, terms);
    assert!(["officials", "security"].iter().all(|t| stored.iter().any(|s| s == t)), "{stored:?}");
    assert!(stored.iter().all(|t| ["offici", "officials", "secur", "security"].contains(&t.as_str())), "{stored:?}");
    let [loaded, stale, written] = stored_lists(&app.client, &storing_metrics).await;
    assert_eq!((loaded, stale, written as usize), (0, 0, stored.len()), "loaded, stale, written");
}

/// An import through the server that fills `claim_terms` again whole
/// (the log cannot tell what it changed) has the posting lists the server
/// kept read again at once, before the response: the first search after
/// it is ranked from them, not by FTS5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_search_after_an_import_through_the_server_is_ranked_from_lists_read_again() {
    let (app, metrics) = with_metrics().await;
    security_and_officials(&app).await;
    app.get(SECURITY_OFFICIALS).await;
    app.get(SECURITY_OFFICIALS).await;
    until_lists_are_kept(&app.client, &metrics).await;
    app.get(SECURITY_OFFICIALS).await;
    assert_eq!(posting_lists(&app.client, &metrics).await.0, [Some(1), Some(1), Some(1)], "kept, read, fts5");

    // Claims from another database, more than those here: the import
    // refreshes most claims, and fills `claim_terms` again whole.
    let (other_url, _other_dir) = crate::helpers::fresh_database(claimtrail::db::Backend::Sqlite);
    let other = claimtrail::db::Db::connect(&other_url, 1).expect("another database");
    crate::transfer::fill(&other, 120);
    let response = crate::transfer::post_import(&app, "", crate::transfer::export_of(&other)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let refilled = "SELECT count(*) AS line FROM claim_terms_log WHERE doc < 0";
    assert_eq!(crate::helpers::lines_of(&app.db, refilled), ["1"], "every document changed, as the log says");

    until_lists_are_kept(&app.client, &metrics).await;
    let page: Value = app.get(SECURITY_OFFICIALS).await.json().await.expect("a page");
    assert_eq!(ids(&page).len(), 5);
    assert_eq!(
        posting_lists(&app.client, &metrics).await.0,
        [Some(2), Some(1), Some(1)],
        "the first search after it: kept"
    );
}

/// Two words of like weight are ranked from their posting lists kept in
/// memory (SQLite): a commit, through the API or by another connection,
/// is seen by the next search at once, the lists carried over it (the
/// documents it changed read again, from `claim_terms_log`); when the log
/// cannot tell what changed (every document did, or its rows since the
/// lists were read are gone), that search is ranked by FTS5 and has the
/// lists read again whole, in the background, and the next one uses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_words_ranked_from_kept_posting_lists_see_every_commit() {
    let (app, metrics) = with_metrics().await;
    // `claimtrail_posting_lists_total` by result: kept, read, fts5.
    let counts = || async { posting_lists(&app.client, &metrics).await.0 };
    // What three searches added to the counts since `before`, when the
    // lists were read again at once after the first: none counted as
    // `read` (no search had to ask for them), at most the first ranked by
    // FTS5 (the read may even be done before it looks), the rest from the
    // kept lists. The counts after them.
    let read_again_at_once = |before: [Option<u64>; 3]| async move {
        let after = counts().await;
        let added: Vec<u64> = after.iter().zip(before).map(|(a, b)| a.unwrap_or(0) - b.unwrap_or(0)).collect();
        assert!(added[1] == 0 && added[2] <= 1 && added[0] + added[2] == 3, "kept, read, fts5 added: {added:?}");
        after
    };
    security_and_officials(&app).await;
    // Three times: ranked by FTS5; by FTS5, the lists read in the
    // background (waited for); from the kept lists. `read_after` is the
    // search after which the lists are read: the second, or the first when
    // the lists were kept before and could not be carried over a commit.
    let three = |read_after: usize| {
        let (app, metrics) = (&app, &metrics);
        async move {
            let mut pages = Vec::new();
            for time in 0..3 {
                if time == read_after + 1 {
                    until_lists_are_kept(&app.client, metrics).await;
                }
                pages.push(ids(&app.get(SECURITY_OFFICIALS).await.json::<Value>().await.expect("a page")));
            }
            pages
        }
    };
    let before = three(1).await;
    assert_eq!(before[0].len(), 5, "{before:?}");
    assert!(before.iter().all(|page| page == &before[0]), "the same page each time: {before:?}");
    assert_eq!(counts().await, [Some(1), Some(1), Some(1)], "kept, read, fts5");

    // A claim that holds both words, short: the best match once committed.
    let best = app.create_claim("Security officials; security officials.").await;
    let id = best["id"].as_str().expect("an id").to_string();
    for page in three(1).await {
        assert_eq!(page.first(), Some(&id), "the new claim first: {page:?}");
    }
    assert_eq!(counts().await, [Some(4), Some(1), Some(1)], "kept, read, fts5: carried over the commit");

    // Written by another connection, outside the server.
    crate::helpers::run_sql(&app.db, &format!("UPDATE claims SET text = 'Nothing to see here.' WHERE id = '{id}'"));
    for page in three(1).await {
        assert_eq!(page, before[0], "the claim no longer holds the words");
    }
    assert_eq!(counts().await, [Some(7), Some(1), Some(1)], "kept, read, fts5: and over the other connection's");
    let mut last = counts().await;

    // Every document changed (as a bulk write that fills `claim_terms`
    // again whole logs it): the first search is ranked by FTS5 and has the
    // lists read again at once.
    crate::helpers::run_sql(&app.db, "INSERT INTO claim_terms_log (doc) VALUES (-1)");
    assert!(three(0).await.iter().all(|page| page == &before[0]));
    last = read_again_at_once(last).await;

    // The log's rows since the lists were read are gone (it keeps 4,096).
    let logged = (0..4200).map(|_| "(1)").collect::<Vec<_>>().join(", ");
    crate::helpers::run_sql(&app.db, &format!("INSERT INTO claim_terms_log (doc) VALUES {logged}"));
    assert!(three(0).await.iter().all(|page| page == &before[0]));
    last = read_again_at_once(last).await;
    // The same with few rows since: the first of them gone.
    crate::helpers::run_sql(
        &app.db,
        "INSERT INTO claim_terms_log (doc) VALUES (1), (2); \
         DELETE FROM claim_terms_log WHERE seq < (SELECT max(seq) FROM claim_terms_log)",
    );
    assert!(three(0).await.iter().all(|page| page == &before[0]));
    last = read_again_at_once(last).await;

    // The claim holds the words again, through the API: carried.
    let claim: Value = app.get(&format!("/v1/claims/{id}")).await.json().await.expect("the claim");
    let version = claim["version"].as_i64().expect("a version");
    let body = serde_json::json!({"text": "Security officials; security officials."});
    let changed = app.patch(&format!("/v1/claims/{id}"), version, &body).await;
    assert_eq!(changed.status(), 200);
    for page in three(1).await {
        assert_eq!(page.first(), Some(&id), "the claim first again: {page:?}");
    }
    let carried = counts().await;
    assert_eq!(carried, [last[0].map(|kept| kept + 3), Some(1), last[2]], "kept, read, fts5: carried again");

    // The log emptied: what changed since cannot be told.
    crate::helpers::run_sql(&app.db, "DELETE FROM claim_terms_log");
    for page in three(0).await {
        assert_eq!(page.first(), Some(&id), "the claim still first: {page:?}");
    }
    read_again_at_once(carried).await;
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
