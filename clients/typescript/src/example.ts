// What a frontend does with claimtrail, through the types generated from
// openapi/openapi.json (src/schema.d.ts) and openapi-fetch: search claims,
// read a claim card and its provenance, create a source, a claim and an
// attribution with a key, change the claim with If-Match (and recover from
// a 412), revalidate with If-None-Match, and page through a list.
//
//   CLAIMTRAIL_URL=http://127.0.0.1:8080 CLAIMTRAIL_KEY=ct_... node dist/example.js
//
// CI runs it against a freshly seeded server; every step checks what it
// got and the program exits non-zero on the first surprise.

import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Problem = components["schemas"]["Problem"];
type ClaimListItem = components["schemas"]["ClaimListItem"];

const baseUrl = process.env.CLAIMTRAIL_URL ?? "http://127.0.0.1:8080";
const key = process.env.CLAIMTRAIL_KEY ?? "";
if (key === "") {
  throw new Error("set CLAIMTRAIL_KEY to a key of scope write: claimtrail keys create --name example --scope write");
}

// The media types this frontend reads: the API's JSON and its problems.
// (The provenance graph also comes as PROV-JSON, DOT and SVG, which a card
// view does not read; naming the types keeps `data` a `Provenance`.)
type Media = "application/json" | "application/problem+json";
const api = createClient<paths, Media>({ baseUrl });
const writer = createClient<paths, Media>({
  baseUrl,
  headers: { Authorization: `Bearer ${key}` },
});

function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    throw new Error(`unexpected: ${what}`);
  }
}

function problem(what: string, response: Response, error: Problem | undefined): Error {
  const detail = error === undefined ? "" : `: ${error.title}: ${error.detail}`;
  return new Error(`${what} answered ${response.status}${detail}`);
}

const etagOf = (response: Response): string => {
  const etag = response.headers.get("ETag");
  check(etag !== null, `no ETag from ${response.url}`);
  return etag;
};

// The 17,700 death-toll claim of the seed data.
const seededClaim = "8b7c6ca6-7d15-5a79-9ebc-7fc5d09f7338";

async function search(): Promise<void> {
  const { data, error, response } = await api.GET("/v1/claims", {
    params: { query: { q: "death toll", sort: "relevance", snippet: true, limit: 5 } },
  });
  if (data === undefined) throw problem("search", response, error);
  check(data.items.length > 0, "no claim matches `death toll`");
  const best: ClaimListItem | undefined = data.items[0];
  check(best !== undefined, "an empty first page");
  console.log(`search: ${data.items.length} claims; best: ${best.text}`);
  console.log(`        snippet: ${best.snippet ?? "(none)"}`);
}

async function card(): Promise<void> {
  const { data, error, response } = await api.GET("/v1/claims/{id}", {
    params: { path: { id: seededClaim } },
  });
  if (data === undefined) throw problem("claim card", response, error);
  const etag = etagOf(response);
  check(data.quantity !== null && data.quantity.comparator === "gt", "the seed claim's figure");
  for (const attribution of data.attributions) {
    const publisher = attribution.source.publisher?.name ?? "unknown publisher";
    const cited = attribution.cited_source === null ? "" : `, citing ${attribution.cited_source.title}`;
    console.log(`card: stated in "${attribution.source.title}" (${publisher})${cited}`);
  }
  // Revalidating a card the client holds: 304, no body.
  const again = await api.GET("/v1/claims/{id}", {
    params: { path: { id: seededClaim }, header: { "If-None-Match": etag } },
  });
  check(again.response.status === 304, `If-None-Match ${etag} answered ${again.response.status}`);
  console.log(`card: still ${etag} (304 Not Modified)`);
}

async function provenance(): Promise<void> {
  const { data, error, response } = await api.GET("/v1/claims/{id}/provenance", {
    params: { path: { id: seededClaim }, query: { format: "json" } },
  });
  if (data === undefined) throw problem("provenance", response, error);
  check(data.independent_origins >= 1, "no origin on the trail");
  const names = data.nodes.map((node) => (node.type === "source" ? node.title : node.name));
  console.log(`provenance: ${data.nodes.length} nodes (${names.join("; ")}), ${data.independent_origins} independent origin(s)`);
}

