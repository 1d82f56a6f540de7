// The manager's screens in a real browser: Debian's Chromium driven by
// playwright-core at a laptop's viewport, against the console and the five
// real services that tests/e2e/tests/console_manager.rs started and fed.
// EXPECTED: reporting's gRPC answer (pipeline rows and fairness per rep);
// FAIRNESS_CSV: a file with what leadwheel-report-sheets writes from it;
// HANDED_OVER_LEAD: ben's lead in work, which the handover gives to ana.
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const CONSOLE_URL = process.env.CONSOLE_URL;
const EXPECTED = JSON.parse(process.env.EXPECTED || "{}");
const FAIRNESS_CSV = process.env.FAIRNESS_CSV;
const LEAD = process.env.HANDED_OVER_LEAD;
assert.ok(CONSOLE_URL && FAIRNESS_CSV && LEAD, "CONSOLE_URL, FAIRNESS_CSV and HANDED_OVER_LEAD must be set");
assert.ok(EXPECTED.pipeline?.length && EXPECTED.fairness?.length, "EXPECTED has pipeline and fairness rows");

function step(what) { console.log(`browser: ${what}`); }

async function shot(page, name) {
  if (process.env.SCREENSHOT_DIR) {
    await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `${name}.png`), fullPage: true });
  }
}

