'use strict';

// "Sign in with Civic" in an Express app, as a user of civic-sip-native writes it.
//
//   npm start                        against a local Civic emulator started here (port 8080)
//   CIVIC_APP_ID=... npm start       against Civic (or any emulator): see settings() below
//   CIVIC_PASSPORT=1 npm start       the same app with the sign-in route on Passport
//
// The browser gets an auth code from Civic's civic.sip.js and posts it to /auth/civic; the server
// exchanges it for the user's verified data, keeps it in the session and greets the user.

const crypto = require('node:crypto');
const path = require('node:path');
const express = require('express');
const session = require('express-session');
const civicSip = require('civic-sip-native');

const CIVIC_SCRIPT = 'https://hosted-sip.civic.com/js/civic.sip.min.js';
const CIVIC_STYLESHEET = 'https://hosted-sip.civic.com/css/civic-modal.min.css';
const EMAIL = 'contact.personal.email';

/** The signed-in user kept in the session: the verified email (if Civic vouches for it) and the records. */
function sessionUser({ data, userId }) {
  const email = civicSip.byLabel(data)[EMAIL];
  return { userId, email: email && email.isValid ? email.value : null, records: data };
}

/** Civic's settings from the environment, or a local emulator's when CIVIC_APP_ID is not set. */
async function settings(env) {
  const scope = env.CIVIC_SCOPE ?? 'BASIC_SIGNUP';
  if (env.CIVIC_APP_ID) {
    const client = {
      appId: env.CIVIC_APP_ID,
      appSecret: env.CIVIC_APP_SECRET,
      prvKey: env.CIVIC_PRV_KEY,
    };
    // Unset: civic-sip-native's defaults, which are Civic's production service and key.
    if (env.CIVIC_API) client.api = env.CIVIC_API;
    if (env.CIVIC_PUBLIC_KEY) client.civicPublicKey = env.CIVIC_PUBLIC_KEY;
    return {
      client,
      browser: { appId: client.appId, scope, script: env.CIVIC_SIP_JS ?? CIVIC_SCRIPT, stylesheet: env.CIVIC_SIP_CSS ?? CIVIC_STYLESHEET },
      emulator: null,
    };
  }
  const { startEmulator } = require('civic-sip-native/emulator');
  const port = Number(env.EMULATOR_PORT ?? 8080);
  let emulator;
  try {
    emulator = await startEmulator({ port, app: { name: 'Express example' }, recordRequests: false });
  } catch (error) {
    if (error.code === 'EADDRINUSE') {
      throw new Error(`port ${port} is in use, so the Civic emulator cannot start: set EMULATOR_PORT to another port (0 for any free one)`);
    }
    throw error;
  }
  // Why the emulator refused an exchange (Civic itself never says): the check and what it expected.
  emulator.on('refusal', (refusal) => console.error(`Civic emulator refused ${refusal.method} ${refusal.path} with ${refusal.status}: ${refusal.check}: ${refusal.message}`));
  return {
    client: emulator.clientConfig(),
    browser: { appId: emulator.app.appId, scope, script: emulator.scriptUrl, stylesheet: emulator.stylesheetUrl },
    emulator,
  };
}

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body, head = '') {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/style.css">
${head}
</head>
<body>
${body}
</body>
</html>
`;
}

function createApp({
  client: clientConfig, browser, sessionSecret, usePassport = false,
}) {
  const civic = civicSip.newClient(clientConfig);
  const app = express();

  app.use(express.static(path.join(__dirname, 'public')));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }));
  app.use(session({
    name: 'sid',
    secret: sessionSecret,
    resave: false,
    saveUninitialized: false, // no cookie until someone has signed in
    cookie: { httpOnly: true, sameSite: 'lax', secure: process.env.NODE_ENV === 'production' },
  }));

  app.get('/', (req, res) => {
    if (req.session.user) return res.redirect(303, '/me');
    return res.send(page('Sign in', `
<h1>Example app</h1>
<p>Sign in with your verified Civic identity: no password.</p>
<button type="button" id="sign-in" class="civic-button">Sign in with Civic</button>
<p id="status" role="status"></p>
<form id="auth-form" method="post" action="/auth/civic" hidden><input type="hidden" name="authCode"></form>
<div id="civic-settings" data-app-id="${escapeHtml(browser.appId)}" data-scope="${escapeHtml(browser.scope)}" hidden></div>
<script src="${escapeHtml(browser.script)}"></script>
<script src="/app.js"></script>`, `<link rel="stylesheet" href="${escapeHtml(browser.stylesheet)}">`));
  });

  // Only our own page may post a code: another site could otherwise sign a visitor in as the
  // other site's Civic user (login CSRF). Browsers send Origin with every POST form.
  const sameOrigin = (req, res, next) => {
    const origin = req.get('origin');
    if (origin !== undefined && origin !== `${req.protocol}://${req.get('host')}`) {
      return res.status(403).send(page('Sign-in refused', '<h1>Sign-in refused</h1><p class="error">The request came from another site.</p>'));
    }
    return next();
  };
  const noAuthCode = (res) => res.status(400).send(page('Sign-in failed', '<h1>Sign-in failed</h1><p class="error">No auth code was sent.</p><p><a href="/">Back</a></p>'));
  const exchangeFailed = (res, error) => {
    // error.code says what went wrong; the message never contains the app's secrets.
    console.error(`sign-in failed: ${error.code}: ${error.message}`);
    const status = error.code === civicSip.codes.VERIFICATION || error.code === civicSip.codes.DECRYPTION ? 401 : 502;
    return res.status(status).send(page('Sign-in failed', `
<h1>Sign-in failed</h1>
<p class="error" id="error-message">Civic's answer could not be accepted, so you are not signed in.</p>
<p>Error code: <code id="error-code">${escapeHtml(error.code)}</code></p>
<p class="muted">${escapeHtml(error.message)}</p>
<p><a href="/">Try again</a></p>`));
  };
  // A new session id at sign-in, so an id planted before it is worth nothing after.
  const signIn = (req, res, user) => req.session.regenerate((sessionError) => {
    if (sessionError) return res.status(500).send(page('Error', '<h1>Session error</h1>'));
    req.session.user = user;
    return res.redirect(303, '/me');
  });

  if (usePassport) {
    // The same route on Passport: the strategy reads the auth code, exchanges it and fails (a
    // bad, used or expired code) or errs (everything else) as Passport expects.
    const passport = require('passport');
    const { Strategy: CivicStrategy } = require('civic-sip-native/passport');
    passport.use(new CivicStrategy({ client: civic }, (userData, done) => done(null, sessionUser(userData))));
    app.post('/auth/civic', sameOrigin, (req, res, next) => {
      passport.authenticate('civic', { session: false }, (error, user, info) => {
        if (error) return exchangeFailed(res, error);
        if (!user) return info && info.error ? exchangeFailed(res, info.error) : noAuthCode(res);
        return signIn(req, res, user);
      })(req, res, next);
    });
  } else {
    app.post('/auth/civic', sameOrigin, async (req, res) => {
      const authCode = req.body && req.body.authCode;
      if (typeof authCode !== 'string' || authCode === '') return noAuthCode(res);
      let userData;
      try {
        userData = await civic.exchangeCode(authCode);
      } catch (error) {
        return exchangeFailed(res, error);
      }
      return signIn(req, res, sessionUser(userData));
    });
  }

  app.get('/me', (req, res) => {
    const { user } = req.session;
    if (!user) return res.redirect(303, '/');
    const rows = user.records.map((r) => `<tr><td>${escapeHtml(r.label)}</td><td>${escapeHtml(r.value)}</td><td>${r.isValid ? 'yes' : 'no'}</td><td>${r.isOwner ? 'yes' : 'no'}</td></tr>`).join('\n');
    return res.send(page('Welcome', `
<h1 id="greeting">Welcome, ${escapeHtml(user.email ?? 'Civic user')}</h1>
<p>Civic verified these records for you:</p>
<table id="records">
<thead><tr><th>label</th><th>value</th><th>valid</th><th>owner</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p class="muted">Your user ID for this app: <code id="user-id">${escapeHtml(user.userId)}</code></p>
<form method="post" action="/logout"><button type="submit" id="sign-out">Sign out</button></form>`));
  });

  app.post('/logout', (req, res) => {
    req.session.destroy(() => {
      res.clearCookie('sid');
      res.redirect(303, '/');
    });
  });

  return app;
}

async function main() {
  const civic = await settings(process.env);
  // Sessions last as long as the process unless SESSION_SECRET is set.
  const sessionSecret = process.env.SESSION_SECRET ?? crypto.randomBytes(32).toString('hex');
  const app = createApp({ ...civic, sessionSecret, usePassport: Boolean(process.env.CIVIC_PASSPORT) });
  const host = process.env.HOST ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? 3000);
  // Express 5 calls this on a failed listen too, with the error (handled below).
  const server = app.listen(port, host, (error) => {
    if (error) return;
    if (civic.emulator) console.log(`Civic emulator (app ${civic.emulator.app.appId}) at ${civic.emulator.url}`);
    else console.log(`Civic API: ${civic.client.api ?? 'Civic production'}`);
    console.log(`Listening on http://${host}:${server.address().port}/`);
  });
  server.on('error', (error) => {
    console.error(error.code === 'EADDRINUSE'
      ? `port ${port} is in use, so the app cannot start: set PORT to another port (0 for any free one)`
      : `cannot listen on ${host}:${port}: ${error.message} (HOST and PORT choose where)`);
    if (civic.emulator) civic.emulator.close();
    process.exit(1);
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
    if (civic.emulator) civic.emulator.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}

module.exports = { createApp, settings };
