// The loopback guard of node-env.mjs: non-loopback URLs are refused before undici creates a
// request (so before any socket or DNS lookup), counted by host; loopback ones go through.
// Run: node --test node-env.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import diagnostics from 'node:diagnostics_channel';
import { guard, hostOf, NonLoopbackRequestError } from './node-env.mjs';

// undici publishes every request it creates here: a refused URL must never show up.
const created = [];
diagnostics.subscribe('undici:request:create', ({ request }) => created.push(`${request.origin}${request.path}`));

test('a non-loopback fetch is refused before any request is created, and counted by host', async () => {
  const before = guard.refused;
  const seen = created.length;
  await assert.rejects(fetch('https://logs.dynamicauth.com/api/v1/events', { method: 'POST', body: '{}' }),
    (e) => e instanceof NonLoopbackRequestError && e.host === 'logs.dynamicauth.com');
  await assert.rejects(fetch(new URL('http://192.0.2.1/')), NonLoopbackRequestError);
  await assert.rejects(fetch(new Request('https://example.com/')), NonLoopbackRequestError);
  assert.equal(guard.refused, before + 3);
  assert.ok(guard.hosts.some(([h, n]) => h === 'logs.dynamicauth.com' && n >= 1), guard.summary());
  assert.equal(created.length, seen, `undici created no request: ${created.slice(seen)}`);
  assert.match(guard.summary(), /logs\.dynamicauth\.com/);
});

test('hosts that only look like loopback are refused', async () => {
  for (const url of ['http://127.0.0.1.nip.io/', 'http://localhost.example/', 'http://127.0.0.2/',
    'http://0.0.0.0/', 'http://[::2]/', 'http://2130706433/x']) {
    const host = hostOf(url);
    if (host === '127.0.0.1') continue; // WHATWG URL normalises 2130706433 to 127.0.0.1: that is loopback
    await assert.rejects(fetch(url), NonLoopbackRequestError, url);
  }
  await assert.rejects(fetch('not a url'), NonLoopbackRequestError);
});

test('loopback fetches go through (127.0.0.1, localhost, [::1])', async (t) => {
  const server = createServer((_, res) => res.end('pong'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const { port } = server.address();
  const before = guard.refused;
  const seen = created.length;
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/ping`)).text(), 'pong');
  assert.equal(await (await fetch(`http://localhost:${port}/ping`)).text(), 'pong');
  assert.equal(guard.refused, before);
  // The diagnostics channel does see allowed requests: the "no request created" check above is real.
  assert.equal(created.length, seen + 2);

  const v6 = createServer((_, res) => res.end('pong6'));
  await new Promise((r, reject) => { v6.once('error', reject); v6.listen(0, '::1', r); });
  t.after(() => v6.close());
  assert.equal(await (await fetch(`http://[::1]:${v6.address().port}/`)).text(), 'pong6');
  assert.equal(guard.refused, before);
});
