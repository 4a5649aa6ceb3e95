// Wallet step-up (issue #11) against the sandbox, through the official SDK:
// - the SIWE message `getSignInMessage` makes for a wallet account is the one stepup-client
//   makes (siwe-sign-in-vectors.json, checked byte for byte by the Rust test);
// - `verifyWalletAccount` with `requestedScopes`, its wallet an EIP-1193 provider backed by the
//   demo external wallet's real key, gets an elevated token from `POST wallets/verify`;
// - the same call with another key's provider is refused.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { keyProvider, walletProviderOver } from './eip1193.mjs';
import { sdkSignInVectors } from './siwe-vectors.mjs';

export async function walletSteps({ step, sdk, core, sdkConfig, client, getJson, ENV }) {
  await step('siwe-sign-in-vectors.json holds what the SDK\'s getSignInMessage makes for a wallet account (stepup-client\'s wallet_challenge matches it byte for byte)', async () => {
    const vectors = await sdkSignInVectors({ core, sdk, sdkConfig });
    const file = new URL('./siwe-sign-in-vectors.json', import.meta.url);
    if (process.env.STEPUP_WRITE_SIWE_VECTORS === '1') writeFileSync(file, `${JSON.stringify(vectors, null, 2)}\n`);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), vectors);
    for (const v of vectors) assert.deepEqual(v.calls, ['eth_chainId', 'personal_sign'], 'the wallet was asked to sign it');
  });

  const demo = await getJson(`/sandbox/${ENV}/demo`);
  const walletAccountFor = (address) => sdk.getWalletAccounts(client).find((a) => a.address.toLowerCase() === address.toLowerCase());

  await step('verifyWalletAccount with requestedScopes: an EIP-1193 wallet of the demo external wallet\'s key gets a wallet:export token', async () => {
    assert.ok(demo.externalWalletPrivateKey, 'the demo view shows the external wallet\'s key');
    const ethereum = keyProvider(demo.externalWalletPrivateKey);
    assert.equal(ethereum.address.toLowerCase(), demo.externalWalletAddress.toLowerCase());
    const walletAccount = walletAccountFor(ethereum.address);
    assert.ok(walletAccount?.verifiedCredentialId, `the user's verified wallet: ${JSON.stringify(sdk.getWalletAccounts(client))}`);
    core.getWalletProviderRegistry(client).register({
      priority: core.WalletProviderPriority.WALLET_SDK,
      walletProvider: walletProviderOver(ethereum, { key: walletAccount.walletProviderKey, displayName: 'MetaMask' }),
    });
    assert.equal(sdk.getElevatedAccessToken({ scope: 'wallet:export', consume: false }, client), undefined, 'none before');
    const verified = await sdk.verifyWalletAccount({ walletAccount, requestedScopes: ['wallet:export'] }, client);
    assert.equal(verified.address.toLowerCase(), ethereum.address.toLowerCase());
    assert.deepEqual(ethereum.calls.filter((c) => c === 'personal_sign'), ['personal_sign']);
    assert.deepEqual(await sdk.checkStepUpAuth({ scope: 'wallet:export' }, client), { isRequired: false, credentials: [] });
    assert.ok(sdk.getElevatedAccessToken({ scope: 'wallet:export' }, client), 'the elevated token (consumed now: single-use)');
  });

  await step('verifyWalletAccount signed by another key is refused by the sandbox, and no token comes', async () => {
    const walletAccount = walletAccountFor(demo.externalWalletAddress);
    const other = keyProvider(`0x${'5a'.repeat(32)}`);
    // The wallet signs with another key for the demo wallet's address (a wallet that lies).
    const liar = { ...other, request: async ({ method, params }) => (method === 'personal_sign' ? other.request({ method, params: [params[0], other.address] }) : other.request({ method, params })) };
    core.getWalletProviderRegistry(client).unregister(walletAccount.walletProviderKey);
    core.getWalletProviderRegistry(client).register({
      priority: core.WalletProviderPriority.WALLET_SDK,
      walletProvider: walletProviderOver(liar, { key: walletAccount.walletProviderKey, displayName: 'MetaMask' }),
    });
    await assert.rejects(sdk.verifyWalletAccount({ walletAccount, requestedScopes: ['wallet:export'] }, client));
    assert.equal(sdk.getElevatedAccessToken({ scope: 'wallet:export', consume: false }, client), undefined);
  });
}
