// The server restarts mid-conversation: the pages show the outage, reconnect by themselves, send
// what was typed meanwhile with the same cid, and show every message exactly once.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, UserPage, launchBrowser, eventually, TIMEOUT } from './harness.mjs';

let server, browser, ada, bo;

before(async () => {
  // Short heartbeat so the pages also exercise ping/pong during the test.
  server = new Server(['--heartbeat-ms', '1000']);
  await server.start();
  browser = await launchBrowser();
  ada = await UserPage.open(browser, server);
  bo = await UserPage.open(browser, server);
  await ada.register('ada');
  await bo.register('bob');
}, TIMEOUT);

after(async () => {
  await browser?.close();
  await server?.close();
}, TIMEOUT);

function once(texts, wanted) {
  return wanted.every((w) => texts.filter((t) => t === w).length === 1);
}

test('restart mid-conversation: reconnect, no loss, no duplicates', TIMEOUT, async () => {
  await ada.startChat('bob');
  await ada.send('before 1');
  await bo.page.locator('.conv-item').first().waitFor({ timeout: 15000 });
  await bo.openConv('ada');
  await bo.send('before 2');
  await ada.waitMessage('before 2');

  await server.stop();
  await eventually(async () => (await ada.connState()) === 'reconnecting', 'ada reconnecting');
  await eventually(async () => (await bo.connState()) === 'reconnecting', 'bo reconnecting');
  // Typed while the server is down: shown as pending and kept.
  await ada.send('during outage');
  const pending = await ada.waitMessage('during outage');
  assert.equal(await pending.getAttribute('data-status'), 'pending');
  await ada.shot('20-reconnecting');

  await server.start();
  await ada.waitOnline();
  await bo.waitOnline();
  await eventually(async () => (await pending.getAttribute('data-status')) !== 'pending', 'pending send acknowledged');
  await bo.waitMessage('during outage');
  await bo.send('after 1');
  await ada.send('after 2');
  for (const u of [ada, bo]) {
    await u.waitMessage('after 1');
    await u.waitMessage('after 2');
  }
  const wanted = ['before 1', 'before 2', 'during outage', 'after 1', 'after 2'];
  for (const u of [ada, bo]) {
    const texts = await u.texts();
    assert.ok(once(texts, wanted), `${u.username} sees each once: ${JSON.stringify(texts)}`);
    assert.deepEqual(texts.filter((t) => wanted.includes(t)), wanted);
  }
  await ada.shot('21-after-reconnect');
});

test('a reload resumes from the stored useq without duplicates', TIMEOUT, async () => {
  await bo.page.reload();
  await bo.waitOnline();
  await ada.send('after reload');
  await bo.openConv('ada');
  await bo.waitMessage('after reload');
  // Older messages come from the history request that opening the conversation starts; the live
  // one may be shown before that answer: wait for the history, then count.
  const wanted = ['before 1', 'during outage', 'after 2', 'after reload'];
  await eventually(async () => {
    const shown = await bo.texts();
    return wanted.every((w) => shown.includes(w));
  }, 'history after reload');
  const texts = await bo.texts();
  for (const w of wanted) assert.equal(texts.filter((t) => t === w).length, 1, w);
  const cursor = await bo.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('im.useq.')).length);
  assert.equal(cursor, 1);
});

test('restart while the other page is closed: messages arrive on return', TIMEOUT, async () => {
  const token = await bo.page.evaluate(() => JSON.parse(localStorage.getItem('im.session')).token);
  assert.ok(token);
  await bo.page.goto('about:blank');
  await ada.send('while bo away');
  await server.restart();
  await ada.waitOnline();
  await ada.send('after second restart');
  await ada.waitMessage('after second restart');
  await bo.page.goto(server.base + '/');
  await bo.waitOnline();
  await eventually(async () => Number(await bo.page.textContent('.conv-item .badge.unread').catch(() => '0')) >= 2, 'unread count after return');
  await bo.openConv('ada');
  await bo.waitMessage('while bo away');
  await bo.waitMessage('after second restart');
  const texts = await bo.texts();
  assert.equal(texts.filter((t) => t === 'while bo away').length, 1);
  assert.equal(texts.filter((t) => t === 'after second restart').length, 1);
});
