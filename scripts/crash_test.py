#!/usr/bin/env python3
"""kill -9 under concurrent writers, N times; every acknowledged write must survive.

Driven by scripts/crash-test.sh, which prepares the database (and, for
PostgreSQL, a cluster of its own) and passes what this needs. Each cycle:
start the server, let W writers create claims, attributions and patches for a
random moment, kill -9 the server (on PostgreSQL also crash the database
server: `pg_ctl stop -m immediate`), start everything again, and check that
every write the server acknowledged (201/200) is there, with at least the
version it acknowledged; then check the database's integrity
(SQLite: PRAGMA integrity_check and foreign_key_check; PostgreSQL:
pg_amcheck). Exits 1 on any loss or damage. Only loopback is used.
"""

import argparse
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid


def log(message):
    print(message, flush=True)


class Server:
    """The claimtrail server process."""

    def __init__(self, args, port):
        self.args, self.port, self.process = args, port, None

    def start(self):
        command = [self.args.binary, "--database-url", self.args.database_url, "--bind", f"127.0.0.1:{self.port}",
                   "--no-seed", "--log", "warn", "serve"]
        self.log = open(os.path.join(self.args.workdir, "server.log"), "ab")
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"the server exited with {self.process.returncode}; see {self.log.name}")
            try:
                status, _ = request(self.port, "GET", "/readyz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        sys.exit("the server did not become ready within 60 s")

    def kill(self):
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()


def request(port, method, path, body=None, key=None, headers=None, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        all_headers = dict(headers or {})
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        payload = None
        if body is not None:
            payload = json.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)
    finally:
        connection.close()


class Ledger:
    """Every write the server acknowledged: id -> (kind, version)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acknowledged = {}
        self.counts = {"claim": 0, "attribution": 0, "patch": 0}

    def record(self, kind, id_, version, counted_as=None):
        with self.lock:
            kind_now, known = self.acknowledged.get(id_, (kind, 0))
            self.acknowledged[id_] = (kind_now, max(known, version))
            self.counts[counted_as or kind] += 1


def writer(port, key, source_id, ledger, stop, rng):
    """Creates claims, attributes some to the source, patches some."""
    mine = []
    while not stop.is_set():
        try:
            choice = rng.random()
            if choice < 0.6 or not mine:
                claim_id = str(uuid.uuid4())
                status, body = request(port, "POST", "/v1/claims", {"id": claim_id, "text": f"Crash-test claim {claim_id}."}, key)
                if status == 201:
                    ledger.record("claim", claim_id, body["version"])
                    mine.append(claim_id)
            elif choice < 0.8:
                claim_id = rng.choice(mine)
                attribution_id = str(uuid.uuid4())
                body = {"id": attribution_id, "claim_id": claim_id, "source_id": source_id, "mode": "direct"}
                status, body = request(port, "POST", "/v1/attributions", body, key)
                if status == 201:
                    ledger.record("attribution", attribution_id, body["version"])
            else:
                claim_id = rng.choice(mine)
                status, card = request(port, "GET", f"/v1/claims/{claim_id}")
                if status != 200:
                    continue
                patch = {"status": rng.choice(["supported", "disputed", "unverified"])}
                headers = {"If-Match": f'"{card["version"]}"', "Content-Type": "application/merge-patch+json"}
                status, body = request(port, "PATCH", f"/v1/claims/{claim_id}", patch, key, headers)
                if status == 200:
                    ledger.record("claim", claim_id, body["version"], counted_as="patch")
        except (OSError, http.client.HTTPException, ValueError):
            # The server was killed mid-request: that write was never acknowledged.
            if stop.is_set():
                return
            time.sleep(0.01)


def verify(port, ledger, ids):
    """The acknowledged writes among `ids` that are missing or older than acknowledged."""
    lost = []
    for id_ in ids:
        kind, version = ledger.acknowledged[id_]
        path = f"/v1/claims/{id_}" if kind == "claim" else f"/v1/attributions/{id_}"
        status, body = request(port, "GET", path)
        if status != 200 or body["version"] < version:
            lost.append((kind, id_, version, status, body and body.get("version")))
    return lost


def check_integrity(args):
    if args.backend == "sqlite":
        db = sqlite3.connect(args.database_url, timeout=30)
        try:
            integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
            dangling = list(db.execute("PRAGMA foreign_key_check"))
        finally:
            db.close()
        ok = integrity == ["ok"] and not dangling
        return ok, f"integrity_check {integrity[:3]}, foreign_key_check {len(dangling)} problems"
    result = subprocess.run(args.amcheck.split() + ["--install-missing", "--heapallindexed", "--all"],
                            capture_output=True, text=True)
    if result.returncode == 0:
        return True, "pg_amcheck --all --heapallindexed ok"
    return False, f"pg_amcheck exit {result.returncode}: {result.stdout.strip()[:800]} {result.stderr.strip()[:800]}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-ctl", help="pg_ctl command prefix (with -D) for crashing PostgreSQL")
    parser.add_argument("--pg-start-options", default="")
    parser.add_argument("--amcheck", help="pg_amcheck command with connection options")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    ledger = Ledger()
    server = Server(args, args.port)
    server.start()
    status, source = request(args.port, "POST", "/v1/sources",
                             {"kind": "article", "title": "The crash test's source"}, args.key)
    if status != 201:
        sys.exit(f"could not create the source: {status} {source}")
    started = time.time()
    for cycle in range(1, args.cycles + 1):
        before = set(ledger.acknowledged)
        stop = threading.Event()
        threads = [threading.Thread(target=writer, daemon=True,
                                    args=(args.port, args.key, source["id"], ledger, stop, random.Random(rng.random())))
                   for _ in range(args.writers)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.5, 2.0))
        server.kill()
        if args.backend == "postgres":
            subprocess.run(args.pg_ctl.split() + ["-m", "immediate", "-w", "stop"], check=True, capture_output=True, cwd=args.workdir)
        stop.set()
        for thread in threads:
            thread.join()
        if args.backend == "postgres":
            subprocess.run(args.pg_ctl.split() + ["-w", "-t", "120", "-o", args.pg_start_options, "start"],
                           check=True, capture_output=True, cwd=args.workdir)
        server.start()
        new = set(ledger.acknowledged) - before
        lost = verify(args.port, ledger, sorted(new))
        ok, integrity = check_integrity(args)
        log(f"cycle {cycle}/{args.cycles}: {len(new)} records acknowledged, {len(lost)} lost; {integrity}")
        if lost or not ok:
            for item in lost[:20]:
                log(f"  LOST {item}")
            sys.exit(1)
    lost = verify(args.port, ledger, sorted(ledger.acknowledged))
    server.kill()
    c = ledger.counts
    log(f"crash test ({args.backend}): {args.cycles} kill -9 cycles under {args.writers} writers in "
        f"{time.time() - started:.0f} s; acknowledged {c['claim']} claim creates, {c['attribution']} attributions, "
        f"{c['patch']} patches; {len(ledger.acknowledged)} records all re-read at the end: {len(lost)} lost")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
