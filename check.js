'use strict';

// The deployment check: `require('civic-sip-native').check(options, settings)` and
// `npx civic-sip-native check` (cli.js). Six checks in order, each one line of what was found and,
// on a failure, the fix. What an exchange would use (its URL, prvKey's public key, its proxy) is
// decided by the native core (describeOptions), never again here; the network checks walk the
// route the exchange takes (through the proxy when there is one, CONNECT for https) with Node's
// own net and tls, so the TLS verdict is in Node's words. Nothing printed carries a secret: URLs
// go through shownUrl, free text through scrub.

const dns = require('node:dns');
const net = require('node:net');
const tls = require('node:tls');
const crypto = require('node:crypto');
const { describeOptions, redactUrl } = require('./binding.js');
const { defaultTrust } = require('./trust.js');

const NAMES = ['configuration', 'route', 'connection', 'tls', 'clock', 'credentials'];
/** Exit codes: 0 every check passed (warnings allowed); 1-6 the first check that failed. */
const USAGE_EXIT_CODE = 64;
const DEFAULT_TIMEOUT_MS = 5000;
/** Above this skew the clock warns; above CLOCK_FAIL_S response tokens are refused. */
const CLOCK_WARN_S = 30;
const CLOCK_FAIL_S = 60;

// ---- what may be shown ---------------------------------------------------------------------

/**
 * A URL as the check shows it: by the rule of every message of this package (`redactUrl`: no
 * userinfo, query or fragment). `{ origin: true }` gives scheme://host:port only, as proxies are
 * shown.
 */
function shownUrl(text, { origin = false } = {}) {
  if (!origin) return redactUrl(text);
  let url;
  try {
    url = new URL(text);
  } catch {
    return '(not a URL)';
  }
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${url.protocol}//${url.hostname}:${port}`;
}

