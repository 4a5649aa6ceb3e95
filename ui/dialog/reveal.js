// The exported key, shown with care: masked until "Show key", "Hide" masks it again, "Copy" keeps
// it out of clipboard history and clears the clipboard 30 s later if it still holds the key.
// The key lives only here and, while shown, in the key field; wipe() drops both.

import { call } from '../ipc.js';
import { setText } from '../dom.js';
import { el } from './elements.js';

/** What the key field shows until "Show key": never derived from the key (not even its length). */
const KEY_MASK = '•'.repeat(32);
/** The clipboard is cleared this long after "Copy", if it still holds the key. */
const CLIPBOARD_CLEAR_MS = 30_000;

export class KeyReveal {
  /** The private key, or null: none exported, or wiped. */
  #key = null;
  /** Whether the field shows the key (else the mask). */
  #shown = false;
  /** The line under the field. */
  #note = '';
  /** Clears the clipboard if it still holds the key; outlives the dialog. */
  #clipboardTimer = null;

  /** Takes the exported key, masked. */
  hold(privateKey) {
    this.#key = privateKey;
    this.#shown = false;
    this.#note = 'Exported. The key stays hidden until you press “Show key”.';
    this.#render();
  }

  /** "Show key" / "Hide". */
  toggle() {
    if (!this.#key) return;
    this.#shown = !this.#shown;
    this.#render();
  }

  /** The key leaves our references and the DOM. */
  wipe() {
    this.#key = null;
    this.#shown = false;
    this.#note = '';
    this.#render();
  }

  /** Copies the key (hinting clipboard managers to keep it out of their history); 30 s later
   * clears the clipboard if it still holds the key, compared by digest so that the timer keeps
   * no copy of the key once the dialog closes. */
  async copy() {
    const key = this.#key;
    if (!key) return;
    try {
      await call('plugin:clipboard-manager|write_secret', { text: key });
    } catch {
      this.#say('The key could not be copied: press “Show key” and copy it by hand.');
      return;
    }
    const digest = await sha256(key);
    clearTimeout(this.#clipboardTimer);
    this.#clipboardTimer = setTimeout(() => this.#clearClipboard(digest), CLIPBOARD_CLEAR_MS);
    this.#say(`Copied. The clipboard is cleared in ${CLIPBOARD_CLEAR_MS / 1000} s.`);
    document.body.dataset.clipboard = 'copied';
  }

  async #clearClipboard(digest) {
    this.#clipboardTimer = null;
    let holdsKey;
    try {
      holdsKey = (await sha256(await call('plugin:clipboard-manager|read_text'))) === digest;
    } catch {
      holdsKey = false; // empty, or not text: nothing of ours to clear
    }
    if (holdsKey) {
      try { await call('plugin:clipboard-manager|clear'); } catch { /* nothing more to do */ }
    }
    document.body.dataset.clipboard = holdsKey ? 'cleared' : 'kept';
    if (holdsKey) this.#say('The clipboard was cleared.');
  }

  /** A note about the key, while there is one. */
  #say(note) {
    if (!this.#key) return;
    this.#note = note;
    this.#render();
  }

  #render() {
    el.key.hidden = !this.#key;
    el.keyField.value = !this.#key ? '' : this.#shown ? this.#key : KEY_MASK;
    if (this.#key) el.keyField.dataset.revealed = String(this.#shown); else delete el.keyField.dataset.revealed;
    el.keyShow.textContent = this.#shown ? 'Hide' : 'Show key';
    el.keyShow.setAttribute('aria-pressed', String(this.#shown));
    setText(el.keyNote, this.#note);
  }
}

/** Hex SHA-256 of a string (to recognise the key in the clipboard without keeping it). */
async function sha256(text) {
  const bytes = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
