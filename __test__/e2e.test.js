'use strict';

// "Sign in with Civic" end to end in real headless Chromium (Debian's chromium, driven by
// playwright-core): the emulator's civic.sip.js and consent screen, examples/express with
// civic-sip-native installed from the packed tarballs (scripts/example.js, which packs with
// scripts/pack.js), the exchange against the emulator. Screenshots go to artifacts/e2e/.
//
// Chromium: /usr/bin/chromium (CHROMIUM_PATH overrides); .ci/run installs it. Without it the
// suite is skipped, except where CIVIC_E2E=required (.ci/run sets it), where that fails.
// The example's express and express-session come from the npm registry (or npm's cache).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const civicSip = require('..');
const { startEmulator } = require('../emulator');
const { installExample, copyExample } = require('../scripts/example');
const { startServer } = require('./helpers/servers');

const root = path.resolve(__dirname, '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const artifacts = path.join(root, 'artifacts', 'e2e');
// Skipped only on a developer's machine without Chromium; in CI a missing browser is a failure.
const skip = fs.existsSync(CHROMIUM) || process.env.CIVIC_E2E === 'required' || process.env.CI ? false : `no Chromium at ${CHROMIUM}`;
const OPTS = { skip, timeout: 60_000 };

const EMAIL = 'contact.personal.email';
const PHONE = 'contact.personal.phoneNumber';
// The emulated user of this suite: the defaults with another email.
const USER = { records: { [EMAIL]: 'ada@example.com' } };

let work;
let appDir;
let emu;
let app;
let browser;

/** The environment variables that point the example at `emulator`, as it would be pointed at Civic. */
const civicEnv = (emulator) => ({
  CIVIC_APP_ID: emulator.app.appId,
  CIVIC_APP_SECRET: emulator.app.appSecret,
  CIVIC_PRV_KEY: emulator.app.prvKey,
  CIVIC_API: emulator.url,
  CIVIC_PUBLIC_KEY: emulator.civicPublicKey,
  CIVIC_SIP_JS: emulator.scriptUrl,
  CIVIC_SIP_CSS: emulator.stylesheetUrl,
});

/** Starts the example (`node server.js`, as `npm start` does) and waits for its address. */
function startApp(dir, env) {
  const child = spawn(process.execPath, ['server.js'], {
    cwd: dir,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk) => { output.stdout += chunk; });
  child.stderr.on('data', (chunk) => { output.stderr += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`the example did not start within 20 s:\n${output.stdout}${output.stderr}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the example exited with ${code}:\n${output.stdout}${output.stderr}`));
    });
    child.stdout.on('data', () => {
      const m = /Listening on (http:\/\/\S+)/.exec(output.stdout);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({
        url: m[1],
        output,
        stop: () => new Promise((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done());
          return child.kill();
        }),
      });
    });
  });
}

async function newPage(t) {
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  const page = await context.newPage();
  // Every test's last picture, taken however it ended: a failure leaves its page behind.
  t.after(async () => {
    await page.screenshot({ path: path.join(artifacts, `last-${t.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`) }).catch(() => {});
    await context.close();
  });
  page.setDefaultTimeout(15_000);
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  t.after(() => assert.deepEqual(errors, [], 'uncaught errors in the page'));
  return { context, page };
}

const shot = (page, name) => page.screenshot({ path: path.join(artifacts, `${name}.png`) });
const exchanges = (emulator) => emulator.requests.filter((r) => r.url.endsWith('scopeRequest/authCode')).length;

