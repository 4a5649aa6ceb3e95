// Conformance: Dynamic's official JS SDK (@dynamic-labs-sdk/client 1.27.1) talks to stepup-sandbox.
// It proves that the sandbox speaks the wire protocol as Dynamic's own client expects it:
// settings and nonces at start, email-OTP sign-in, stepUp/check, TOTP and recovery-code step-up
// with requestedScopes, wallet step-up (verifyWalletAccount with an EIP-1193 wallet of a real
// key), the SDK's own token parsing (scope/exp/singleUse), its error mapping, and social
// re-authentication (signInWithSocialRedirect + completeSocialRedirect, in
// social-conformance.mjs), and MFA management (getMfaMethods, registerPasskey with a stored
// credential:link token, recovery-code regeneration, deletePasskey, in mfa-conformance.mjs), and
// the session key, SMS sign-in with allowNewMFALinking, unlinkSocialAccount, external auth
// (requestExternalAuthElevatedToken, signInWithExternalJwt against the sandbox started with
// --external-auth-jwks) and the logout reason (external-conformance.mjs).
//
// Nothing leaves the machine: the SDK's telemetry is off and `fetch` refuses every host but
// loopback (node-env.mjs); the run fails if the guard refused anything.
//
// Usage: STEPUP_SANDBOX_BIN=target/debug/stepup-sandbox node conformance.mjs
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
// Loopback guard and browser stand-ins first: the SDK must find them when it loads.
import { guard, sdkConfig } from './node-env.mjs';

const sdk = await import('@dynamic-labs-sdk/client');
const core = await import('@dynamic-labs-sdk/client/core');
const { sdkVectors } = await import('./siwe-vectors.mjs');
const { socialConformance } = await import('./social-conformance.mjs');
const { walletSteps } = await import('./wallet-conformance.mjs');
const { mfaConformance } = await import('./mfa-conformance.mjs');
const { customerKey, externalConformance } = await import('./external-conformance.mjs');

const ENV = '0b7c2a4e-1d3f-4a5b-9c6d-7e8f9a0b1c2d';
const PORT = 20000 + Math.floor(Math.random() * 20000);
const ROOT = `http://127.0.0.1:${PORT}/api/v0`;
const BIN = resolve(process.env.STEPUP_SANDBOX_BIN ?? '../../target/debug/stepup-sandbox');
const dir = mkdtempSync(join(tmpdir(), 'stepup-conformance-'));
// The environment's external-auth key (BYOA): the sandbox verifies assertions against its JWKS.
const customer = customerKey();
writeFileSync(join(dir, 'jwks.json'), JSON.stringify(customer.jwks));
const sandbox = spawn(BIN, ['--listen', `127.0.0.1:${PORT}`, '--env', ENV, '--state', join(dir, 'state.json'), '--seed-demo',
  '--external-auth-jwks', join(dir, 'jwks.json')],
  { stdio: ['ignore', 'ignore', 'ignore'] });
let failed = false;
const stop = () => { sandbox.kill(); rmSync(dir, { recursive: true, force: true }); };
const watchdog = setTimeout(() => { console.error('not ok - timed out after 60 s'); stop(); process.exit(1); }, 60_000);

const getJson = async (path) => {
  const r = await fetch(`${ROOT}${path}`);
  assert.equal(r.status, 200, `GET ${path}`);
  return r.json();
};
const step = async (name, fn) => {
  try { await fn(); console.log(`ok - ${name}`); }
  catch (e) { failed = true; console.log(`not ok - ${name}\n  ${e?.stack ?? e}`); throw e; }
};

