// A group of three: creation from the UI, messages fan out, read counts on the sender's messages,
// adding and removing members.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, UserPage, launchBrowser, eventually, TIMEOUT } from './harness.mjs';

let server, browser, ann, ben, cat, dan;

before(async () => {
  server = new Server();
  await server.start();
  browser = await launchBrowser();
  [ann, ben, cat] = await Promise.all([0, 1, 2].map(() => UserPage.open(browser, server)));
  await ann.register('ann');
  await ben.register('ben');
  await cat.register('cat');
  dan = await server.account('dan');
}, TIMEOUT);

after(async () => {
  await browser?.close();
  await server?.close();
}, TIMEOUT);

test('create a group of three and chat', TIMEOUT, async () => {
  await ann.page.click('#new-group-button');
  await ann.page.fill('#group-name', 'Trio');
  await ann.page.fill('#group-members', 'ben, cat');
  await ann.shot('10-new-group-dialog');
  await ann.page.click('#group-create');
  await ann.page.waitForFunction(() => document.querySelector('#chat-title')?.textContent === 'Trio', null, { timeout: 15000 });

  // The others see the group appear (group "created" event) before any message.
  for (const u of [ben, cat]) await u.page.locator('.conv-item .conv-name', { hasText: 'Trio' }).waitFor({ timeout: 15000 });

  await ann.send('hi both');
  const first = await ann.waitMessage('hi both');
  for (const u of [ben, cat]) {
    await u.openConv('Trio');
    await u.waitMessage('hi both');
  }
  await ben.send('hi ann');
  await cat.send('hey');
  for (const u of [ann, ben, cat]) {
    await u.waitMessage('hi ann');
    await u.waitMessage('hey');
  }
  // Both others have read Ann's message.
  await eventually(async () => /Read by 2/.test(await first.textContent()), 'read_count 2 on the first message', 20000);
  const texts = await cat.texts();
  assert.deepEqual(texts.filter((t) => ['hi both', 'hi ann', 'hey'].includes(t)), ['hi both', 'hi ann', 'hey']);
  await ann.shot('11-group-chat');
});

test('owner adds and removes members', TIMEOUT, async () => {
  await ann.page.click('#members-button');
  await ann.page.fill('#add-member-username', 'dan');
  await ann.page.press('#add-member-username', 'Enter');
  await ann.page.locator('#members-panel .person', { hasText: 'dan' }).waitFor({ timeout: 15000 });
  const group = await fetch(`${server.base}/api/groups`, { headers: { Authorization: `Bearer ${dan.token}` } }).then((r) => r.json());
  assert.deepEqual(group.groups.map((g) => g.name), ['Trio']);
  await ann.shot('12-group-members');

  await ann.page.click('#members-panel button[aria-label="Remove cat"]');
  await ann.page.locator('#members-panel .person', { hasText: 'cat' }).waitFor({ state: 'detached', timeout: 15000 });
  // Cat's client drops the group when told it was removed.
  await cat.page.locator('.conv-item .conv-name', { hasText: 'Trio' }).waitFor({ state: 'detached', timeout: 15000 });
  const trio = await ann.page.evaluate(() => window.imClient.state.current);
  assert.match(trio, /^g:/);
  await ann.send('cat is gone');
  await ben.waitMessage('cat is gone');
  // Cat must not get it. Cat's pane no longer shows the group, so look at her client's model: a
  // delivered message would bring the conversation back with the text in it. Dan's friend request
  // to Cat, sent after Ben has the message, is a later event in Cat's inbox: once her client shows
  // it, a wrongly delivered group message would have arrived before it.
  const put = await fetch(`${server.base}/api/friends/${cat.user}`, { method: 'PUT', headers: { Authorization: `Bearer ${dan.token}` } });
  assert.equal(put.status, 200);
  await cat.page.waitForSelector('#requests-badge:not([hidden])', { timeout: 15000 });
  const held = await cat.page.evaluate((conv) => {
    const { state } = window.imClient;
    return { hasTrio: state.convs.has(conv), texts: [...state.convs.values()].flatMap((c) => [...c.messages.values()].map((m) => m.body?.text)) };
  }, trio);
  assert.equal(held.hasTrio, false, 'the group came back in the removed member\'s client');
  assert.ok(!held.texts.includes('cat is gone'), 'the removed member received a message sent after removal');
});
