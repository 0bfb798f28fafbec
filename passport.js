'use strict';

// A Passport strategy for "Sign in with Civic": it takes the auth code from the request,
// exchanges it with this package's client and hands the user data to the app's verify callback.
// Passport is not required here: it calls `authenticate` on an object it derives from the
// strategy and gives it `success`, `fail` and `error`, so this works with any Passport version
// and installs without it.
//
//   const CivicStrategy = require('civic-sip-native/passport').Strategy;
//   passport.use(new CivicStrategy({ appId, appSecret, prvKey }, (userData, done) => done(null, user)));
//   app.post('/auth/civic', passport.authenticate('civic', { failureRedirect: '/' }), ...);

const { newClient } = require('./index');

const STRATEGY_OPTIONS = ['name', 'authCodeField', 'passReqToCallback', 'client'];

/**
 * Civic's answers that say the auth code itself is bad (malformed, already used, expired, for
 * another app): an authentication failure. Every other status is the app's or Civic's problem,
 * not the visitor's: 401 and 403 refuse the app's own credentials (appId, appSecret, prvKey),
 * 404 and 405 mean a wrong `api`, 408, 429 and 5xx are Civic's state.
 */
const REFUSED_AUTH_CODE = new Set([400, 410, 422]);

/** `container[field]` when `container` is an object that has it as its own property. */
function own(container, field) {
  return container !== null && typeof container === 'object' && Object.prototype.hasOwnProperty.call(container, field)
    ? container[field]
    : undefined;
}

class Strategy {
  /**
   * @param options the client's configuration (as for `newClient`) or `client`, an existing
   *   client; `name` (default 'civic'), `authCodeField` (default 'authCode': the request body's
   *   field, then the query's), `passReqToCallback` (default false)
   * @param verify `(userData, done)`, or `(req, userData, done)` with `passReqToCallback`
   */
  constructor(options, verify) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('civic-sip-native/passport: the Strategy needs options: the client configuration ({ appId, appSecret, prvKey, ... }) or { client }');
    }
    if (typeof verify !== 'function') {
      throw new TypeError('civic-sip-native/passport: the Strategy needs a verify callback: (userData, done) => ...');
    }
    const field = options.authCodeField ?? 'authCode';
    if (typeof field !== 'string' || field === '') {
      throw new TypeError('civic-sip-native/passport: authCodeField must be a non-empty string');
    }
    let { client } = options;
    if (client === undefined) {
      const config = { ...options };
      for (const key of STRATEGY_OPTIONS) delete config[key];
      client = newClient(config);
    } else if (client === null || typeof client.exchangeCode !== 'function') {
      throw new TypeError('civic-sip-native/passport: client must be a client from newClient()');
    }
    this.name = options.name ?? 'civic';
    // Not enumerable: `util.inspect(strategy)` shows the name only.
    Object.defineProperties(this, {
      client: { value: client },
      authCodeField: { value: field },
      passReqToCallback: { value: Boolean(options.passReqToCallback) },
      verify: { value: verify },
    });
  }

  /** Called by Passport, on an object derived from the strategy that has success, fail and error. */
  authenticate(req) {
    const authCode = own(req.body, this.authCodeField) ?? own(req.query, this.authCodeField);
    if (authCode === undefined || authCode === '') {
      this.fail({ message: 'Missing auth code' }, 400);
      return;
    }
    if (typeof authCode !== 'string') {
      this.fail({ message: 'The auth code must be a string' }, 400);
      return;
    }
    this.client.exchangeCode(authCode).then(
      (userData) => this.verified(req, userData),
      (error) => {
        const status = error && error.response && error.response.statusCode;
        if (REFUSED_AUTH_CODE.has(status)) {
          this.fail({ message: 'Civic refused the auth code', code: error.code, error }, 401);
        } else {
          this.error(error);
        }
      },
    );
  }

  /** Hands the user data to the app's verify callback and acts on its answer. */
  verified(req, userData) {
    const done = (error, user, info) => {
      if (error) this.error(error);
      else if (!user) this.fail(info, 401);
      else this.success(user, info);
    };
    try {
      if (this.passReqToCallback) this.verify(req, userData, done);
      else this.verify(userData, done);
    } catch (error) {
      this.error(error);
    }
  }
}

module.exports = { Strategy };
