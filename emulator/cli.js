#!/usr/bin/env node
'use strict';

// `npx civic-sip-emulator [--port 8080] [--app-id ID] ...`: runs the local Civic SIP emulator
// and prints what to paste into an app: the browser tags and the server's client config; then
// logs each request it refuses, with the check that failed.
// `npx civic-sip-emulator auth-code`: asks a running one for an auth code and prints it.

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { startEmulator, newCredentials } = require('./index');
const { loadUserFile } = require('./browser');
const { version } = require('../package.json');

const USAGE = `Usage: civic-sip-emulator [options]
       civic-sip-emulator auth-code [--url <emulator URL>] [--scope <scope>] [--expires-in <s>]

Runs a local stand-in for Civic's hosted SIP service: civic.sip.js and the emulated user's
consent screen for the browser, and the auth-code exchange for your server. Each request it
refuses is logged on stderr with the check that failed (Civic's own service never says).

auth-code asks a running emulator (default http://127.0.0.1:8080/) for an auth code, as if the
user had allowed, and prints it: for scripts and tests without a browser.

Options:
  --port <n>               port to listen on (default 8080; 0 picks a free one)
  --host <address>         address to listen on (default 127.0.0.1)
  --app-id <id>            the application ID (default: a random one)
  --app-name <name>        the app's name on the consent screen (default "Demo app")
  --app-secret <hex>       the application secret, 32 hex characters (default: random)
  --prv-key <hex>          the app's P-256 private signing key, 64 hex characters (default: random)
  --civic-private-key <hex>  the emulator's own signing key (default: random)
  --credentials <file>     keep the app ID, secret and keys in this JSON file: read if it exists,
                           else made and saved there, so they survive restarts
  --user <file.json>       the emulated user: { "records": { label: value }, "scopes": { SCOPE: [labels] } }
  --origin <origin>        a page origin allowed to open the consent screen (repeatable; default any)
  --json                   print the client config as one line of JSON instead
  -v, --version            print the version
  -h, --help               show this help
`;

const CREDENTIAL_FLAGS = ['app-id', 'app-secret', 'prv-key', 'civic-private-key'];
const CREDENTIAL_FIELDS = ['appId', 'appSecret', 'prvKey', 'civicPrivateKey'];

function fail(message) {
  process.stderr.write(`civic-sip-emulator: ${message}\n`);
  process.exitCode = 2;
}

// A JavaScript string literal in single quotes, as a user would write it; any app ID pastes as-is.
const quote = (s) => `'${JSON.stringify(String(s)).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;

function banner(emu) {
  const config = emu.clientConfig();
  const fields = Object.entries(config).map(([k, v]) => `  ${k}: ${quote(v)},`).join('\n');
  return `Civic SIP emulator listening on ${emu.url}

In the browser:
  <link rel="stylesheet" href="${emu.stylesheetUrl}">
  <script src="${emu.scriptUrl}"></script>
  const civicSip = new civic.sip({ appId: ${quote(config.appId)} });

On the server (civic-sip-native, or civic-sip-api's config plus api and civicPublicKey):
const client = require('civic-sip-native').newClient({
${fields}
});

As environment variables (examples/express reads these):
CIVIC_APP_ID=${config.appId}
CIVIC_APP_SECRET=${config.appSecret}
CIVIC_PRV_KEY=${config.prvKey}
CIVIC_API=${config.api}
CIVIC_PUBLIC_KEY=${config.civicPublicKey}
CIVIC_SIP_JS=${emu.scriptUrl}
CIVIC_SIP_CSS=${emu.stylesheetUrl}

An auth code without a browser (for scripts and tests):
  npx civic-sip-emulator auth-code --url ${emu.url}
  curl -s -X POST ${emu.mintUrl}

These credentials are the emulator's own: Civic's servers know nothing of them. Requests it
refuses are logged below with the check that failed. Ctrl+C stops it.
`;
}

/**
 * The credentials in `file`, or fresh ones saved there (readable by this user only). A file
 * that exists but is not what --credentials writes is an error, never overwritten.
 */
function credentialsFrom(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw new Error(`--credentials: cannot read ${file}: ${error.code ?? error.message}`);
    const fresh = newCredentials();
    try {
      fs.writeFileSync(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (writing) {
      throw new Error(`--credentials: cannot save ${file}: ${writing.code ?? writing.message}`);
    }
    return { credentials: fresh, saved: true };
  }
  let credentials;
  try {
    credentials = JSON.parse(text);
  } catch {
    credentials = null;
  }
  const valid = credentials !== null && typeof credentials === 'object' && !Array.isArray(credentials)
    && CREDENTIAL_FIELDS.every((k) => typeof credentials[k] === 'string');
  if (!valid) {
    throw new Error(`--credentials: ${file} is not a credentials file (a JSON object with ${CREDENTIAL_FIELDS.join(', ')}); give a new path to make one`);
  }
  return { credentials, saved: false };
}

/** `civic-sip-emulator auth-code`: one auth code from a running emulator, on stdout. */
async function mintCommand(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      scope: { type: 'string' },
      'expires-in': { type: 'string' },
    },
    strict: true,
  });
  const base = values.url ?? 'http://127.0.0.1:8080/';
  let target;
  try {
    target = new URL('emulator/auth-code', base.endsWith('/') ? base : `${base}/`);
  } catch {
    throw new Error(`--url must be the emulator's URL, such as http://127.0.0.1:8080/, not '${base}'`);
  }
  const ask = {};
  if (values.scope !== undefined) ask.scope = values.scope;
  if (values['expires-in'] !== undefined) {
    ask.expiresIn = Number(values['expires-in']);
    if (!Number.isFinite(ask.expiresIn)) throw new Error(`--expires-in must be a number of seconds, not '${values['expires-in']}'`);
  }
  let res;
  try {
    res = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(ask) });
  } catch (error) {
    const why = error.cause && error.cause.code ? error.cause.code : error.message;
    throw new Error(`no emulator answers at ${target.origin}/ (${why}): start one with \`npx civic-sip-emulator\`, or pass --url`);
  }
  const text = await res.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = null;
  }
  if (res.status !== 200 || !answer || typeof answer.authCode !== 'string') {
    const why = answer && answer.error ? answer.error.message : `${res.status} ${text.slice(0, 200)}`;
    throw new Error(`${target.origin}/ did not mint an auth code: ${why}`);
  }
  process.stdout.write(`${answer.authCode}\n`);
}