// Creates a source, a claim and an attribution; returns the claim's id
// and ETag, and what to delete afterwards.
async function create(): Promise<{ claimId: string; etag: string; cleanup: Array<() => Promise<void>> }> {
  const source = await writer.POST("/v1/sources", {
    body: {
      kind: "article",
      title: "Example wire report",
      language: "en",
      content: "Officials said the death toll had risen to about 120 people by Friday.",
    },
  });
  if (source.data === undefined) throw problem("create source", source.response, source.error);
  const claim = await writer.POST("/v1/claims", {
    body: {
      text: "The death toll had risen to about 120 people by Friday.",
      kind: "quantity",
      quantity: { value: 120, unit: "deaths", comparator: "eq" },
      tags: ["example"],
    },
  });
  if (claim.data === undefined) throw problem("create claim", claim.response, claim.error);
  const attribution = await writer.POST("/v1/attributions", {
    body: {
      claim_id: claim.data.id,
      source_id: source.data.id,
      mode: "direct",
      quote: { exact: "the death toll had risen to about 120 people" },
    },
  });
  if (attribution.data === undefined) throw problem("create attribution", attribution.response, attribution.error);
  check(attribution.data.quote_status === "verified", `quote_status ${attribution.data.quote_status}`);
  console.log(`create: source, claim and attribution ${attribution.data.id} (quote ${attribution.data.quote_status})`);

  // An attribution changes the claim's card, so the claim's ETag moved on.
  const current = await api.GET("/v1/claims/{id}", { params: { path: { id: claim.data.id } } });
  if (current.data === undefined) throw problem("claim card", current.response, current.error);
  const ids = { source: source.data.id, claim: claim.data.id, attribution: attribution.data.id };
  const cleanup = [
    async () => {
      const found = await writer.GET("/v1/attributions/{id}", { params: { path: { id: ids.attribution } } });
      const gone = await writer.DELETE("/v1/attributions/{id}", {
        params: { path: { id: ids.attribution }, header: { "If-Match": etagOf(found.response) } },
      });
      check(gone.response.status === 204, `deleting the attribution answered ${gone.response.status}`);
    },
    async () => {
      const found = await writer.GET("/v1/claims/{id}", { params: { path: { id: ids.claim } } });
      const gone = await writer.DELETE("/v1/claims/{id}", {
        params: { path: { id: ids.claim }, header: { "If-Match": etagOf(found.response) } },
      });
      check(gone.response.status === 204, `deleting the claim answered ${gone.response.status}`);
    },
    async () => {
      const found = await writer.GET("/v1/sources/{id}", { params: { path: { id: ids.source } } });
      const gone = await writer.DELETE("/v1/sources/{id}", {
        params: { path: { id: ids.source }, header: { "If-Match": etagOf(found.response) } },
      });
      check(gone.response.status === 204, `deleting the source answered ${gone.response.status}`);
    },
  ];
  return { claimId: claim.data.id, etag: etagOf(current.response), cleanup };
}

// A merge patch guarded by If-Match; a stale ETag is a 412, after which
// the client reads the claim again and retries.
async function change(claimId: string, etag: string): Promise<void> {
  const first = await writer.PATCH("/v1/claims/{id}", {
    params: { path: { id: claimId }, header: { "If-Match": etag } },
    headers: { "Content-Type": "application/merge-patch+json" },
    body: { status: "supported", quantity: { comparator: "approx" } },
  });
  if (first.data === undefined) throw problem("patch", first.response, first.error);
  check(first.data.quantity?.value === 120 && first.data.quantity.comparator === "approx", "the merged figure");
  console.log(`patch: ${etag} -> ${etagOf(first.response)}, quantity ${JSON.stringify(first.data.quantity)}`);

  // Another tab still holds the old ETag.
  const stale = await writer.PATCH("/v1/claims/{id}", {
    params: { path: { id: claimId }, header: { "If-Match": etag } },
    headers: { "Content-Type": "application/merge-patch+json" },
    body: { place: "Example town" },
  });
  check(stale.response.status === 412 && stale.error !== undefined, `a stale If-Match answered ${stale.response.status}`);
  console.log(`patch: stale ${etag} -> 412 ${stale.error.detail}`);
  const fresh = await api.GET("/v1/claims/{id}", { params: { path: { id: claimId } } });
  if (fresh.data === undefined) throw problem("re-read", fresh.response, fresh.error);
  const retried = await writer.PATCH("/v1/claims/{id}", {
    params: { path: { id: claimId }, header: { "If-Match": etagOf(fresh.response) } },
    headers: { "Content-Type": "application/merge-patch+json" },
    body: { place: "Example town" },
  });
  if (retried.data === undefined) throw problem("retried patch", retried.response, retried.error);
  check(retried.data.place === "Example town" && retried.data.status === "supported", "the retried patch");
  console.log(`patch: retried with ${etagOf(fresh.response)} -> version ${retried.data.version}`);
}

// Every claim tagged `jnim`, three at a time, following `next_cursor`.
async function pages(): Promise<void> {
  const seen = new Set<string>();
  let cursor: string | undefined;
  let pageCount = 0;
  do {
    const { data, error, response } = await api.GET("/v1/claims", {
      params: { query: { tag: "jnim", limit: 3, cursor } },
    });
    if (data === undefined) throw problem("list", response, error);
    pageCount += 1;
    check(pageCount < 100, "the pages never end");
    for (const item of data.items) {
      check(!seen.has(item.id), `claim ${item.id} on two pages`);
      seen.add(item.id);
    }
    check((data.next_cursor === null) === (response.headers.get("Link") === null), "Link and next_cursor disagree");
    cursor = data.next_cursor ?? undefined;
  } while (cursor !== undefined);
  check(seen.size > 3, `only ${seen.size} claims tagged jnim`);
  console.log(`pages: ${seen.size} claims tagged jnim on ${pageCount} pages`);
}

async function main(): Promise<void> {
  await search();
  await card();
  await provenance();
  const { claimId, etag, cleanup } = await create();
  await change(claimId, etag);
  await pages();
  for (const step of cleanup) {
    await step();
  }
  console.log("cleanup: deleted what the example created");
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