try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${ROOT}/sdk/${ENV}/settings`)).ok) break; } catch {}
    if (i > 200) throw new Error('sandbox did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const demo = await getJson(`/sandbox/${ENV}/demo`);

  // Telemetry off (sdkConfig): the SDK's instrumentation would POST to Dynamic's log host.
  const client = sdk.createDynamicClient(
    sdkConfig({ environmentId: ENV, apiBaseUrl: ROOT, name: 'Stepup conformance' }),
  );

  await step('the SDK initialises against the sandbox (settings, nonces)', async () => {
    await sdk.waitForClientInitialized(client);
    assert.equal(client.initStatus, 'finished', String(client.initError));
  });

  await step('siwe-vectors.json holds the SIWE messages the SDK builds (stepup-client matches them byte for byte)', async () => {
    const vectors = await sdkVectors({ core, sdk, sdkConfig });
    const file = new URL('./siwe-vectors.json', import.meta.url);
    if (process.env.STEPUP_WRITE_SIWE_VECTORS === '1') writeFileSync(file, `${JSON.stringify(vectors, null, 2)}\n`);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), vectors);
  });

  await step('email OTP sign-in through the sandbox outbox', async () => {
    const otp = await sdk.sendEmailOTP({ email: demo.email }, client);
    assert.ok(otp.verificationUUID);
    const outbox = await getJson(`/sandbox/${ENV}/outbox`);
    const msg = outbox.filter((m) => m.verificationUUID === otp.verificationUUID).at(-1);
    assert.ok(msg, 'the code was delivered to the outbox');
    await sdk.verifyOTP({ otpVerification: otp, verificationToken: msg.code }, client);
    assert.equal(client.user?.email, demo.email);
    assert.ok(client.token, 'a session token');
  });

  let check;
  await step('checkStepUpAuth asks the server and offers the MFA device', async () => {
    check = await sdk.checkStepUpAuth({ scope: 'wallet:export' }, client);
    assert.equal(check.isRequired, true);
    assert.ok(check.credentials.some((c) => c.format === 'totp'), JSON.stringify(check.credentials));
    assert.ok(check.credentials.every((c) => c.format === 'totp' || c.format === 'passkey'), 'MFA users get MFA only');
    assert.ok(check.credentials.some((c) => c.id === check.defaultCredentialId), 'default is one of them');
  });

  await step('a wrong TOTP code maps to MfaInvalidOtpError', async () => {
    const code = demo.totpCode === '000000' ? '111111' : '000000';
    await assert.rejects(
      sdk.authenticateTotpMfaDevice({ code, requestedScopes: ['wallet:export'] }, client),
      (e) => e.code === 'mfa_invalid_otp_error' || /invalid otp/i.test(e.message),
    );
  });

  let sessionBefore;
  await step('TOTP step-up stores a single-use wallet:export token and rotates the session', async () => {
    const fresh = await getJson(`/sandbox/${ENV}/demo`);
    sessionBefore = client.token;
    await sdk.authenticateTotpMfaDevice({ code: fresh.totpCode, requestedScopes: ['wallet:export'] }, client);
    assert.notEqual(client.token, sessionBefore, 'session rotated');
    const again = await sdk.checkStepUpAuth({ scope: 'wallet:export' }, client);
    assert.deepEqual(again, { isRequired: false, credentials: [] });
    const token = sdk.getElevatedAccessToken({ scope: 'wallet:export' }, client);
    assert.ok(token, 'the token is there, and this call consumed it (single-use)');
    assert.equal(sdk.getElevatedAccessToken({ scope: 'wallet:export', consume: false }, client), undefined);
  });

  await step('the same TOTP code is refused the second time', async () => {
    const fresh = await getJson(`/sandbox/${ENV}/demo`);
    await assert.rejects(
      sdk.authenticateTotpMfaDevice({ code: fresh.totpCode, requestedScopes: ['wallet:export'] }, client),
      (e) => e.code === 'mfa_invalid_otp_error' || e.code === 'mfa_rate_limited_error',
    );
  });

  await step('a recovery code gives a time-bound credential:unlink token', async () => {
    const fresh = await getJson(`/sandbox/${ENV}/demo`);
    assert.ok(fresh.recoveryCodes?.length > 0, 'the demo has recovery codes');
    await sdk.authenticateMfaRecoveryCode({ code: fresh.recoveryCodes[0], requestedScopes: ['credential:unlink'] }, client);
    assert.ok(sdk.getElevatedAccessToken({ scope: 'credential:unlink' }, client));
    assert.ok(sdk.getElevatedAccessToken({ scope: 'credential:unlink' }, client), 'time-bound: still there');
  });

  // ── Wallet step-up (issue #11): wallet-conformance.mjs ─────────────────────────────────
  await walletSteps({ step, sdk, core, sdkConfig, client, getJson, ENV });
  // ── end of the wallet step-up ──────────────────────────────────────────────────────────

  await step('an unknown scope is refused by the server (fail closed)', async () => {
    const r = await sdk.checkStepUpAuth({ scope: 'wallet:teleport' }, client);
    assert.equal(r.isRequired, true);
  });

  await step('logout clears the elevated tokens', async () => {
    await sdk.logout(client);
    assert.equal(sdk.getElevatedAccessToken({ scope: 'credential:unlink', consume: false }, client), undefined);
  });

  // ---- Social re-authentication (issue 12): its own client and storage, in social-conformance.mjs.
  await socialConformance({ sdk, sdkConfig, ROOT, ENV, step, getJson });

  // ---- MFA management (issue 14): its own client and storage, in mfa-conformance.mjs.
  await mfaConformance({ sdk, sdkConfig, ROOT, ENV, step, getJson });

  // ---- Session key, SMS sign-in, unlink, external auth, logout reason (issue 14).
  await externalConformance({ sdk, core, sdkConfig, ROOT, ENV, step, getJson, signJwt: customer.signJwt });
} catch {
  failed = true;
} finally {
  clearTimeout(watchdog);
  stop();
}
// The run fails if anything tried to leave the machine, naming where it tried to go.
console.log(guard.summary());
if (guard.refused > 0) {
  failed = true;
  console.log(`not ok - requests to hosts beyond this machine: ${guard.hosts.map(([h]) => h).join(', ')}`);
}
console.log(failed ? 'FAIL' : 'PASS');
process.exit(failed ? 1 : 0);
