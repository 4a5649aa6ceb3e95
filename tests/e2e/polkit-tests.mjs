// The device passkey verified by the OS (polkit) in the real window: run by tests/polkit/run.sh
// only, as an ordinary user (polkit asks root nothing), after it installed the .deb (its
// helper and polkit action) and started polkitd. The desktop's authentication agent is played
// by tests/polkit/agent.py (pkttyagent registered for the app's process, typing the user's
// password or a wrong one). Merged into run-tests.mjs when E2E_POLKIT_PASSWORD_FILE is set.
//
// Each starts with no passkey on the device (the sandbox's demo one removed):
//   1. no agent runs: "Add a passkey" asks no PIN, the system cannot ask, nothing is added and
//      the window says so; the next try takes a PIN, and the passkey is added sealed by it;
//   2. an agent runs: "Add a passkey" asks no PIN, the system asks the user's password, the
//      passkey is sealed by the OS; a link is then verified with it: no PIN field, a wrong
//      password approves nothing, the right one approves; with the agent gone, nothing is
//      signed, the dialog says why and the window offers to remove the passkey.

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { dumpTree, problems } from './a11y-tests.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const AGENT = join(HERE, '..', 'polkit', 'agent.py');
const ACTION = 'org.stepup.desktop.verify-user';
const NEW_PIN = '135790';

/** pkttyagent for the app's process (agent.py --attach), answering by `plan`; its events. */
function startAgent(plan) {
  const app = spawnSync('pgrep', ['-n', '-f', `^${process.env.APP}( |$)`], { encoding: 'utf8' }).stdout.trim();
  assert.match(app, /^\d+$/, 'the app under test runs');
  const child = spawn('/usr/bin/python3', [AGENT, '--attach', app, plan],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, STEPUP_POLKIT_PASSWORD: readFileSync(process.env.E2E_POLKIT_PASSWORD_FILE, 'utf8') } });
  const events = [];
  createInterface({ input: child.stdout }).on('line', (line) => events.push(line));
  return {
    events,
    registered: () => events.includes('registered'),
    auths: () => events.filter((e) => e.startsWith('auth ')),
    failed: () => events.filter((e) => e.startsWith('failed ')),
    stop: () => { child.kill('SIGTERM'); },
  };
}

