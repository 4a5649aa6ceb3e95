// SIWE (EIP-4361) messages as the official SDK builds them, for the Rust client to match byte for
// byte. The SDK's own functions make every expected value: `formatSignInMessage` and
// `createSignInMessageStatement` (exported by `@dynamic-labs-sdk/client/core`), `new URL(link)`
// `.host` / `.toString()` for the domain and URI (as `getSignInMessage` does), and
// `Date.prototype.toISOString` for `Issued At`. `conformance.mjs` checks that siwe-vectors.json
// still holds what the SDK makes; the Rust test `verify::wallet::tests::sdk_vectors` checks
// that stepup-client makes the same bytes from the same inputs.
//
// Regenerate: STEPUP_WRITE_SIWE_VECTORS=1 node conformance.mjs

const CASES = [
  { appUrl: 'https://app.stepup.example', appName: 'Stepup Desktop', address: '0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf',
    chainId: '1', nonce: '9f86d081884c7d659a2feaa0c55ad015', issuedAtMs: 1714564800123, requestId: '4f8a5d0e-9c1b-4c3e-8f2a-5b6d7e8f9a0b' },
  { appUrl: 'https://wallet.example:8443/path/?x=1', appName: 'Ünïcode Äpp & Co.', address: '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed',
    chainId: '137', nonce: 'n-2', issuedAtMs: 951868799999, requestId: 'env-2' },
  { appUrl: 'http://127.0.0.1:1420', appName: null, address: '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359',
    chainId: null, nonce: 'n3', issuedAtMs: null, requestId: null },
];

/** The vectors, every expected field computed by the SDK (or the JS built-ins it calls). */
export const sdkVectors = async ({ core, sdk, sdkConfig }) => {
  const out = [];
  for (const c of CASES) {
    const url = new URL(c.appUrl);
    let statement = null;
    if (c.appName !== null) {
      // Not initialised: only its metadata is read, and it never calls the network.
      const client = sdk.createDynamicClient({
        ...sdkConfig({ environmentId: 'siwe-vectors', apiBaseUrl: 'http://127.0.0.1:1/api/v0', name: c.appName }),
        autoInitialize: false,
      });
      statement = core.createSignInMessageStatement(client);
    }
    const issuedAt = c.issuedAtMs === null ? null : new Date(c.issuedAtMs).toISOString();
    const message = await core.formatSignInMessage({
      address: c.address,
      blockchainName: 'Ethereum',
      chainId: c.chainId ?? undefined,
      domain: url.host,
      issuedAt: issuedAt ?? undefined,
      nonce: c.nonce,
      requestId: c.requestId ?? undefined,
      statement: statement ?? undefined,
      uri: url.toString(),
    });
    out.push({ ...c, domain: url.host, uri: url.toString(), issuedAt, statement, message });
  }
  return out;
};

// The whole message as the SDK's `getSignInMessage` makes it for a wallet account (reached
// through the exported `proveWalletAccountOwnership`, which hands it to the wallet to sign):
// the app's `universalLink` and name, the environment id, the wallet provider's chain id and
// connect-proof nonce, the time now (`Date` fixed for the call). The Rust test
// `verify::wallet::tests::sdk_sign_in_vectors` runs `StepUpClient::wallet_challenge` with the
// same inputs (the nonce served by `GET nonces`, the clock at `issuedAtMs`) and must get the
// same bytes. Regenerate with the same STEPUP_WRITE_SIWE_VECTORS=1.
const SIGN_IN_CASES = [
  { appUrl: 'https://app.stepup.example', environmentId: '4f8a5d0e-9c1b-4c3e-8f2a-5b6d7e8f9a0b', privateKey: `0x${'00'.repeat(31)}01`,
    chainId: 1, nonce: '9f86d081884c7d659a2feaa0c55ad015', issuedAtMs: 1714564800123 },
  { appUrl: 'http://127.0.0.1:1420/desk/?from=link', environmentId: 'e2e00000-0000-4000-8000-000000000001', privateKey: `0x${'00'.repeat(31)}02`,
    chainId: 137, nonce: 'a1b2c3d4e5f60718293a4b5c6d7e8f90', issuedAtMs: 951868799999 },
];

export const sdkSignInVectors = async ({ core, sdk, sdkConfig }) => {
  const { keyProvider, walletProviderOver } = await import('./eip1193.mjs');
  const out = [];
  for (const c of SIGN_IN_CASES) {
    const client = sdk.createDynamicClient({
      ...sdkConfig({ environmentId: c.environmentId, apiBaseUrl: 'http://127.0.0.1:1/api/v0', name: 'Stepup Desktop' }),
      metadata: { name: 'Stepup Desktop', universalLink: c.appUrl },
      autoInitialize: false,
    });
    const ethereum = keyProvider(c.privateKey, c.chainId);
    const key = 'metamaskevm:browserExtension';
    core.getWalletProviderRegistry(client).register({
      priority: core.WalletProviderPriority.WALLET_SDK,
      walletProvider: walletProviderOver(ethereum, { key, displayName: 'MetaMask', nonce: c.nonce }),
    });
    const walletAccount = { address: ethereum.address, chain: 'EVM', walletProviderKey: key, id: `${key}:${ethereum.address}` };
    const RealDate = globalThis.Date;
    globalThis.Date = class extends RealDate {
      constructor(...args) { if (args.length) super(...args); else super(c.issuedAtMs); }
      static now() { return c.issuedAtMs; }
    };
    let proved;
    try {
      proved = await sdk.proveWalletAccountOwnership({ walletAccount }, client);
    } finally {
      globalThis.Date = RealDate;
    }
    const { privateKey, ...inputs } = c;
    out.push({ ...inputs, address: ethereum.address, appName: 'Stepup Desktop', message: proved.messageToSign, calls: ethereum.calls });
  }
  return out;
};