const profile = mkdtempSync(join(tmpdir(), "leadwheel-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  acceptDownloads: true,
  // A laptop: the manager's screens are read there.
  viewport: { width: 1366, height: 768 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});

try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${CONSOLE_URL}/signin`);
  await page.click('button[data-user="maya"]');
  await page.waitForURL(`${CONSOLE_URL}/board`);
  step("maya signed in");

  // 1. The charts show reporting's numbers, bar by bar.
  await page.click('nav a[href="/charts"]');
  await page.waitForURL(`${CONSOLE_URL}/charts`);
  await page.selectOption("#period", "month");
  await page.click("form[data-picker] button[type=submit]");
  await page.waitForURL(/\/charts\?period=month/);
  const bar = async (chart, group, measure) => {
    const selector = `figure[data-chart="${chart}"] g[data-group="${group}"] rect[data-measure="${measure}"]`;
    const value = await page.getAttribute(selector, "data-value", { timeout: 5_000 });
    assert.ok(value !== null, `no bar ${selector}`);
    return Number(value);
  };
  for (const row of EXPECTED.pipeline) {
    assert.equal(await bar("pipeline", row.group, "amount_minor"), row.amount_minor, `pipeline amount of ${row.group}`);
    assert.equal(await bar("pipeline", row.group, "weighted_minor"), row.weighted_minor, `pipeline weighted of ${row.group}`);
  }
  for (const rep of EXPECTED.fairness) {
    for (const measure of ["offers", "claims", "passes", "expiries"]) {
      assert.equal(await bar("fairness", rep.group, measure), rep[measure], `fairness ${measure} of ${rep.group}`);
    }
  }
  // Screen readers get a label and a table with the same numbers.
  const label = await page.getAttribute('figure[data-chart="pipeline"] svg', "aria-label");
  assert.ok(label && label.length > 10, `the chart's label: ${label}`);
  assert.equal(await page.getAttribute('figure[data-chart="pipeline"] svg', "role"), "img");
  const rows = await page.locator('figure[data-chart="fairness"] table tbody tr').count();
  assert.equal(rows, EXPECTED.fairness.length, "one table row per rep");
  for (const chart of ["forecast", "speed"]) {
    assert.ok(await page.locator(`section[data-report="${chart}"] figure[data-chart="${chart}"]`).count() === 1, `the ${chart} chart`);
  }
  await shot(page, "manager-charts");
  step("the pipeline and fairness charts show reporting's numbers");

  // On a phone the chart keeps a readable size and scrolls sideways.
  const laptop = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  const fit = await page.evaluate(() => {
    const scroll = document.querySelector('figure[data-chart="pipeline"] .chart-scroll');
    const text = scroll.querySelector("svg text");
    return {
      svgWidth: scroll.querySelector("svg").getBoundingClientRect().width,
      scrolls: scroll.scrollWidth > scroll.clientWidth,
      fontPx: text.getBoundingClientRect().height,
      pageScrolls: document.documentElement.scrollWidth > window.innerWidth,
    };
  });
  assert.ok(fit.svgWidth >= 600, `the chart keeps its drawn width on a phone: ${JSON.stringify(fit)}`);
  assert.ok(fit.scrolls, `the chart scrolls sideways inside its box: ${JSON.stringify(fit)}`);
  assert.ok(fit.fontPx >= 11, `its labels stay readable: ${JSON.stringify(fit)}`);
  assert.ok(!fit.pageScrolls, `the page itself does not scroll sideways: ${JSON.stringify(fit)}`);
  await shot(page, "manager-charts-phone");
  await page.setViewportSize(laptop);
  step("on a phone the charts scroll sideways at a readable size");

  // 2. The fairness CSV download is the shared sheet.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.click('a[data-csv="fairness"]'),
  ]);
  assert.match(download.suggestedFilename(), /^fairness-.*\.csv$/);
  const got = readFileSync(await download.path(), "utf8");
  assert.equal(got, readFileSync(FAIRNESS_CSV, "utf8"), "the downloaded CSV is what report-sheets writes");
  step(`downloaded ${download.suggestedFilename()}: equal to report-sheets' CSV`);

  // 3. Team settings: a new window is saved; a bad one is refused next to its field.
  await page.click('nav a[href="/team"]');
  await page.waitForURL(`${CONSOLE_URL}/team`);
  await page.fill("#team-window", "45000");
  await page.click("#team-form button[type=submit]");
  await page.waitForSelector("#team-form [data-saved]", { timeout: 5_000 });
  assert.equal(await page.inputValue("#team-window"), "45000");
  step("the window is saved");
  await page.fill("#team-window", "5");
  await page.click("#team-form button[type=submit]");
  const refusal = await page.waitForSelector('#team-form [data-field-error="window_ms"]', { timeout: 5_000 });
  const why = await refusal.textContent();
  assert.match(why, /window_ms/, `the refusal names the field: ${why}`);
  assert.equal(await page.getAttribute("#team-window", "aria-invalid"), "true");
  await shot(page, "manager-team-refused");
  step(`a 5 ms window is refused next to the field: ${why.trim()}`);

  // 4. The handover of ben to ana, step by step.
  await page.click('nav a[href="/handover"]');
  await page.waitForURL(`${CONSOLE_URL}/handover`);
  await page.selectOption("#leaver", "ben");
  await page.selectOption("#successor", "ana");
  await page.check('input[name="leads_to_successor"]');
  await page.click("#handover-start button[type=submit]");
  await page.waitForURL(/\/handover\/[^/]+$/);
  const row = `tr[data-item="${LEAD}"]`;
  await page.waitForSelector(row, { timeout: 5_000 });
  assert.equal(await page.getAttribute("#handover-summary", "data-state"), "draft");
  // Review: say it again explicitly — give the lead to ana.
  await page.selectOption(`${row} select[name="action"]`, "reassign");
  await page.selectOption(`${row} select[name="to_rep_id"]`, "ana");
  await page.click(`${row} button[type=submit]`);
  await page.waitForSelector(`${row}[data-action="reassign"][data-to="ana"] [data-saved]`, { timeout: 5_000 });
  await shot(page, "manager-handover-review");
  step("the plan lists ben's lead, given to ana");
  await page.click("#handover-apply button[type=submit]");
  await page.waitForSelector('#handover-summary:not([data-state="draft"])', { timeout: 10_000 });
  const state = await page.getAttribute("#handover-summary", "data-state");
  assert.ok(["applied", "completed"].includes(state), `the handover is ${state}`);
  assert.equal(await page.locator("#handover-apply").count(), 0, "no Apply once applied");
  await shot(page, "manager-handover-applied");
  step(`the handover is ${state}`);

  console.log("browser: all checks passed");
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
