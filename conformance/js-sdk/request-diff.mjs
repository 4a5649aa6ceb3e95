// The request-diff test (issue 14): our client (crates/stepup-client/examples/request_flows.rs)
// and the official SDK (@dynamic-labs-sdk/client 1.27.1) drive the same flows through one
// recording reverse proxy on 127.0.0.1 in front of the sandbox binary, and must send the same
// method, path, query keys, body keys and `x-dyn-*` header names per flow (values aside).
// The sandbox is started fresh (--no-state --seed-demo) for each side, so that both meet the
// same demo user (its TOTP code, recovery codes and device are spent by the first side).
//
// Flows (each side in this order, the proxy told which flow a request belongs to; what lies
// between flows, e.g. fetching the device to delete, is not recorded): sign-in (email OTP),
// check (stepUp/check), verify-wallet (SIWE, the demo's external wallet), verify-totp,
// verify-recovery, register-passkey (GET + POST users/passkeys/register, credential:link),
// verify-passkey, verify-external (externalAuth/verify with a customer-signed assertion),
// delete-mfa-device (credential:unlink), verify-email (a new user without MFA re-authenticates).
// Left out: the SMS step-up (the seeded sandbox has no MFA-less user with a phone) and the
// social completion (the provider's consent page in between; social-conformance.mjs drives it
// for the SDK, and its bodies are compared nowhere yet).
//
// Recorded per request: method, path below /sdk/{env}/ (ids normalised), sorted query keys,
// sorted body key paths (recursive: `a.b`, arrays as `a[].c`), sorted `x-dyn-*` header names,
// and whether `authorization` / `x-mfa-auth-token` were sent. Never a value.
//
// Usage: STEPUP_SANDBOX_BIN=… STEPUP_REQUEST_FLOWS_BIN=…/examples/request_flows node request-diff.mjs
import { spawn } from 'node:child_process';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { guard, sdkConfig } from './node-env.mjs';

const sdk = await import('@dynamic-labs-sdk/client');
const core = await import('@dynamic-labs-sdk/client/core');
const { keyProvider, walletProviderOver } = await import('./eip1193.mjs');
const { customerKey } = await import('./external-conformance.mjs');
const { softAuthenticator } = await import('./mfa-conformance.mjs');

const ENV = '0b7c2a4e-1d3f-4a5b-9c6d-7e8f9a0b1c2d';
const BIN = resolve(process.env.STEPUP_SANDBOX_BIN ?? '../../target/debug/stepup-sandbox');
const OURS = resolve(process.env.STEPUP_REQUEST_FLOWS_BIN ?? '../../target/debug/examples/request_flows');
const MAX_BODY = 1 << 20;
// The environment's external-auth key (BYOA), and a file for the assertion our side uses.
const dir = mkdtempSync(join(tmpdir(), 'stepup-request-diff-'));
const customer = customerKey();
writeFileSync(join(dir, 'jwks.json'), JSON.stringify(customer.jwks));
const JWT_FILE = join(dir, 'external.jwt');
const assertion = (userId) => customer.signJwt({ sub: userId, jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 120, scope: 'wallet:sign' });
// The user without MFA of the email step-up (request_flows.rs uses the same address).
const NEW_USER = 'request-diff@example.com';

// Differences that are the SDK's and legitimate, each with where the SDK shows it. Matched by
// flow, side ('sdk' or 'ours': the request only that side sends) and the request's line.
const ALLOWED = [
  // The same prefetch, seen from the start: the SDK's nonce pool is filled when it initialises,
  // before it has session keys.
  {
    flow: 'start',
    side: 'sdk',
    line: 'GET nonces?count body{} x-dyn{x-dyn-api-version,x-dyn-request-id,x-dyn-session-id,x-dyn-version} []',
  },
  // The SDK prefetches its nonce pool when it initialises, after the settings (dist/index.esm.js:
  // `fetchProjectSettingsPromise.then(() => prefetchNoncesIfNeeded(client))`, from
  // src/utils/getNonce/prefetchNoncesIfNeeded), before any flow; our client fills its pool on
  // first need (StepUpClient::take_nonce), which is the sign-in's device signature.
  {
    flow: 'sign-in',
    side: 'ours',
    line: 'GET nonces?count body{} x-dyn{x-dyn-api-version,x-dyn-request-id,x-dyn-session-id,x-dyn-session-public-key,x-dyn-version} []',
  },
];

