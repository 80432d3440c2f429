"""A/B latency: alternate the same GET between two servers (ports A and B);
medians and p90 per path, and the ratio B/A. Usage: read_ab.py PORT_A PORT_B
ROUNDS PATH..."""
import http.client, sys, time, statistics
a, b, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
paths = sys.argv[4:]
ca = http.client.HTTPConnection('127.0.0.1', int(a)); cb = http.client.HTTPConnection('127.0.0.1', int(b))
def get(c, p):
    t = time.perf_counter(); c.request('GET', p); r = c.getresponse(); r.read(); return time.perf_counter() - t, r.status
print(f"{'path':70} {'A p50':>8} {'B p50':>8} {'B/A':>6} {'A p90':>8} {'B p90':>8}")
for p in paths:
    ta, tb = [], []
    for i in range(n):
        for c, lst in ((ca, ta), (cb, tb)) if i % 2 == 0 else ((cb, tb), (ca, ta)):
            t, s = get(c, p)
            assert s == 200, (p, s)
            lst.append(t * 1000)
    ma, mb = statistics.median(ta), statistics.median(tb)
    qa = sorted(ta)[int(n * 0.9)]; qb = sorted(tb)[int(n * 0.9)]
    print(f"{p[:70]:70} {ma:8.2f} {mb:8.2f} {mb/ma:6.2f} {qa:8.2f} {qb:8.2f}")