before(async () => {
  if (skip) return;
  fs.rmSync(artifacts, { recursive: true, force: true }); // no picture from an earlier run
  fs.mkdirSync(artifacts, { recursive: true });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-e2e-'));
  appDir = copyExample(path.join(work, 'app'));
  installExample(appDir, { quiet: true });
  // The suite's own emulator, so that it can switch faults on; the app reaches it through the
  // environment variables it would use for Civic.
  emu = await startEmulator({ app: { name: 'Express example' }, user: USER });
  app = await startApp(appDir, civicEnv(emu));
  const { chromium } = require('playwright-core');
  // launch() gives Chromium a fresh temporary --user-data-dir, removed on close.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await emu?.close();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('allow: the app greets the user by the verified email and lists the records', OPTS, async (t) => {
  const { context, page } = await newPage(t);
  await page.goto(app.url);
  assert.equal(await page.locator('h1').textContent(), 'Example app');
  await page.getByRole('button', { name: 'Sign in with Civic' }).click();

  // The consent screen, in the emulator's frame, says who asks for what.
  const consent = page.frameLocator('iframe.civic-iframe');
  await consent.locator('#allow').waitFor();
  assert.equal(await consent.locator('#app-name').textContent(), 'Express example');
  assert.equal(await consent.locator('#action').textContent(), 'asks you to sign up with Civic and share:');
  assert.equal(await consent.locator('#app-id').textContent(), emu.app.appId);
  assert.equal(await consent.locator('#scope').textContent(), 'BASIC_SIGNUP');
  assert.deepEqual(await consent.locator('#records li').evaluateAll((items) => items.map((li) => li.innerText.split('\n').join(' | '))), [
    'Email | ada@example.com',
    'Phone number | +1 555 0100',
  ]);
  await shot(page, '1-consent');

  const before = exchanges(emu);
  await consent.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${app.url}me`);
  assert.equal(exchanges(emu), before + 1);
  assert.equal(await page.locator('#greeting').textContent(), 'Welcome, ada@example.com');
  assert.deepEqual(await page.locator('#records tbody tr').evaluateAll((rows) => rows.map((r) => [...r.cells].map((c) => c.textContent))), [
    [EMAIL, 'ada@example.com', 'yes', 'yes'],
    [PHONE, '+1 555 0100', 'yes', 'yes'],
  ]);
  // The same user, whatever the scope or the code: the userId an exchange on the server gives.
  const code = await (await fetch(`${emu.url}consent/allow`, {
    method: 'POST', body: JSON.stringify({ appId: emu.app.appId, scope: 'PROOF_OF_AGE' }),
  })).json();
  const { userId } = await civicSip.newClient(emu.clientConfig()).exchangeCode(code.authCode);
  assert.equal(await page.locator('#user-id').textContent(), userId);
  const [cookie] = await context.cookies();
  assert.equal(cookie.name, 'sid');
  assert.equal(cookie.httpOnly, true);
  await shot(page, '2-signed-in');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(app.url);
  assert.deepEqual(await context.cookies(), []);
  await page.goto(`${app.url}me`);
  assert.equal(page.url(), app.url);
});

test('deny: the page says the sign-in was cancelled and nobody is signed in', OPTS, async (t) => {
  const { context, page } = await newPage(t);
  await page.goto(app.url);
  await page.getByRole('button', { name: 'Sign in with Civic' }).click();
  const before = exchanges(emu);
  await page.frameLocator('iframe.civic-iframe').getByRole('button', { name: 'Deny' }).click();
  await page.locator('#status').filter({ hasText: 'cancelled' }).waitFor();
  assert.equal(await page.locator('#status').textContent(), 'Sign-in cancelled: the request was denied in Civic.');
  assert.equal(await page.locator('.civic-modal').count(), 0);
  await shot(page, '3-cancelled');
  assert.equal(page.url(), app.url);
  assert.equal(exchanges(emu), before);
  assert.deepEqual(await context.cookies(), []);
});

test('tampered response: a clean error page, no session, the forged data nowhere', OPTS, async (t) => {
  const { context, page } = await newPage(t);
  emu.fault('tamperedResponse', { times: 1 });
  t.after(() => emu.fault(null));
  await page.goto(app.url);
  await page.getByRole('button', { name: 'Sign in with Civic' }).click();
  const answer = page.waitForResponse(`${app.url}auth/civic`);
  await page.frameLocator('iframe.civic-iframe').getByRole('button', { name: 'Allow' }).click();
  assert.equal((await answer).status(), 401);
  assert.equal(await page.locator('h1').textContent(), 'Sign-in failed');
  assert.equal(await page.locator('#error-code').textContent(), 'ERR_CIVIC_VERIFICATION');
  assert.equal(await page.locator('#error-message').textContent(), "Civic's answer could not be accepted, so you are not signed in.");
  const text = await page.locator('body').innerText();
  assert.match(text, /Error exchanging code for data: JWT Token containing encrypted data could not be verified/);
  assert.doesNotMatch(text, /attacker@example\.com/);
  await shot(page, '4-tampered');
  assert.deepEqual(await context.cookies(), []);
  await page.goto(`${app.url}me`);
  assert.equal(page.url(), app.url);
  assert.match(app.output.stderr, /sign-in failed: ERR_CIVIC_VERIFICATION: Error exchanging code for data: JWT Token/);
  assert.ok(!app.output.stderr.includes(emu.app.appSecret) && !app.output.stderr.includes(emu.app.prvKey), 'a secret in the log');
});

test('the app refuses a code posted from another site, and a post with no code', OPTS, async () => {
  const code = await (await fetch(`${emu.url}consent/allow`, {
    method: 'POST', body: JSON.stringify({ appId: emu.app.appId, scope: 'BASIC_SIGNUP' }),
  })).json();
  const post = (headers, body) => fetch(`${app.url}auth/civic`, {
    method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body,
  });
  const before = exchanges(emu);
  const foreign = await post({ Origin: 'http://evil.example' }, new URLSearchParams({ authCode: code.authCode }));
  assert.equal(foreign.status, 403);
  assert.match(await foreign.text(), /<h1>Sign-in refused<\/h1><p class="error">The request came from another site\.<\/p>/);
  assert.equal(foreign.headers.get('set-cookie'), null);
  const empty = await post({ Origin: app.url.slice(0, -1) }, '');
  assert.equal(empty.status, 400);
  assert.match(await empty.text(), /No auth code was sent\./);
  assert.equal(exchanges(emu), before);
  // The same code from our own origin signs in: the refusals above were about the request.
  const own = await post({ Origin: app.url.slice(0, -1) }, new URLSearchParams({ authCode: code.authCode }));
  assert.equal(own.status, 303);
  assert.equal(own.headers.get('location'), '/me');
  assert.match(own.headers.get('set-cookie'), /^sid=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/);
});

test('the Passport variant (CIVIC_PASSPORT=1): allow signs in; a tampered answer, a used-up code and no code do not', OPTS, async (t) => {
  const viaPassport = await startApp(appDir, { ...civicEnv(emu), CIVIC_PASSPORT: '1' });
  t.after(() => viaPassport.stop());
  const { context, page } = await newPage(t);
  await page.goto(viaPassport.url);
  await page.getByRole('button', { name: 'Sign in with Civic' }).click();
  await page.frameLocator('iframe.civic-iframe').getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${viaPassport.url}me`);
  assert.equal(await page.locator('#greeting').textContent(), 'Welcome, ada@example.com');
  assert.equal(await page.locator('#records tbody tr').count(), 2);
  await shot(page, '6-passport-signed-in');
  assert.equal((await context.cookies()).length, 1);

  // A tampered answer from Civic: Passport's error, the same clean page as without Passport.
  const other = await newPage(t);
  emu.fault('tamperedResponse', { times: 1 });
  t.after(() => emu.fault(null));
  await other.page.goto(viaPassport.url);
  await other.page.getByRole('button', { name: 'Sign in with Civic' }).click();
  const answer = other.page.waitForResponse(`${viaPassport.url}auth/civic`);
  await other.page.frameLocator('iframe.civic-iframe').getByRole('button', { name: 'Allow' }).click();
  assert.equal((await answer).status(), 401);
  assert.equal(await other.page.locator('#error-code').textContent(), 'ERR_CIVIC_VERIFICATION');
  assert.doesNotMatch(await other.page.locator('body').innerText(), /attacker@example\.com/);
  assert.deepEqual(await other.context.cookies(), []);

  // An auth code Civic refuses (expired), and none at all, over plain HTTP from our own origin.
  const post = (body) => fetch(`${viaPassport.url}auth/civic`, {
    method: 'POST', redirect: 'manual', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: viaPassport.url.slice(0, -1) }, body,
  });
  const expired = await post(new URLSearchParams({ authCode: emu.mintAuthCode(undefined, { expiresIn: -5 }) }));
  assert.equal(expired.status, 502);
  assert.match(await expired.text(), /<code id="error-code">ERR_CIVIC_HTTP_STATUS<\/code>/);
  assert.equal(expired.headers.get('set-cookie'), null);
  const empty = await post('');
  assert.equal(empty.status, 400);
  assert.match(await empty.text(), /No auth code was sent\./);
});

