// What run-tests.mjs and setup-tests.mjs share: the app started in a WebDriver session through
// tauri-driver (bounded, said and tried once more when it does not come), the single-instance
// wait between apps, and the polling wait for a condition in the page.

import { Builder, Capabilities } from 'selenium-webdriver';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const SCHEME = 'com.stepup.desktop';
/** How long one step of a test may wait for the page (a view, a script's answer). */
export const STEP_TIMEOUT = 20_000;
/** How long a WebDriver session of a starting app may take to come (normally well under 2 s). */
const SESSION_TIMEOUT = 30_000;
const ARTIFACTS = process.env.ARTIFACTS ?? '.';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Until no app owns the single-instance name (the previous test's app has gone), 15 s at most. */
export async function waitForInstanceGone() {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) return; // no bus: no single instance
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const out = execFileSync('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus',
        'org.freedesktop.DBus.NameHasOwner', `string:${SCHEME}.SingleInstance`], { encoding: 'utf8', timeout: 5000 });
      if (/boolean false/.test(out)) return;
    } catch { return; }
    await sleep(100);
  }
  throw new Error('the previous instance still owns the single-instance name');
}

/** What the machine shows when a session does not come: the app's processes and the driver's log. */
function sessionDiagnosis() {
  const ps = spawnSync('ps', ['-eo', 'pid,ppid,stat,etime,args'], { encoding: 'utf8' }).stdout ?? '';
  const apps = ps.split('\n').filter((l) => /stepup-desktop|WebKit|tauri-driver|no-env-app/.test(l)).join('\n');
  let log = '';
  try { log = readFileSync(join(ARTIFACTS, 'tauri-driver.log'), 'utf8').split('\n').slice(-15).join('\n'); } catch { /* none */ }
  return `processes:\n${apps}\ntauri-driver.log (last lines):\n${log}`;
}

/** Ends every process of the app binary under test (a session that never came leaves one). */
function killApps() {
  if (process.env.APP) spawnSync('pkill', ['-KILL', '-f', `^${process.env.APP}( |$)`]);
}

/**
 * A WebDriver session of `application` started with `args`. Session creation has no timeout of
 * its own (WebKitWebDriver waits for the app's automation connection for ever): it is bounded
 * here, and one that does not come is said with what the machine shows, its app killed, and
 * tried once more, so that one lost start fails one test instead of eating the run's time.
 */
export async function startApp(application, args = []) {
  for (let attempt = 1; ; attempt += 1) {
    await waitForInstanceGone();
    const caps = new Capabilities();
    caps.setBrowserName('wry');
    caps.set('tauri:options', { application, args });
    const building = new Builder().withCapabilities(caps).usingServer('http://127.0.0.1:4444/').build();
    const driver = await Promise.race([building, sleep(SESSION_TIMEOUT).then(() => null)]);
    if (driver) {
      await driver.manage().setTimeouts({ script: STEP_TIMEOUT });
      return driver;
    }
    console.log(`warn no WebDriver session ${SESSION_TIMEOUT} ms after starting the app (attempt ${attempt})\n${sessionDiagnosis()}`);
    building.then((late) => late.quit(), () => {}).catch(() => {});
    killApps();
    if (attempt === 2) throw new Error(`no WebDriver session after ${attempt} starts of the app`);
  }
}

/** Polls `script` in the page until it returns something truthy (that value), or fails naming `what`. */
export async function waitFor(driver, script, what, timeout = STEP_TIMEOUT) {
  try {
    return await driver.wait(async () => driver.executeScript(script), timeout);
  } catch (error) {
    throw new Error(`timed out waiting for ${what}: ${error.message}`);
  }
}
