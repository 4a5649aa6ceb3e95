// Social re-authentication (issue 12): the official SDK's signInWithSocialRedirect and
// completeSocialRedirect({ url, requestedScopes }) against the sandbox's providers.
//
// The SDK builds the provider URL from the sandbox's settings.providers, calls initAuth and
// "navigates" (coreConfig.navigate: the URL is kept). This file then does what the browser
// does, with fetch on loopback only (node-env.mjs refuses anything else): it loads the
// sandbox's authorisation page, submits its form (Allow or Deny), and follows the provider's
// and Dynamic's 303s by hand up to the app's redirect URL, which it hands to
// completeSocialRedirect. The client has a storage of its own, apart from conformance.mjs's.
import assert from 'node:assert/strict';

/** Loopback URL the app would be sent back to (never loaded: the SDK reads its query). */
const APP_REDIRECT = 'http://127.0.0.1:9/social/callback';

const memoryStorageAdapter = () => {
  const m = new Map();
  return {
    getItem: async (k) => (m.has(k) ? m.get(k) : null),
    setItem: async (k, v) => { m.set(k, v); },
    removeItem: async (k) => { m.delete(k); },
    /** The raw entries whose key ends with `suffix` (to store them again, as the SDK did). */
    entries: (suffix) => [...m.entries()].filter(([k]) => k.endsWith(suffix)),
    map: m,
  };
};

const locationOf = (response, what) => {
  assert.equal(response.status, 303, `${what} redirects`);
  const location = response.headers.get('location');
  assert.ok(location, `${what} has a Location`);
  return location;
};

/** The browser's trip: the page, its form, the provider's and Dynamic's redirects. */
const authorize = async (url, decision) => {
  const page = await fetch(url, { redirect: 'manual' });
  assert.equal(page.status, 200, 'the authorisation page');
  const html = await page.text();
  const consent = /name="consent" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(consent, 'the page has its form');
  const answered = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ consent, decision }).toString(),
  });
  const dynamic = locationOf(answered, 'the form');
  const back = await fetch(dynamic, { redirect: 'manual' });
  return { html, app: new URL(locationOf(back, "Dynamic's redirect")) };
};

/**
 * Runs the social steps with `step` (conformance.mjs's reporter).
 * `demo` is the sandbox's demo user (it has a linked Google account).
 */
export const socialConformance = async ({ sdk, sdkConfig, ROOT, ENV, step, getJson }) => {
  let navigated = null;
  const storage = memoryStorageAdapter();
  const base = sdkConfig({ environmentId: ENV, apiBaseUrl: ROOT, name: 'Stepup social conformance' });
  const client = sdk.createDynamicClient({
    ...base,
    coreConfig: {
      ...base.coreConfig,
      storageAdapter: storage,
      navigate: async (url) => { navigated = url; },
    },
  });
  await sdk.waitForClientInitialized(client);
  const demo = await getJson(`/sandbox/${ENV}/demo`);

  await step('social: settings.providers name the sandbox own pages (google, github)', async () => {
    const providers = client.projectSettings?.providers ?? [];
    const google = providers.find((p) => p.provider === 'google');
    assert.ok(google && providers.some((p) => p.provider === 'github'), JSON.stringify(providers));
    assert.ok(new URL(google.baseAuthUrl).hostname === '127.0.0.1', google.baseAuthUrl);
    // The demo signs in again (its own client), by email OTP.
    const otp = await sdk.sendEmailOTP({ email: demo.email }, client);
    const outbox = await getJson(`/sandbox/${ENV}/outbox`);
    const msg = outbox.filter((m) => m.verificationUUID === otp.verificationUUID).at(-1);
    await sdk.verifyOTP({ otpVerification: otp, verificationToken: msg.code }, client);
    assert.ok(client.user?.verifiedCredentials.some((c) => c.format === 'oauth' && c.oauthProvider === 'google'),
      'the demo user has a linked Google account');
  });

  const signIn = async (decision) => {
    navigated = null;
    await sdk.signInWithSocialRedirect({ provider: 'google', redirectUrl: APP_REDIRECT }, client);
    assert.ok(navigated, 'the SDK navigated to the provider');
    const url = new URL(navigated);
    assert.equal(url.searchParams.get('state')?.length, 32);
    assert.equal(url.searchParams.get('access_type'), 'offline');
    return authorize(navigated, decision);
  };

  await step('social: completeSocialRedirect with requestedScopes gets a credential:link token', async () => {
    const { html, app } = await signIn('allow');
    assert.ok(html.includes(demo.email), 'the page names the Google account');
    assert.ok(app.searchParams.get('dynamicOauthCode'), 'the app gets dynamicOauthCode');
    assert.equal(await sdk.detectSocialRedirectUrl({ url: app }, client), true);
    const before = client.token;
    await sdk.completeSocialRedirect({ url: app, requestedScopes: ['credential:link'] }, client);
    assert.notEqual(client.token, before, 'the session rotated');
    assert.ok(sdk.getElevatedAccessToken({ scope: 'credential:link', consume: false }, client));
  });

  await step('social: with the credential:link token attached, completeSocialRedirect gets wallet:export', async () => {
    const { app } = await signIn('allow');
    await sdk.completeSocialRedirect({ url: app, requestedScopes: ['wallet:export'] }, client);
    assert.ok(sdk.getElevatedAccessToken({ scope: 'wallet:export', consume: false }, client), 'a wallet:export token');
    const check = await sdk.checkStepUpAuth({ scope: 'wallet:export' }, client);
    assert.equal(check.isRequired, false);
  });

  await step('social: the same redirect twice is refused (the code is single-use)', async () => {
    const { app } = await signIn('allow');
    const stored = storage.entries('redirectState');
    assert.equal(stored.length, 1, 'signInWithSocialRedirect stored its redirectState');
    await sdk.completeSocialRedirect({ url: app, requestedScopes: ['wallet:sign'] }, client);
    assert.equal(storage.entries('redirectState').length, 0, 'and completeSocialRedirect removed it');
    // Stored again as signInWithSocialRedirect stored it: the SDK sends the code once more.
    for (const [k, v] of stored) storage.map.set(k, v);
    await assert.rejects(
      sdk.completeSocialRedirect({ url: app, requestedScopes: ['wallet:sign'] }, client),
      (e) => e.code !== 'missing_redirect_storage_state_error' && /already used/.test(String(e.message) + String(e.cause?.message ?? '')),
    );
  });

  await step('social: Deny reaches the app without a code: MissingSocialUrlParamError', async () => {
    const { app } = await signIn('deny');
    assert.equal(app.searchParams.get('dynamicOauthError'), 'access_denied');
    assert.equal(app.searchParams.get('dynamicOauthCode'), null);
    await assert.rejects(
      sdk.completeSocialRedirect({ url: app, requestedScopes: ['wallet:export'] }, client),
      (e) => e.code === 'missing_social_url_param_error',
    );
  });

  await sdk.logout(client);
};
