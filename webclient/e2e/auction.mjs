#!/usr/bin/env node
// End-to-end check of the interaction layer in a real browser: Chromium publishes
// its fake camera (demo/publish.html); a second page (demo/auction.html) watches
// over WHEP with the interaction data channel, bids on a lot an auctioneer opened,
// is outbid by a rival and sees the lot sold to the rival. The auctioneer and the
// rival are WebSocket clients (GET /ws/{room}) in a third page.
//
//   node e2e/auction.mjs --server http://127.0.0.1:8080 --room e2e \
//     --publish-token T --play-token T --admin-token T --rival-token T
//
// The play token needs canSubscribe and canPublishData, the admin token roomAdmin,
// the rival's canPublishData. Prints one JSON line; exit 0 pass, 1 fail, 2 usage.
import { Side, pageUrl, parseCli, run, waitFirstFrame } from './lib.mjs';

const OVERALL_MS = 60_000;
const STEP_MS = 10_000; // any one step of the auction to show on the page

const opts = parseCli({
  name: 'auction',
  usageLine:
    'usage: node e2e/auction.mjs --server http://HOST:PORT --room ROOM --publish-token T ' +
    '--play-token T --admin-token T --rival-token T',
  seconds: '5',
  options: { 'admin-token': { type: 'string' }, 'rival-token': { type: 'string' } },
  extra: (v, usage) => {
    if (!v['admin-token'] || !v['rival-token'] || !v['play-token']) usage('--play-token, --admin-token and --rival-token are required');
    return { adminToken: v['admin-token'], rivalToken: v['rival-token'] };
  },
});
const publish = new Side('publish');
const viewer = new Side('viewer');
const others = new Side('websocket');
const seen = {};

// wsOpen connects a WebSocket client in the page and keeps what it receives in
// window.ws[name].
async function wsOpen(name, token) {
  await others.page.evaluate(
    ({ name, url }) =>
      new Promise((resolve, reject) => {
        window.ws ??= {};
        // Batched frames (docs/PROTOCOL.md, Framing): one envelope or an array of them.
        const ws = new WebSocket(url, ['glint.v1.batch', 'glint.v1']);
        const c = (window.ws[name] = { ws, got: [] });
        ws.onmessage = (e) => {
          const v = JSON.parse(e.data);
          c.got.push(...(Array.isArray(v) ? v : [v]));
        };
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error(`${name}: WebSocket failed`));
      }),
    { name, url: `${opts.server.replace(/^http/, 'ws')}/ws/${encodeURIComponent(opts.room)}?access_token=${token}` },
  );
}

// wsAsk sends a request from a WebSocket client and waits for its ack.
async function wsAsk(name, type, id, payload) {
  await others.page.evaluate(({ name, msg }) => window.ws[name].ws.send(JSON.stringify(msg)), {
    name,
    msg: { v: 1, type, id, payload },
  });
  const handle = await others.page.waitForFunction(
    ({ name, id }) => window.ws[name].got.find((e) => e.id === id && (e.type === 'ack' || e.type === 'error')),
    { name, id },
    { timeout: STEP_MS, polling: 100 },
  );
  const answer = await handle.jsonValue();
  if (answer.type !== 'ack') throw new Error(`${name} ${type}: ${JSON.stringify(answer.payload)}`);
  return answer;
}

// waitBanner waits until the viewer page shows a banner of kind, and returns its text.
async function waitBanner(kind) {
  await viewer.page
    .waitForFunction((k) => document.getElementById('banner').dataset.kind === k, kind, { timeout: STEP_MS, polling: 100 })
    .catch(async () => {
      const b = await viewer.eval(() => [document.getElementById('banner').dataset.kind, window.glint.banner]);
      throw new Error(`viewer: no "${kind}" shown within ${STEP_MS / 1000} s (showing ${b[0] || 'nothing'}: ${b[1]})`);
    });
  return viewer.eval(() => window.glint.banner);
}

run({
  name: 'auction',
  overallMs: OVERALL_MS,
  sides: [publish, viewer, others],
  async test(browser) {
    await publish.open(browser, pageUrl(opts, 'publish.html', opts.publishToken));
    await publish.waitLive();
    await viewer.open(browser, pageUrl(opts, 'auction.html', opts.playToken));
    await viewer.waitLive();
    await waitFirstFrame(
      {
        stats: () =>
          viewer.eval(async () => {
            let v = { framesDecoded: 0, packetsReceived: 0, frameWidth: 0, frameHeight: 0 };
            (await window.glint.pc.getStats()).forEach((s) => {
              if (s.type === 'inbound-rtp' && s.kind === 'video') {
                v = {
                  framesDecoded: s.framesDecoded ?? 0,
                  packetsReceived: s.packetsReceived ?? 0,
                  frameWidth: s.frameWidth ?? 0,
                  frameHeight: s.frameHeight ?? 0,
                };
              }
            });
            return { video: v, audio: { packetsReceived: 0 } };
          }),
      },
      'auction viewer',
    );
    await others.open(browser, `${opts.server}/demo/index.html`);
    await wsOpen('auctioneer', opts.adminToken);
    await wsOpen('rival', opts.rivalToken);
    await wsAsk('auctioneer', 'auction.open', 'open1', { lotId: 'lot1', title: 'Vase', startPrice: 100, increment: 10, durationMs: 60000 });
    await viewer.page.waitForFunction(() => window.glint.events.some((e) => e.type === 'auction.state' && e.payload.open), null, {
      timeout: STEP_MS,
      polling: 100,
    });
    await viewer.eval(() => window.glint.bid(100));
    seen.leading = await waitBanner('leading');
    await wsAsk('rival', 'auction.bid', 'r1', { lotId: 'lot1', bidId: 'r1', amount: 110 });
    seen.outbid = await waitBanner('outbid');
    await wsAsk('auctioneer', 'auction.close', 'close1', { lotId: 'lot1' });
    seen.sold = await waitBanner('sold');
    if (!/SOLD to rival for 110/.test(seen.sold)) throw new Error(`sold banner says: ${seen.sold}`);
  },
  result: (states, elapsedMs) => ({ server: opts.server, room: opts.room, elapsedMs, banners: seen, states }),
});
