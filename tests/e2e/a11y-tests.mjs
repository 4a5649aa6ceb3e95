// The accessibility test: what a screen reader gets from the real window. With the app's
// AT-SPI bridge on (run.sh runs this test in its own session, without NO_AT_BRIDGE),
// a11y.py walks the app's accessibility tree over the session's a11y bus, writes it to
// ci-artifacts/e2e/a11y-dialog.txt (role, name, description, text, states per node, indented),
// and reports what breaks the rules; this file asserts them:
//   - the step-up dialog is exposed as a dialog whose accessible name is its title;
//   - every rendered control (buttons, radios, check boxes, fields, links, anything focusable
//     in the page; scrolled out of view too) has a name;
//   - no name, description or text in the dialog shows a raw method or scope code
//     (`wallet:export`, `recovery_code`, …; the list comes from scope.rs and ui/methods.js).
// Checked in the main window, in the method list after a wallet:export link, and in the
// code step after choosing the authenticator app; and (the re-auth user) in the wallet step
// with its pasted-signature field, and while it waits for the browser. Every state is dumped
// before any assertion.

import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const HERE = dirname(fileURLToPath(import.meta.url));
// The system python: python3-gi and the Atspi typelib are Debian packages (setup.sh); a
// pyenv python3 earlier on PATH has no gi.
const PYTHON = process.env.E2E_PYTHON ?? '/usr/bin/python3';
const WINDOW_TITLE = 'Stepup Desktop';

/** Dumps the tree in its current state under `label`; a11y.py's findings. */
export function dumpTree(artifacts, label, { dialog, waitFor, waitWhere, append = true } = {}) {
  const args = [join(HERE, 'a11y.py'), '--window', WINDOW_TITLE, '--label', label, '--out', join(artifacts, 'a11y-dialog.txt')];
  if (dialog) args.push('--dialog', dialog);
  if (waitFor) args.push('--wait-for', waitFor);
  if (waitWhere) args.push('--wait-where', waitWhere);
  if (append) args.push('--append');
  const run = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 40_000, maxBuffer: 4 << 20 });
  assert.equal(run.status, 0, `a11y.py (${label}) exited ${run.status ?? run.signal}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const escapeRegex = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The rule breaks in one state, as readable lines (empty when it passes). */
export function problems(label, result, { dialogTitle } = {}) {
  const out = [];
  if (!result.settled) out.push(`${label}: the tree did not show the expected state (${result.why})`);
  if (result.nodes < 5) out.push(`${label}: only ${result.nodes} nodes: is the AT-SPI bridge on?`);
  if (dialogTitle !== undefined) {
    const named = result.dialogs.filter((d) => d.name === dialogTitle);
    if (named.length !== 1) {
      out.push(`${label}: expected one showing dialog named ${JSON.stringify(dialogTitle)}, got ${JSON.stringify(result.dialogs)}`);
    } else if (!named[0].states.includes('modal')) {
      out.push(`${label}: the dialog is not exposed as modal: ${JSON.stringify(named[0])}`);
    }
  }
  for (const u of result.unnamed) out.push(`${label}: unnamed ${u.role} at ${u.path}`);
  if (dialogTitle !== undefined) {
    for (const r of result.rawCodes) out.push(`${label}: raw code ${r.code} in the ${r.field} of ${r.role} at ${r.path}: ${JSON.stringify(r.value)}`);
  }
  return out;
}

/** The tests, given run-tests.mjs's helpers (merged into its `tests`). */
export function a11yTests(h) {
  return {
    async a11y_tree_names_the_dialog_and_every_control(driver) {
      await h.waitForMain(driver);
      const found = [];
      const main = dumpTree(h.ARTIFACTS, 'main window', { waitFor: '^Sign out$', append: false });
      assert.ok(main.nodes > 0, `the app is not on the accessibility bus (${main.why}): is NO_AT_BRIDGE set?`);
      found.push(...problems('main window', main));

      await h.openLink(h.LINK_EXPORT);
      await h.waitForDialog(driver);
      const title = await h.text(driver, 'dlg-title');
      // The whole list ("Use a different method"): every method's control is checked.
      await driver.findElement(h.By.id('dlg-other-methods')).click();
      const methods = dumpTree(h.ARTIFACTS, 'dialog: the methods after a wallet:export link', { dialog: title, waitFor: '^Authenticator app' });
      found.push(...problems('dialog methods', methods, { dialogTitle: title }));

      await h.chooseMethod(driver, 'totp');
      await h.waitFor(driver, `return !document.getElementById('dlg-code-row').hidden`, 'the code field');
      const codeLabel = await h.text(driver, 'dlg-code-label');
      const code = dumpTree(h.ARTIFACTS, 'dialog: the code step after choosing the authenticator app', {
        dialog: title, waitFor: `^${escapeRegex(codeLabel)}$`,
      });
      found.push(...problems('dialog code step', code, { dialogTitle: title }));

      // The check itself: a nameless button put into the dialog must be reported.
      await driver.executeScript(`const b = document.createElement('button');
        b.type = 'button'; b.id = 'a11y-probe'; document.getElementById('dlg-title').after(b);`);
      const probe = dumpTree(h.ARTIFACTS, 'probe: a nameless button added to the dialog (must be reported)', {
        dialog: title, waitWhere: 'button#a11y-probe',
      });
      await driver.executeScript(`document.getElementById('a11y-probe').remove()`);
      if (!probe.settled) found.push(`probe: the nameless button did not reach the tree (${probe.why})`);
      else if (!probe.unnamed.some((u) => u.role === 'push button' && u.where === 'button#a11y-probe')) {
        found.push(`probe: a11y.py did not report the nameless button: ${JSON.stringify(probe.unnamed)}`);
      }

      assert.deepEqual(found, [], `the accessibility tree breaks the rules (tree in ${main.dump}):\n  ${found.join('\n  ')}`);
      // The main window is checked for names only; its raw codes (none in a fresh sandbox
      // window) are counted here, for the record.
      return { nodes: { main: main.nodes, methods: methods.nodes, code: code.nodes }, mainRawCodes: main.rawCodes.length };
    },

    async a11y_tree_names_the_wallet_step(driver) {
      await h.waitForMain(driver);
      await h.openLink(h.LINK_LINK);
      await h.waitForDialog(driver);
      const title = await h.text(driver, 'dlg-title');
      await h.chooseMethod(driver, 'wallet');
      await h.waitFor(driver, `return !document.getElementById('dlg-wallet-message').hidden`, 'the message to sign');
      await h.press(driver, 'dlg-paste-open');
      const found = [];
      const step = dumpTree(h.ARTIFACTS, 'dialog: the wallet step with the signature field', {
        dialog: title, waitFor: '^Sign in your browser wallet$',
      });
      found.push(...problems('wallet step', step, { dialogTitle: title }));
      await h.press(driver, 'dlg-paste-open');
      await h.press(driver, 'dlg-browser-sign');
      const waiting = dumpTree(h.ARTIFACTS, 'dialog: the wallet step waiting for the browser', {
        dialog: title, waitFor: '^Open the page again$',
      });
      found.push(...problems('wallet step waiting', waiting, { dialogTitle: title }));
      await h.press(driver, 'dlg-browser-stop');
      assert.deepEqual(found, [], `the accessibility tree breaks the rules (tree in ${step.dump}):\n  ${found.join('\n  ')}`);
      return { nodes: { step: step.nodes, waiting: waiting.nodes } };
    },
  };
}
