// The rest of issue 14 through the official SDK, unmodified, against the sandbox (started with
// --external-auth-jwks, the customer key below):
// - SMS sign-in (sendSmsOTP + verifyOTP, signed out) with allowNewMFALinking, the session bound
//   to the SDK's x-dyn-session-public-key (the JWT's sessionPublicKey; refused without it);
// - unlinkSocialAccount (POST verify/unlink) refused without credential:unlink, done with it;
// - requestExternalAuthElevatedToken and signInWithExternalJwt with assertions of the
//   customer key; a replayed one and another key's are InvalidExternalAuthError;
// - logout's x-dyn-logout-reason.
//
// The client has its own storage and records its requests (coreConfig.fetch over the
// loopback-guarded fetch).
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';

const b64url = (x) => Buffer.from(x).toString('base64url');

/** A customer's ES256 key: its JWKS (for the sandbox) and a signer of JWTs. */
export const customerKey = () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const signJwt = (claims) => {
    const head = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'customer-1' }));
    const body = b64url(JSON.stringify(claims));
    const signature = sign('sha256', Buffer.from(`${head}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${head}.${body}.${b64url(signature)}`;
  };
  return { jwks: { keys: [{ ...jwk, use: 'sig', alg: 'ES256', kid: 'customer-1' }] }, signJwt };
};

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

