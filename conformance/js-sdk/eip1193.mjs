// An EIP-1193 provider in node backed by a real secp256k1 key (what a browser wallet is to a
// page), and the SDK WalletProvider that speaks to it, as the SDK's own EVM browser-extension
// provider does (eth_requestAccounts/eth_accounts, eth_chainId, personal_sign with the message
// hex-encoded). Signatures are EIP-191 personal_sign: keccak256("\x19Ethereum Signed
// Message:\n" + len + message), r ‖ s ‖ v with v 27/28.
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';

const hex = (bytes) => Buffer.from(bytes).toString('hex');
const utf8 = (text) => new TextEncoder().encode(text);

/** The EIP-55 form of a 0x address. */
export function eip55(address) {
  const lower = address.toLowerCase().replace(/^0x/, '');
  const hash = hex(keccak_256(utf8(lower)));
  return `0x${[...lower].map((c, i) => (parseInt(hash[i], 16) >= 8 ? c.toUpperCase() : c)).join('')}`;
}

/** An EIP-1193 provider of the key `privateKey` (0x-hex) on chain `chainId`. */
export function keyProvider(privateKey, chainId = 1) {
  const key = Uint8Array.from(Buffer.from(privateKey.replace(/^0x/, ''), 'hex'));
  const address = eip55(`0x${hex(keccak_256(secp256k1.getPublicKey(key, false).slice(1)).slice(12))}`);
  const calls = [];
  const personalSign = (bytes) => {
    const digest = keccak_256(new Uint8Array([...utf8(`\x19Ethereum Signed Message:\n${bytes.length}`), ...bytes]));
    const recovered = secp256k1.sign(digest, key, { prehash: false, format: 'recovered' });
    return `0x${hex(recovered.slice(1))}${(27 + recovered[0]).toString(16)}`;
  };
  return {
    address,
    calls,
    async request({ method, params = [] }) {
      calls.push(method);
      switch (method) {
        case 'eth_requestAccounts':
        case 'eth_accounts':
          return [address];
        case 'eth_chainId':
          return `0x${chainId.toString(16)}`;
        case 'personal_sign': {
          const [data, from] = params;
          if (String(from).toLowerCase() !== address.toLowerCase()) {
            throw Object.assign(new Error('unknown account'), { code: 4100 });
          }
          const bytes = /^0x[0-9a-fA-F]*$/.test(data) ? Buffer.from(data.slice(2), 'hex') : utf8(data);
          return personalSign(bytes);
        }
        default:
          throw Object.assign(new Error(`unsupported method ${method}`), { code: 4200 });
      }
    },
  };
}

/** The SDK WalletProvider (`key`, e.g. `metamaskevm:browserExtension`) over an EIP-1193
 * provider, to register in the SDK's wallet provider registry. */
export const walletProviderOver = (ethereum, { key, displayName, nonce }) => ({
  key,
  chain: 'EVM',
  groupKey: key.split(':')[0],
  walletProviderType: 'browserExtension',
  metadata: { displayName, icon: '' },
  getActiveNetworkId: async () => ({ networkId: String(parseInt(await ethereum.request({ method: 'eth_chainId' }), 16)) }),
  getConnectedAddresses: async () => ({ addresses: await ethereum.request({ method: 'eth_accounts' }) }),
  connect: async () => ({ addresses: (await ethereum.request({ method: 'eth_requestAccounts' })).map((address) => ({ address })) }),
  ...(nonce ? { getConnectProofNonce: () => nonce } : {}),
  signMessage: async ({ message, walletAccount }) => ({
    signature: await ethereum.request({ method: 'personal_sign', params: [`0x${hex(utf8(message))}`, walletAccount.address] }),
  }),
});
