'use strict';

// The JS face of civic-sip-native: civic-sip-api's API shapes over the native client.
// Only what JS semantics demand lives here (truthiness of options, the callback overload,
// bound methods); the exchange, its messages and its errors are all in Rust.

const diagnosticsChannel = require('node:diagnostics_channel');
const events = require('node:events');
const util = require('node:util');
const { NativeClient, NativeAbort, ERROR_CODES } = require('./binding.js');

// `tracing:civic-sip-native:exchangeCode:{start,end,asyncStart,asyncEnd,error}`, for APM tools
// (Node 18.19+ and 20+; on older Nodes there is nothing to subscribe to).
const exchangeChannel = typeof diagnosticsChannel.tracingChannel === 'function'
  ? diagnosticsChannel.tracingChannel('civic-sip-native:exchangeCode')
  : undefined;

/** Stable `error.code` values, one per kind of failure (defined once, in Rust). */
const codes = Object.freeze({ ...ERROR_CODES });

const PREFIX = 'Error exchanging code for data: ';

// `NODE_DEBUG=civic-sip-native`: one line per step of an exchange, with its time. Asked per call,
// so when it is off the native side is given nothing and records nothing.
// (`enabled` is on the function debuglog returns, not on the one its callback would get.)
const debug = util.debuglog('civic-sip-native');

/** An array for the native side to fill with the steps of one call, while debugging is on. */
function stepsArray() {
  return debug.enabled ? [] : undefined;
}

/** `promise`, whose steps (if recorded) are printed when it settles, before its callers run. */
function printingSteps(promise, steps, what) {
  if (steps === undefined) return promise;
  const print = () => {
    for (const line of steps) debug('%s %s', what, line);
  };
  promise.then(print, print);
  return promise;
}

// civic-sip-api tested its options for truthiness and used them as strings.
const text = (value) => (value ? String(value) : undefined);
const number = (value) => (value == null ? undefined : Number(value));

// A lone surrogate cannot cross into Rust as it is (napi would put U+FFFD in its place).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const wellFormed = typeof String.prototype.isWellFormed === 'function'
  ? (value) => value.isWellFormed()
  : (value) => !LONE_SURROGATE.test(value);
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');
const escapeLoneSurrogates = (value) => value.replace(LONE_SURROGATES,
  (c) => `\\u${c.charCodeAt(0).toString(16)}`);

