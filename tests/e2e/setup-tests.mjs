// The first-run setup of a real environment, end to end: the app WITHOUT --sandbox and without
// STEPUP_ENVIRONMENT_ID (no-env-app.sh starts it with those variables removed), in a real
// window over WebDriver. session.sh runs this after run-tests.mjs, with the same name filter:
// `node setup-tests.mjs [filter]`. The standalone sandbox session.sh starts (E2E_SANDBOX_URL,
// E2E_SANDBOX_ENV) is the environment set up.
//
//   - a link that arrives before setup is held (and said), the setup refuses an id that is not
//     a UUID and saves nothing, saves a valid one as config.toml with mode 0600, then the
//     sign-in, then the held request's dialog;
//   - the app restarted uses the saved environment (no setup again);
//   - STEPUP_ENVIRONMENT_ID overrides the file.

import { By } from 'selenium-webdriver';
import { SCHEME, STEP_TIMEOUT, sleep, startApp, waitFor } from './app-session.mjs';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const HERE = dirname(fileURLToPath(import.meta.url));
const APP = process.env.APP;
const NO_ENV_APP = join(HERE, 'no-env-app.sh');
const ARTIFACTS = process.env.ARTIFACTS ?? '.';
const CONFIG_DIR = join(process.env.XDG_CONFIG_HOME ?? '', 'stepup-desktop');
const CONFIG = join(CONFIG_DIR, 'config.toml');
const ENV_ID = process.env.E2E_SANDBOX_ENV;
const BASE = process.env.E2E_SANDBOX_URL;
const TEST_TIMEOUT = 90_000;

const text = (driver, id) => driver.executeScript(`return document.getElementById(${JSON.stringify(id)}).textContent`);
const visible = (id) => `!document.getElementById(${JSON.stringify(id)}).hidden`;

async function screenshot(driver, name) {
  await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
    setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() => done())), Math.max(0, 2500 - performance.now()));`);
  writeFileSync(join(ARTIFACTS, `${name}.png`), Buffer.from(await driver.takeScreenshot(), 'base64'));
}

async function setupStatus(driver) {
  return driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
    window.__TAURI__.core.invoke('setup_status').then(done, (e) => done({ error: e }));`);
}

async function typeInto(driver, id, value) {
  const input = await driver.findElement(By.id(id));
  await input.clear();
  if (value) await input.sendKeys(value);
}

/** Signs the standalone sandbox's demo user in with the code it "emails". */
async function signIn(driver) {
  const outbox = `${BASE}/sandbox/${ENV_ID}/outbox`;
  await waitFor(driver, `return ${visible('view-signin')}`, 'the sign-in view');
  const before = (await (await fetch(outbox)).json()).length;
  await driver.findElement(By.id('signin-email')).sendKeys('demo@stepup.example', '\uE007');
  await waitFor(driver, `return ${visible('signin-code-form')}`, 'the code field');
  let code = null;
  for (let i = 0; i < 100 && !code; i += 1) {
    const messages = await (await fetch(outbox)).json();
    if (messages.length > before) code = messages[messages.length - 1].code; else await sleep(100);
  }
  assert.ok(code, 'the sandbox delivered a sign-in code');
  await driver.findElement(By.id('signin-code')).sendKeys(code);
  await waitFor(driver, `return document.getElementById('main-user').textContent === 'demo@stepup.example' || document.getElementById('stepup-dialog').open`, 'signed in');
}

