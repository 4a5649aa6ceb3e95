// The exported key, shown with care: masked until "Show key", "Hide" masks it again, "Copy" asks
// the backend to copy it (kept out of clipboard history; the backend clears the clipboard 30 s
// later if it still holds the key: the page has no clipboard permission).
// The key lives only here and, while shown, in the key field; wipe() drops both.

import { call, on } from '../ipc.js';
import { setText } from '../dom.js';
import { el } from './elements.js';

/** What the key field shows until "Show key": never derived from the key (not even its length). */
const KEY_MASK = '•'.repeat(32);
/** The backend clears the clipboard this long after "Copy", if it still holds the key. */
const CLIPBOARD_CLEAR_S = 30;

const reveals = new Set();

// The backend says how each copy ended: cleared (it still held the key) or kept (something else
// was copied since). Outlives the dialog, as the clearing does.
on('clipboard-cleared', (cleared) => {
  document.body.dataset.clipboard = cleared ? 'cleared' : 'kept';
  reveals.forEach((r) => r.clipboardChecked(cleared));
});

export class KeyReveal {
  /** The private key, or null: none exported, or wiped. */
  #key = null;
  /** Whether the field shows the key (else the mask). */
  #shown = false;
  /** The line under the field. */
  #note = '';
  /** The request whose key this is (the backend copies only that one's key). */
  #requestId = null;

  constructor() {
    reveals.add(this);
  }

  /** Takes the exported key, masked. */
  hold(privateKey, requestId) {
    this.#key = privateKey;
    this.#requestId = requestId;
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
    this.#requestId = null;
    this.#shown = false;
    this.#note = '';
    this.#render();
  }

  /** Asks the backend to copy the key (hinting clipboard managers to keep it out of their
   * history); it clears the clipboard 30 s later if it still holds the key. */
  async copy() {
    const key = this.#key;
    if (!key) return;
    try {
      await call('copy_exported_key', { requestId: this.#requestId, key });
    } catch {
      this.#say('The key could not be copied: press “Show key” and copy it by hand.');
      return;
    }
    this.#say(`Copied. The clipboard is cleared in ${CLIPBOARD_CLEAR_S} s.`);
    document.body.dataset.clipboard = 'copied';
  }

  /** The backend checked the clipboard after a copy. */
  clipboardChecked(cleared) {
    if (cleared) this.#say('The clipboard was cleared.');
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
