"""Patches every claim of a claimtrail database twice over HTTP, with four
clients on kept-alive connections; prints the patches per second and the
p50 and p99 of a patch's latency in milliseconds."""
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
latencies = []


def worker(part):
    conn = http.client.HTTPConnection(url.hostname, url.port)
    mine = []
    for claim in part:
        for version, patch in ((1, {"status": "supported"}), (2, {"place": "Bamako"})):
            sent = time.perf_counter()
            conn.request("PATCH", f"/v1/claims/{claim}", body=json.dumps(patch), headers={
                "Authorization": f"Bearer {key}", "Content-Type": "application/merge-patch+json",
                "If-Match": f'"{version}"'})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - sent)
            if response.status != 200:
                failures.append((claim, response.status))
    latencies.extend(mine)


start = time.time()
threads = [threading.Thread(target=worker, args=(ids[i::4],)) for i in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.time() - start
if failures:
    sys.exit(f"{len(failures)} patches failed, e.g. {failures[:3]}")
latencies.sort()
p50 = latencies[len(latencies) // 2] * 1000
p99 = latencies[int(len(latencies) * 0.99)] * 1000
print(f"{round(2 * len(ids) / elapsed)} {p50:.2f} {p99:.2f}")
