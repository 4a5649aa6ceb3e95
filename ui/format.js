// Words and times for people: wallet addresses, durations, clock times.

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

/** A local date and time, e.g. "2 Dec 2026, 14:05:09" (the history: it outlives a day). */
export function dateTime(ms) {
  return new Date(ms).toLocaleString([], { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A local clock time, e.g. "14:05:09". */
export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
