// The node environment every harness of the official SDK runs in (conformance, benchmarks):
// the little of `window` the SDK reads, and a network guard.
//
// The guard is the rule of this project's tests: nothing leaves the machine. `fetch` (and the
// other ways a browser library reaches the network: WebSocket, EventSource, XMLHttpRequest,
// navigator.sendBeacon) is replaced by a wrapper that rejects, before any socket is opened or
// any name is looked up, every URL whose host is not 127.0.0.1, localhost or [::1]. What it
// refused is counted by host, so a run can fail naming the host that something tried to reach.
//
// Import this module before the SDK: `import { guard } from './node-env.mjs';` then
// `await import('@dynamic-labs-sdk/client')`, and create the client with
// `instrumentation: { enabled: false }` (`sdkConfig()` below adds it).
import 'fake-indexeddb/auto';

/** Hosts a test may reach: loopback only (`URL.hostname` keeps the brackets of IPv6). */
export const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The host of `input` (a string, URL or Request), or null when it is not a URL at all. */
export const hostOf = (input) => {
  const href = typeof input === 'string' ? input : input?.url ?? input?.href ?? String(input);
  try {
    return new URL(href).hostname.toLowerCase();
  } catch {
    return null;
  }
};

/** Refused requests so far, by host. */
const refusedByHost = new Map();

export class NonLoopbackRequestError extends Error {
  constructor(host, api) {
    super(`refused by the loopback guard: ${api} to ${host ?? '(no host)'} (tests reach 127.0.0.1, localhost or [::1] only)`);
    this.name = 'NonLoopbackRequestError';
    this.host = host;
  }
}

const refuse = (input, api) => {
  const host = hostOf(input);
  if (host !== null && LOOPBACK_HOSTS.has(host)) return null;
  const key = host ?? '(no host)';
  refusedByHost.set(key, (refusedByHost.get(key) ?? 0) + 1);
  return new NonLoopbackRequestError(host, api);
};

const realFetch = globalThis.fetch;
globalThis.fetch = function guardedFetch(input, init) {
  const error = refuse(input, 'fetch');
  // Rejected before `realFetch` runs: no socket, no DNS lookup.
  if (error) return Promise.reject(error);
  return realFetch(input, init);
};

// The other network APIs a browser SDK may find on the global object. Node 20 has none of
// them by default except WebSocket behind a flag; whichever exists is guarded the same way.
for (const api of ['WebSocket', 'EventSource', 'XMLHttpRequest']) {
  const Real = globalThis[api];
  if (typeof Real !== 'function') continue;
  globalThis[api] = class extends Real {
    constructor(url, ...rest) {
      const error = refuse(url, api);
      if (error) throw error;
      super(url, ...rest);
    }
  };
}

export const guard = {
  /** How many requests the guard refused in all. */
  get refused() {
    let n = 0;
    for (const count of refusedByHost.values()) n += count;
    return n;
  },
  /** The hosts it refused, with their counts: `[['logs.example', 3]]`. */
  get hosts() {
    return [...refusedByHost.entries()];
  },
  /** One line for a test log: `loopback guard: 0 refused` or the hosts. */
  summary() {
    const hosts = this.hosts.map(([h, n]) => `${h} (${n})`).join(', ');
    return `loopback guard: ${this.refused} refused${hosts ? `: ${hosts}` : ''}`;
  },
};

// The SDK is written for browsers and React Native: give it the little of `window` it reads.
const memoryStorage = () => {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
    clear: () => m.clear(),
    key: (i) => [...m.keys()][i] ?? null,
    get length() { return m.size; },
  };
};
globalThis.localStorage = memoryStorage();
globalThis.sessionStorage = memoryStorage();
globalThis.window = globalThis;
globalThis.window.location = new URL('https://app.stepup.example/');
globalThis.document = { cookie: '', addEventListener() {}, removeEventListener() {}, visibilityState: 'visible' };
globalThis.addEventListener = () => {};
globalThis.removeEventListener = () => {};
if (globalThis.navigator && typeof globalThis.navigator.sendBeacon === 'function') {
  const realBeacon = globalThis.navigator.sendBeacon.bind(globalThis.navigator);
  globalThis.navigator.sendBeacon = (url, data) => (refuse(url, 'sendBeacon') ? false : realBeacon(url, data));
}

/**
 * The SDK client configuration every harness uses: the sandbox's API, and the SDK's
 * instrumentation (which POSTs events to Dynamic's log host) disabled.
 */
export const sdkConfig = ({ environmentId, apiBaseUrl, name }) => ({
  environmentId,
  coreConfig: { apiBaseUrl },
  metadata: { name, universalLink: 'https://app.stepup.example' },
  logLevel: 'error',
  instrumentation: { enabled: false },
});
