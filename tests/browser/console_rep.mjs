// The rep's work screens in a real browser: Debian's Chromium driven by
// playwright-core at a phone-sized viewport, against the console and the
// five real services that tests/e2e/tests/console_rep.rs started (their
// URLs come in the environment). Team `demo`: ana (ben is away, so every
// offer is ana's); alerting raises no_first_touch after 2 s.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const CONSOLE_URL = process.env.CONSOLE_URL;
const SIGNUP_URL = process.env.SIGNUP_URL;
// Where the script leaves the ids it made, for the Rust test to check.
const RESULT_FILE = process.env.RESULT_FILE;
assert.ok(CONSOLE_URL && SIGNUP_URL && RESULT_FILE, "CONSOLE_URL, SIGNUP_URL and RESULT_FILE must be set");

const profile = mkdtempSync(join(tmpdir(), "leadwheel-chromium-"));
let context;

function step(what) { console.log(`browser: ${what}`); }

async function shot(page, name) {
  if (process.env.SCREENSHOT_DIR) {
    await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }
}

async function signup(email, company) {
  const answer = await fetch(SIGNUP_URL, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, name: "Pat Buyer", company }),
  });
  assert.ok(answer.ok, `signup refused: ${answer.status}`);
  return (await answer.json()).lead_id;
}

