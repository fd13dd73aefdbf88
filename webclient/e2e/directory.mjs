#!/usr/bin/env node
// End-to-end check of the directory page: live rooms with metadata (set up by the Go test
// TestBrowserDirectory before this script: pion hosts publishing, PUT /rooms/{room}/metadata)
// are listed on demo/directory.html in the system's headless Chromium (never a downloaded
// one), all of them without a filter, and only a category's with ?category= and with the
// page's category select.
//
//   node e2e/directory.mjs --server http://127.0.0.1:8080 --room unused \
//     --expect jazz:Music,match:Sports
//
// Prints one JSON line on stdout. Exit 0: pass; 1: fail, with the reason, the page's
// window.glint and console errors on stderr; 2: bad usage.
import { Side, parseCli, run } from './lib.mjs';

const OVERALL_MS = 40_000;
const SHOWN_MS = 10_000; // the page's list to show what is expected

const opts = parseCli({
  name: 'directory',
  usageLine: 'usage: node e2e/directory.mjs --server http://HOST:PORT --room R --expect ROOM:CATEGORY,...',
  seconds: '2',
  options: { expect: { type: 'string' } },
  extra: (values, usage) => {
    const expect = (values.expect ?? '').split(',').filter(Boolean).map((p) => p.split(':'));
    if (expect.length < 2 || !expect.every((p) => p.length === 2 && p[0] && p[1])) {
      usage('--expect needs at least two ROOM:CATEGORY pairs');
    }
    return { expect };
  },
});
const page = new Side('directory');
const seen = [];

// shows waits until the page lists exactly `rooms` (in any order) for `category`.
async function shows(rooms, category, how) {
  const want = [...rooms].sort().join(',');
  const ok = await page.page
    .waitForFunction(
      ([w, c]) => window.glint?.state === 'live' && window.glint.category === c && [...window.glint.rooms].sort().join(',') === w,
      [want, category],
      { timeout: SHOWN_MS, polling: 100 },
    )
    .then(() => true, () => false);
  const got = await page.eval(() => ({ rooms: window.glint?.rooms, category: window.glint?.category, state: window.glint?.state }));
  const cards = await page.eval(() => [...document.querySelectorAll('#rooms li')].map((li) => li.dataset.room));
  seen.push({ how, category, want: rooms, got: got.rooms, cards });
  if (!ok || [...cards].sort().join(',') !== want) {
    throw new Error(`${how}: the page shows ${JSON.stringify(cards)} (state ${got.state}, category "${got.category}"), want ${want}`);
  }
}

run({
  name: 'directory',
  overallMs: OVERALL_MS,
  sides: [page],
  async test(browser) {
    await page.open(browser, `${opts.server}/demo/directory.html`);
    await shows(opts.expect.map(([r]) => r), '', 'no filter');
    const [[firstRoom, firstCat], [secondRoom, secondCat]] = opts.expect;
    await page.page.goto(`${opts.server}/demo/directory.html?category=${encodeURIComponent(firstCat)}`);
    await shows(opts.expect.filter(([, c]) => c === firstCat).map(([r]) => r), firstCat, '?category=');
    await page.page.selectOption('#category', secondCat);
    await shows(opts.expect.filter(([, c]) => c === secondCat).map(([r]) => r), secondCat, 'the category select');
    if (firstRoom === secondRoom) throw new Error('--expect needs two different rooms');
  },
  result: ([state], elapsedMs) => ({ server: opts.server, elapsedMs, state, seen, console: page.console }),
});
