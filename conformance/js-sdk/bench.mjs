// The official SDK's side of `cargo xtask bench` (@dynamic-labs-sdk/client 1.27.1, telemetry off,
// non-loopback fetch refused by node-env.mjs). Driven by the Rust harness
// (crates/stepup-keychain/benches/side_by_side.rs), which owns the sandbox and the rounds: one
// JSON command per line on stdin, one JSON answer per line on stdout, so that the two sides run
// interleaved (A B A B) against the same sandbox process.
//
// Commands:
//   {"op":"signin","email":E}               sign in by email OTP (code from the sandbox outbox)
//   {"op":"logout"}
//   {"op":"stepup_only","code":C,"scope":S} a TOTP step-up, untimed (to get a stored token)
//   {"op":"fast","kind":"check"|"peek","scope":S,"calls":N}
//        N calls of checkStepUpAuth (a stored token: no request) or of
//        getElevatedAccessToken({consume:false}); answers {"ns_per_call":x}
//   {"op":"clock","calls":N}               N reads of `new Date()` (the SDK's expiry clock)
//   {"op":"server_check","scope":S,"calls":N}   checkStepUpAuth with no token (a loopback POST);
//        answers {"ns":[per call]}
//   {"op":"full","code":C}                  check → authenticateTotpMfaDevice → registerTotpMfaDevice
//        (credential:link attached); answers {"ns":x}
//   {"op":"quit"}
//
// TOTP codes come from the harness over the pipe: never printed, never written.
import { createInterface } from 'node:readline';
import { guard, sdkConfig } from './node-env.mjs';

const sdk = await import('@dynamic-labs-sdk/client');

const ENV = process.env.STEPUP_BENCH_ENV;
const ROOT = process.env.STEPUP_BENCH_API; // http://127.0.0.1:PORT/api/v0
if (!ENV || !ROOT) {
  console.error('bench.mjs: STEPUP_BENCH_ENV and STEPUP_BENCH_API are required');
  process.exit(2);
}

const client = sdk.createDynamicClient(sdkConfig({ environmentId: ENV, apiBaseUrl: ROOT, name: 'Stepup bench' }));
await sdk.waitForClientInitialized(client);
if (client.initStatus !== 'finished') throw new Error(`SDK init: ${client.initError}`);

const now = () => process.hrtime.bigint();

const outboxCode = async (verificationUUID) => {
  const r = await fetch(`${ROOT}/sandbox/${ENV}/outbox`);
  if (r.status !== 200) throw new Error(`outbox: ${r.status}`);
  const msg = (await r.json()).filter((m) => m.verificationUUID === verificationUUID).at(-1);
  if (!msg) throw new Error('no code in the outbox');
  return msg.code;
};

const ops = {
  async signin({ email }) {
    const otp = await sdk.sendEmailOTP({ email }, client);
    await sdk.verifyOTP({ otpVerification: otp, verificationToken: await outboxCode(otp.verificationUUID) }, client);
    if (client.user?.email !== email) throw new Error('signed in as someone else');
    return {};
  },
  async logout() {
    await sdk.logout(client);
    return {};
  },
  async stepup_only({ code, scope }) {
    await sdk.authenticateTotpMfaDevice({ code, requestedScopes: [scope] }, client);
    if (!sdk.getElevatedAccessToken({ scope, consume: false }, client)) throw new Error('no token stored');
    return {};
  },
  async fast({ kind, scope, calls }) {
    let ok = 0;
    const t0 = now();
    if (kind === 'check') {
      for (let i = 0; i < calls; i++) if (!(await sdk.checkStepUpAuth({ scope }, client)).isRequired) ok++;
    } else {
      for (let i = 0; i < calls; i++) if (sdk.getElevatedAccessToken({ scope, consume: false }, client)) ok++;
    }
    const ns = Number(now() - t0);
    if (ok !== calls) throw new Error(`fast path: ${calls - ok} of ${calls} calls found no token`);
    return { ns_per_call: ns / calls };
  },
  // The clock read the SDK's expiry test makes (`new Date()` in getElevatedAccessToken).
  async clock({ calls }) {
    let last = 0;
    const t0 = now();
    for (let i = 0; i < calls; i++) last = new Date();
    const ns = Number(now() - t0);
    if (!last) throw new Error('no date');
    return { ns_per_call: ns / calls };
  },
  async server_check({ scope, calls }) {
    const ns = [];
    for (let i = 0; i < calls; i++) {
      const t0 = now();
      const r = await sdk.checkStepUpAuth({ scope }, client);
      ns.push(Number(now() - t0));
      if (!r.isRequired || r.credentials.length === 0) throw new Error('the server check did not ask for a step-up');
    }
    return { ns };
  },
  async full({ code }) {
    const t0 = now();
    const check = await sdk.checkStepUpAuth({ scope: 'credential:link' }, client);
    if (!check.isRequired) throw new Error('a token was already there');
    await sdk.authenticateTotpMfaDevice({ code, requestedScopes: ['credential:link'] }, client);
    const reg = await sdk.registerTotpMfaDevice(client);
    const ns = Number(now() - t0);
    if (!reg?.secret && !reg?.uri) throw new Error('registerTotpMfaDevice returned nothing');
    return { ns };
  },
};

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
const reply = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
reply({ ready: true });
for await (const line of lines) {
  if (!line.trim()) continue;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    reply({ error: 'not JSON' });
    continue;
  }
  if (cmd.op === 'quit') break;
  try {
    const op = ops[cmd.op];
    if (!op) throw new Error(`unknown op ${cmd.op}`);
    reply({ ok: true, ...(await op(cmd)), refused: guard.refused });
  } catch (e) {
    // The message only: an SDK error may carry the request, never print a code or a token.
    reply({ error: `${cmd.op}: ${e?.name ?? 'Error'}: ${String(e?.message ?? e).slice(0, 200)}`, refused: guard.refused });
  }
}
reply({ bye: true, guard: guard.summary(), refused: guard.refused });
process.exit(0);
