#!/usr/bin/env node
'use strict';

// `npx civic-sip-emulator [--port 8080] [--app-id ID] ...`: runs the local Civic SIP emulator
// and prints what to paste into an app: the browser tags and the server's client config.

const { parseArgs } = require('node:util');
const { startEmulator } = require('./index');
const { loadUserFile } = require('./browser');

const USAGE = `Usage: civic-sip-emulator [options]

Runs a local stand-in for Civic's hosted SIP service: civic.sip.js and the emulated user's
consent screen for the browser, and the auth-code exchange for your server.

Options:
  --port <n>               port to listen on (default 8080; 0 picks a free one)
  --host <address>         address to listen on (default 127.0.0.1)
  --app-id <id>            the application ID (default: a random one)
  --app-name <name>        the app's name on the consent screen (default "Demo app")
  --app-secret <hex>       the application secret, 32 hex characters (default: random)
  --prv-key <hex>          the app's P-256 private signing key, 64 hex characters (default: random)
  --civic-private-key <hex>  the emulator's own signing key (default: random)
  --user <file.json>       the emulated user: { "records": { label: value }, "scopes": { SCOPE: [labels] } }
  --origin <origin>        a page origin allowed to open the consent screen (repeatable; default any)
  --json                   print the client config as one line of JSON instead
  -h, --help               show this help
`;

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

These credentials are the emulator's own: Civic's servers know nothing of them. Ctrl+C stops it.
`;
}

async function main(argv) {
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
        user: { type: 'string' },
        origin: { type: 'string', multiple: true },
        json: { type: 'boolean' },
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
  const port = values.port === undefined ? 8080 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--port must be a port number, not '${values.port}'`);
    return;
  }

  let emu;
  try {
    emu = await startEmulator({
      port,
      host: values.host,
      app: {
        appId: values['app-id'], name: values['app-name'], appSecret: values['app-secret'], prvKey: values['prv-key'],
      },
      civicPrivateKey: values['civic-private-key'],
      user: values.user === undefined ? undefined : loadUserFile(values.user),
      origins: values.origin,
      // Runs for hours: keep no request log, and let idle browsers keep their connections.
      recordRequests: false,
    });
  } catch (error) {
    const why = error.code === 'EADDRINUSE' ? `port ${port} is in use (try --port 0 or another port)` : error.message;
    fail(why);
    return;
  }

  // Before printing: whoever reads the banner may stop the emulator at once.
  const stop = () => { emu.close().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(values.json ? `${JSON.stringify({ ...emu.clientConfig(), scriptUrl: emu.scriptUrl, stylesheetUrl: emu.stylesheetUrl })}\n` : banner(emu));
}

main(process.argv.slice(2));