/** One line on stderr per refused request: when, what, the status and the check that failed. */
function logRefusal(refusal) {
  process.stderr.write(`${new Date().toISOString()} refused ${refusal.method} ${refusal.path} with ${refusal.status}: ${refusal.check}: ${refusal.message}\n`);
}

async function main(argv) {
  if (argv[0] === 'auth-code') {
    try {
      await mintCommand(argv.slice(1));
    } catch (error) {
      fail(error.message);
    }
    return;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'app-id': { type: 'string' },
        'app-name': { type: 'string' },
        'app-secret': { type: 'string' },
        'prv-key': { type: 'string' },
        'civic-private-key': { type: 'string' },
        credentials: { type: 'string' },
        user: { type: 'string' },
        origin: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    fail(`${error.message}\n\n${USAGE}`);
    return;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (values.version) {
    process.stdout.write(`${version}\n`);
    return;
  }
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--port must be a port number, not '${values.port}'`);
    return;
  }

  let credentials = {
    appId: values['app-id'], appSecret: values['app-secret'], prvKey: values['prv-key'], civicPrivateKey: values['civic-private-key'],
  };
  let saved = null;
  if (values.credentials !== undefined) {
    const given = CREDENTIAL_FLAGS.filter((flag) => values[flag] !== undefined);
    if (given.length) {
      fail(`--credentials and --${given[0]} cannot be combined: the file holds the credentials (edit it, or give a new path)`);
      return;
    }
    try {
      const kept = credentialsFrom(values.credentials);
      credentials = kept.credentials;
      saved = kept.saved;
    } catch (error) {
      fail(error.message);
      return;
    }
  }

  let emu;
  try {
    emu = await startEmulator({
      port,
      host: values.host,
      app: {
        appId: credentials.appId, name: values['app-name'], appSecret: credentials.appSecret, prvKey: credentials.prvKey,
      },
      civicPrivateKey: credentials.civicPrivateKey,
      user: values.user === undefined ? undefined : loadUserFile(values.user),
      origins: values.origin,
      // Runs for hours: keep no request log, and let idle browsers keep their connections.
      recordRequests: false,
    });
  } catch (error) {
    const why = error.code === 'EADDRINUSE'
      ? `port ${port} is in use (try --port 0 or another port)`
      : `${values.credentials !== undefined ? `${values.credentials}: ` : ''}${error.message}`;
    fail(why);
    return;
  }
  emu.on('refusal', logRefusal);

  const where = values.credentials === undefined ? ''
    : `Credentials ${saved ? 'made and saved to' : 'read from'} ${values.credentials}: later runs with --credentials ${values.credentials} keep them.\n\n`;
  // Before the banner: whoever reads it may stop us at once.
  const stop = () => { emu.close().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(values.json
    ? `${JSON.stringify({ ...emu.clientConfig(), scriptUrl: emu.scriptUrl, stylesheetUrl: emu.stylesheetUrl, mintUrl: emu.mintUrl })}\n`
    : where + banner(emu));
}

main(process.argv.slice(2));
