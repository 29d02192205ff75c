// Shared test harness: a real imserver subprocess on a free port with a temporary data directory,
// headless Chromium through playwright-core, and helpers that drive the client like a user would.
// Environment: IMSERVER_BIN (the server binary), CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT_DIR (where screenshots go; default build/web-screenshots).

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
export const screenshotDir = process.env.SCREENSHOT_DIR || path.join(repo, 'build', 'web-screenshots');
const serverBin = process.env.IMSERVER_BIN || path.join(repo, 'build', 'imserver');
const WAIT_MS = 15000;
/** Per test and per hook: `test(name, TIMEOUT, fn)`, `before(fn, TIMEOUT)`. In code rather than
 *  `--test-timeout`, which Node 18 (Debian 12's nodejs) does not have. */
export const TIMEOUT = { timeout: 180000 };

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `fn` until it returns a truthy value (returned) or `ms` pass (throws with `what`). */
export async function eventually(fn, what, ms = WAIT_MS) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class Server {
  constructor(extraArgs = []) {
    this.dataDir = mkdtempSync(path.join(tmpdir(), 'imserver-web-'));
    this.extraArgs = extraArgs;
    this.proc = null;
    this.log = '';
  }

  async start() {
    if (!this.port) this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    const args = ['--port', String(this.port), '--data-dir', this.dataDir, '--password-hash-cost', 'min',
      '--log-level', 'warn', ...this.extraArgs];
    this.proc = spawn(serverBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (d) => (this.log = (this.log + d).slice(-20000));
    this.proc.stdout.on('data', collect);
    this.proc.stderr.on('data', collect);
    const exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
    this.exited = exited;
    await eventually(async () => {
      if (this.proc.exitCode !== null) throw new Error(`imserver exited ${this.proc.exitCode}: ${this.log}`);
      const res = await fetch(`${this.base}/healthz`).catch(() => null);
      return res && res.status === 200;
    }, 'imserver /healthz');
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    await this.exited;
    clearTimeout(timer);
  }

  async restart() {
    await this.stop();
    await this.start();
  }

  async close() {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Registers and logs in over HTTP (for users the test does not drive through a page). */
  async account(username, password = 'password123') {
    const post = (p, body, token) => fetch(`${this.base}${p}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const reg = await post('/api/register', { username, password });
    if (reg.status !== 201) throw new Error(`register ${username}: ${reg.status} ${await reg.text()}`);
    const login = await (await post('/api/login', { username, password })).json();
    return { user: login.user, token: login.token, username, password };
  }
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

/** A user in their own browser context (own localStorage, so own device id). */
export class UserPage {
  static async open(browser, server, { width = 1100, height = 720 } = {}) {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    const u = new UserPage(context, page, server);
    page.on('pageerror', (e) => u.errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && u.consoleErrors.push(m.text()));
    await page.goto(server.base + '/');
    return u;
  }

  constructor(context, page, server) {
    this.context = context;
    this.page = page;
    this.server = server;
    this.errors = [];
    this.consoleErrors = [];
  }

  async register(username, password = 'password123') {
    const p = this.page;
    await p.fill('#auth-username', username);
    await p.fill('#auth-password', password);
    await p.click('#register-button');
    await this.waitOnline();
    this.username = username;
    this.user = await p.evaluate(() => window.imClient.state.me.user);
  }

  async login(username, password = 'password123') {
    const p = this.page;
    await p.fill('#auth-username', username);
    await p.fill('#auth-password', password);
    await p.click('#login-button');
    await this.waitOnline();
    this.username = username;
  }

  async waitOnline() {
    await this.page.waitForSelector('#conn-state[data-state="online"]', { timeout: WAIT_MS });
  }

  async connState() {
    return this.page.getAttribute('#conn-state', 'data-state');
  }

  async startChat(username) {
    await this.page.click('#tab-chats');
    await this.page.fill('#new-chat-username', username);
    await this.page.press('#new-chat-username', 'Enter');
    await this.page.waitForFunction((name) => document.querySelector('#chat-title')?.textContent === name, username, { timeout: WAIT_MS });
  }

  /** Opens the conversation whose list entry shows `title`. */
  async openConv(title) {
    await this.page.click('#tab-chats');
    const item = this.page.locator('.conv-item', { has: this.page.locator('.conv-name', { hasText: title }) });
    await item.first().click();
    await this.page.waitForFunction((t) => document.querySelector('#chat-title')?.textContent === t, title, { timeout: WAIT_MS });
  }

  async type(text) {
    await this.page.fill('#message-input', '');
    await this.page.type('#message-input', text);
  }

  async send(text) {
    await this.type(text);
    await this.page.press('#message-input', 'Enter');
  }

  /** The message bubbles whose text is exactly `text`. */
  message(text) {
    return this.page.locator('#messages .msg').filter({ has: this.page.locator('.text', { hasText: new RegExp(`^${escape(text)}$`) }) });
  }

  async waitMessage(text) {
    await this.message(text).first().waitFor({ timeout: WAIT_MS });
    return this.message(text);
  }

  async texts() {
    return this.page.$$eval('#messages .msg .text', (els) => els.map((e) => e.textContent));
  }

  async shot(name) {
    mkdirSync(screenshotDir, { recursive: true });
    await this.page.screenshot({ path: path.join(screenshotDir, `${name}.png`) });
  }

  async close() {
    await this.context.close();
  }
}

function escape(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

