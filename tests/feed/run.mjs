// Knock's NotificationFeed in headless Chromium against the real belfryd
// (started by tests/integration/test_feed.sh, which sets the variables
// below).  Bundles app.jsx with esbuild, serves it from a second origin
// (so every request is a cross-origin one: CORS is in the path), signs the
// user's token with @knocklabs/node's signUserToken (as an application's
// server does), and checks what a person would see:
//   - the items render with their actor (the avatar's initials) and body;
//   - the badge shows the unseen count;
//   - a message triggered while the page is open appears without a reload,
//     and the badge moves;
//   - "Mark all as read" and archiving one item survive a reload;
// and saves screenshots into OUT_DIR (feed.png: the first view).
//
//   BELFRY_URL   the daemon's TCP listener (http://127.0.0.1:PORT)
//   BELFRY_KEY   a server key (to trigger and to check what persisted)
//   BELFRY_PK    a public key (what the page holds)
//   SIGNING_KEY  the PEM private key whose public half belfry trusts
//   PAGE_PORT    the port to serve the page on (the allowed origin)
//   OUT_DIR      where screenshots go
//   CHROMIUM     the browser (default /usr/bin/chromium)
//
// Prints TAP-like "ok"/"not ok" lines and "feed: N passed, M failed".
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { signUserToken } from "@knocklabs/node";
import esbuild from "esbuild";
import puppeteer from "puppeteer-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;
const url = env.BELFRY_URL;
const out = env.OUT_DIR;
const user = "u1";
const feedId = "in-app";
let passed = 0;
let failed = 0;

function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok ${name}`);
  } else {
    failed++;
    console.log(`not ok ${name}${detail !== undefined ? ": " + JSON.stringify(detail) : ""}`);
  }
  return ok;
}

// A request to belfry with the server key.
async function api(method, p, body) {
  const r = await fetch(url + p, {
    method,
    headers: { Authorization: `Bearer ${env.BELFRY_KEY}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function trigger(text, actor) {
  const r = await api("POST", "/v1/workflows/comment/trigger", {
    recipients: [user],
    actor,
    data: { text },
  });
  check(`trigger "${text}"`, r.status === 200, r);
}

// Wait until fn (run in the page) returns true, or give up after ms.
async function until(page, fn, arg, ms = 5000) {
  try {
    await page.waitForFunction(fn, { timeout: ms, polling: 50 }, arg);
    return true;
  } catch {
    return false;
  }
}

const cells = () =>
  [...document.querySelectorAll(".rnf-notification-cell")].map((c) => ({
    body: c.querySelector(".rnf-notification-cell__content")?.textContent ?? "",
    initials: c.querySelector(".rnf-avatar__initials")?.textContent ?? "",
    unread: !!c.querySelector(".rnf-notification-cell__unread-dot"),
    buttons: [...c.querySelectorAll(".rnf-notification-cell__button-group button")].map((b) => b.textContent),
  }));
const badge = () => document.querySelector(".rnf-unseen-badge__count")?.textContent ?? "";