/** Free text (an error message) with every secret it might hold taken out. */
function scrub(text, secrets) {
  let out = String(text);
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  // Any URL left in it loses its userinfo and query as shownUrl's do.
  return out.replace(/\b(https?:\/\/)([^\s/?#"'@]*@)?([^\s/?#"']*)([^\s?#"']*)(\?[^\s#"']*)?(#[^\s"']*)?/g,
    (_, scheme, _user, host, path) => `${scheme}${host}${path}`);
}

// ---- small helpers ---------------------------------------------------------------------------

const elapsed = (start) => Number((Number(process.hrtime.bigint() - start) / 1e6).toFixed(1));

class CheckTimeout extends Error {}

/**
 * `work(track)` within `ms`; sockets given to `track` are destroyed on the deadline or when the
 * work fails (a socket it resolves with is the caller's to close).
 */
function within(ms, what, work) {
  const tracked = new Set();
  const track = (socket) => {
    tracked.add(socket);
    return socket;
  };
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => {
      for (const socket of tracked) socket.destroy();
      reject(new CheckTimeout(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work(track), deadline]).then((value) => {
    clearTimeout(timer);
    return value;
  }, (error) => {
    clearTimeout(timer);
    for (const socket of tracked) socket.destroy();
    throw error;
  });
}

const isLoopback = (host) => host === 'localhost' || /^127\./.test(host) || host === '::1' || host === '[::1]';
const bare = (hostname) => hostname.replace(/^\[|\]$/g, '');

/** A connected TCP socket to `host:port`, trying each address `dns.lookup` gives in turn. */
async function connectTcp(host, port, track) {
  const lookedUp = net.isIP(host)
    ? [{ address: host, family: net.isIP(host) }]
    : await dns.promises.lookup(host, { all: true });
  const tried = [];
  for (const { address } of lookedUp) {
    const start = process.hrtime.bigint();
    try {
      // eslint-disable-next-line no-await-in-loop
      const socket = await new Promise((resolve, reject) => {
        const s = track(net.connect({ host: address, port }));
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
      return {
        socket, addresses: lookedUp.map((a) => a.address), answered: address, ms: elapsed(start), tried,
      };
    } catch (error) {
      tried.push({ address, code: error.code || error.message });
    }
  }
  const error = new Error(tried.map((t) => `${t.address}:${port} ${t.code}`).join(', '));
  error.code = tried.length ? tried[tried.length - 1].code : 'ENOTFOUND';
  error.tried = tried;
  error.addresses = lookedUp.map((a) => a.address);
  throw error;
}

/** Reads an HTTP response head (status line and headers) from `socket`. */
function readHead(socket) {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) {
        if (buffered.length > 64 * 1024) done(new Error('response head over 64 KiB'));
        return;
      }
      const lines = buffered.subarray(0, end).toString('latin1').split('\r\n');
      const match = /^HTTP\/\d(?:\.\d)? (\d{3}) ?(.*)$/.exec(lines[0]);
      if (!match) return done(new Error('not an HTTP response'));
      const headers = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      return done(null, { status: Number(match[1]), reason: match[2], headers });
    };
    const onEnd = () => done(new Error('the connection closed before a response'));
    const onError = (error) => done(error);
    function done(error, head) {
      socket.off('data', onData).off('end', onEnd).off('close', onEnd).off('error', onError);
      socket.pause();
      if (error) reject(error);
      else resolve(head);
    }
    socket.on('data', onData).once('end', onEnd).once('close', onEnd).once('error', onError);
    socket.resume();
  });
}

function proxyAuthorization(proxyUrl) {
  if (!proxyUrl.username && !proxyUrl.password) return '';
  const pair = `${decodeURIComponent(proxyUrl.username)}:${decodeURIComponent(proxyUrl.password)}`;
  return `Proxy-Authorization: Basic ${Buffer.from(pair).toString('base64')}\r\n`;
}

// ---- the checks ------------------------------------------------------------------------------

function result(name, status, found, fix, details) {
  const entry = { name, status, found };
  if (fix) entry.fix = fix;
  if (details) entry.details = details;
  return entry;
}

function configurationCheck(options, normalised, described, names) {
  const problems = [];
  const fixes = [];
  const named = (field) => (names[field] ? `${field} (${names[field]})` : field);
  for (const field of ['appId', 'appSecret', 'prvKey']) {
    if (!normalised[field]) {
      problems.push(`${named(field)} is missing`);
      fixes.push(`set ${named(field)} to the value in Civic's integration portal`);
    }
  }
  for (const field of ['appId', 'env', 'api']) {
    const value = normalised[field];
    if (value && value.trim() !== value) {
      problems.push(`${named(field)} has white space at its start or end`);
      fixes.push(`take the stray space or line break out of ${field}`);
    }
  }
  if (normalised.env && /[/?#\s]/.test(normalised.env.trim())) {
    problems.push(`${named('env')} is not one path segment (it holds /, ?, # or a space), so the exchange URL would point elsewhere`);
    fixes.push("set env to the stage Civic gave (prod unless told otherwise)");
  }
  if (normalised.appSecret && described.appSecretError) {
    problems.push(`${named('appSecret')}: ${described.appSecretError}`);
    fixes.push('copy appSecret again from the portal, without spaces, quotes or a line break');
  }
  if (normalised.prvKey && described.prvKeyError) {
    problems.push(`${named('prvKey')}: ${described.prvKeyError}`);
    fixes.push('copy prvKey again from the portal (the private signing key, 64 hex characters)');
  }
  let exchange;
  try {
    exchange = new URL(described.exchangeUrl);
  } catch {
    exchange = undefined;
  }
  const warnings = [];
  if (!exchange || !/^https?:$/.test(exchange.protocol)) {
    problems.push(`${named('api')} does not make an http(s) exchange URL`);
    fixes.push("set api to Civic's https://api.civic.com/sip/ (or leave it out)");
  } else {
    if (exchange.username || exchange.password) {
      problems.push(`${named('api')} must not hold credentials (user:password@): the exchange's Authorization header is Civic's`);
      fixes.push('take the user:password@ out of api');
    }
    if (exchange.search) warnings.push(`${named('api')} holds a query, which the exchange URL carries`);
    if (exchange.protocol === 'http:' && !isLoopback(exchange.hostname)) {
      warnings.push(`the exchange URL is plain http to ${exchange.hostname}: Civic's is https`);
    }
  }
  const publicKey = described.publicKey
    ? `prvKey's public key ${described.publicKey} (compressed ${described.publicKeyCompressed})`
    : undefined;
  const details = {
    fields: Object.fromEntries(['appId', 'appSecret', 'prvKey', 'env', 'api', 'proxy'].map((f) => [f, Boolean(normalised[f])])),
    publicKey: described.publicKey,
    publicKeyCompressed: described.publicKeyCompressed,
    exchangeUrl: shownUrl(described.exchangeUrl),
  };
  const url = `exchange URL ${shownUrl(described.exchangeUrl)}`;
  if (problems.length) {
    return result('configuration', 'fail', [...problems, publicKey, url].filter(Boolean).join('; '), fixes.join('; '), details);
  }
  const found = `appId, appSecret and prvKey present and well-formed; ${publicKey} (compare with the key in Civic's partner portal); ${url}`;
  if (warnings.length) return result('configuration', 'warn', `${found}; ${warnings.join('; ')}`, undefined, details);
  return result('configuration', 'pass', found, undefined, details);
}

function routeCheck(options, described, target) {
  const rejectUnauthorized = !(options.proxy && typeof options.proxy === 'object'
    && 'rejectUnauthorized' in options.proxy && !options.proxy.rejectUnauthorized);
  const fromOption = Boolean(options.proxy && typeof options.proxy === 'object' && options.proxy.url);
  const where = fromOption ? 'proxy.url'
    : (target.protocol === 'https:' ? 'HTTPS_PROXY or HTTP_PROXY' : 'HTTP_PROXY');
  if (described.proxyError) {
    return result('route', 'fail', `the proxy in ${where} cannot be used: ${described.proxyError}`,
      `write the proxy as http://host:port (or https://), or unset it${fromOption ? '' : ' / add the host to NO_PROXY'}`);
  }
  const details = { proxy: described.proxy ? shownUrl(described.proxy, { origin: true }) : null, from: described.proxy ? (fromOption ? 'option' : 'environment') : null };
  let found;
  if (described.proxy) {
    found = `through the proxy ${details.proxy} (from ${where})`;
  } else if (described.noProxyBypass) {
    found = `direct: NO_PROXY covers ${target.hostname}`;
  } else if (options.proxy) {
    found = 'direct: the proxy option has no url (the environment\'s proxy variables are not read)';
  } else {
    found = 'direct: no proxy option, and no proxy variable applies';
  }
  if (!rejectUnauthorized) {
    return result('route', 'warn', `${found}; proxy.rejectUnauthorized is false: the server's certificate is not checked`, undefined, details);
  }
  return result('route', 'pass', found, undefined, details);
}

/** Opens the exchange's route: TCP to the server or the proxy, then the CONNECT tunnel for https. */
async function openRoute(plan, track) {
  const { target, proxy } = plan;
  const reached = proxy || target;
  const port = Number(reached.port) || (reached.protocol === 'https:' ? 443 : 80);
  const host = bare(reached.hostname);
  const tcp = await connectTcp(host, port, track);
  let { socket } = tcp;
  const info = { ...tcp, host, port, socket: undefined };
  if (proxy && proxy.protocol === 'https:') {
    socket = await secure(socket, { host, ca: plan.trust.certificates, rejectUnauthorized: true }, track);
  }
  if (proxy && target.protocol === 'https:') {
    const name = bare(target.hostname);
    const authority = `${net.isIPv6(name) ? `[${name}]` : name}:${Number(target.port) || 443}`;
    const start = process.hrtime.bigint();
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${proxyAuthorization(proxy)}\r\n`);
    const head = await readHead(socket);
    info.tunnel = { status: head.status, reason: head.reason, ms: elapsed(start), authority };
    if (head.status !== 200) {
      socket.destroy();
      const error = new Error(`the proxy refused the tunnel to ${authority}: ${head.status} ${head.reason}`.trim());
      error.code = 'PROXY_REFUSED';
      error.info = info;
      throw error;
    }
  }
  return { socket, info };
}

function secure(socket, { host, ca, rejectUnauthorized }, track) {
  return new Promise((resolve, reject) => {
    const secured = track(tls.connect({
      socket,
      ca,
      // `host` is the name checkServerIdentity checks (over a given socket Node has no other);
      // SNI is sent for names only, as Node's https does.
      host,
      servername: net.isIP(host) ? undefined : host,
      rejectUnauthorized,
      ALPNProtocols: ['http/1.1'],
    }));
    secured.once('secureConnect', () => resolve(secured));
    secured.once('error', reject);
  });
}

function describeConnection(info, plan) {
  const via = plan.proxy ? `the proxy ${shownUrl(plan.proxy.href, { origin: true })}: ` : '';
  const names = net.isIP(info.host) ? info.host : `${info.host} → ${info.addresses.join(', ')}`;
  let text = `${via}${names}; ${info.answered}:${info.port} answered in ${info.ms} ms`;
  if (info.tried && info.tried.length) text += ` (after ${info.tried.map((t) => `${t.address} ${t.code}`).join(', ')})`;
  if (info.tunnel) text += `; CONNECT ${info.tunnel.authority}: ${info.tunnel.status} in ${info.tunnel.ms} ms`;
  return text;
}

function connectionFailure(error, plan) {
  const reached = plan.proxy || plan.target;
  const host = bare(reached.hostname);
  const port = Number(reached.port) || (reached.protocol === 'https:' ? 443 : 80);
  const what = plan.proxy ? `the proxy ${shownUrl(plan.proxy.href, { origin: true })}` : `${host}:${port}`;
  if (error instanceof CheckTimeout) {
    return result('connection', 'fail', `no answer from ${what} within ${plan.timeout} ms`,
      'a firewall or security group drops the packets, or the server is down: allow outbound TCP to it, or route through your proxy (HTTPS_PROXY)');
  }
  if (error.code === 'PROXY_REFUSED') {
    return result('connection', 'fail', `${describeConnection(error.info, plan).split('; CONNECT')[0]}; ${error.message}`,
      `allow CONNECT to ${error.info.tunnel.authority} on the proxy (and check its credentials), or add ${bare(plan.target.hostname)} to NO_PROXY if it is reachable directly`);
  }
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    return result('connection', 'fail', `${host} does not resolve (${error.code})`,
      'check the host name in api (or the proxy), and that this machine has a DNS resolver (/etc/resolv.conf)');
  }
  const tried = error.tried ? error.tried.map((t) => `${t.address}:${port} ${t.code}`).join(', ') : error.code || error.message;
  const names = error.addresses && !net.isIP(host) ? `${host} → ${error.addresses.join(', ')}; ` : '';
  const via = plan.proxy ? `${what}: ` : '';
  return result('connection', 'fail', `${via}${names}${tried}`,
    error.code === 'ECONNREFUSED'
      ? `nothing listens at ${what}: check the port in ${plan.proxy ? 'the proxy URL' : 'api'}, or that the server is up`
      : `${what} cannot be reached: check the network path (firewall, routing)`);
}

function chainOf(socket) {
  const chain = [];
  const seen = new Set();
  let cert = socket.getPeerCertificate(true);
  while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    const name = (part) => (part ? Object.entries(part).map(([k, v]) => `${k}=${v}`).join(', ') : '');
    chain.push({
      subject: name(cert.subject), issuer: name(cert.issuer), validFrom: cert.valid_from, validTo: cert.valid_to,
      fingerprint256: cert.fingerprint256,
    });
    cert = cert.issuerCertificate;
  }
  return chain;
}

const TLS_FIXES = {
  expired: "the server's certificate is outside its validity period: if this machine's clock is right, the server must renew it (if not, set the clock: NTP)",
  untrusted: "the certificate's issuer is not among the roots trusted here: install the system's CA bundle (Debian: ca-certificates), or give the issuing CA (a TLS-inspecting proxy's own) with NODE_EXTRA_CA_CERTS or the ca option",
  name: 'the certificate is for another name: check the host in api (a TLS-inspecting proxy presents certificates of its own: trust its CA)',
  other: 'the TLS handshake failed: check that the URL is an https server (and the proxy lets TLS through)',
};

function tlsFix(code) {
  if (/EXPIRED|NOT_YET_VALID/.test(code)) return TLS_FIXES.expired;
  if (/ALTNAME|HOSTNAME/.test(code)) return TLS_FIXES.name;
  if (/ISSUER|SELF_SIGNED|UNABLE_TO_VERIFY|UNTRUSTED|CHAIN/.test(code)) return TLS_FIXES.untrusted;
  return TLS_FIXES.other;
}

async function tlsCheck(plan, opened) {
  const host = bare(plan.target.hostname);
  const trust = plan.trust;
  const store = `${trust.certificates.length} trusted roots from ${trust.sources.join(', ')}`;
  let secured;
  try {
    secured = await within(plan.timeout, 'TLS', (track) => secure(track(opened.socket), { host, ca: trust.certificates, rejectUnauthorized: false }, track));
  } catch (error) {
    const words = error instanceof CheckTimeout ? `no TLS handshake within ${plan.timeout} ms` : `${error.message}${error.code ? ` (${error.code})` : ''}`;
    return { entry: result('tls', 'fail', `${store}; ${words}`, TLS_FIXES.other, { roots: trust.certificates.length, sources: trust.sources }) };
  }
  const chain = chainOf(secured);
  const shownChain = chain.map((c) => `${c.subject} (issued by ${c.issuer}, valid until ${c.validTo})`).join(' ← ') || 'no certificate';
  const details = {
    roots: trust.certificates.length, sources: trust.sources, chain, protocol: secured.getProtocol(),
  };
  if (secured.authorized || !plan.rejectUnauthorized) {
    const verdict = secured.authorized ? 'trusted' : `not checked (proxy.rejectUnauthorized is false; Node's verdict: ${secured.authorizationError})`;
    details.verdict = secured.authorized ? 'authorized' : String(secured.authorizationError);
    return { entry: result('tls', secured.authorized ? 'pass' : 'warn', `${store}; chain: ${shownChain}; verdict: ${verdict}`, undefined, details), socket: secured };
  }
  // Node's own words for the failure: the error a verifying handshake over the same route raises.
  const code = String(secured.authorizationError);
  let words = code;
  try {
    await within(plan.timeout, 'TLS', async (track) => {
      const again = await openRoute(plan, track);
      const verified = await secure(again.socket, { host, ca: trust.certificates, rejectUnauthorized: true }, track);
      verified.destroy();
      again.socket.destroy();
    });
  } catch (error) {
    if (!(error instanceof CheckTimeout) && error.code === code) words = error.message;
  }
  details.verdict = code;
  details.message = words;
  return { entry: result('tls', 'fail', `${store}; chain: ${shownChain}; verdict: ${words} (${code})`, tlsFix(code), details), socket: secured };
}

async function clockCheck(plan, socket) {
  const { target, proxy } = plan;
  // The server's root, not the exchange path: any HTTP server dates its answer, nothing is posted,
  // and no part of the exchange URL (a query could hold a credential) is sent.
  const path = '/';
  const requestTarget = proxy && target.protocol === 'http:' ? `${target.protocol}//${target.host}${path}` : path;
  const auth = proxy && target.protocol === 'http:' ? proxyAuthorization(proxy) : '';
  const sent = Date.now();
  socket.write(`GET ${requestTarget} HTTP/1.1\r\nHost: ${target.host}\r\nUser-Agent: civic-sip-native-check\r\nAccept: */*\r\n${auth}Connection: close\r\n\r\n`);
  const head = await readHead(socket);
  const received = Date.now();
  socket.destroy();
  const date = head.headers.date;
  const serverMs = date ? Date.parse(date) : NaN;
  if (!Number.isFinite(serverMs)) {
    return result('clock', 'warn', `the server answered ${head.status} with ${date ? 'an unreadable' : 'no'} Date header: the clock cannot be compared`, undefined, { status: head.status });
  }
  // The server's Date has whole seconds: compare with the middle of the round trip, rounded to 0.1 s.
  const local = (sent + received) / 2;
  const skew = Math.round((serverMs + 500 - local) / 100) / 10;
  const drift = Math.abs(skew) < 1 ? 0 : skew;
  const words = drift === 0 ? 'agrees with the local clock (within 1 s)' : `is ${Math.abs(drift)} s ${drift > 0 ? 'ahead of' : 'behind'} the local clock`;
  const found = `the server's Date ${date} ${words}`;
  const details = { serverDate: new Date(serverMs).toISOString(), localDate: new Date(local).toISOString(), skewSeconds: drift };
  const fix = 'set this machine\'s clock right (NTP: chrony or systemd-timesyncd; in a container, the host\'s clock)';
  if (Math.abs(drift) > CLOCK_FAIL_S) return result('clock', 'fail', `${found}: response tokens are refused beyond ${CLOCK_FAIL_S} s`, fix, details);
  if (Math.abs(drift) > CLOCK_WARN_S) return result('clock', 'warn', `${found}: within the ${CLOCK_FAIL_S} s response tokens allow, but above ${CLOCK_WARN_S} s`, fix, details);
  return result('clock', 'pass', found, undefined, details);
}

function madeUpAuthCode() {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'JWT' })}.${part({ jti: crypto.randomUUID(), iss: 'civic-sip-native check', sub: 'made-up' })}.${crypto.randomBytes(64).toString('base64url')}`;
}

async function credentialsCheck(plan, newClient, options, secrets) {
  const client = newClient({ ...options, timeout: plan.timeout, retries: 0 });
  try {
    await client.exchangeCode(madeUpAuthCode());
    return result('credentials', 'fail', 'a made-up auth code was accepted: this is not Civic\'s exchange', 'check api');
  } catch (error) {
    const status = error.response && error.response.statusCode;
    const details = { status, code: error.code };
    if (status === 400) {
      return result('credentials', 'pass', 'one exchange with a made-up auth code: Civic accepted the app and refused only the code (400)', undefined, details);
    }
    if (status === 401 || status === 403) {
      return result('credentials', 'fail', `one exchange with a made-up auth code: Civic refused the app (${status})`,
        'appId, appSecret and prvKey must be the same app\'s (compare prvKey\'s public key above with the portal\'s; copy appSecret again, no stray character); env and api must be that app\'s environment (prod unless Civic gave another)', details);
    }
    return result('credentials', 'fail', `one exchange with a made-up auth code: ${scrub(error.message, secrets)}${error.code ? ` (${error.code})` : ''}`,
      status ? 'Civic answered neither 400 nor 401: see the status above' : 'the exchange failed before Civic answered: see the checks above', details);
  }
}

// ---- the whole check -------------------------------------------------------------------------

function settingsError(message) {
  const error = new TypeError(`check: ${message}`);
  error.code = 'ERR_INVALID_ARG_VALUE';
  return error;
}

/**
 * Runs the six checks with `options` as newClient takes them. Never rejects for what it finds;
 * rejects (TypeError, ERR_INVALID_ARG_VALUE) only for bad `settings`. Given by index.js its
 * normaliser and newClient, so the options are read exactly as a client reads them.
 */
async function run(options, settings, { nativeOptions, newClient, pems }) {
  const s = settings == null ? {} : settings;
  const timeout = s.timeout === undefined ? DEFAULT_TIMEOUT_MS : s.timeout;
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 2147483647) throw settingsError('timeout must be a positive number of milliseconds');
  const names = s.names || {};
  const o = options == null ? {} : options;
  const secrets = [o.appSecret, o.prvKey].filter((v) => typeof v === 'string' && v);
  const proxyText = o.proxy && typeof o.proxy === 'object' ? o.proxy.url : undefined;
  const checks = [];
  const skip = (name, why) => checks.push(result(name, 'skip', why));

  let normalised;
  let described;
  try {
    normalised = nativeOptions(o);
    described = describeOptions(normalised);
    // What construction refuses (timeout, retries, ca, a proxy URL) fails the check too; the three
    // required fields are stood in for, so a missing one is reported by name below instead.
    newClient({
      ...o, appId: o.appId || 'a', appSecret: o.appSecret || 'a', prvKey: o.prvKey || 'a',
    });
  } catch (error) {
    checks.push(result('configuration', 'fail', scrub(error.message, secrets), 'correct the option it names', { code: error.code }));
    for (const name of NAMES.slice(1)) skip(name, 'not run: the configuration is refused');
    return report(checks);
  }
  checks.push(configurationCheck(o, normalised, described, names));
  const target = new URL(described.exchangeUrl);
  checks.push(routeCheck(o, described, target));
  if (checks[1].status === 'fail') {
    for (const name of NAMES.slice(2)) skip(name, 'not run: the route cannot be decided');
    return report(checks);
  }
  if (described.proxy) {
    const proxyUrl = new URL(described.proxy);
    const password = decodeURIComponent(proxyUrl.password);
    if (password) secrets.push(password, proxyUrl.password);
  }
  if (typeof proxyText === 'string') secrets.push(proxyText);
  const ca = o.ca == null ? undefined : pems(o.ca);
  const plan = {
    target,
    proxy: described.proxy ? new URL(described.proxy) : undefined,
    timeout,
    trust: ca ? { certificates: ca, sources: ['the ca option'] } : defaultTrust(),
    rejectUnauthorized: !(o.proxy && typeof o.proxy === 'object' && 'rejectUnauthorized' in o.proxy && !o.proxy.rejectUnauthorized),
  };

  let opened;
  try {
    opened = await within(timeout, 'connection', (track) => openRoute(plan, track));
    checks.push(result('connection', 'pass', describeConnection(opened.info, plan), undefined, {
      addresses: opened.info.addresses, answered: opened.info.answered, port: opened.info.port, ms: opened.info.ms, tunnel: opened.info.tunnel,
    }));
  } catch (error) {
    checks.push(connectionFailure(error, plan));
  }

  let socket = opened && opened.socket;
  if (!opened) {
    skip('tls', 'not run: no connection');
  } else if (target.protocol !== 'https:') {
    checks.push(result('tls', isLoopback(target.hostname) ? 'pass' : 'warn', `none: the exchange URL is plain http${isLoopback(target.hostname) ? ' on this machine' : ''}`));
  } else {
    const outcome = await tlsCheck(plan, opened);
    checks.push(outcome.entry);
    socket = outcome.socket;
  }

  if (!socket) {
    if (opened) opened.socket.destroy();
    skip('clock', `not run: no ${opened ? 'TLS session' : 'connection'}`);
  } else {
    try {
      checks.push(await within(timeout, 'clock', (track) => clockCheck(plan, track(socket))));
    } catch (error) {
      checks.push(result('clock', 'fail', error instanceof CheckTimeout
        ? `the server did not answer a GET within ${timeout} ms` : `the server's answer could not be read: ${scrub(error.message, secrets)}`,
      'the server accepts connections but does not answer HTTP: check api (and the proxy)'));
    }
    if (socket) socket.destroy();
  }

  if (!s.probe) {
    skip('credentials', 'not run: add --probe (probe: true) for one exchange with a made-up auth code');
  } else if (checks.some((c) => c.status === 'fail')) {
    skip('credentials', 'not run: an earlier check failed');
  } else {
    checks.push(await credentialsCheck(plan, newClient, o, secrets));
  }
  return report(checks);
}