export function polkitTests({ ARTIFACTS, openLink, waitFor, waitForMain, waitForDialog, chooseMethod, closeDialog, screenshot, text, By }) {
  const status = (driver) => driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
    window.__TAURI_INTERNALS__.invoke('device_passkey_status').then(done, (e) => done({ error: e }))`);

  /** "Add a passkey" up to the confirmation; whether it shows a PIN field. */
  async function openAddPasskey(driver) {
    await driver.findElement(By.id('add-passkey')).click();
    await waitFor(driver, `return !document.getElementById('add-passkey-confirm').hidden`, 'the confirmation');
    return driver.executeScript(`return { pin: !document.getElementById('add-passkey-pin').hidden,
      pin2: !document.getElementById('add-passkey-pin2-row').hidden,
      explain: document.getElementById('add-passkey-pin-explain').textContent }`);
  }

  /** The app's own credential:link request in the dialog, approved with an emailed code. */
  async function approveOwnRequestByEmail(driver) {
    await waitForDialog(driver);
    assert.equal(await text(driver, 'dlg-purpose'), 'Stepup Desktop (you) asks to add a passkey on this device.');
    await chooseMethod(driver, 'email_otp');
    const before = await driver.executeScript(`return document.querySelectorAll('#outbox-list li[data-channel=email]').length`);
    await driver.findElement(By.id('dlg-send')).click();
    const code = await waitFor(driver, `const items = document.querySelectorAll('#outbox-list li[data-channel=email]');
      return items.length > ${before} ? items[0].dataset.code : null`, 'the emailed code in the outbox');
    const input = await driver.findElement(By.id('dlg-code'));
    await input.clear();
    await input.sendKeys(code);
    await waitFor(driver, `return !document.getElementById('dlg-done').hidden`, 'the approval');
    await closeDialog(driver);
  }

  /** This device's passkey store emptied: the embedded sandbox hands the demo user's passkey
   * (sealed by the demo PIN) to every start; these tests add their own. */
  async function withoutDevicePasskey(driver) {
    await waitForMain(driver);
    const removed = await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
      window.__TAURI_INTERNALS__.invoke('remove_device_passkey').then(() => done('removed'), (e) => done(e))`);
    assert.equal(removed, 'removed');
  }

  const ended = (driver) => waitFor(driver, `const s = document.body.dataset.addPasskey;
    return s === 'added' || s === 'failed' ? s : null`, 'the registration to end', 60_000);

  return {
    async os_verified_passkey_without_an_agent_falls_back_to_a_pin(driver) {
      await withoutDevicePasskey(driver);
      assert.deepEqual(await status(driver), { state: 'notEnrolled', byOs: true }, 'polkit found, nothing enrolled');
      const first = await openAddPasskey(driver);
      assert.equal(first.pin, false, 'no PIN field where the system verifies');
      assert.match(first.explain, /Your system protects the passkey/);
      await screenshot(driver, 'polkit-add-passkey');
      await driver.findElement(By.id('add-passkey-create')).click();
      await approveOwnRequestByEmail(driver);
      // No agent is registered for the app: pkexec cannot ask, nothing is released or added.
      assert.equal(await ended(driver), 'failed');
      assert.equal(await driver.executeScript(`return document.getElementById('add-passkey-error').dataset.code`), 'os_verification_unavailable');
      assert.match(await text(driver, 'add-passkey-error'), /no authentication agent running.*choose a PIN instead/);
      await screenshot(driver, 'polkit-no-agent');
      assert.deepEqual(await status(driver), { state: 'notEnrolled', byOs: false }, 'the next passkey takes a PIN');
      // The next try asks a new PIN, twice, and the passkey is added sealed by it.
      const second = await openAddPasskey(driver);
      assert.deepEqual([second.pin, second.pin2], [true, true]);
      await driver.findElement(By.id('add-passkey-pin')).sendKeys(NEW_PIN);
      await driver.findElement(By.id('add-passkey-pin2')).sendKeys(NEW_PIN);
      await driver.findElement(By.id('add-passkey-create')).click();
      // The credential:link approval may still cover the retry; the dialog opens if not.
      const next = await waitFor(driver, `const s = document.body.dataset.addPasskey;
        return s === 'added' || s === 'failed' ? s : document.getElementById('stepup-dialog').open ? 'dialog' : null`, 'the retry', 60_000);
      if (next === 'dialog') await approveOwnRequestByEmail(driver);
      assert.equal(await ended(driver), 'added', await text(driver, 'add-passkey-error'));
      assert.deepEqual(await status(driver), { state: 'set', triesLeft: 8, byOs: false });
      return { fallback: 'pin' };
    },

    async os_verified_passkey_asks_the_system_not_a_pin(driver) {
      await withoutDevicePasskey(driver);
      const agent = startAgent('right,wrong,right');
      try {
        for (let i = 0; i < 100 && !agent.registered(); i += 1) await new Promise((r) => setTimeout(r, 100));
        assert.ok(agent.registered(), `agent: ${agent.events.join(' | ')}`);
        assert.deepEqual(await status(driver), { state: 'notEnrolled', byOs: true });
        const shown = await openAddPasskey(driver);
        assert.equal(shown.pin, false, 'no PIN field where the system verifies');
        await driver.findElement(By.id('add-passkey-create')).click();
        await approveOwnRequestByEmail(driver);
        assert.equal(await ended(driver), 'added', await text(driver, 'add-passkey-error'));
        assert.deepEqual(agent.auths(), [`auth 1 ${ACTION}`], 'the system asked once, for this app’s action');
        assert.deepEqual(await status(driver), { state: 'os', byOs: true }, 'sealed by the OS');
        assert.match(await text(driver, 'history-body'), /Passkey added/);

        // A link verified with it: no PIN field; the system asks at the press of Verify.
        await openLink(`com.stepup.desktop://step-up?scope=credential:link&requester=Acme%20Wallet`);
        await waitForDialog(driver);
        await chooseMethod(driver, 'passkey');
        const step = await driver.executeScript(`return { pinRow: document.getElementById('dlg-pin-row').hidden,
          status: document.getElementById('dlg-status').textContent }`);
        assert.equal(step.pinRow, true, 'no PIN field');
        assert.match(step.status, /when your system asks for your password/);
        await screenshot(driver, 'polkit-dialog-passkey');
        // What a screen reader gets of this step: every control named, no raw code.
        const title = await text(driver, 'dlg-title');
        const tree = dumpTree(ARTIFACTS, 'dialog: the passkey step the OS verifies', { dialog: title, waitFor: '^Verify with passkey$', append: false });
        assert.deepEqual(problems('OS passkey step', tree, { dialogTitle: title }), [], `tree in ${tree.dump}`);
        // Enter from the method list is no press of "Verify with passkey": the system is not asked.
        await driver.findElement(By.css('input[name=dlg-method][data-method=passkey]')).sendKeys('\uE007');
        await waitFor(driver, `return /Press “Verify with passkey” to have your system confirm/.test(document.getElementById('dlg-status').textContent)`, 'the note');
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(agent.auths().length, 1, 'Enter did not ask the system');
        // A wrong password: polkit refuses, the dialog says so, nothing is approved.
        await driver.findElement(By.id('dlg-submit')).click();
        const refused = await waitFor(driver, `const e = document.getElementById('dlg-error');
          return e.dataset.code ? e.dataset.code : null`, 'the refusal', 60_000);
        assert.equal(refused, 'user_not_verified');
        assert.ok(agent.failed().length > 0, 'polkit refused the wrong password');
        assert.equal(await driver.executeScript(`return document.getElementById('dlg-done').hidden`), true, 'nothing approved');
        await screenshot(driver, 'polkit-wrong-password');
        // The right password approves.
        await driver.findElement(By.id('dlg-submit')).click();
        await waitFor(driver, `return !document.getElementById('dlg-done').hidden`, 'the approval', 60_000);
        assert.match(await text(driver, 'dlg-done-text'), /^Verified\. Acme Wallet may now /);
        await closeDialog(driver);
        assert.deepEqual(agent.auths(), [1, 2, 3].map((n) => `auth ${n} ${ACTION}`), 'one authentication per use');
        assert.match(await text(driver, 'history-body'), /Acme Wallet.*Passkey on this device.*Approved/);
        const result = { authentications: agent.auths().length, refusals: agent.failed().length };

        // The agent gone (the desktop's agent stopped): nothing is signed, the dialog says
        // why, and the main window offers to remove the passkey, which cannot be used now.
        agent.stop();
        await new Promise((r) => setTimeout(r, 1000)); // polkitd drops the agent with its bus name
        await openLink(`com.stepup.desktop://step-up?scope=credential:unlink&requester=Acme%20Wallet`);
        await waitForDialog(driver);
        await chooseMethod(driver, 'passkey');
        await driver.findElement(By.id('dlg-submit')).click();
        const gone = await waitFor(driver, `const e = document.getElementById('dlg-error');
          return e.dataset.code ? e.dataset.code : null`, 'the refusal', 60_000);
        assert.equal(gone, 'os_verification_unavailable');
        assert.match(await text(driver, 'dlg-error'), /cannot confirm it is you right now/i);
        assert.equal(await driver.executeScript(`return document.getElementById('dlg-done').hidden`), true, 'nothing approved');
        await driver.findElement(By.id('dlg-cancel')).click();
        await waitFor(driver, `return !document.getElementById('stepup-dialog').open`, 'the dialog to close');
        assert.deepEqual(await status(driver), { state: 'os', byOs: false });
        await waitFor(driver, `return !document.getElementById('device-passkey-locked').hidden`, 'the removal offer');
        assert.match(await text(driver, 'device-passkey-locked-text'), /cannot ask right now/);
        await screenshot(driver, 'polkit-agent-gone');
        await driver.findElement(By.id('device-passkey-remove')).click();
        await waitFor(driver, `return document.getElementById('device-passkey-locked').hidden`, 'the removal');
        assert.equal((await status(driver)).state, 'notEnrolled');
        return result;
      } finally {
        agent.stop();
      }
    },
  };
}
