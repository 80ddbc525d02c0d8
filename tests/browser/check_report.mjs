// Opens a report page in headless Chromium and prints what a reader would meet, as JSON:
// console errors and warnings, requests that leave the file (there must be none), each
// image's load state and size, the segment cards, the metrics rows. Saves a full-page
// screenshot. Run by tests/report.rs:
//   node tests/browser/check_report.mjs REPORT.html SCREENSHOT.png
import { chromium } from 'playwright-core';
import { pathToFileURL } from 'node:url';

const [, , reportPath, screenshotPath] = process.argv;
const browser = await chromium.launch({
  executablePath: process.env.CLIENTELE_CHROMIUM || '/usr/bin/chromium',
  // As root in CI there is no sandbox; no background traffic on a closed network.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const console_messages = [];
  const outside_requests = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') console_messages.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => console_messages.push(`pageerror: ${e}`));
  page.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith('file:') && !url.startsWith('data:')) outside_requests.push(url);
  });
  await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load' });
  const images = await page.$$eval('img', (imgs) => imgs.map((i) => ({
    figure: i.closest('figure') ? i.closest('figure').id : null,
    complete: i.complete,
    natural_width: i.naturalWidth,
    natural_height: i.naturalHeight,
    shown_width: i.getBoundingClientRect().width,
  })));
  const cards = await page.$$eval('.segment-card', (cs) => cs.map((c) => ({
    heading: c.querySelector('h3') ? c.querySelector('h3').textContent : null,
    size: c.querySelector('.size') ? c.querySelector('.size').textContent : null,
    features: c.querySelectorAll('ul.features li').length,
    products: c.querySelectorAll('ol.products li').length,
  })));
  const metrics_rows = await page.$$eval('#metrics tbody tr', (rows) => rows.length);
  const privacy = await page.$$eval('#privacy p', (ps) => ps.map((p) => p.textContent));
  await page.screenshot({ path: screenshotPath, fullPage: true });
  console.log(JSON.stringify({
    title: await page.title(), console_messages, outside_requests, images, cards, metrics_rows, privacy,
  }));
} finally {
  await browser.close();
}
