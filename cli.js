#!/usr/bin/env node
'use strict';

// `npx civic-sip-native check`: the deployment check (check.js) from a shell. The configuration is
// read as the app reads it: a JSON file of newClient's options, and/or environment variables
// named by a prefix or one by one. Exit code 0 when every check passed, 1-6 the first check that
// failed, 64 for a usage error.

const fs = require('node:fs');
const { parseArgs } = require('node:util');

const USAGE = `Usage: civic-sip-native check [options]

Checks a deployment of "Sign in with Civic": configuration, route, connection, TLS, clock and,
with --probe, the credentials. One line per check; exit code 0 only when every check passed.

Where the configuration comes from (newClient's options, read as the app reads them):
  --config FILE        a JSON file of the options: appId, appSecret, prvKey, env, api, proxy, ...
  --env-prefix PREFIX  environment variables PREFIX + APP_ID, APP_SECRET, PRV_KEY, ENV, API,
                       PROXY_URL (the default, when no --config is given, is CIVIC_)
  --app-id-var NAME, --app-secret-var NAME, --prv-key-var NAME, --env-var NAME, --api-var NAME,
  --proxy-var NAME     one variable by its own name (overrides the prefix and the file)
  --ca FILE            PEM certificates to trust instead of the defaults (the ca option; repeatable)

  --probe              one exchange with a made-up auth code, to see whether Civic accepts the app
  --json               the report as JSON on stdout
  --timeout MS         the time limit of each check (default 5000)
  -h, --help           this text
`;

const FIELDS = {
  appId: ['APP_ID', 'app-id-var'],
  appSecret: ['APP_SECRET', 'app-secret-var'],
  prvKey: ['PRV_KEY', 'prv-key-var'],
  env: ['ENV', 'env-var'],
  api: ['API', 'api-var'],
  proxy: ['PROXY_URL', 'proxy-var'],
};

class UsageError extends Error {}

function parse(argv) {
  const options = {
    config: { type: 'string' },
    'env-prefix': { type: 'string' },
    ca: { type: 'string', multiple: true },
    probe: { type: 'boolean' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const [, flag] of Object.values(FIELDS)) options[flag] = { type: 'string' };
  try {
    return parseArgs({ args: argv, options, allowPositionals: true });
  } catch (error) {
    throw new UsageError(error.message);
  }
}

/** The options and, for each field, where it was read (named in the report, never its value). */
function configuration(values, env) {
  let options = {};
  const names = {};
  if (values.config !== undefined) {
    let text;
    try {
      text = fs.readFileSync(values.config, 'utf8');
    } catch (error) {
      throw new UsageError(`--config ${values.config}: ${error.code || error.message}`);
    }
    try {
      options = JSON.parse(text);
    } catch {
      // The parser's message could quote the file, secrets and all.
      throw new UsageError(`--config ${values.config}: not valid JSON`);
    }
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new UsageError(`--config ${values.config}: not a JSON object of the options`);
    }
    for (const field of Object.keys(FIELDS)) if (field in options) names[field] = `from ${values.config}`;
  }
  const prefix = values['env-prefix'] ?? (values.config === undefined ? 'CIVIC_' : undefined);
  for (const [field, [suffix, flag]] of Object.entries(FIELDS)) {
    const name = values[flag] ?? (prefix === undefined ? undefined : `${prefix}${suffix}`);
    if (name === undefined) continue;
    const value = env[name];
    if (value === undefined || value === '') {
      if (!(field in options)) names[field] = `variable ${name} is unset`;
      continue;
    }
    names[field] = `variable ${name}`;
    if (field === 'proxy') options.proxy = { ...(typeof options.proxy === 'object' && options.proxy ? options.proxy : {}), url: value };
    else options[field] = value;
  }
  if (values.ca) {
    options.ca = values.ca.map((file) => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch (error) {
        throw new UsageError(`--ca ${file}: ${error.code || error.message}`);
      }
    });
  }
  return { options, names };
}

async function main(argv, { env = process.env, stdout = process.stdout, stderr = process.stderr } = {}) {
  const { USAGE_EXIT_CODE, format } = require('./check.js');
  let parsed;
  let config;
  let timeout;
  try {
    parsed = parse(argv);
    if (parsed.values.help) {
      stdout.write(USAGE);
      return 0;
    }
    if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'check') {
      throw new UsageError(parsed.positionals.length ? `unknown command ${JSON.stringify(parsed.positionals[0])}` : 'no command given');
    }
    if (parsed.values.timeout !== undefined) {
      timeout = Number(parsed.values.timeout);
      if (!(timeout > 0)) throw new UsageError('--timeout must be a positive number of milliseconds');
    }
    config = configuration(parsed.values, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr.write(`civic-sip-native: ${error.message}\n\n${USAGE}`);
    return USAGE_EXIT_CODE;
  }
  const { check } = require('./index.js');
  const report = await check(config.options, { probe: Boolean(parsed.values.probe), timeout, names: config.names });
  if (parsed.values.json) {
    stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const colour = Boolean(stdout.isTTY) && !env.NO_COLOR;
    stdout.write(`${format(report, { colour })}\n`);
  }
  return report.exitCode;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (error) => {
    process.stderr.write(`civic-sip-native: ${error && error.message}\n`);
    process.exitCode = 70;
  });
}

module.exports = { main, configuration };
