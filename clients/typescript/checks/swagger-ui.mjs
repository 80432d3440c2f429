// Swagger UI works out of the box: opens /docs/ of a freshly seeded server
// in headless Chromium (Debian's, driven by puppeteer-core; nothing is
// downloaded), runs "Try it out" / "Execute" on getClaim and listClaims with
// the document's example values, and checks that a 200 is rendered. Fails
// too when the page asks anything of another host.
//
//   CLAIMTRAIL_URL=http://127.0.0.1:8080 node checks/swagger-ui.mjs
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const base = process.env.CLAIMTRAIL_URL ?? "http://127.0.0.1:8080";
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";
const operations = [
  ["claims", "getClaim"],
  ["claims", "listClaims"],
];

const profile = mkdtempSync(join(tmpdir(), "claimtrail-chromium-"));
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  userDataDir: profile,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
  ],
});

let failed = false;
const fail = (message) => {
  console.error(`swagger-ui: ${message}`);
  failed = true;
};

try {
  const page = await browser.newPage();
  const origin = new URL(base).origin;
  const executed = [];
  page.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith("data:") && !url.startsWith("blob:")) {
      fail(`the page asked another host: ${url}`);
    }
    if (url.includes("/v1/")) executed.push(`${request.method()} ${url.slice(origin.length)}`);
  });
  page.on("pageerror", (error) => fail(`a script error on the page: ${error.message}`));
  await page.goto(`${base}/docs/`, { waitUntil: "networkidle0", timeout: 60_000 });

  for (const [tag, operationId] of operations) {
    const block = `#operations-${tag}-${operationId}`;
    await page.waitForSelector(`${block} .opblock-summary`, { timeout: 30_000 });
    await page.click(`${block} .opblock-summary`);
    await page.waitForSelector(`${block} .try-out__btn`, { timeout: 30_000 });
    await page.click(`${block} .try-out__btn`);
    await page.waitForSelector(`${block} .execute`, { timeout: 30_000 });
    await page.click(`${block} .execute`);
    const statusCell = `${block} .live-responses-table .response .response-col_status`;
    await page.waitForSelector(statusCell, { timeout: 30_000 });
    const status = (await page.$eval(statusCell, (cell) => cell.textContent ?? "")).trim();
    const url = await page.$eval(`${block} .request-url pre`, (pre) => pre.textContent ?? "").catch(() => "?");
    console.log(`swagger-ui: ${operationId} -> ${status} (${url.trim()})`);
    if (!status.startsWith("200")) fail(`${operationId} rendered status ${status}, not 200`);
  }
  if (executed.length < operations.length) fail(`only ${executed.length} API requests were sent: ${executed.join(", ")}`);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