function report(checks) {
  const failed = checks.findIndex((c) => c.status === 'fail');
  return { ok: failed === -1, exitCode: failed === -1 ? 0 : NAMES.indexOf(checks[failed].name) + 1, checks };
}

// ---- human output ----------------------------------------------------------------------------

const LABELS = {
  pass: ['PASS', '32'], warn: ['WARN', '33'], fail: ['FAIL', '31'], skip: ['SKIP', '2'],
};

/** The report as lines for a person; `colour` adds ANSI colours to the status words. */
function format(result, { colour = false } = {}) {
  const width = Math.max(...NAMES.map((n) => n.length));
  const lines = [];
  for (const c of result.checks) {
    const [word, sgr] = LABELS[c.status];
    const label = colour ? `\u001b[${sgr}m${word}\u001b[0m` : word;
    lines.push(`${label}  ${c.name.padEnd(width)}  ${c.found}`);
    if (c.fix) lines.push(`${' '.repeat(word.length + 2 + width + 2)}fix: ${c.fix}`);
  }
  lines.push(result.ok
    ? 'every check passed'
    : `failed: ${result.checks.filter((c) => c.status === 'fail').map((c) => c.name).join(', ')} (exit code ${result.exitCode})`);
  return lines.join('\n');
}

module.exports = {
  run, format, shownUrl, scrub, NAMES, USAGE_EXIT_CODE, DEFAULT_TIMEOUT_MS,
};
