// The exported key, shown with care (MetaMask's and Dynamic's export views as anchors):
// - Hidden until the user holds "Hold to reveal" for HOLD_MS: a mouse press, a touch, or Space or
//   Enter held down, with a progress bar that fills meanwhile. Releasing early shows nothing and
//   empties the bar; a key's auto-repeat does not start the hold over. No click reveals (a click
//   is one event, a hold is a deliberate act), and only trusted input starts a hold.
// - Shown in a multi-line block that holds all of it; the block's label says what it shows.
// - Hidden again by "Hide", after AUTO_HIDE_MS on screen, and at once when the window loses focus
//   or is hidden, with a note saying why.
// - "Copy" asks the backend to copy it (kept out of clipboard history; the backend clears the
//   clipboard 30 s later if it still holds the key: the page has no clipboard permission). Copy
//   works while the key is hidden: it need not be on screen to be copied.
// The key lives only here and, while shown, in the key block; wipe() drops both.

import { call, on } from '../ipc.js';
import { setText } from '../dom.js';
import { el } from './elements.js';

/** How long "Hold to reveal" must be held before the key shows. */
export const HOLD_MS = 2000;
/** A shown key hides itself this long after it appeared. A constant: nothing (no link, no
 * setting, no page script) shortens or lengthens it. */
export const AUTO_HIDE_MS = 60_000;
/** The keys that hold the button, as a button's activation keys. */
const HOLD_KEYS = new Set([' ', 'Enter']);
/** What the key block shows while the key is hidden: never derived from the key (not even its
 * length). In groups, so that it wraps as the key does (WebKit breaks no run of bullets). */
const KEY_MASK = Array(8).fill('•'.repeat(8)).join(' ');
/** The backend clears the clipboard this long after "Copy", if it still holds the key. */
const CLIPBOARD_CLEAR_S = 30;

