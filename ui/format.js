// Words and times for people: credential labels, durations, clock times.

/** What a credential is called in the "Verify with" list. */
export function credentialLabel(credential) {
  const alias = credential.alias ? ` (${credential.alias})` : '';
  switch (credential.method) {
    case 'totp': return /^authenticator app$/i.test(credential.alias ?? '') ? 'Authenticator app' : `Authenticator app${alias}`;
    case 'email_otp': return `Email a code${credential.alias ? ` to ${credential.alias}` : ''}`;
    case 'sms_otp': return `Text a code${credential.alias ? ` to ${credential.alias}` : ''}`;
    case 'recovery_code': return 'A recovery code';
    case 'passkey': return /passkey/i.test(credential.alias ?? '') ? credential.alias : `Passkey on this device${alias}`;
    default: {
      const kinds = { passkey: 'Passkey', blockchain: 'Wallet signature', oauth: 'Social account', externalUser: 'Your organisation’s sign-in' };
      return `${kinds[credential.format] ?? credential.format}${alias}: not available in this app yet`;
    }
  }
}

/** A wallet address for people: "0x12ab…9f3c" (the whole one when short). */
export function shortAddress(address) {
  if (!address) return 'of your account';
  return address.length > 14 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

/** "4 min 05 s", "35 s", "expired". */
export function remaining(ms) {
  if (ms <= 0) return 'expired';
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  if (m > 0) return `${m} min ${String(s).padStart(2, '0')} s`;
  return `${s} s`;
}

/** A local clock time, e.g. "14:05:09". */
export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Replaces an element's children with text-only cells; never parses HTML. */
export function fillRow(row, cells) {
  row.replaceChildren(...cells.map((cell) => {
    const td = document.createElement('td');
    if (cell instanceof Node) td.append(cell); else td.textContent = cell;
    return td;
  }));
  return row;
}
