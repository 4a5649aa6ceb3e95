// MFA management (issue 14) through the official SDK, unmodified, against the sandbox:
// - `getMfaMethods` (GET users/mfa/methods?verifiedOnly=true);
// - `registerPasskey` with a stored credential:link token: the SDK sends none on the options'
//   GET and the token on the POST, and the sandbox refuses the POST without one;
// - recovery-code regeneration (`createNewMfaRecoveryCodes`): the sandbox wants credential:link,
//   which the SDK 1.27.1 does not attach to this call (its client is built without
//   `elevatedAccessTokenScope`), so it is refused; with the stored token passed through the
//   SDK's own `coreConfig.getApiHeaders` hook it succeeds and the old codes stop working;
// - `getPasskeys` and `deletePasskey` with credential:unlink.
//
// WebAuthn in node: `navigator.credentials.create` is a software authenticator with a real
// P-256 key (@noble/curves), `fmt: none`, user present and verified, the clientDataJSON origin
// the app's (https://app.stepup.example, which the sandbox accepts). The client has its own
// storage and records its requests (coreConfig.fetch over the loopback-guarded fetch).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';

const ORIGIN = 'https://app.stepup.example';
const ELEVATED = 'x-dyn-elevated-access-token';

const b64url = (bytes) => Buffer.from(bytes).toString('base64url');
const toBytes = (source) => new Uint8Array(ArrayBuffer.isView(source) ? source.buffer.slice(source.byteOffset, source.byteOffset + source.byteLength) : source);
const buffer = (bytes) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);

// ---- a little CBOR (RFC 8949): what an attestation object needs
const head = (major, n) => {
  if (n < 24) return [(major << 5) | n];
  if (n < 256) return [(major << 5) | 24, n];
  return [(major << 5) | 25, n >> 8, n & 0xff];
};
const int = (i) => (i >= 0 ? head(0, i) : head(1, -1 - i));
const bytes = (b) => [...head(2, b.length), ...b];
const text = (s) => { const u = new TextEncoder().encode(s); return [...head(3, u.length), ...u]; };
const map = (entries) => [...head(5, entries.length), ...entries.flat(2)];

/** A platform authenticator holding P-256 keys: WebAuthn §6.3.2 makeCredential, fmt none. */
export const softAuthenticator = () => {
  const created = [];
  const create = async ({ publicKey }) => {
    const secret = p256.utils.randomSecretKey();
    const point = p256.getPublicKey(secret, false); // 0x04 ‖ x ‖ y
    const credentialId = new Uint8Array(randomBytes(16));
    const clientData = new TextEncoder().encode(JSON.stringify({
      type: 'webauthn.create',
      challenge: b64url(toBytes(publicKey.challenge)),
      origin: ORIGIN,
      crossOrigin: false,
    }));
    const coseKey = map([
      [int(1), int(2)], // kty: EC2
      [int(3), int(-7)], // alg: ES256
      [int(-1), int(1)], // crv: P-256
      [int(-2), bytes(point.slice(1, 33))],
      [int(-3), bytes(point.slice(33, 65))],
    ]);
    const authData = new Uint8Array([
      ...sha256(new TextEncoder().encode(publicKey.rp.id)),
      0x45, // UP | UV | AT
      0, 0, 0, 0, // signCount
      ...new Uint8Array(16), // AAGUID
      credentialId.length >> 8, credentialId.length & 0xff, ...credentialId,
      ...coseKey,
    ]);
    const attestationObject = new Uint8Array(map([
      [text('fmt'), text('none')],
      [text('attStmt'), map([])],
      [text('authData'), bytes(authData)],
    ]));
    created.push({ id: b64url(credentialId), rpId: publicKey.rp.id, secret });
    return {
      id: b64url(credentialId),
      rawId: buffer(credentialId),
      type: 'public-key',
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: buffer(clientData),
        attestationObject: buffer(attestationObject),
        getTransports: () => ['internal'],
        getPublicKeyAlgorithm: () => -7,
        getAuthenticatorData: () => buffer(authData),
      },
      getClientExtensionResults: () => ({}),
    };
  };
  // WebAuthn §6.3.3 getAssertion with the newest credential: UP | UV, counter 1, ES256 (DER).
  const get = async ({ publicKey }) => {
    const cred = created.at(-1);
    const clientData = new TextEncoder().encode(JSON.stringify({
      type: 'webauthn.get',
      challenge: b64url(toBytes(publicKey.challenge)),
      origin: ORIGIN,
      crossOrigin: false,
    }));
    const authData = new Uint8Array([
      ...sha256(new TextEncoder().encode(publicKey.rpId ?? cred.rpId)),
      0x05, // UP | UV
      0, 0, 0, 1, // signCount
    ]);
    const signature = p256.sign(new Uint8Array([...authData, ...sha256(clientData)]), cred.secret, { format: 'der' });
    const rawId = Buffer.from(cred.id, 'base64url');
    return {
      id: cred.id,
      rawId: buffer(new Uint8Array(rawId)),
      type: 'public-key',
      authenticatorAttachment: 'platform',
      response: {
        clientDataJSON: buffer(clientData),
        authenticatorData: buffer(authData),
        signature: buffer(signature),
        userHandle: null,
      },
      getClientExtensionResults: () => ({}),
    };
  };
  return { create, get, created };
};

