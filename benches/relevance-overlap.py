#!/usr/bin/env python3
"""Relevance pages of two claimtrail servers on the same database, side by side.

    python3 benches/relevance-overlap.py DATABASE URL_A URL_B [N] [WORDS]

Picks N (default 50) words of the database's `claim_terms` (three letters
or more, spread over the alphabet by a fixed seed), asks both servers for
`q=<word>&sort=relevance&limit=50` twice (the first run warms each), and
prints how many pages are identical (ids, order, next cursor), the mean
overlap of the two top 50s, and the median and slowest second-run times.
With WORDS = 2, each query is two words that one claim holds (a claim
picked by the same seed, two of its terms of three letters or more).

Environment: QUERIES (e.g. "the since;mali the") asks these queries
instead of picked words; PAGES (default 1) follows each query's
`next_cursor` that many pages deep, every page compared.
"""
import json
import os
import random
import sqlite3
import statistics
import sys
import time
import urllib.parse
import urllib.request


def words_of(database, n):
    rng = random.Random(7)
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    words = []
    for _ in range(n * 20):
        if len(words) == n:
            break
        start = rng.choice("abcdefghijklmnoprstuw") + rng.choice("aeiou")
        row = db.execute(
            "SELECT term FROM claim_terms WHERE term >= ? AND term GLOB '[a-z][a-z][a-z]*' LIMIT 1", (start,)
        ).fetchone()
        if row and row[0] not in words:
            words.append(row[0])
    return words


def pairs_of(database, n):
    rng = random.Random(7)
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    (top,) = db.execute("SELECT max(rowid) FROM claims").fetchone()
    pairs = []
    for _ in range(n * 20):
        if len(pairs) == n:
            break
        terms = [row[0] for row in db.execute(
            "SELECT term FROM claim_terms WHERE doc = ? AND term GLOB '[a-z][a-z][a-z]*' AND written > 0 ORDER BY term",
            (rng.randint(1, top),))]
        if len(terms) >= 2:
            pair = " ".join(rng.sample(terms, 2))
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def page(base, word, cursor=None):
    url = f"{base}/v1/claims?q={urllib.parse.quote(word)}&sort=relevance&limit=50"
    if cursor:
        url += f"&cursor={urllib.parse.quote(cursor)}"
    started = time.perf_counter()
    body = json.load(urllib.request.urlopen(url))
    return body, (time.perf_counter() - started) * 1000


def main():
    database, a, b = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 50
    two = len(sys.argv) > 5 and sys.argv[5] == "2"
    queries = os.environ.get("QUERIES")
    if queries:
        words = [q.strip() for q in queries.split(";") if q.strip()]
    else:
        words = pairs_of(database, n) if two else words_of(database, n)
    pages = int(os.environ.get("PAGES", "1"))
    same, compared, overlaps, times_a, times_b = 0, 0, [], [], []
    for word in words:
        for _ in range(2):
            page_a, time_a = page(a, word)
            page_b, time_b = page(b, word)
        times_a.append(time_a)
        times_b.append(time_b)
        for n_page in range(pages):
            if n_page > 0:
                if not page_a.get("next_cursor") or not page_b.get("next_cursor"):
                    break
                page_a, _ = page(a, word, page_a["next_cursor"])
                page_b, _ = page(b, word, page_b["next_cursor"])
            ids_a = [item["id"] for item in page_a["items"]]
            ids_b = [item["id"] for item in page_b["items"]]
            compared += 1
            same += ids_a == ids_b and page_a.get("next_cursor") == page_b.get("next_cursor")
            overlaps.append(len(set(ids_a) & set(ids_b)) / max(1, len(ids_b)))
    kind = "given" if queries else ("two-word" if two else "one-word")
    print(f"{len(words)} {kind} queries, {compared} pages: identical pages (ids, order, next cursor) {same}/{compared}; "
          f"mean overlap of the top 50 {statistics.mean(overlaps):.3f}")
    print(f"second runs, ms: median {statistics.median(times_a):.2f} ({a}) against {statistics.median(times_b):.2f} ({b}); "
          f"slowest {max(times_a):.2f} against {max(times_b):.2f}")


if __name__ == "__main__":
    main()