test('the example by default: its own emulator, the default user', OPTS, async (t) => {
  const own = await startApp(appDir, { EMULATOR_PORT: '0' });
  t.after(() => own.stop());
  assert.match(own.output.stdout, /^Civic emulator \(app [0-9A-Za-z]{9}\) at http:\/\/127\.0\.0\.1:\d+\/$/m);
  const { page } = await newPage(t);
  await page.goto(own.url);
  const script = await page.locator('script[src*="civic.sip.js"]').getAttribute('src');
  assert.match(script, /^http:\/\/127\.0\.0\.1:\d+\/js\/civic\.sip\.js$/);
  await page.getByRole('button', { name: 'Sign in with Civic' }).click();
  await page.frameLocator('iframe.civic-iframe').getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${own.url}me`);
  assert.equal(await page.locator('#greeting').textContent(), 'Welcome, user@example.com');
});

test("Express's default error handler answers 500, not Civic's 401, when an exchange fails", OPTS, async (t) => {
  // The example's own Express (installed from the registry), with no error handler of the app's.
  const express = require(path.join(appDir, 'node_modules', 'express'));
  const client = civicSip.newClient(emu.clientConfig());
  // env 'test': finalhandler shows the stack on the page but does not also log it.
  const server = express()
    .set('env', 'test')
    .post('/auth/civic', async (req, res) => { res.json(await client.exchangeCode(emu.mintAuthCode())); })
    .listen(0, '127.0.0.1');
  await new Promise((resolve) => { server.once('listening', resolve); });
  t.after(() => new Promise((resolve) => { server.close(resolve); }));
  emu.fault('unauthorized', { times: 1 });
  const res = await fetch(`http://127.0.0.1:${server.address().port}/auth/civic`, { method: 'POST' });
  assert.equal(res.status, 500);
  const page = await res.text();
  // In development finalhandler shows the stack: the message, then the route's own frame.
  assert.match(page, /Error exchanging code for data: 401 - &quot;{\\&quot;message\\&quot;:\\&quot;Unauthorized\\&quot;}&quot;/);
  // Civic's answer stays on the error for the app's own handler.
  const error = await client.exchangeCode('a.b.c').catch((e) => e);
  assert.deepEqual(error.response, { statusCode: 400, body: '{"message":"Invalid auth code"}' });
});

