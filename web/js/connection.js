// The live connection (PROTOCOL.md sections 4-7): WebSocket at /ws, auth after connect, heartbeat,
// cumulative ACKs with useq dedup, reconnect with exponential backoff and jitter, and sends that
// are retried with the same cid until the server acknowledges them.
//
// Guarantees to the rest of the client:
//  - onEvent(event) is called once per inbox event, in useq order, never twice for the same useq
//    (pushes at or below the last processed useq are dropped; that useq is persisted per user and
//    device and sent as `since` on every auth, so a reload or reconnect resumes where it stopped).
//  - every send() is kept (memory and localStorage) until its send_ack or a final error arrives,
//    and is sent again with the same cid after each (re)connect; the server deduplicates by cid.

import { storage, randomHex } from './util.js';

const BACKOFF_START_MS = 500;
const BACKOFF_MAX_MS = 15000;

export class Connection {
  /**
   * @param {{user:number, token:string, device:string}} who
   * @param {{onState, onEvent, onAck, onSendError, onFrame, onGap, onAuthOk, onFatal}} handlers
   */
  constructor(who, handlers) {
    this.who = who;
    this.handlers = handlers;
    this.state = 'connecting'; // connecting | online | reconnecting | offline
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.heartbeat = null;
    this.watchdog = null;
    this.reconnectTimer = null;
    this.lastReceived = 0;
    this.heartbeatMs = 30000;
    this.cursorKey = `im.useq.${who.user}.${who.device}`;
    this.pendingKey = `im.pending.${who.user}`;
    this.lastUseq = storage.get(this.cursorKey, null);
    /** cid -> {cid, to, body, created} in send order */
    this.pending = new Map((storage.get(this.pendingKey, []) || []).map((p) => [p.cid, p]));
  }

  start() {
    this.stopped = false;
    this.open();
  }

  /** Closes for good (log out, or the page is leaving). */
  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.clearTimers();
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, 'bye');
      this.ws = null;
    }
    this.setState('offline');
  }

  /** Sends a message; returns its cid. It stays pending until acknowledged, across reconnects. */
  send(to, body) {
    const cid = `${this.who.device}-${Date.now().toString(36)}-${randomHex(4)}`;
    const entry = { cid, to, body, created: Date.now() };
    this.pending.set(cid, entry);
    this.savePending();
    if (this.state === 'online') this.transmit(entry);
    return cid;
  }

  pendingSends() {
    return [...this.pending.values()];
  }

  /** Sends a frame now if online; returns whether it went out. For frames that need no retry. */
  sendFrame(frame) {
    if (this.state !== 'online' || !this.ws) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // ---- internals ----

  open() {
    this.setState(this.attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting');
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let ws;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws`);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const auth = { type: 'auth', token: this.who.token, device: this.who.device };
      if (typeof this.lastUseq === 'number') auth.since = this.lastUseq;
      ws.send(JSON.stringify(auth));
    };
    ws.onmessage = (ev) => {
      this.lastReceived = Date.now();
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === 'string') this.onFrame(frame);
    };
    ws.onclose = (ev) => this.onClose(ev);
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  onFrame(frame) {
    switch (frame.type) {
      case 'auth_required':
      case 'pong':
        return;
      case 'auth_ok':
        return this.onAuthOk(frame);
      case 'send_ack':
        return this.onSendAck(frame);
      case 'kicked':
        this.kickedReason = frame.reason;
        return;
      case 'error':
        return this.onError(frame);
      default:
        if (typeof frame.useq === 'number') return this.onPush(frame);
        this.handlers.onFrame?.(frame); // typing, presence, read_count, ...
    }
  }

  onAuthOk(frame) {
    this.attempt = 0;
    if (typeof this.lastUseq === 'number' && frame.useq < this.lastUseq) {
      // The server's inbox is behind our cursor (its data was reset): start over from its head.
      this.lastUseq = frame.useq;
      storage.set(this.cursorKey, frame.useq);
    }
    this.heartbeatMs = frame.heartbeat_ms || 30000;
    this.setState('online');
    this.startTimers();
    if (frame.gap) this.handlers.onGap?.();
    this.handlers.onAuthOk?.(frame);
    for (const entry of this.pending.values()) this.transmit(entry);
  }

  onPush(event) {
    if (typeof this.lastUseq === 'number' && event.useq <= this.lastUseq) {
      this.ack(event.useq); // a retransmit of something already processed: acknowledge again
      return;
    }
    if (event.type === 'msg' && event.cid && this.pending.has(event.cid)) {
      // Our own message, seen in the inbox before (or instead of) its send_ack.
      const entry = this.pending.get(event.cid);
      this.pending.delete(event.cid);
      this.savePending();
      this.handlers.onAck?.({ cid: event.cid, conv: event.conv, seq: event.seq, ts: event.ts }, entry);
    }
    try {
      this.handlers.onEvent(event);
    } finally {
      this.lastUseq = event.useq;
      storage.set(this.cursorKey, event.useq);
      this.ack(event.useq);
    }
  }

  ack(useq) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'ack', useq }));
  }

  onSendAck(frame) {
    const entry = this.pending.get(frame.cid);
    if (!entry) return; // already resolved through the inbox
    this.pending.delete(frame.cid);
    this.savePending();
    this.handlers.onAck?.(frame, entry);
  }

  onError(frame) {
    if (frame.cid && this.pending.has(frame.cid)) {
      if (frame.code === 'rate_limited') return; // retried on the next connect
      const entry = this.pending.get(frame.cid);
      this.pending.delete(frame.cid);
      this.savePending();
      this.handlers.onSendError?.(entry, frame);
      return;
    }
    this.handlers.onFrame?.(frame);
  }

  onClose(ev) {
    this.clearTimers();
    this.ws = null;
    if (this.stopped) return;
    if (ev.code === 4001 || (ev.code === 4004 && this.kickedReason === 'logout')) {
      this.stopped = true;
      this.setState('offline');
      this.handlers.onFatal?.(ev.code === 4001 ? 'auth_failed' : 'logout');
      return;
    }
    if (ev.code === 4004 && this.kickedReason === 'replaced') {
      // Another tab of this browser took over the device; retrying would fight over it.
      this.stopped = true;
      this.setState('offline');
      this.handlers.onFatal?.('replaced');
      return;
    }
    this.kickedReason = null;
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.setState('reconnecting');
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2); // jitter: spread reconnects after a restart
    this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  /** Reconnects at once (the browser came back online, or the tab became visible). */
  nudge() {
    if (this.stopped || this.state === 'online' || this.ws) return;
    clearTimeout(this.reconnectTimer);
    this.open();
  }

  startTimers() {
    this.clearTimers();
    this.lastReceived = Date.now();
    this.heartbeat = setInterval(() => this.sendFrame({ type: 'ping' }), this.heartbeatMs);
    // A connection that hears nothing (not even pongs) for two heartbeats is dead; drop it.
    this.watchdog = setInterval(() => {
      if (Date.now() - this.lastReceived > 2 * this.heartbeatMs + 1000 && this.ws) this.ws.close(4000, 'silent');
    }, Math.max(1000, this.heartbeatMs / 2));
  }

  clearTimers() {
    clearInterval(this.heartbeat);
    clearInterval(this.watchdog);
    this.heartbeat = this.watchdog = null;
  }

  transmit(entry) {
    this.sendFrame({ type: 'send', cid: entry.cid, to: entry.to, body: entry.body });
  }

  savePending() {
    storage.set(this.pendingKey, [...this.pending.values()]);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.handlers.onState?.(state);
  }
}
