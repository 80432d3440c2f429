"""Schemathesis hooks for the contract check (scripts/schemathesis.sh).

`POST /v1/import` takes `application/x-ndjson`, which schemathesis has no
serializer for: send it as text, the way NDJSON goes on the wire.
"""

import schemathesis

schemathesis.serializer.alias("application/x-ndjson", "text/plain")