function day(offsetDays) {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

const card = (lead) => `#offer-${lead}`;

try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // A phone-sized screen: the rep's screens must work there.
    viewport: { width: 390, height: 844 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const ana = context.pages()[0] ?? (await context.newPage());
  await ana.goto(`${CONSOLE_URL}/signin`);
  await ana.click('button[data-user="ana"]');
  await ana.waitForURL(`${CONSOLE_URL}/`);
  await ana.waitForSelector('[data-stream][data-connected="1"]', { state: "attached", timeout: 10_000 });
  // Her alerts, open in a second tab, live.
  const alerts = await context.newPage();
  await alerts.goto(`${CONSOLE_URL}/alerts`);
  await alerts.waitForSelector('#alerts[data-connected="1"]', { state: "attached", timeout: 10_000 });
  step("ana signed in; offers and alerts streams connected");

  // 1. An offer; she claims it and opens the lead.
  const lead = await signup("pat1@acme-rep.example", "Acme Rep");
  await ana.waitForSelector(`${card(lead)}[data-state="open"]`, { timeout: 10_000 });
  await ana.click(`${card(lead)} button[data-action="claim"]`);
  await ana.waitForSelector(`${card(lead)}[data-state="claimed"]`, { timeout: 5_000 });
  step("claimed the offer");
  for (let i = 0; i < 50; i++) {
    const answer = await ana.goto(`${CONSOLE_URL}/leads/${lead}`);
    if (answer.status() === 200) break;
    await ana.waitForTimeout(200); // the opportunity service is filled from events
  }
  await ana.waitForSelector("#form-activity");

  // 2. She logs a call with its recording and notes at times in it.
  await ana.selectOption("#a-kind", "call");
  await ana.fill("#a-duration", "12m");
  await ana.fill("#a-outcome", "reached");
  await ana.fill("#a-recording", "https://calls.example.com/r/81");
  await ana.fill("#a-notes", "1:30 pricing\n5m next steps");
  await ana.click('#form-activity button[data-action="log"]');
  await ana.waitForSelector('[data-activity] a[data-recording][href="https://calls.example.com/r/81"]', { timeout: 5_000 });
  assert.match(await ana.textContent('[data-activity] [data-note-at="90"]'), /1:30\s+pricing/);
  assert.match(await ana.textContent('[data-activity] [data-note-at="300"]'), /5:00\s+next steps/);
  step("logged a call with its recording link and two notes at times");

  // A refusal from the service shows beside the form, naming the field.
  await ana.selectOption("#a-kind", "call");
  await ana.fill("#a-duration", "1m");
  await ana.fill("#a-recording", "ftp://calls.example.com/r/82");
  const refused = ana.waitForResponse((r) => r.url().endsWith(`/leads/${lead}/activity`));
  await ana.click('#form-activity button[data-action="log"]');
  assert.equal((await refused).status(), 400);
  await ana.waitForSelector('#form-activity [role="alert"][data-form="activity"]', { timeout: 5_000 });
  assert.match(await ana.textContent('#form-activity [role="alert"]'), /recording_url/);
  // What she typed is still there.
  assert.equal(await ana.inputValue("#a-recording"), "ftp://calls.example.com/r/82");
  step("the service's refusal is shown beside the form, naming the field");
  await shot(ana, "rep-lead-refused");

  // 3. The next follow-up.
  const followUp = day(7);
  await ana.fill("#f-date", followUp);
  const saved = ana.waitForResponse((r) => r.url().endsWith(`/leads/${lead}/follow-up`));
  await ana.click('#form-follow-up button[data-action="follow-up"]');
  assert.equal((await saved).status(), 200);
  // The details show it once the answer is swapped in.
  await ana.waitForFunction(
    (date) => document.querySelector("#lead dl")?.textContent.includes(date),
    followUp, { timeout: 5_000 },
  );
  step("set the next follow-up");

  // 4. Converts it.
  await ana.fill("#c-account", "Acme Rep GmbH");
  await ana.fill("#c-domains", "acme-rep.example");
  await ana.fill("#c-amount", "12000.50");
  await ana.fill("#c-currency", "EUR");
  await ana.fill("#c-close", day(20));
  await ana.click('#form-convert button[data-action="convert"]');
  await ana.waitForSelector('#lead [data-field="status"]:has-text("converted")', { timeout: 5_000 });
  const opportunity = await ana.getAttribute("#lead a[data-opportunity]", "data-opportunity");
  assert.ok(opportunity, "the converted lead links to its opportunity");
  step(`converted into ${opportunity}`);
  await shot(ana, "rep-lead-converted");

  // 5. My opportunities: it is there; she moves its stage.
  await ana.goto(`${CONSOLE_URL}/opportunities`);
  await ana.waitForSelector(`tr[data-opportunity="${opportunity}"]`);
  assert.match(await ana.textContent(`tr[data-opportunity="${opportunity}"]`), /12000\.50 EUR/);
  await ana.click(`tr[data-opportunity="${opportunity}"] a`);
  await ana.waitForSelector("#form-stage");
  const before = (await ana.textContent('#opportunity dd[data-field="stage"]')).trim();
  const options = await ana.$$eval("#s-stage option", (os) => os.map((o) => o.value));
  const next = options[options.indexOf(before) + 1];
  assert.ok(next, `a stage after ${before} in ${options}`);
  await ana.selectOption("#s-stage", next);
  await ana.fill("#s-reason", "demo booked");
  await ana.click('#form-stage button[data-action="move-stage"]');
  await ana.waitForSelector(`#opportunity dd[data-field="stage"]:has-text("${next}")`, { timeout: 5_000 });
  await ana.goto(`${CONSOLE_URL}/opportunities`);
  assert.equal((await ana.textContent(`tr[data-opportunity="${opportunity}"] [data-field="stage"]`)).trim(), next);
  step(`moved the opportunity from ${before} to ${next}`);
  await shot(ana, "rep-opportunities");

  // 6. A lead she claims and leaves alone: its no_first_touch alert shows
  // on her alerts tab live; she acknowledges it there.
  await ana.goto(`${CONSOLE_URL}/`);
  await ana.waitForSelector('[data-stream][data-connected="1"]', { state: "attached", timeout: 10_000 });
  const quiet = await signup("kim@quiet-rep.example", "QuietCo");
  await ana.waitForSelector(`${card(quiet)}[data-state="open"]`, { timeout: 10_000 });
  await ana.click(`${card(quiet)} button[data-action="claim"]`);
  await ana.waitForSelector(`${card(quiet)}[data-state="claimed"]`, { timeout: 5_000 });
  const alertCard = `[data-alert][data-kind="no_first_touch"]:has(a[href="/leads/${quiet}"])`;
  await alerts.waitForSelector(`${alertCard}[data-alert-state="open"]`, { timeout: 15_000 });
  const alertId = await alerts.getAttribute(alertCard, "data-alert");
  step(`alert ${alertId} appeared live`);
  await shot(alerts, "rep-alert");
  await alerts.click(`${alertCard} button[data-action="ack"]`);
  await alerts.waitForSelector(`${alertCard}[data-alert-state="acknowledged"]`, { timeout: 5_000 });
  step("acknowledged it");

  // 7. My numbers: the calls she made, as reporting counts them.
  let calls = 0;
  for (let i = 0; i < 50 && calls < 1; i++) {
    await ana.goto(`${CONSOLE_URL}/numbers`);
    calls = Number(await ana.textContent('tr[data-question="calls"] [data-current]'));
    if (calls < 1) await ana.waitForTimeout(200); // reporting reads the events
  }
  assert.equal(calls, 1, "one call this week");
  assert.ok(await ana.isVisible('[data-report="month"]') && await ana.isVisible('[data-report="quarter"]'));
  step(`my numbers show ${calls} call this week`);
  await shot(ana, "rep-numbers");

  writeFileSync(RESULT_FILE, JSON.stringify({ lead, opportunity, quiet, alert: alertId, calls }));
  console.log("browser: all checks passed");
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
