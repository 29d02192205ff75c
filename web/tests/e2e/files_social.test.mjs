// Image upload with preview on the other side; friends with requests and presence; blocking.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { Server, UserPage, launchBrowser, eventually, TIMEOUT } from './harness.mjs';

let server, browser, eve, finn;

before(async () => {
  server = new Server();
  await server.start();
  browser = await launchBrowser();
  eve = await UserPage.open(browser, server);
  finn = await UserPage.open(browser, server);
  await eve.register('eve');
  await finn.register('finn');
}, TIMEOUT);

after(async () => {
  await browser?.close();
  await server?.close();
}, TIMEOUT);

// A valid PNG of w x h pixels in a two-colour pattern, made here so the test ships no binary.
function png(w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = [0];
    for (let x = 0; x < w; x++) {
      const on = (Math.floor(x / 20) + Math.floor(y / 20)) % 2 === 0;
      row.push(...(on ? [59, 110, 245] : [255, 200, 60]));
    }
    rows.push(Buffer.from(row));
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))), chunk('IEND', Buffer.alloc(0))]);
}

test('upload an image; the other side sees the preview', TIMEOUT, async () => {
  await eve.startChat('finn');
  await eve.send('a picture:');
  await eve.page.setInputFiles('#file-input', { name: 'checker.png', mimeType: 'image/png', buffer: png(160, 100) });
  const mine = eve.page.locator('#messages .msg img.preview');
  await mine.first().waitFor({ timeout: 15000 });

  await finn.page.locator('.conv-item').first().waitFor({ timeout: 15000 });
  await finn.openConv('eve');
  const img = finn.page.locator('#messages .msg img.preview');
  await img.first().waitFor({ timeout: 15000 });
  await eventually(async () => (await img.first().evaluate((el) => el.complete && el.naturalWidth)) === 160, 'image decoded on the other side');
  await finn.shot('30-image');

  // A non-image file becomes a download link.
  await finn.page.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello file') });
  const link = eve.page.locator('#messages a.file', { hasText: 'notes.txt' });
  await link.first().waitFor({ timeout: 15000 });
  const href = await link.first().getAttribute('href');
  const body = await eve.page.evaluate((u) => fetch(u).then((r) => r.text()), href);
  assert.equal(body, 'hello file');
});

test('friend request, accept, presence dots', TIMEOUT, async () => {
  await eve.page.click('#tab-friends');
  await eve.page.fill('#add-friend-username', 'finn');
  await eve.page.press('#add-friend-username', 'Enter');
  await eve.page.locator('#friend-outgoing .person', { hasText: 'finn' }).waitFor({ timeout: 15000 });

  await finn.page.click('#tab-friends');
  const request = finn.page.locator('#friend-requests .person', { hasText: 'eve' });
  await request.waitFor({ timeout: 15000 });
  await finn.shot('31-friend-request');
  await request.locator('button', { hasText: 'Accept' }).click();
  await finn.page.locator('#friend-list .person', { hasText: 'eve' }).waitFor({ timeout: 15000 });
  await eve.page.locator('#friend-list .person', { hasText: 'finn' }).waitFor({ timeout: 15000 });
  // Both online: green dots.
  await eve.page.locator('#friend-list .person .dot.online').first().waitFor({ timeout: 15000 });

  // Finn goes away: Eve's dot turns grey (presence event); he comes back: green again.
  await finn.page.goto('about:blank');
  await eventually(async () => (await eve.page.locator('#friend-list .person .dot.online').count()) === 0, 'presence offline');
  await finn.page.goto(server.base + '/');
  await finn.waitOnline();
  await eve.page.locator('#friend-list .person .dot.online').first().waitFor({ timeout: 15000 });
  await eve.shot('32-friends');
});

test('block and unblock', TIMEOUT, async () => {
  await finn.openConv('eve');
  await finn.page.click('#block-button');
  await finn.page.waitForFunction(() => document.querySelector('#block-button')?.textContent === 'Unblock', null, { timeout: 15000 });
  // Eve's send to Finn fails with `blocked`, and her client says so.
  await eve.page.click('#tab-chats');
  await eve.openConv('finn');
  await eve.send('can you hear me');
  await eve.page.locator('#messages .msg[data-status="failed"]').first().waitFor({ timeout: 15000 });
  await finn.page.click('#tab-friends');
  await finn.page.locator('#block-list .person', { hasText: 'eve' }).locator('button', { hasText: 'Unblock' }).click();
  await finn.page.locator('#block-list .person').waitFor({ state: 'detached', timeout: 15000 });
  await eve.send('and now?');
  await finn.openConv('eve');
  await finn.waitMessage('and now?');
  assert.equal(await finn.message('can you hear me').count(), 0);
});