function isJson(text) {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The native error with the message (and body) it would have had with lone surrogates kept. */
function quoting(error, message, body) {
  if (typeof error.stack === 'string' && error.stack.startsWith(`${error.name}: ${error.message}`)) {
    error.stack = `${error.name}: ${message}${error.stack.slice(error.name.length + 2 + error.message.length)}`;
  }
  error.message = message;
  if (body !== undefined && error.response) error.response.body = body;
  return error;
}

function notWellFormed(what) {
  const error = new TypeError(`${what} must be a well-formed Unicode string: it holds a lone surrogate`);
  error.code = codes.INVALID_ARGUMENT;
  return error;
}

/**
 * Options used as text (in the request token, the URL, the proxy, the TLS roots) must reach Rust
 * unchanged, so one holding a lone surrogate is refused. The key options are not checked: prvKey
 * is read skipping every non-ASCII character, as civic-sip-api reads it, and appSecret and
 * civicPublicKey must be hex, so the exchange refuses them with ERR_CIVIC_CONFIG.
 */
function checkWellFormed(options) {
  const named = [['appId', options.appId], ['env', options.env], ['api', options.api],
    ['proxy.url', options.proxy && options.proxy.url]];
  for (const [name, value] of named) {
    if (value !== undefined && !wellFormed(value)) throw notWellFormed(name);
  }
  for (const pem of options.ca || []) {
    if (!wellFormed(pem)) throw notWellFormed('ca');
  }
  return options;
}

// `civicPublicKey`: one key as civic-sip-api's option had it (a falsy one is the default key), or
// a list of them while Civic rotates its key; each entry is read as text, as the one key is.
function civicKeys(keys) {
  if (Array.isArray(keys)) return keys.map(String);
  const one = text(keys);
  return one === undefined ? undefined : [one];
}

// Node's `ca`: a PEM string or Buffer, or an array of them.
function pems(ca) {
  if (ca == null) return undefined;
  const asText = (pem) => (ArrayBuffer.isView(pem)
    ? Buffer.from(pem.buffer, pem.byteOffset, pem.byteLength).toString('latin1')
    : String(pem));
  return (Array.isArray(ca) ? ca : [ca]).map(asText);
}

function isAbortSignal(signal) {
  return signal !== null && typeof signal === 'object' && typeof signal.aborted === 'boolean'
    && typeof signal.addEventListener === 'function';
}

function invalidArgument(message) {
  const error = new TypeError(`${PREFIX}${message}`);
  error.code = codes.INVALID_ARGUMENT;
  return error;
}

/**
 * `exchange()` published on the TracingChannel as `tracePromise` publishes (start and end around
 * the call, the stores of `start` entered for it, asyncStart and asyncEnd when it settles, error
 * before them on a rejection), but never with the user data: subscribers (APM agents) get the
 * context and the error, not `result`.
 */
function traced(exchange, context) {
  const {
    start, end, asyncStart, asyncEnd, error,
  } = exchangeChannel;
  const settled = () => {
    asyncStart.publish(context);
    asyncEnd.publish(context);
  };
  return start.runStores(context, () => {
    try {
      return exchange().then(
        (userData) => {
          settled();
          return userData;
        },
        (failure) => {
          context.error = failure;
          error.publish(context);
          settled();
          throw failure;
        },
      );
    } finally {
      end.publish(context);
    }
  });
}

/**
 * `promise`, its rejection given the frames of the call that made it (a native error has none):
 * an unhandled one then points at the caller's line, as Node's own errors do.
 */
function withCallerStack(promise, caller) {
  return promise.catch((error) => {
    if (error instanceof Error && typeof caller.stack === 'string') {
      const frames = caller.stack.slice(caller.stack.indexOf('\n'));
      const own = typeof error.stack === 'string' ? error.stack : `${error.name}: ${error.message}`;
      const at = own.indexOf('\n    at ');
      error.stack = `${at === -1 ? own : own.slice(0, at)}${frames}`;
    }
    throw error;
  });
}

/**
 * `proxy` as civic-sip-api read it: an object `{ url, rejectUnauthorized }`, or falsy for none.
 * Anything else truthy (a URL string, a number) made civic-sip-api's exchangeCode throw; ignored
 * here it would send the exchange past the proxy, so the client refuses it at construction.
 */
function proxyOption(proxy) {
  if (!proxy) return undefined;
  if (typeof proxy !== 'object') {
    const error = new TypeError(`proxy must be an object such as { url: 'http://proxy.example:3128' }, not ${typeof proxy === 'string' ? 'a string' : `a ${typeof proxy}`}`);
    error.code = codes.INVALID_ARGUMENT;
    throw error;
  }
  return proxy;
}

function nativeOptions(config) {
  const c = config == null ? {} : config;
  const proxy = proxyOption(c.proxy);
  return checkWellFormed({
    appId: text(c.appId),
    appSecret: text(c.appSecret),
    prvKey: text(c.prvKey),
    env: text(c.env),
    api: text(c.api),
    includeStageInURL: c.includeStageInURL === undefined ? undefined : Boolean(c.includeStageInURL),
    proxy: proxy && {
      url: text(proxy.url),
      rejectUnauthorized: 'rejectUnauthorized' in proxy ? Boolean(proxy.rejectUnauthorized) : undefined,
    },
    civicPublicKeys: civicKeys(c.civicPublicKey),
    timeout: number(c.timeout),
    maxResponseBytes: number(c.maxResponseBytes),
    ca: pems(c.ca),
    retries: number(c.retries),
    // Node's words for a failure differ by line: the native side words its messages as this
    // process's Node would (under Bun or Deno, the Node they follow).
    nodeVersion: process.versions.node,
    llhttpVersion: process.versions.llhttp,
  });
}

/**
 * Ties exchanges to their AbortSignal with one listener per signal, however many exchanges share
 * it: past 10 listeners Node prints MaxListenersExceededWarning, a leak warning this must not
 * cause. `events.addAbortListener` (Node 18.18, 20.5) keeps the listener running even if another
 * one stops the event's propagation; elsewhere a plain once-listener.
 */
const tiedSignals = new WeakMap(); // AbortSignal -> { abort: NativeAbort, pending, untie }

function listenForAbort(signal, listener) {
  if (typeof events.addAbortListener === 'function' && typeof Symbol.dispose === 'symbol'
    && typeof AbortSignal === 'function' && signal instanceof AbortSignal) {
    const disposable = events.addAbortListener(signal, listener);
    return () => disposable[Symbol.dispose]();
  }
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}

function tie(signal) {
  let tied = tiedSignals.get(signal);
  if (tied === undefined) {
    const abort = new NativeAbort();
    tied = { abort, pending: 0, untie: listenForAbort(signal, () => abort.abort()) };
    tiedSignals.set(signal, tied);
  }
  tied.pending += 1;
  return tied;
}

function untie(signal, tied) {
  tied.pending -= 1;
  if (tied.pending === 0) {
    tied.untie();
    if (tiedSignals.get(signal) === tied) tiedSignals.delete(signal);
  }
}

/** A Civic SIP client: `new sip(config)` as in Civic's docs, or `newClient(config)`. */
class sip {
  #client;

  #trace;

  constructor(config) {
    const options = nativeOptions(config);
    this.#client = new NativeClient(options);
    // What a tracing subscriber is told of each exchange (never a secret or the auth code).
    this.#trace = { appId: options.appId };
    // Own bound methods, as civic-sip-api's plain object had: `const { exchangeCode } = client` works.
    this.exchangeCode = this.exchangeCode.bind(this);
    this.processPayload = this.processPayload.bind(this);
  }

  exchangeCode(authCode, options, callback) {
    if (typeof options === 'function') [options, callback] = [undefined, options];
    const caller = {};
    Error.captureStackTrace(caller, sip.prototype.exchangeCode);
    const exchange = () => withCallerStack(this.#exchange(authCode, options), caller);
    const result = exchangeChannel !== undefined && exchangeChannel.hasSubscribers
      ? traced(exchange, { ...this.#trace })
      : exchange();
    if (typeof callback !== 'function') return result;
    // On the next tick, so an exception thrown by the callback is not swallowed by the promise.
    result.then(
      (userData) => process.nextTick(callback, null, userData),
      (error) => process.nextTick(callback, error),
    );
    return undefined;
  }

  #exchange(authCode, options) {
    // civic-sip-api sent JSON.stringify's escape; Rust would get U+FFFD. A JWT never holds one.
    if (typeof authCode === 'string' && !wellFormed(authCode)) {
      return Promise.reject(invalidArgument(
        'the auth code must be a well-formed Unicode string: it holds a lone surrogate',
      ));
    }
    const signal = options == null ? undefined : options.signal;
    const steps = stepsArray();
    const exchange = (abort) => printingSteps(this.#client.exchangeCode(authCode, abort, steps), steps, 'exchangeCode');
    if (signal === undefined) return exchange(undefined);
    if (!isAbortSignal(signal)) {
      return Promise.reject(invalidArgument('the signal option must be an AbortSignal'));
    }
    // As Node's own AbortErrors do: the reason the signal was aborted with.
    const withReason = (error) => {
      if (error.code === codes.ABORTED) error.cause = signal.reason;
      throw error;
    };
    if (signal.aborted) {
      const abort = new NativeAbort();
      abort.abort();
      return exchange(abort).catch(withReason);
    }
    const tied = tie(signal);
    return exchange(tied.abort).then(
      (userData) => {
        untie(signal, tied);
        return userData;
      },
      (error) => {
        untie(signal, tied);
        return withReason(error);
      },
    );
  }

  processPayload(response) {
    const result = this.#processPayload(response);
    // User data, or a Promise of it for a processed reply (errors thrown here have their frames).
    if (!(result instanceof Promise)) return result;
    const caller = {};
    Error.captureStackTrace(caller, sip.prototype.processPayload);
    return withCallerStack(result, caller);
  }

  /** A 200 reply's body text read natively; the steps of a processed payload's fetch printed. */
  #read(text) {
    const steps = stepsArray();
    const result = this.#client.processPayload(undefined, text, steps);
    return result instanceof Promise ? printingSteps(result, steps, 'processPayload') : result;
  }

  #processPayload(response) {
    const { statusCode, body } = response;
    // civic-sip-api compared with `!== 200` and printed `${statusCode} ${body}`; a 200 body it
    // JSON.parse-d, which reads a Buffer as its text, and took an object as it is.
    if (statusCode !== 200) {
      const text = String(body);
      if (wellFormed(text)) return this.#client.processPayload(String(statusCode), text);
      try {
        return this.#client.processPayload(String(statusCode), escapeLoneSurrogates(text));
      } catch (error) {
        throw quoting(error, `${statusCode} ${text}`, text);
      }
    }
    let text = body;
    if (Buffer.isBuffer(body)) text = body.toString();
    else if (body !== undefined && typeof body !== 'string') text = JSON.stringify(body);
    if (typeof text !== 'string' || wellFormed(text)) return this.#read(text);
    // JSON.parse reads a lone surrogate and its escape as the same string; Rust reads only the
    // escape unchanged. Where the body is not JSON, the message quotes it as civic-sip-api did.
    try {
      return this.#read(escapeLoneSurrogates(text));
    } catch (error) {
      if (error.code !== codes.INVALID_RESPONSE || isJson(text)) throw error;
      throw quoting(error, `Invalid response body or body data not found: ${JSON.stringify(text)}`);
    }
  }
}

function newClient(config) {
  return new sip(config);
}

function invalidValue(message) {
  const error = new TypeError(`byLabel: ${message}`);
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/**
 * The records of some user data (an exchange's result, or its `data`) by label, in a new object
 * without a prototype; the user data itself is left as civic-sip-api's plain object.
 */
function byLabel(userData) {
  const records = Array.isArray(userData) ? userData : userData != null && userData.data;
  if (!Array.isArray(records)) throw invalidValue('expected an exchange result { data, userId } or its data array');
  const found = Object.create(null);
  for (const record of records) {
    if (record === null || typeof record !== 'object' || typeof record.label !== 'string') {
      throw invalidValue('every record must be an object with a string label');
    }
    // Two records under one label: which to trust would be a guess.
    if (record.label in found) throw invalidValue(`the label ${JSON.stringify(record.label)} appears twice`);
    found[record.label] = record;
  }
  return found;
}

module.exports = {
  newClient, sip, codes, byLabel,
};
