// The rep's screen in a real browser: Debian's Chromium driven by
// playwright-core, against the console and the five real services that
// tests/e2e/tests/console.rs started (their URLs come in the environment).
// Team `demo`: ring ana, ben; a WINDOW_MS offer window; pass reasons.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const CONSOLE_URL = process.env.CONSOLE_URL;
const SIGNUP_URL = process.env.SIGNUP_URL;
const WINDOW_MS = Number(process.env.WINDOW_MS || "5000");
assert.ok(CONSOLE_URL && SIGNUP_URL, "CONSOLE_URL and SIGNUP_URL must be set");

// One browser per rep, each with a new empty profile (its own cookies).
const profiles = [];
const contexts = [];
async function launch() {
  const profile = mkdtempSync(join(tmpdir(), "leadwheel-chromium-"));
  profiles.push(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // A phone-sized screen: the rep's screen must work there.
    viewport: { width: 390, height: 844 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  contexts.push(context);
  return context;
}

function step(what) { console.log(`browser: ${what}`); }

// SCREENSHOT_DIR=/some/dir keeps a picture of each screen, to look at.
async function shot(page, name) {
  if (process.env.SCREENSHOT_DIR) {
    await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }
}

async function signIn(user, home = "/") {
  const context = await launch();
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${CONSOLE_URL}/signin`);
  await page.click(`button[data-user="${user}"]`);
  await page.waitForURL(`${CONSOLE_URL}${home}`);
  await page.waitForSelector('[data-stream][data-connected="1"]', { state: "attached", timeout: 10_000 });
  return page;
}

async function signup(email) {
  const answer = await fetch(SIGNUP_URL, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, name: "Pat Buyer", company: "Acme Browser" }),
  });
  assert.ok(answer.ok, `signup refused: ${answer.status}`);
  return (await answer.json()).lead_id;
}

const card = (lead) => `#offer-${lead}`;

try {
  const ana = await signIn("ana");
  const ben = await signIn("ben");
  const maya = await signIn("maya", "/board");
  step("ana, ben and their manager maya signed in, streams connected");

  // 1. A signup shows on ana's page within a second, with a countdown; she claims it.
  const first = await signup("pat1@acme-browser.example");
  const posted = Date.now();
  await ana.waitForSelector(`${card(first)}[data-state="open"]`, { timeout: 10_000 });
  const shownAfter = Date.now() - posted;
  step(`offer shown ${shownAfter} ms after the signup`);
  assert.ok(shownAfter <= 1_000, `the offer took ${shownAfter} ms to show, more than a second`);
  const left1 = Number(await ana.textContent(`${card(first)} [data-countdown]`));
  assert.ok(left1 > 0 && left1 <= WINDOW_MS / 1000, `countdown ${left1}`);
  await ana.waitForFunction(
    ([sel, before]) => Number(document.querySelector(sel)?.textContent) < before,
    [`${card(first)} [data-countdown]`, left1],
    { timeout: 2_500 },
  );
  step("the countdown runs");
  await shot(ana, "rep-offer");
  // The manager's board shows the offer live, with its time left.
  await maya.waitForSelector(`[data-offer="${first}"][data-offer-rep="ana"] [data-countdown]`, { timeout: 3_000 });
  step("the manager's board shows the offer in flight");
  await shot(maya, "manager-board");
  await ana.click(`${card(first)} button[data-action="claim"]`);
  await ana.waitForSelector(`${card(first)}[data-state="claimed"]`, { timeout: 5_000 });
  step("claimed");
  // Ben's page never showed it.
  assert.equal(await ben.locator(card(first)).count(), 0, "ben saw ana's offer");

  // 2. Ben opts in to notifications; the next lead's first look is his,
  // announced; he passes with a reason and ana is offered it at once.
  await ben.context().grantPermissions(["notifications"], { origin: CONSOLE_URL });
  await ben.evaluate(() => {
    // Record what the page shows as desktop notifications.
    const Real = window.Notification;
    window.shown = [];
    window.Notification = function (title, options) {
      window.shown.push(`${title}|${options && options.body}`);
      return new Real(title, options);
    };
    Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
    window.Notification.requestPermission = () => Real.requestPermission();
  });
  await ben.click("[data-notify]");
  await ben.waitForSelector("[data-notify]:disabled", { timeout: 2_000 });
  const second = await signup("pat2@acme-browser.example");
  await ben.waitForSelector(`${card(second)}[data-state="open"]`, { timeout: 5_000 });
  const shown = await ben.evaluate(() => window.shown);
  assert.deepEqual(shown, ["New lead offered to you|Acme Browser"], "one desktop notification");
  step("the opted-in notification announced the offer");
  assert.equal(await ana.locator(card(second)).count(), 0, "ana saw ben's offer");
  await ben.selectOption(`${card(second)} select[name="reason"]`, "on a call");
  await ben.click(`${card(second)} button[data-action="pass"]`);
  await ben.waitForSelector(`${card(second)}[data-state="passed"]`, { timeout: 5_000 });
  await ana.waitForSelector(`${card(second)}[data-state="open"]`, { timeout: 2_000 });
  step("the pass moved the offer on to ana");

  // 3. Ana lets it lapse: her card shows it missed.
  await ana.waitForSelector(`${card(second)}[data-state="missed"]`, { timeout: WINDOW_MS + 5_000 });
  assert.match(await ana.textContent(card(second)), /Missed/);
  // The closing update kept what the card showed of the lead.
  assert.match(await ana.textContent(`${card(second)} h2`), /Acme Browser/);
  assert.match(await ana.textContent(`${card(first)} h2`), /Acme Browser/);
  step("the expiry shows as missed");
  await shot(ana, "rep-missed");

  // 4. A POST without the CSRF token is refused, saying why.
  const refused = await ana.evaluate(async (lead) => {
    const answer = await fetch(`/offers/${lead}/claim`, { method: "POST" });
    return { status: answer.status, text: await answer.text() };
  }, second);
  assert.equal(refused.status, 403);
  assert.match(refused.text, /security token/);
  step("a POST without the CSRF token is refused");

  // 5. Ben opening ana's lead by URL gets 403; ana gets her lead.
  let own;
  for (let i = 0; i < 50; i++) {
    own = await ana.goto(`${CONSOLE_URL}/leads/${first}`);
    if (own.status() === 200) break;
    await ana.waitForTimeout(200); // the opportunity service is filled from events
  }
  assert.equal(own.status(), 200);
  const other = await ben.goto(`${CONSOLE_URL}/leads/${first}`);
  assert.equal(other.status(), 403);
  assert.match(await ben.textContent('[role="alert"]'), /may not see/);
  step("another rep's lead by URL is a 403");

  console.log("browser: all checks passed");
} finally {
  for (const context of contexts) await context.close();
  for (const profile of profiles) rmSync(profile, { recursive: true, force: true });
}