test('a taken port: the example says which variable moves it; the emulator logs a refusal', OPTS, async (t) => {
  const busy = await startServer((req, res) => res.end());
  t.after(() => busy.close());
  const port = String(busy.port);
  for (const [env, message] of [
    [{ EMULATOR_PORT: port }, `port ${port} is in use, so the Civic emulator cannot start: set EMULATOR_PORT to another port (0 for any free one)\n`],
    [{ EMULATOR_PORT: '0', PORT: port }, `port ${port} is in use, so the app cannot start: set PORT to another port (0 for any free one)\n`],
  ]) {
    await assert.rejects(startApp(appDir, env), (error) => {
      assert.equal(error.message, `the example exited with 1:\n${message}`.replace(/\n$/, '\n'));
      return true;
    });
  }
  // A client with the wrong appSecret: the example's log says which check Civic's stand-in failed.
  const own = await startApp(appDir, { EMULATOR_PORT: '0' });
  t.after(() => own.stop());
  const api = /at (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(own.output.stdout)[1];
  const res = await fetch(`${api}prod/scopeRequest/authCode`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } });
  assert.equal(res.status, 401);
  const deadline = Date.now() + 5000;
  while (!own.output.stderr.includes('\n') && Date.now() < deadline) await new Promise((r) => { setTimeout(r, 20); });
  assert.equal(own.output.stderr, 'Civic emulator refused POST /prod/scopeRequest/authCode with 401: authorization-header: no Authorization header (expected "Civic <request token>.<Civic extension>")\n');
});

