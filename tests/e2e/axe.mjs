// Runs axe-core (WCAG 2.2 AA rules) on a local HTML file in headless Chromium; prints the
// violations as JSON and exits 0 when there are none, 1 when there are, 2 on a harness error.
// Every <details> is opened first, so the tables behind the charts are checked too.
// Usage: node axe.mjs path/to/index.html   (CHROMIUM=/path/to/chromium to choose the browser)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';
const require = createRequire(import.meta.url);
const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const file = path.resolve(process.argv[2]);
const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const profile = fs.mkdtempSync('/tmp/axe-profile-');
let browser;
try {
  browser = await puppeteer.launch({
    executablePath: browserPath,
    headless: true,
    userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  await page.goto('file://' + file, { waitUntil: 'load' });
  await page.evaluate(() => document.querySelectorAll('details').forEach(d => { d.open = true; }));
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] },
    resultTypes: ['violations'],
  }));
  const v = result.violations.map(x => ({ id: x.id, impact: x.impact, help: x.help,
    nodes: x.nodes.length, targets: x.nodes.slice(0, 5).map(n => n.target.join(' ')) }));
  console.log(JSON.stringify(v, null, 1));
  process.exitCode = v.length ? 1 : 0;
} catch (e) {
  console.error('axe harness error: ' + e.message);
  process.exitCode = 2;
} finally {
  if (browser) await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
