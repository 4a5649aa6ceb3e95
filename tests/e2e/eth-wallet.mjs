// A wallet whose secp256k1 key is in this process, for the E2E tests: EIP-191 personal_sign
// (r ‖ s ‖ v, v 27/28) of a message's bytes, the key's EIP-55 address, and the source of a
// test EIP-1193 provider (window.ethereum) that a browser page gets before its own scripts
// run. The provider holds no key: each personal_sign waits in the page until the test signs
// it here (as a wallet extension's page asks its background for the signature).

import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');

/** The EIP-55 form of a 0x address. */
export function eip55(address) {
  const lower = address.toLowerCase().replace(/^0x/, '');
  const hash = hex(keccak_256(new TextEncoder().encode(lower)));
  return `0x${[...lower].map((c, i) => (parseInt(hash[i], 16) >= 8 ? c.toUpperCase() : c)).join('')}`;
}

/** A wallet of `privateKey` (0x-hex). */
export function walletOf(privateKey) {
  const key = Uint8Array.from(Buffer.from(privateKey.replace(/^0x/, ''), 'hex'));
  const publicKey = secp256k1.getPublicKey(key, false);
  const address = eip55(`0x${hex(keccak_256(publicKey.slice(1)).slice(12))}`);
  /** personal_sign of `message` (a string's UTF-8 bytes, or bytes). */
  const personalSign = (message) => {
    const bytes = typeof message === 'string' ? new TextEncoder().encode(message) : message;
    const prefix = new TextEncoder().encode(`\x19Ethereum Signed Message:\n${bytes.length}`);
    const digest = keccak_256(new Uint8Array([...prefix, ...bytes]));
    const recovered = secp256k1.sign(digest, key, { prehash: false, format: 'recovered' });
    // noble's 'recovered' is recovery ‖ r ‖ s; Ethereum's is r ‖ s ‖ (27 + recovery).
    return `0x${hex(recovered.slice(1))}${(27 + recovered[0]).toString(16)}`;
  };
  return { address, personalSign };
}

/** A fresh random wallet (another address than the account's). */
export const randomWallet = () => walletOf(`0x${hex(secp256k1.utils.randomSecretKey())}`);

/** The page-side source of a test EIP-1193 provider for `address`: eth_requestAccounts and
 * eth_accounts answer it, eth_chainId 0x1, personal_sign waits in `window.__e2eWallet.pending`
 * for the test's answer. */
export const providerSource = (address) => `(() => {
  const pending = [];
  window.__e2eWallet = { pending, calls: [] };
  const provider = {
    isE2EWallet: true,
    request({ method, params }) {
      window.__e2eWallet.calls.push(method);
      if (method === 'eth_requestAccounts' || method === 'eth_accounts') return Promise.resolve([${JSON.stringify(address)}]);
      if (method === 'eth_chainId') return Promise.resolve('0x1');
      if (method === 'personal_sign') return new Promise((resolve, reject) => pending.push({ params, resolve, reject }));
      return Promise.reject(Object.assign(new Error('unsupported method ' + method), { code: 4200 }));
    },
    on() {}, removeListener() {},
  };
  Object.defineProperty(window, 'ethereum', { value: provider, configurable: true });
})();`;