// ---- the record
const idLike = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9_-]{20,})$/i;
const keyPaths = (v, prefix = '', out = new Set(), depth = 0) => {
  if (depth > 8) return out;
  if (Array.isArray(v)) { for (const x of v.slice(0, 64)) keyPaths(x, `${prefix}[]`, out, depth + 1); return out; }
  if (v && typeof v === 'object') {
    for (const k of Object.keys(v).slice(0, 256)) {
      const p = prefix ? `${prefix}.${k}` : k;
      out.add(p);
      keyPaths(v[k], p, out, depth + 1);
    }
  }
  return out;
};
const line = (method, url, headers, body) => {
  const u = new URL(url, 'http://x');
  const path = u.pathname.replace(/^\/api\/v0\/sdk\/[^/]+\//, '').split('/').map((s) => (idLike.test(s) ? '{id}' : s)).join('/');
  const query = [...new Set(u.searchParams.keys())].sort();
  let keys = [];
  if (body.length) { try { keys = [...keyPaths(JSON.parse(body))].sort(); } catch { keys = ['<not JSON>']; } }
  const names = Object.keys(headers).map((h) => h.toLowerCase());
  const dyn = names.filter((h) => h.startsWith('x-dyn-')).sort();
  const flags = ['authorization', 'x-mfa-auth-token'].filter((h) => names.includes(h));
  return `${method} ${path}${query.length ? `?${query.join('&')}` : ''} body{${keys.join(',')}} x-dyn{${dyn.join(',')}} [${flags.join(',')}]`;
};

// ---- the proxy: one port, the side and flow set by the driver
let sandboxPort;
let flow = null;
let side = null;
const rec = { sdk: {}, ours: {} };
const proxy = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => { size += c.length; if (size <= MAX_BODY) chunks.push(c); });
  req.on('end', () => {
    const m = req.url.match(/^\/__flow\/([a-z-]{1,40})$/);
    if (m && req.method === 'POST') { flow = m[1] === 'end' ? null : m[1]; res.end(); return; }
    const body = Buffer.concat(chunks).toString('utf8');
    if (flow && side && req.url.startsWith('/api/v0/sdk/')) {
      (rec[side][flow] ??= []).push(line(req.method, req.url, req.headers, body));
    }
    const up = http.request({ host: '127.0.0.1', port: sandboxPort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${sandboxPort}` } }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.statusCode = 502; res.end(); });
    up.end(body);
  });
});
await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
const PROXY = `http://127.0.0.1:${proxy.address().port}`;
const ROOT = `${PROXY}/api/v0`;

const startSandbox = async () => {
  sandboxPort = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(BIN, ['--listen', `127.0.0.1:${sandboxPort}`, '--env', ENV, '--no-state', '--seed-demo',
    '--external-auth-jwks', join(dir, 'jwks.json')], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${ROOT}/sdk/${ENV}/settings`)).ok) return child; } catch {}
    if (i > 200) throw new Error('sandbox did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
};
const getJson = async (path) => (await fetch(`${ROOT}/sandbox/${ENV}/${path}`)).json();

// ---- the SDK's side
const sdkSide = async () => {
  flow = 'start';
  const client = sdk.createDynamicClient(sdkConfig({ environmentId: ENV, apiBaseUrl: ROOT, name: 'Stepup request diff' }));
  await sdk.waitForClientInitialized(client);
  flow = null;
  const demo = await getJson('demo');
  flow = 'sign-in';
  const otp = await sdk.sendEmailOTP({ email: demo.email }, client);
  const msg = (await getJson('outbox')).filter((x) => x.verificationUUID === otp.verificationUUID).at(-1);
  await sdk.verifyOTP({ otpVerification: otp, verificationToken: msg.code }, client);
  flow = 'check';
  const check = await sdk.checkStepUpAuth({ scope: 'wallet:export' }, client);
  if (!check.isRequired) throw new Error('the check should require a step-up');
  flow = 'verify-wallet';
  // The demo's external wallet: an EIP-1193 provider of its key (wallet-conformance.mjs).
  const ethereum = keyProvider(demo.externalWalletPrivateKey);
  const walletAccount = sdk.getWalletAccounts(client).find((a) => a.address.toLowerCase() === ethereum.address.toLowerCase());
  core.getWalletProviderRegistry(client).register({
    priority: core.WalletProviderPriority.WALLET_SDK,
    walletProvider: walletProviderOver(ethereum, { key: walletAccount.walletProviderKey, displayName: 'MetaMask' }),
  });
  await sdk.verifyWalletAccount({ walletAccount, requestedScopes: ['wallet:export'] }, client);
  flow = 'verify-totp';
  await sdk.authenticateTotpMfaDevice({ code: (await getJson('demo')).totpCode, requestedScopes: ['wallet:export'] }, client);
  flow = 'verify-recovery';
  await sdk.authenticateMfaRecoveryCode({ code: (await getJson('demo')).recoveryCodes[0], requestedScopes: ['credential:unlink'] }, client);
  flow = null;
  await sdk.authenticateMfaRecoveryCode({ code: (await getJson('demo')).recoveryCodes[0], requestedScopes: ['credential:link'] }, client);
  flow = 'register-passkey';
  // WebAuthn for @simplewebauthn/browser: the software P-256 authenticator of mfa-conformance.mjs.
  globalThis.PublicKeyCredential ??= class PublicKeyCredential {};
  globalThis.navigator ??= {};
  const authenticator = softAuthenticator();
  globalThis.navigator.credentials = { create: authenticator.create, get: authenticator.get };
  await sdk.registerPasskey({}, client);
  flow = 'verify-passkey';
  await sdk.authenticatePasskeyMFA({ requestedScopes: ['wallet:export'] }, client);
  flow = 'verify-external';
  await sdk.requestExternalAuthElevatedToken({ externalJwt: assertion(demo.userId) }, client);
  flow = null;
  const device = (await sdk.getMfaDevices(client)).find((d) => d.type === 'totp');
  flow = 'delete-mfa-device';
  await sdk.deleteMfaDevice({ deviceId: device.id }, client);
  flow = null;
  // Out, and in as a new user without MFA (signed up by email), for the email step-up.
  await sdk.logout(client);
  const delivered = async (otp) => (await getJson('outbox')).filter((x) => x.verificationUUID === otp.verificationUUID).at(-1).code;
  let otp2 = await sdk.sendEmailOTP({ email: NEW_USER }, client);
  await sdk.verifyOTP({ otpVerification: otp2, verificationToken: await delivered(otp2) }, client);
  flow = 'verify-email';
  otp2 = await sdk.sendEmailOTP({ email: NEW_USER }, client);
  await sdk.verifyOTP({ otpVerification: otp2, verificationToken: await delivered(otp2), requestedScopes: ['credential:unlink'] }, client);
  if (!sdk.getElevatedAccessToken({ scope: 'credential:unlink', consume: false }, client)) throw new Error('no credential:unlink token');
  flow = null;
};

// ---- our side: the example binary, through the same proxy
const oursSide = async () => {
  writeFileSync(JWT_FILE, assertion((await getJson('demo')).userId), { mode: 0o600 });
  await oursBinary();
};
const oursBinary = () => new Promise((ok, fail) => {
  const child = spawn(OURS, ['--proxy', PROXY, '--env', ENV, '--external-jwt', JWT_FILE], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, STEPUP_LOOPBACK_ONLY: '1' } });
  child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`request_flows exited with ${code}`))));
});

const FLOWS = ['start', 'sign-in', 'check', 'verify-wallet', 'verify-totp', 'verify-recovery', 'register-passkey', 'verify-passkey', 'verify-external', 'delete-mfa-device', 'verify-email'];
let failed = false;
const watchdog = setTimeout(() => { console.log('not ok - timed out after 60 s'); process.exit(1); }, 60_000);
try {
  for (const [name, drive] of [['sdk', sdkSide], ['ours', oursSide]]) {
    const sandbox = await startSandbox();
    side = name;
    // A side that fails part-way still has its requests compared: the diff says why.
    try { await drive(); } catch (e) {
      failed = true;
      console.log(`not ok - ${name === 'sdk' ? "the SDK's" : 'our client\'s'} side failed in flow ${flow}: ${e?.message ?? e}`);
    } finally { side = null; flow = null; sandbox.kill(); }
  }
  for (const f of FLOWS) {
    const a = rec.sdk[f] ?? [];
    const b = rec.ours[f] ?? [];
    const only = (xs, ys) => { const left = [...ys]; return xs.filter((x) => { const i = left.indexOf(x); if (i < 0) return true; left.splice(i, 1); return false; }); };
    const allowed = (s, l) => ALLOWED.some((x) => x.flow === f && x.side === s && x.line === l && (x.used = true));
    const sdkOnly = only(a, b).filter((l) => !allowed('sdk', l));
    const oursOnly = only(b, a).filter((l) => !allowed('ours', l));
    if (!a.length) { failed = true; console.log(`not ok - ${f}: the SDK sent nothing`); continue; }
    if (sdkOnly.length || oursOnly.length) {
      failed = true;
      console.log(`not ok - ${f}: the requests differ`);
      for (const l of sdkOnly) console.log(`  - SDK only:  ${l}`);
      for (const l of oursOnly) console.log(`  + ours only: ${l}`);
    } else {
      console.log(`ok - ${f}: ${a.length} request(s) alike`);
    }
  }
  // A stale allowance hides nothing today but would hide tomorrow's difference: it fails too.
  for (const x of ALLOWED.filter((a) => !a.used)) {
    failed = true;
    console.log(`not ok - allowed difference no longer seen (remove it): ${x.flow} ${x.side}: ${x.line}`);
  }
} catch (e) {
  failed = true;
  console.log(`not ok - ${e?.stack ?? e}`);
} finally {
  clearTimeout(watchdog);
  proxy.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(guard.summary());
if (guard.refused > 0) failed = true;
console.log(failed ? 'FAIL' : 'PASS');
process.exit(failed ? 1 : 0);