export const externalConformance = async ({ sdk, core, sdkConfig, ROOT, ENV, step, getJson, signJwt }) => {
  const sent = [];
  const m = new Map();
  const base = sdkConfig({ environmentId: ENV, apiBaseUrl: ROOT, name: 'Stepup external conformance' });
  const client = sdk.createDynamicClient({
    ...base,
    coreConfig: {
      ...base.coreConfig,
      storageAdapter: {
        getItem: async (k) => (m.has(k) ? m.get(k) : null),
        setItem: async (k, v) => { m.set(k, v); },
        removeItem: async (k) => { m.delete(k); },
      },
      fetch: (input, init = {}) => {
        const url = new URL(typeof input === 'string' ? input : input.url);
        sent.push({
          method: (init.method ?? 'GET').toUpperCase(),
          path: url.pathname.replace(/^.*\/sdk\/[^/]+\//, ''),
          headers: new Headers(init.headers),
          body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
        });
        return fetch(input, init);
      },
    },
  });
  await sdk.waitForClientInitialized(client);
  const lastTo = (method, path) => sent.filter((r) => r.method === method && r.path === path).at(-1);
  const demo = await getJson(`/sandbox/${ENV}/demo`);
  const now = () => Math.floor(Date.now() / 1000);
  const assertion = (extra = {}) => signJwt({ sub: demo.userId, jti: randomUUID(), exp: now() + 120, ...extra });
  const usersWith = (headers) => fetch(`${ROOT}/sdk/${ENV}/users`, { headers: { authorization: `Bearer ${client.token}`, ...headers } });

  await step('SMS sign-in with allowNewMFALinking: POST smsVerifications/signin, the session bound to the SDK session key', async () => {
    const otp = await sdk.sendSmsOTP({ isoCountryCode: demo.phone.isoCountryCode, phoneNumber: demo.phone.phoneNumber }, client);
    const outbox = await getJson(`/sandbox/${ENV}/outbox`);
    const msg = outbox.filter((x) => x.verificationUUID === otp.verificationUUID).at(-1);
    assert.equal(msg.channel, 'sms');
    await sdk.verifyOTP({ otpVerification: otp, verificationToken: msg.code, allowNewMFALinking: true }, client);
    assert.equal(client.user?.id, demo.userId);
    const signin = lastTo('POST', 'smsVerifications/signin');
    assert.deepEqual(Object.keys(signin.body).sort(), ['allowNewMFALinking', 'verificationToken', 'verificationUUID']);
    assert.equal(signin.body.allowNewMFALinking, true);
    // The demo user has MFA: no credential:link token for linking a first method.
    assert.equal(sdk.getElevatedAccessToken({ scope: 'credential:link', consume: false }, client), undefined);
    const key = signin.headers.get('x-dyn-session-public-key');
    assert.match(key ?? '', /^0[23][0-9a-f]{64}$/, 'the SDK sends its compressed P-256 session key');
    assert.equal(claimsOf(client.token).sessionPublicKey, key, 'the session is bound to it');
    assert.equal((await usersWith({ 'x-dyn-session-public-key': key })).status, 200);
    assert.equal((await usersWith({})).status, 401, 'the bearer alone is refused');
  });

  await step('unlinkSocialAccount: refused without credential:unlink; with it the Google account is gone', async () => {
    const google = client.user.verifiedCredentials.find((c) => c.format === 'oauth' && c.oauthProvider === 'google');
    assert.ok(google, 'the demo user has a linked Google account');
    await assert.rejects(sdk.unlinkSocialAccount({ verifiedCredentialId: google.id }, client), (e) => e.status === 403 && e.code === 'step_up_required');
    const { recoveryCodes } = await getJson(`/sandbox/${ENV}/demo`);
    await sdk.authenticateMfaRecoveryCode({ code: recoveryCodes[0], requestedScopes: ['credential:unlink'] }, client);
    const token = sdk.getElevatedAccessToken({ scope: 'credential:unlink', consume: false }, client);
    await sdk.unlinkSocialAccount({ verifiedCredentialId: google.id }, client);
    const unlink = lastTo('POST', 'verify/unlink');
    assert.equal(unlink.headers.get('x-dyn-elevated-access-token'), token);
    assert.deepEqual(unlink.body, { verifiedCredentialId: google.id });
    assert.ok(client.user.verifiedCredentials.every((c) => c.id !== google.id), 'gone from the rotated session');
  });

  await step('requestExternalAuthElevatedToken: an assertion of the customer key becomes a wallet:sign token', async () => {
    await sdk.requestExternalAuthElevatedToken({ externalJwt: assertion({ scope: 'wallet:sign' }) }, client);
    assert.ok(sdk.getElevatedAccessToken({ scope: 'wallet:sign', consume: false }, client));
  });

  await step('logout sends x-dyn-logout-reason: user-intent on POST revoke', async () => {
    await sdk.logout(client);
    assert.equal(lastTo('POST', 'revoke').headers.get('x-dyn-logout-reason'), 'user-intent');
    assert.ok(!client.user, "signed out");
  });

  await step('signInWithExternalJwt: the customer-signed JWT signs the demo user in; replayed or another key, InvalidExternalAuthError', async () => {
    // logout makes the next session key in the background (`void generateSessionKeys`): a
    // sign-in right after it goes without the header, and its session is bound to nothing.
    for (let i = 0; !core.getSessionKeys(client); i++) {
      assert.ok(i < 100, 'the SDK made a new session key after logout');
      await new Promise((r) => setTimeout(r, 20));
    }
    const jwt = assertion();
    await sdk.signInWithExternalJwt({ externalJwt: jwt }, client);
    assert.equal(client.user?.id, demo.userId);
    const signin = lastTo('POST', 'externalAuth/signin');
    assert.ok(signin.headers.get('x-dynamic-device-signed-nonce'), 'device-signed');
    assert.equal(claimsOf(client.token).sessionPublicKey, signin.headers.get('x-dyn-session-public-key'));
    await sdk.logout(client);
    const invalid = (e) => e.code === 'invalid_external_auth_error';
    await assert.rejects(sdk.signInWithExternalJwt({ externalJwt: jwt }, client), invalid, 'its jti is spent');
    const stranger = customerKey().signJwt({ sub: demo.userId, jti: randomUUID(), exp: now() + 120 });
    await assert.rejects(sdk.signInWithExternalJwt({ externalJwt: stranger }, client), invalid, 'another key');
    assert.ok(!client.user, "signed out");
  });
};