const tests = {
  async setup_first_run_refuses_an_invalid_id_saves_a_valid_one_0600_and_shows_the_held_link() {
    rmSync(CONFIG, { force: true });
    const link = `${SCHEME}://step-up?scope=wallet:export&requester=Held%20Until%20Setup`;
    const driver = await startApp(NO_ENV_APP, [link]);
    try {
      await waitFor(driver, `return document.body.dataset.ready === 'true' && ${visible('view-setup')}`, 'the first-run setup');
      assert.equal(await driver.executeScript(`return document.getElementById('stepup-dialog').open`), false, 'no dialog before setup');
      await waitFor(driver, `return ${visible('held-notice')}`, 'the held request said');
      assert.match(await text(driver, 'held-notice'), /A request from Held Until Setup is waiting/);
      const status = await setupStatus(driver);
      assert.equal(status.source, 'none');
      assert.equal(status.path, CONFIG);
      await screenshot(driver, 'setup-first-run');

      // Not a UUID: refused by the backend, nothing saved.
      await typeInto(driver, 'setup-environment', 'my-environment');
      await driver.findElement(By.id('setup-save')).click();
      await waitFor(driver, `return /UUID/.test(document.getElementById('setup-error').textContent)`, 'the refusal');
      assert.equal(existsSync(CONFIG), false, 'nothing saved for an invalid id');
      assert.equal(await driver.executeScript(`return ${visible('view-setup')}`), true, 'still the setup');

      // A valid one (and the local environment's API): saved 0600, then the sign-in.
      await typeInto(driver, 'setup-environment', ENV_ID);
      await driver.executeScript(`document.getElementById('setup-advanced').open = true`);
      await typeInto(driver, 'setup-api', BASE);
      await driver.findElement(By.id('setup-save')).click();
      await waitFor(driver, `return ${visible('view-signin')}`, 'the sign-in after setup');
      const mode = statSync(CONFIG).mode & 0o777;
      assert.equal(mode.toString(8), '600', 'config.toml is private');
      const saved = readFileSync(CONFIG, 'utf8');
      assert.match(saved, new RegExp(`^environment_id = "${ENV_ID}"$`, 'm'));
      assert.match(saved, new RegExp(`^api_base_url = "${BASE.replace(/[/.]/g, '\\$&')}"$`, 'm'));
      assert.equal(await driver.executeScript(`return ${visible('held-notice')}`), true, 'still held during the sign-in');
      assert.equal(await driver.executeScript(`return document.getElementById('stepup-dialog').open`), false, 'no dialog before the sign-in');

      // Signed in: the request held since before setup opens.
      await signIn(driver);
      await waitFor(driver, `const d = document.getElementById('stepup-dialog');
        return d.open && /Held Until Setup/.test(document.getElementById('dlg-purpose').textContent) && ${visible('dlg-methods')}`, 'the held request in the dialog');
      assert.equal(await driver.executeScript(`return document.getElementById('held-notice').hidden`), true);
      await screenshot(driver, 'setup-held-link-dialog');
      await driver.findElement(By.id('dlg-cancel')).click();
      return { mode: mode.toString(8) };
    } finally {
      await driver.quit().catch(() => {});
    }
  },

  async setup_saved_is_used_when_the_app_restarts() {
    assert.ok(existsSync(CONFIG), 'the previous test saved the settings');
    const driver = await startApp(NO_ENV_APP);
    try {
      await waitFor(driver, `return document.body.dataset.ready === 'true' && (${visible('view-main')} || ${visible('view-signin')})`, 'the main view or the sign-in, not the setup');
      const status = await setupStatus(driver);
      assert.equal(status.source, 'file');
      assert.equal(status.environmentId, ENV_ID);
      assert.deepEqual(status.overriddenBy, []);
      if (await driver.executeScript(`return ${visible('view-main')}`)) {
        assert.match(await text(driver, 'main-environment'), new RegExp(ENV_ID));
        // Settings: the form shows what is saved.
        await driver.findElement(By.id('settings')).click();
        await waitFor(driver, `return ${visible('view-setup')} && document.getElementById('setup-environment').value === ${JSON.stringify(ENV_ID)}`, 'Settings with the saved id');
        await driver.findElement(By.id('setup-cancel')).click();
        await waitFor(driver, `return ${visible('view-main')}`, 'back from Settings');
        await driver.findElement(By.id('logout')).click();
        await waitFor(driver, `return ${visible('view-signin')}`, 'signed out');
        return { view: 'main', settings: 'shown' };
      }
      return { view: 'signin' };
    } finally {
      await driver.quit().catch(() => {});
    }
  },

  async setup_file_is_overridden_by_the_environment_variable() {
    // The file names another environment; the app's environment (session.sh) says ENV_ID.
    const other = '2762a57b-faa4-41ce-9f16-abff9300e2c9';
    mkdirSync(CONFIG_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(CONFIG, `environment_id = "${other}"\napi_base_url = "${BASE}"\n`, { mode: 0o600 });
    assert.equal(process.env.STEPUP_ENVIRONMENT_ID, ENV_ID, 'session.sh sets STEPUP_ENVIRONMENT_ID');
    const driver = await startApp(APP);
    try {
      await waitFor(driver, `return document.body.dataset.ready === 'true' && ${visible('view-signin')}`, 'the sign-in (configured by the variable)');
      const status = await setupStatus(driver);
      assert.equal(status.source, 'environment');
      assert.equal(status.environmentId, other, 'the form shows the file');
      assert.ok(status.overriddenBy.includes('STEPUP_ENVIRONMENT_ID'));
      const app = await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
        window.__TAURI__.core.invoke('app_status').then(done, (e) => done({ error: e }));`);
      assert.equal(app.environmentId, ENV_ID, 'the variable wins');
      return {};
    } finally {
      await driver.quit().catch(() => {});
      rmSync(CONFIG, { force: true });
    }
  },
};

const filter = process.argv[2] ?? '';
const selected = (name) => (filter.startsWith('!') ? !name.includes(filter.slice(1)) : name.includes(filter));
let failed = 0;
let ran = 0;
for (const [name, test] of Object.entries(tests)) {
  if (!selected(name)) continue;
  ran += 1;
  const started = Date.now();
  try {
    assert.ok(BASE && ENV_ID, 'no standalone sandbox (session.sh starts it: build stepup-sandbox next to the app)');
    const timeout = sleep(TEST_TIMEOUT).then(() => { throw new Error(`timed out after ${TEST_TIMEOUT} ms`); });
    const result = await Promise.race([test(), timeout]);
    console.log(`ok   ${name} (${Date.now() - started} ms) ${JSON.stringify(result)}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error.stack ?? error}`);
  }
}
rmSync(CONFIG, { force: true });
if (ran) console.log(failed ? `${failed} setup test(s) failed` : 'all setup e2e tests passed');
process.exit(failed ? 1 : 0);
