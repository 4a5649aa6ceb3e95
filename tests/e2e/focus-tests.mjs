// The focus test: a request that arrives while the user types in another app must not take
// the keystrokes. Under a real window manager (openbox, started for this test on the run's
// Xvfb display) and a real notification server (dunst, on the run's private session bus):
//   1. the user types in another app (other-app.py, a GTK window with a text field);
//   2. a wallet:sign link arrives; the dialog opens in the app's window, armed;
//   3. the other app keeps the focus (_NET_ACTIVE_WINDOW), the app's window asks for attention
//      (_NET_WM_STATE_DEMANDS_ATTENTION, set by the WM from the urgency hint), and the
//      notification server got our notification, which names the requester as a claim;
//   4. the user goes on typing, digits and Enter, long after the dialog's guard time: the
//      keystrokes reach the other app (it reports them), the dialog has not moved a step and
//      no elevated token is in the keychain;
//   5. the user clicks the notification (dunstctl action): now the window has the focus, and
//      the notification is withdrawn.

import { spawn, spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { sleep } from './app-session.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.E2E_PYTHON ?? '/usr/bin/python3';

function x(cmd, args) {
  const out = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  assert.equal(out.status, 0, `${cmd} ${args.join(' ')}: ${out.stderr || out.error}`);
  return out.stdout.trim();
}

const activeWindow = () => {
  const out = spawnSync('xdotool', ['getactivewindow'], { encoding: 'utf8', timeout: 10_000 });
  return out.status === 0 ? Number(out.stdout.trim()) : null;
};

async function until(what, probe, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A child process with its stdout lines collected. */
function child(cmd, args, name) {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = [];
  let stderr = '';
  let buffer = '';
  proc.stdout.on('data', (d) => {
    buffer += d;
    const parts = buffer.split('\n');
    buffer = parts.pop();
    lines.push(...parts);
  });
  proc.stderr.on('data', (d) => { stderr += d; });
  return { proc, lines, stderr: () => stderr, name };
}

function stop(c) {
  if (c && c.proc.exitCode === null) c.proc.kill('SIGTERM');
}

export function focusTests(h) {
  const { openLink, waitFor, waitForMain, waitForDialog, keychainService, keychainUsernames, SCHEME } = h;
  return {
    a_link_neither_takes_the_focus_nor_the_keystrokes_of_another_app: async (driver) => {
      await waitForMain(driver);
      const service = await keychainService(driver);
      const tokensBefore = keychainUsernames(service).filter((u) => u.startsWith('token:'));
      const wm = child('openbox', ['--sm-disable'], 'openbox');
      const monitor = child('dbus-monitor', ['--session', "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"], 'dbus-monitor');
      const notifications = child('dunst', [], 'dunst');
      let other;
      try {
        // The window manager is up when it names itself on the root window.
        await until('openbox', () => /_NET_SUPPORTING_WM_CHECK\(WINDOW\)/.test(
          spawnSync('xprop', ['-root', '_NET_SUPPORTING_WM_CHECK'], { encoding: 'utf8' }).stdout ?? ''));
        await until('the notification server', () => spawnSync('dunstctl', ['is-paused'], { encoding: 'utf8' }).status === 0);
        // The server may have been started before (D-Bus activation by an earlier test's
        // notification): start from an empty screen.
        x('dunstctl', ['close-all']);
        await until('an empty notification screen', () => x('dunstctl', ['count', 'displayed']) === '0');
        const appWindow = Number(x('xdotool', ['search', '--onlyvisible', '--name', '^Stepup Desktop$']).split('\n')[0]);
        other = child(PYTHON, [join(HERE, 'other-app.py')], 'other app');
        const ready = await until('the other app', () => other.lines.find((l) => l.startsWith('ready ')));
        const otherWindow = Number(ready.split(' ')[1]);
        x('xdotool', ['windowactivate', '--sync', String(otherWindow)]);
        await until('the other app to have the focus', () => activeWindow() === otherWindow);

        // A request arrives while the user types elsewhere.
        await openLink(`${SCHEME}://step-up?scope=wallet:sign&requester=Acme%20Wallet`);
        await waitForDialog(driver);
        const scope = await driver.executeScript(`return document.getElementById('dlg-scope').dataset.scope`);
        assert.equal(scope, 'wallet:sign');
        await sleep(1500); // well past the dialog's guard time: a keystroke could approve now
        assert.equal(activeWindow(), otherWindow, 'the other app keeps the focus');
        const state = x('xprop', ['-id', String(appWindow), '_NET_WM_STATE']);
        assert.match(state, /_NET_WM_STATE_DEMANDS_ATTENTION/, `the app's window asks for attention: ${state}`);
        await until('the notification', () => monitor.lines.some((l) => l.includes('A request is waiting for you')));
        const sent = monitor.lines.join('\n');
        assert.match(sent, /A link naming itself “Acme Wallet” asks to sign with your wallet/, sent);
        assert.equal(x('dunstctl', ['count', 'displayed']), '1', 'one notification on screen');

        // The user goes on typing: a PIN-like number and Enter, the keys that would go on
        // with the dialog if it had the focus.
        x('xdotool', ['type', '--delay', '40', '246810']);
        x('xdotool', ['key', 'Return']);
        await until('the other app to get the keystrokes', () => other.lines.includes('entered 246810'));
        const dialog = await driver.executeScript(`const d = document.getElementById('stepup-dialog');
          return { open: d.open, methodsShown: !document.getElementById('dlg-methods').hidden,
            approved: !document.getElementById('dlg-done').hidden,
            focused: document.activeElement?.id ?? null }`);
        assert.equal(dialog.open, true);
        assert.equal(dialog.methodsShown, true, `the dialog has not moved a step: ${JSON.stringify(dialog)}`);
        assert.equal(dialog.approved, false);
        const tokensAfter = keychainUsernames(service).filter((u) => u.startsWith('token:'));
        assert.deepEqual(tokensAfter, tokensBefore, 'no elevated token was earned');

        // The user clicks the notification: the window comes forward, the notification goes.
        x('dunstctl', ['action', '0']);
        await until('the app to have the focus', () => activeWindow() === appWindow);
        await until('the notification to be withdrawn', () => x('dunstctl', ['count', 'displayed']) === '0');
        await waitFor(driver, 'return document.hasFocus()', 'the page to have the focus');
        return { scope, notified: true, typedInto: 'other app' };
      } finally {
        stop(other);
        stop(notifications);
        stop(monitor);
        stop(wm);
        await sleep(300);
      }
    },
  };
}
