// Two users in two browser contexts chat one-to-one: pending -> sent, unread badge and page
// title, read receipts, typing, Enter / Shift+Enter, recall, history after reload, phone width.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, UserPage, launchBrowser, eventually, TIMEOUT } from './harness.mjs';

let server, browser, alice, bob;

before(async () => {
  server = new Server();
  await server.start();
  browser = await launchBrowser();
  alice = await UserPage.open(browser, server);
  bob = await UserPage.open(browser, server);
}, TIMEOUT);

after(async () => {
  await browser?.close();
  await server?.close();
}, TIMEOUT);

test('static files are served with types and revalidation', TIMEOUT, async () => {
  const index = await fetch(`${server.base}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /text\/html/);
  const js = await fetch(`${server.base}/js/app.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /javascript/);
  const etag = js.headers.get('etag');
  assert.ok(etag);
  assert.equal(js.headers.get('cache-control'), 'no-cache');
  const again = await fetch(`${server.base}/js/app.js`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.equal((await fetch(`${server.base}/nope.js`)).status, 404);
  assert.equal((await fetch(`${server.base}/healthz`)).status, 200);
  assert.equal((await fetch(`${server.base}/api/me`)).status, 401);
});

test('register, and the sign-in screen reports errors', TIMEOUT, async () => {
  await alice.shot('01-sign-in');
  await alice.register('alice');
  await bob.page.fill('#auth-username', 'alice');
  await bob.page.fill('#auth-password', 'password123');
  await bob.page.click('#register-button');
  await bob.page.waitForFunction(() => /taken/.test(document.querySelector('#auth-error').textContent));
  await bob.register('bob');
  assert.equal(await alice.connState(), 'online');
});

test('1:1 chat with typing, unread badge, read receipts', TIMEOUT, async () => {
  await alice.startChat('bob');
  await alice.send('hello bob');
  const sent = await alice.waitMessage('hello bob');
  await eventually(async () => (await sent.getAttribute('data-status')) === 'sent', 'send_ack');

  // Bob: a new conversation with an unread badge, and the count in the title.
  await bob.page.waitForSelector('.conv-item .badge.unread', { timeout: 15000 });
  assert.equal(await bob.page.textContent('.conv-item .badge.unread'), '1');
  await eventually(async () => (await bob.page.title()) === '(1) imserver', 'unread in title');
  await bob.shot('02-unread-badge');

  // Typing before Bob opens the chat: his list entry for Alice shows "typing…" instead of the
  // last message. The client sends at most one typing frame per 1.5 s and 'hello bob' has just
  // sent one (cleared at Bob's by the message itself), so Alice keeps typing until one gets through.
  const aliceEntry = bob.page.locator('.conv-item', { has: bob.page.locator('.conv-name', { hasText: 'alice' }) });
  await eventually(async () => {
    await alice.type('hel');
    return (await aliceEntry.locator('.conv-preview').textContent()) === 'typing…';
  }, 'typing in the list');
  await alice.page.fill('#message-input', '');
  await bob.openConv('alice');
  await bob.waitMessage('hello bob');
  await eventually(async () => (await bob.page.title()) === 'imserver', 'title without unread');

  // Alice sees the read receipt.
  await eventually(async () => (await sent.getAttribute('data-status')) === 'read', 'read receipt');

  // Typing: Bob types, Alice sees it.
  await bob.type('typing something');
  await alice.page.waitForFunction(() => /bob is typing/.test(document.querySelector('#typing').textContent), null, { timeout: 15000 });
  await alice.shot('03-typing');

  // Shift+Enter makes a newline, Enter sends.
  await bob.page.fill('#message-input', 'line one');
  await bob.page.press('#message-input', 'Shift+Enter');
  await bob.page.type('#message-input', 'line two');
  await bob.page.press('#message-input', 'Enter');
  await eventually(async () => (await alice.texts()).includes('line one\nline two'), 'multi-line message');
  await alice.send('see you');
  await bob.waitMessage('see you');
  await alice.shot('04-chat-desktop');
});

test('recall of an own message within the window', TIMEOUT, async () => {
  await alice.send('oops wrong chat');
  const msg = await alice.waitMessage('oops wrong chat');
  await eventually(async () => (await msg.getAttribute('data-status')) !== 'pending', 'ack');
  await bob.waitMessage('oops wrong chat');
  await msg.locator('button.recall').click();
  await alice.page.locator('#messages .msg.recalled').first().waitFor({ timeout: 15000 });
  await bob.page.locator('#messages .msg.recalled .text', { hasText: 'Message recalled' }).first().waitFor({ timeout: 15000 });
  assert.equal(await bob.message('oops wrong chat').count(), 0);
});

test('history survives a reload and pages backwards', TIMEOUT, async () => {
  for (let i = 1; i <= 40; i++) await alice.send(`bulk ${i}`);
  await bob.waitMessage('bulk 40');
  await bob.page.reload();
  await bob.waitOnline();
  await bob.openConv('alice');
  await bob.waitMessage('bulk 40');
  // Scroll to the top until the first message of the conversation is loaded.
  await eventually(async () => {
    await bob.page.$eval('#messages', (el) => (el.scrollTop = 0));
    return (await bob.message('hello bob').count()) === 1;
  }, 'older history on scroll');
  const texts = await bob.texts();
  for (let i = 1; i <= 40; i++) assert.equal(texts.filter((t) => t === `bulk ${i}`).length, 1, `bulk ${i} once`);
  assert.ok(texts.indexOf('hello bob') < texts.indexOf('bulk 1'));
});

test('phone width shows one pane at a time', TIMEOUT, async () => {
  await bob.page.setViewportSize({ width: 390, height: 760 });
  assert.equal(await bob.page.isVisible('#sidebar'), false);
  await bob.shot('05-phone-chat');
  await bob.page.click('#back-button');
  assert.equal(await bob.page.isVisible('#sidebar'), true);
  assert.equal(await bob.page.isVisible('#chat'), false);
  await bob.shot('06-phone-list');
  await bob.page.setViewportSize({ width: 1100, height: 720 });
});

test('log out revokes the token', TIMEOUT, async () => {
  const token = await bob.page.evaluate(() => JSON.parse(localStorage.getItem('im.session')).token);
  await bob.page.click('#logout-button');
  await bob.page.waitForSelector('#auth-view:not([hidden])');
  const me = await fetch(`${server.base}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(me.status, 401);
  assert.deepEqual(alice.errors, []);
  assert.deepEqual(bob.errors, []);
});