async function main() {
  mkdirSync(out, { recursive: true });
  const built = await esbuild.build({
    entryPoints: [path.join(here, "app.jsx")],
    bundle: true,
    write: false,
    outdir: "/bundle",
    minify: true,
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "error",
  });
  const files = Object.fromEntries(built.outputFiles.map((f) => [path.basename(f.path), f.contents]));
  check("bundle built", files["app.js"] && files["app.css"], Object.keys(files));

  const page_cfg = {
    host: url,
    apiKey: env.BELFRY_PK,
    userId: user,
    userToken: await signUserToken(user, { signingKey: readFileSync(env.SIGNING_KEY, "utf8") }),
    feedId,
  };
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>belfry feed</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/app.css"></head><body><div id="root"></div>
<script>window.BELFRY = ${JSON.stringify(page_cfg)};</script><script src="/app.js"></script></body></html>`;
  const server = http.createServer((req, res) => {
    const name = req.url === "/" ? null : req.url.slice(1);
    if (name === null) {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end(html);
    } else if (files[name]) {
      res.writeHead(200, { "Content-Type": name.endsWith(".css") ? "text/css" : "text/javascript" });
      res.end(Buffer.from(files[name]));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((ok) => server.listen(Number(env.PAGE_PORT), "127.0.0.1", ok));
  const origin = `http://127.0.0.1:${env.PAGE_PORT}`;

  await trigger("the deploy of api-7 finished", { id: "ada", name: "Ada Lovelace" });
  await trigger("review requested on #42", { id: "alan", name: "Alan Turing" });
  await trigger("your report is ready", { id: "grace", name: "Grace Hopper" });

  const browser = await puppeteer.launch({
    executablePath: env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const errors = [];
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 480, height: 540, deviceScaleFactor: 2 });
    page.on("requestfailed", (r) => errors.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
    });
    await page.goto(origin, { waitUntil: "domcontentloaded" });

    const three = await until(page, () => document.querySelectorAll(".rnf-notification-cell").length === 3);
    let seen = await page.evaluate(cells);
    check("three items render", three, { seen, errors });
    check(
      "items show body and actor",
      seen.length === 3 &&
        seen[0].body.includes("Grace Hopper") && seen[0].body.includes("your report is ready") &&
        seen[0].initials === "GH" && seen[2].initials === "AL" &&
        seen[2].body.includes("the deploy of api-7 finished"),
      seen,
    );
    check("all are unread", seen.every((c) => c.unread), seen);
    check("action buttons render", seen.every((c) => c.buttons.length === 1 && c.buttons[0] === "Open"), seen);
    check(
      "badge counts 3 unseen",
      await until(page, () => document.querySelector(".rnf-unseen-badge__count")?.textContent === "3"),
      await page.evaluate(badge),
    );
    await page.screenshot({ path: path.join(out, "feed.png") });

    // Real time: triggered while the page is open, it appears by itself.
    let sockets = 0;
    for (let i = 0; i < 100 && sockets < 1; i++) {
      const m = await fetch(url + "/metrics", { headers: { Authorization: `Bearer ${env.BELFRY_KEY}` } });
      sockets = Number(/^belfry_websockets (\d+)$/m.exec(await m.text())?.[1] ?? 0);
      if (sockets < 1) await new Promise((r) => setTimeout(r, 50));
    }
    check("the page opened its socket", sockets === 1, sockets);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    await trigger("a new comment on the release notes", { id: "linus", name: "Linus Torvalds" });
    const four = await until(page, () => document.querySelectorAll(".rnf-notification-cell").length === 4, undefined, 5000);
    const dt = Date.now() - t0;
    seen = await page.evaluate(cells);
    check("a new message appears without a reload", four && seen[0].body.includes("a new comment") && seen[0].initials === "LT", { dt, seen, errors });
    console.log(`# live message shown after ${dt} ms`);
    check("the badge moves to 4", await until(page, () => document.querySelector(".rnf-unseen-badge__count")?.textContent === "4"), await page.evaluate(badge));
    await page.screenshot({ path: path.join(out, "feed-live.png") });

    // Mark all as read, archive one; both survive a reload.
    await page.click(".rnf-mark-all-as-read");
    const allRead = await until(page, () => !document.querySelector(".rnf-notification-cell__unread-dot"));
    check("mark all as read clears the dots", allRead, await page.evaluate(cells));
    await new Promise((r) => setTimeout(r, 300));
    await page.$eval(".rnf-notification-cell:nth-child(2) .rnf-archive-notification-btn", (b) => b.click());
    const archived = await until(page, () => document.querySelectorAll(".rnf-notification-cell").length === 3);
    check("archive removes the item", archived, await page.evaluate(cells));
    await new Promise((r) => setTimeout(r, 300));
    await page.reload({ waitUntil: "domcontentloaded" });
    await until(page, () => document.querySelectorAll(".rnf-notification-cell").length >= 3);
    await new Promise((r) => setTimeout(r, 300));
    seen = await page.evaluate(cells);
    check("after a reload: three items, none unread", seen.length === 3 && seen.every((c) => !c.unread), seen);
    check("after a reload: the archived one stays away", !seen.some((c) => c.body.includes("your report is ready")), seen);
    const f = await api("GET", `/v1/users/${user}/feeds/${feedId}?archived=include`);
    const byText = (t) => f.body.entries.find((e) => JSON.stringify(e.blocks).includes(t));
    check("the store has them read", f.body.entries.every((e) => e.read_at !== null) && f.body.meta.unread_count === 0, f.body.meta);
    check("the store has the archive", byText("your report is ready")?.archived_at != null, byText("your report is ready"));
    await page.screenshot({ path: path.join(out, "feed-after.png") });
    const unexpected = errors.filter((e) => !e.includes("/settings"));
    check("no failed requests", unexpected.length === 0, unexpected);
  } finally {
    await browser.close();
    server.close();
  }
}

try {
  await main();
} catch (e) {
  check("the run finished", false, String(e && e.stack ? e.stack : e));
}
console.log(`feed: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