test('against Civic: the page loads Civic\'s hosted script and stylesheet unless told otherwise', OPTS, async (t) => {
  const civic = await startApp(appDir, {
    CIVIC_APP_ID: 'CivicApp1',
    CIVIC_APP_SECRET: emu.app.appSecret,
    CIVIC_PRV_KEY: emu.app.prvKey,
  });
  t.after(() => civic.stop());
  assert.doesNotMatch(civic.output.stdout, /Civic emulator/);
  const html = await (await fetch(civic.url)).text();
  assert.ok(html.includes('<script src="https://hosted-sip.civic.com/js/civic.sip.min.js"></script>'), html);
  assert.ok(html.includes('<link rel="stylesheet" href="https://hosted-sip.civic.com/css/civic-modal.min.css">'), html);
  assert.ok(html.includes('CivicApp1'), html);
});

// ---- civic.sip.js itself, on a partner page of another origin

/** A partner page that loads the emulator's script and records every event in window.events. */
async function partnerPage(t, emulator, appId = emulator.app.appId) {
  const html = `<!doctype html><html><head><link rel="stylesheet" href="${emulator.stylesheetUrl}"></head><body>
<script src="${emulator.scriptUrl}"></script>
<script>
  window.events = [];
  window.civicSip = new civic.sip({ appId: ${JSON.stringify(appId)} });
  ['auth-code-received', 'user-cancelled', 'read', 'close', 'civic-sip-error'].forEach(function (name) {
    civicSip.on(name, function (event) { events.push([name, event]); });
  });
</script></body></html>`;
  const server = await startServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(html);
  });
  t.after(() => server.close());
  const { page } = await newPage(t);
  await page.goto(server.url);
  return { page, origin: server.url.slice(0, -1) };
}

const eventsOf = (page) => page.evaluate(() => window.events);
const waitForEvent = (page, name) => page.waitForFunction((n) => window.events.some((e) => e[0] === n), name);

test('civic.sip.js: the API and the events, with their shapes', OPTS, async (t) => {
  const { page } = await partnerPage(t, emu);
  assert.deepEqual(await page.evaluate(() => ({ ...civic.ScopeRequests })), {
    BASIC_SIGNUP: 'BASIC_SIGNUP',
    ANONYMOUS_LOGIN: 'ANONYMOUS_LOGIN',
    PROOF_OF_EMAIL: 'PROOF_OF_EMAIL',
    PROOF_OF_IDENTITY: 'PROOF_OF_IDENTITY',
    PROOF_OF_RESIDENCE: 'PROOF_OF_RESIDENCE',
    PROOF_OF_AGE: 'PROOF_OF_AGE',
  });
  assert.equal(await page.evaluate(() => civicSip.ScopeRequests === civic.ScopeRequests), true);
  assert.equal(await page.evaluate(() => { try { new civic.sip({}); return 'no throw'; } catch (e) { return e.message; } }),
    'civic.sip: config.appId must be your application ID');
  assert.equal(await page.evaluate(() => { try { window.civicSip.on('data-received', () => {}); return 'no throw'; } catch (e) { return e.message; } }),
    "civic.sip: unknown event 'data-received'; the events are auth-code-received, user-cancelled, read, close, civic-sip-error");

  // login with PROOF_OF_AGE, allowed: read, auth-code-received, close; the code exchanges.
  await page.evaluate(() => civicSip.login({ style: 'popup', scopeRequest: civic.ScopeRequests.PROOF_OF_AGE }));
  const consent = page.frameLocator('iframe.civic-iframe');
  assert.equal(await consent.locator('#action').textContent(), 'asks you to log in with Civic and share:');
  await consent.getByRole('button', { name: 'Allow' }).click();
  await waitForEvent(page, 'close');
  const events = await eventsOf(page);
  assert.deepEqual(events.map((e) => e[0]), ['read', 'auth-code-received', 'close']);
  assert.deepEqual(events[0][1], { event: 'scoperequest:read' });
  const received = events[1][1];
  assert.deepEqual(Object.keys(received), ['event', 'response', 'type']);
  assert.equal(received.event, 'scoperequest:auth-code-received');
  assert.equal(received.type, 'code');
  assert.deepEqual(events[2][1], { event: 'scoperequest:close' });
  const { data } = await civicSip.newClient(emu.clientConfig()).exchangeCode(received.response);
  assert.deepEqual(data, [{ label: 'documents.genericId.dateOfBirth', value: '1990-01-31', isValid: true, isOwner: true }]);

  // kyc with PROOF_OF_IDENTITY, denied: read, user-cancelled, close.
  await page.evaluate(() => { window.events = []; civicSip.kyc({ style: 'popup', scopeRequest: civicSip.ScopeRequests.PROOF_OF_IDENTITY }); });
  assert.equal(await consent.locator('#action').textContent(), 'asks to verify your identity and share:');
  assert.equal(await consent.locator('#records li').count(), 9);
  await shot(page, '5-kyc-consent');
  await consent.getByRole('button', { name: 'Deny' }).click();
  await waitForEvent(page, 'close');
  assert.deepEqual(await eventsOf(page), [
    ['read', { event: 'scoperequest:read' }],
    ['user-cancelled', { event: 'scoperequest:user-cancelled' }],
    ['close', { event: 'scoperequest:close' }],
  ]);

  // The modal's close button: read, then close only.
  await page.evaluate(() => { window.events = []; civicSip.signup({ style: 'popup', scopeRequest: civic.ScopeRequests.BASIC_SIGNUP }); });
  await consent.locator('#allow').waitFor();
  await page.getByRole('button', { name: 'Close' }).click();
  assert.deepEqual(await eventsOf(page), [['read', { event: 'scoperequest:read' }], ['close', { event: 'scoperequest:close' }]]);
  assert.equal(await page.locator('.civic-modal').count(), 0);

  // Not a popup, or not a scope request: civic-sip-error, no modal.
  await page.evaluate(() => { window.events = []; civicSip.signup({ style: 'redirect' }); civicSip.signup({ style: 'popup', scopeRequest: 42 }); });
  assert.deepEqual(await eventsOf(page), [
    ['civic-sip-error', { event: 'scoperequest:error', type: 'config', message: "unsupported style 'redirect': the emulator shows a popup" }],
    ['civic-sip-error', { event: 'scoperequest:error', type: 'config', message: 'scopeRequest must be one of civic.ScopeRequests' }],
  ]);
  assert.equal(await page.locator('.civic-modal').count(), 0);
});