export const mfaConformance = async ({ sdk, sdkConfig, ROOT, ENV, step, getJson }) => {
  // WebAuthn for @simplewebauthn/browser (which the SDK's web passkey service calls).
  const authenticator = softAuthenticator();
  globalThis.PublicKeyCredential ??= class PublicKeyCredential {};
  globalThis.navigator ??= {};
  globalThis.navigator.credentials = { create: authenticator.create };

  const sent = [];
  const extraHeaders = {};
  const base = sdkConfig({ environmentId: ENV, apiBaseUrl: ROOT, name: 'Stepup MFA conformance' });
  const m = new Map();
  const client = sdk.createDynamicClient({
    ...base,
    coreConfig: {
      ...base.coreConfig,
      storageAdapter: {
        getItem: async (k) => (m.has(k) ? m.get(k) : null),
        setItem: async (k, v) => { m.set(k, v); },
        removeItem: async (k) => { m.delete(k); },
      },
      // The SDK's own hook for headers of the app's choosing (used only where said below).
      getApiHeaders: () => ({ ...extraHeaders }),
      fetch: (input, init = {}) => {
        const url = new URL(typeof input === 'string' ? input : input.url);
        const headers = new Headers(init.headers);
        sent.push({ method: (init.method ?? 'GET').toUpperCase(), path: url.pathname.replace(/^.*\/sdk\/[^/]+\//, ''), headers });
        return fetch(input, init);
      },
    },
  });
  await sdk.waitForClientInitialized(client);
  const lastTo = (method, path) => sent.filter((r) => r.method === method && r.path === path).at(-1);
  const rejectsWith = async (promise, status, code) => assert.rejects(promise, (e) => {
    assert.equal(e.status ?? e.cause?.status, status, `${e.code}: ${e.message}`);
    assert.equal(e.code, code);
    return true;
  });

  await step('MFA: the demo signs in (its own client)', async () => {
    const demo = await getJson(`/sandbox/${ENV}/demo`);
    const otp = await sdk.sendEmailOTP({ email: demo.email }, client);
    const outbox = await getJson(`/sandbox/${ENV}/outbox`);
    const msg = outbox.filter((x) => x.verificationUUID === otp.verificationUUID).at(-1);
    await sdk.verifyOTP({ otpVerification: otp, verificationToken: msg.code }, client);
    assert.equal(client.user?.email, demo.email);
  });

  let methodsBefore;
  await step('getMfaMethods: GET users/mfa/methods?verifiedOnly=true lists the TOTP device and the passkey', async () => {
    methodsBefore = await sdk.getMfaMethods(client);
    assert.equal(methodsBefore.userHasVerifiedMfaMethods, true);
    assert.ok(methodsBefore.devices.some((d) => d.type === 'totp' && d.verified), JSON.stringify(methodsBefore.devices));
    assert.equal(methodsBefore.passkeys.length, 1, 'the demo device passkey');
    assert.ok(methodsBefore.passkeys[0].createdAt instanceof Date && methodsBefore.passkeys[0].credentialId);
  });

  await step('registerPasskey without a credential:link token: the POST is refused (403 step_up_required)', async () => {
    await rejectsWith(sdk.registerPasskey({}, client), 403, 'step_up_required');
    assert.equal(lastTo('GET', 'users/passkeys/register').headers.get(ELEVATED), null);
    assert.equal(lastTo('POST', 'users/passkeys/register').headers.get(ELEVATED), null);
    assert.equal((await sdk.getMfaMethods(client)).passkeys.length, 1, 'nothing added');
  });

  await step('registerPasskey with a stored credential:link token (from a recovery code): token on the POST only, passkey added', async () => {
    const demo = await getJson(`/sandbox/${ENV}/demo`);
    await sdk.authenticateMfaRecoveryCode({ code: demo.recoveryCodes[0], requestedScopes: ['credential:link'] }, client);
    const token = sdk.getElevatedAccessToken({ scope: 'credential:link', consume: false }, client);
    assert.ok(token, 'a stored credential:link token');
    await sdk.registerPasskey({}, client);
    assert.equal(lastTo('GET', 'users/passkeys/register').headers.get(ELEVATED), null, 'none on the GET');
    assert.equal(lastTo('POST', 'users/passkeys/register').headers.get(ELEVATED), token, 'the token on the POST');
    const methods = await sdk.getMfaMethods(client);
    assert.equal(methods.passkeys.length, 2);
    assert.ok(methods.passkeys.some((p) => p.credentialId === authenticator.created.at(-1).id));
  });

  let fresh;
  await step('createNewMfaRecoveryCodes: refused without a token (the SDK sends none); with the stored credential:link token (getApiHeaders) 10 new codes, the old ones dead', async () => {
    const old = (await getJson(`/sandbox/${ENV}/demo`)).recoveryCodes;
    assert.ok(old.length > 1);
    await rejectsWith(sdk.createNewMfaRecoveryCodes(client), 403, 'step_up_required');
    assert.equal(lastTo('POST', 'users/mfa/recovery').headers.get(ELEVATED), null);
    extraHeaders[ELEVATED] = sdk.getElevatedAccessToken({ scope: 'credential:link', consume: false }, client);
    try {
      fresh = await sdk.createNewMfaRecoveryCodes(client);
    } finally {
      delete extraHeaders[ELEVATED];
    }
    assert.equal(fresh.count, 10);
    assert.equal(fresh.recoveryCodes.length, 10);
    assert.deepEqual((await getJson(`/sandbox/${ENV}/demo`)).recoveryCodes, fresh.recoveryCodes, 'the demo view follows');
    const status = await sdk.getMfaRecoveryCodes(client);
    assert.deepEqual(status, { count: 10, recoveryCodes: [] }, 'shown once');
    await assert.rejects(
      sdk.authenticateMfaRecoveryCode({ code: old[0], requestedScopes: ['credential:unlink'] }, client),
      (e) => e.code === 'mfa_invalid_otp_error',
    );
  });

  await step('deletePasskey: refused without credential:unlink; with it (a new recovery code) the passkey is gone', async () => {
    const mine = authenticator.created.at(-1).id;
    const passkey = (await sdk.getPasskeys(client)).find((p) => p.credentialId === mine);
    assert.ok(passkey, 'getPasskeys lists it');
    await rejectsWith(sdk.deletePasskey({ passkeyId: passkey.id }, client), 403, 'step_up_required');
    await sdk.authenticateMfaRecoveryCode({ code: fresh.recoveryCodes[0], requestedScopes: ['credential:unlink'] }, client);
    await sdk.deletePasskey({ passkeyId: passkey.id }, client);
    const del = lastTo('DELETE', 'users/passkeys');
    assert.ok(del.headers.get(ELEVATED), 'the credential:unlink token on the DELETE');
    const left = await sdk.getPasskeys(client);
    assert.equal(left.length, 1);
    assert.ok(left.every((p) => p.credentialId !== mine));
    assert.deepEqual((await sdk.getMfaMethods(client)).passkeys.map((p) => p.id), methodsBefore.passkeys.map((p) => p.id));
  });

  await sdk.logout(client);
};