const NOTES = Object.freeze({
  exported: 'Exported. It stays hidden until you hold “Hold to reveal”.',
  shown: 'Shown. It hides itself after 1 minute, or as soon as you leave this window.',
  early: 'Released too soon: nothing was shown. Hold until the bar is full.',
  hidden: 'Hidden.',
  timedOut: 'Hidden after 1 minute on screen. Hold the button again to show it.',
  blurred: 'Hidden because you left this window.',
  minimized: 'Hidden because this window was minimized or covered.',
});

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
  /** Whether the block shows the key (else the mask). */
  #shown = false;
  /** The line under the block. */
  #note = '';
  /** The request whose key this is (the backend copies only that one's key). */
  #requestId = null;
  /** The hold under way, or null: `{key}` or `{pointerId}`, when it started, its timers. */
  #hold = null;
  /** The key that completed a hold and is still down: the focus moves to "Hide" on its keyup
   * (not before, or its auto-repeat would press "Hide"). */
  #heldKey = null;
  /** The auto-hide timer while the key shows. */
  #hideTimer = 0;

  constructor() {
    reveals.add(this);
    const hold = el.keyHold;
    hold.addEventListener('keydown', (e) => {
      if (!HOLD_KEYS.has(e.key) || e.ctrlKey || e.altKey || e.metaKey) return;
      e.preventDefault(); // the button's own activation: there is no click to have
      if (!e.isTrusted || e.repeat || this.#hold) return; // auto-repeat goes on, never restarts
      this.#startHold({ key: e.key });
    });
    // On the window, capturing: the button may have lost the focus (hidden) when the key goes up.
    window.addEventListener('keyup', (e) => {
      if (this.#hold?.key === e.key) {
        e.preventDefault();
        this.#cancelHold(NOTES.early);
      } else if (this.#heldKey === e.key) {
        e.preventDefault();
        this.#heldKey = null;
        if (this.#shown) el.keyShow.focus();
      }
    }, true);
    window.addEventListener('keydown', (e) => {
      if (this.#heldKey === e.key) e.preventDefault(); // its auto-repeat, after the reveal
    }, true);
    hold.addEventListener('pointerdown', (e) => {
      if (!e.isTrusted || !e.isPrimary || e.button !== 0 || this.#hold) return;
      this.#startHold({ pointerId: e.pointerId });
    });
    const release = (e) => { if (this.#hold && this.#hold.pointerId === e.pointerId) this.#cancelHold(NOTES.early); };
    for (const type of ['pointerup', 'pointercancel', 'pointerleave']) hold.addEventListener(type, release);
    hold.addEventListener('contextmenu', (e) => e.preventDefault()); // a long touch is a hold
    hold.addEventListener('blur', () => { if (this.#hold) this.#cancelHold(NOTES.early); });
    // Leaving the window hides the key (an untrusted blur only hides: that is always safe).
    window.addEventListener('blur', (e) => { if (e.target === window) this.#leave(NOTES.blurred); });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') this.#leave(NOTES.minimized);
    });
    window.addEventListener('resize', () => this.#fit());
  }

  /** Takes the exported key, hidden. */
  hold(privateKey, requestId) {
    this.#stop();
    this.#key = privateKey;
    this.#requestId = requestId;
    this.#shown = false;
    this.#note = NOTES.exported;
    this.#render();
  }

  /** "Hide": the key leaves the block. Never reveals: only a completed hold does. */
  hide() {
    if (!this.#shown) return;
    this.#conceal(NOTES.hidden);
  }

  /** The "Hide" button's click (dialog.js wires it under this name): hides, never reveals. */
  toggle() {
    this.hide();
  }

  /** The key leaves our references and the DOM. */
  wipe() {
    this.#stop();
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
      this.#say('The key could not be copied: hold “Hold to reveal” and copy it by hand.');
      return;
    }
    this.#say(`Copied. The clipboard is cleared in ${CLIPBOARD_CLEAR_S} s.`);
    document.body.dataset.clipboard = 'copied';
  }

  /** The backend checked the clipboard after a copy. */
  clipboardChecked(cleared) {
    if (cleared) this.#say('The clipboard was cleared.');
  }

  /** A hold starts: the bar fills for HOLD_MS, then the key shows. */
  #startHold(how) {
    if (!this.#key || this.#shown) return;
    const started = performance.now();
    const hold = { ...how, started, frame: 0, timer: setTimeout(() => this.#completeHold(hold), HOLD_MS) };
    const tick = () => {
      if (this.#hold !== hold) return;
      this.#drawProgress(Math.min(1, (performance.now() - started) / HOLD_MS));
      hold.frame = requestAnimationFrame(tick);
    };
    this.#hold = hold;
    el.keyHold.dataset.holding = 'true';
    tick();
  }

  /** Held for HOLD_MS: the key shows. */
  #completeHold(hold) {
    if (this.#hold !== hold) return;
    this.#endHold();
    if (!this.#key) return;
    this.#shown = true;
    this.#note = NOTES.shown;
    clearTimeout(this.#hideTimer);
    this.#hideTimer = setTimeout(() => { if (this.#shown) this.#conceal(NOTES.timedOut); }, AUTO_HIDE_MS);
    this.#render();
    // The hold button is gone; "Hide" takes the focus, once the holding key is up.
    if (hold.key) this.#heldKey = hold.key; else el.keyShow.focus();
  }

  /** A hold that ends before HOLD_MS: nothing shows, the bar empties. */
  #cancelHold(note) {
    if (!this.#hold) return;
    this.#endHold();
    this.#say(note);
  }

  /** Stops the hold under way, if any, and empties the bar. */
  #endHold() {
    const hold = this.#hold;
    if (!hold) return;
    clearTimeout(hold.timer);
    cancelAnimationFrame(hold.frame);
    this.#hold = null;
    delete el.keyHold.dataset.holding;
    this.#drawProgress(0);
  }

  /** The window lost the focus or was hidden: any hold ends, a shown key hides. */
  #leave(note) {
    this.#heldKey = null;
    if (this.#hold) this.#cancelHold(note);
    if (this.#shown) this.#conceal(note);
  }

  /** The key shows no more; the focus, if it was on what just went away, goes to the hold button. */
  #conceal(note) {
    const active = document.activeElement;
    this.#shown = false;
    this.#heldKey = null;
    clearTimeout(this.#hideTimer);
    this.#note = note;
    this.#render();
    if (active === el.keyShow || active === el.keyField || active === document.body) el.keyHold.focus();
  }

  /** Ends every hold and timer. */
  #stop() {
    this.#endHold();
    this.#heldKey = null;
    clearTimeout(this.#hideTimer);
  }

  /** A note about the key, while there is one. */
  #say(note) {
    if (!this.#key) return;
    this.#note = note;
    this.#render();
  }

  /** The bar at `fraction` (0 to 1) of the hold. */
  #drawProgress(fraction) {
    const percent = String(Math.round(fraction * 100));
    if (el.keyHoldBar.getAttribute('aria-valuenow') !== percent) el.keyHoldBar.setAttribute('aria-valuenow', percent);
    el.keyHoldFill.style.transform = `scaleX(${fraction})`;
  }

  /** The block as tall as its text: all of the key, on as many lines as the width needs. */
  #fit() {
    const field = el.keyField;
    if (el.key.hidden) return;
    field.style.height = 'auto';
    field.style.height = `${field.scrollHeight + field.offsetHeight - field.clientHeight}px`;
  }

  #render() {
    const has = Boolean(this.#key);
    const shown = has && this.#shown;
    el.key.hidden = !has;
    el.keyField.value = !has ? '' : shown ? this.#key : KEY_MASK;
    // Hidden, the block is not a stop of the Tab order; shown, it can be focused and selected.
    el.keyField.tabIndex = shown ? 0 : -1;
    if (has) el.keyField.dataset.revealed = String(shown); else delete el.keyField.dataset.revealed;
    setText(el.keyLabel, shown ? 'Private key (shown)' : 'Private key (hidden)');
    el.keyHold.hidden = !has || shown;
    el.keyHoldBar.hidden = !has || shown;
    el.keyHoldHint.hidden = !has || shown;
    el.keyShow.hidden = !shown;
    setText(el.keyShow, 'Hide');
    if (!this.#hold) this.#drawProgress(0);
    setText(el.keyNote, this.#note);
    this.#fit();
  }
}