test('civic.sip.js: an unknown app, an unknown scope, a page off the whitelist are civic-sip-errors', OPTS, async (t) => {
  const { page } = await partnerPage(t, emu, 'NotMyApp1');
  await page.evaluate(() => civicSip.signup({ style: 'popup', scopeRequest: civic.ScopeRequests.BASIC_SIGNUP }));
  await waitForEvent(page, 'civic-sip-error');
  assert.deepEqual(await eventsOf(page), [['civic-sip-error', {
    event: 'scoperequest:error', type: 'config', message: `Unknown application ID 'NotMyApp1': this emulator serves the app '${emu.app.appId}'`,
  }]]);
  assert.equal(await page.frameLocator('iframe.civic-iframe').locator('#problem-text').textContent(),
    `Unknown application ID 'NotMyApp1': this emulator serves the app '${emu.app.appId}'`);

  const other = await partnerPage(t, emu);
  await other.page.evaluate(() => civicSip.signup({ style: 'popup', scopeRequest: 'PROOF_OF_WEALTH' }));
  await waitForEvent(other.page, 'civic-sip-error');
  assert.deepEqual((await eventsOf(other.page))[0][1], {
    event: 'scoperequest:error',
    type: 'config',
    message: "Unknown scope request 'PROOF_OF_WEALTH': expected one of BASIC_SIGNUP, ANONYMOUS_LOGIN, PROOF_OF_EMAIL, PROOF_OF_IDENTITY, PROOF_OF_RESIDENCE, PROOF_OF_AGE",
  });

  const strict = await startEmulator({ origins: ['http://localhost:1'] });
  t.after(() => strict.close());
  const off = await partnerPage(t, strict);
  await off.page.evaluate(() => civicSip.signup({ style: 'popup' }));
  await waitForEvent(off.page, 'civic-sip-error');
  assert.deepEqual((await eventsOf(off.page))[0][1], {
    event: 'scoperequest:error', type: 'config', message: `The page ${off.origin} is not whitelisted for the app '${strict.app.appId}'`,
  });
});
