"""Patches every claim of a claimtrail database twice over HTTP, with four
clients on kept-alive connections; prints the patches per second."""
import http.client
import json
import sqlite3
import sys
import threading
import time
import urllib.parse

db, base, key = sys.argv[1], sys.argv[2], sys.argv[3]
ids = [row[0] for row in sqlite3.connect(db).execute("SELECT id FROM claims ORDER BY id")]
url = urllib.parse.urlparse(base)
failures = []


def worker(part):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    for claim in part:
        for version, patch in ((1, {"status": "supported"}), (2, {"place": "Bamako"})):
            conn.request("PATCH", f"/v1/claims/{claim}", body=json.dumps(patch), headers={
                "Authorization": f"Bearer {key}", "Content-Type": "application/merge-patch+json",
                "If-Match": f'"{version}"'})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append((claim, response.status))


start = time.time()
threads = [threading.Thread(target=worker, args=(ids[i::4],)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - start
if failures:
    sys.exit(f"{len(failures)} patches failed, e.g. {failures[:3]}")
print(round(2 * len(ids) / elapsed))
