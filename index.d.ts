// Types for civic-sip-native: civic-sip-api's API, typed.

/** Proxy settings, as civic-sip-api took them. */
export interface ProxyConfig {
  /**
   * Proxy URL for every call (the exchange and the processed payload fetch), e.g. `http://proxy:3128`,
   * `https://user:password@proxy:3128` or `proxy:3128` (plain HTTP). Any other scheme, or a lone
   * host without a port, rejects the exchange with `ERR_CIVIC_CONFIG` (`Error: Invalid protocol: htp:`)
   * before any request: it is never skipped.
   */
  url?: string
  /** `false` accepts any server certificate (civic-sip-api's option). Default `true`. */
  rejectUnauthorized?: boolean
}

/** Client configuration: civic-sip-api's options plus `civicPublicKey` and `timeout`. */
export interface ClientConfig {
  /** The application ID from Civic's integration portal. */
  appId: string
  /**
   * The application secret: 32 hex characters (48 or 64 for AES-192/256), either case, nothing
   * else (civic-sip-api's CryptoJS reads any other text as another key). Keys the request HMAC
   * (as text) and decrypts the user data (hex-decoded).
   */
  appSecret: string
  /**
   * The application's private signing key: the P-256 scalar in hex, as civic-sip-api reads it:
   * either case, any leading zeros (`'00'` + 64 digits, or a key printed without its leading
   * zeros), whitespace and separators anywhere (a trailing newline, OpenSSL's `00:bf:5e:...`).
   * A `0x` prefix, other letters, a minus sign, zero or a value not below the curve's order
   * reject the exchange with `ERR_CIVIC_CONFIG`.
   */
  prvKey: string
  /** The stage in the URL. Default `'prod'`. */
  env?: string
  /**
   * Base URL of Civic's SIP API. Default `'https://api.civic.com/sip/'`; a missing trailing `/` is
   * added. Not http(s): `ERR_CIVIC_CONFIG`. A redirect of the exchange is never followed.
   */
  api?: string
  /** Whether the stage (`env`) is part of the URL. Default `true`. */
  includeStageInURL?: boolean
  /**
   * A proxy for all calls. Without it, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (and their lower-case
   * forms) apply as they did for civic-sip-api; one that applies but is not an http(s) URL rejects
   * with `ERR_CIVIC_CONFIG`.
   */
  proxy?: ProxyConfig
  /**
   * Civic's public key that response tokens must be signed with, as hex SEC1 (compressed or
   * uncompressed; either case; surrounding whitespace ignored). Default: Civic's production key.
   * Set it for a staging server or the emulator.
   *
   * A list of keys is for rotation: a response token verifies if it verifies under any of them,
   * so the new key can be added before Civic switches and the old one removed after, with no
   * deploy at the moment of the switch. An empty list, or an entry that is not a P-256 public key,
   * rejects every exchange with `ERR_CIVIC_CONFIG` naming the entry (`civicPublicKey[1]`).
   */
  civicPublicKey?: string | readonly string[]
  /**
   * Milliseconds for the whole exchange, the payload fetch included (retries too). Default
   * `30000`. More than Node's longest timer (2147483647 ms), `Infinity` included, counts as that;
   * `0`, `-0`, negative numbers and `NaN` throw `ERR_CIVIC_CONFIG` at construction.
   */
  timeout?: number
  /**
   * Largest response body read, in bytes, for the exchange reply and the processed payload alike;
   * a longer one is refused while it streams in (`ERR_CIVIC_RESPONSE_TOO_LARGE`). Default 16 MiB.
   * A positive whole number; `Infinity` means no limit. `0`, `-0`, fractions and `NaN` throw
   * `ERR_CIVIC_CONFIG` at construction.
   */
  maxResponseBytes?: number
  /**
   * Certificates (PEM) to trust instead of the ones Node's own `https` trusts by default (its
   * bundled roots, `NODE_EXTRA_CA_CERTS`, the system or OpenSSL store where Node is told to use
   * it, `tls.setDefaultCACertificates()`), as Node's `ca` takes them: for a server with a private
   * CA, or a self-signed server certificate itself (CA:TRUE or not). Not PEM certificates:
   * `ERR_CIVIC_CONFIG`.
   */
  ca?: string | Uint8Array | Array<string | Uint8Array>
  /**
   * Further attempts after a 429, 503 or 504 reply or a connection that could not be made, with
   * exponential backoff and jitter (or the server's `Retry-After`), within `timeout`. A whole
   * number from 0 to 10 (`-0` is 0; `Infinity` throws `ERR_CIVIC_CONFIG`); default `0` (one
   * attempt, as civic-sip-api).
   */
  retries?: number
}

/** What the `signal` option needs of an `AbortSignal` (Node's and the DOM's both fit). */
export interface AbortSignalLike {
  readonly aborted: boolean
  readonly reason?: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

/** Options of one exchange. */
export interface ExchangeOptions {
  /**
   * Aborts the exchange: it rejects with an `AbortError` (`code` `'ABORT_ERR'`, `cause` the
   * signal's reason) and its connection is closed. Any number of exchanges may share a signal:
   * it gets one listener from this package, removed when the last of them settles.
   */
  signal?: AbortSignalLike
}

/**
 * The labels of user data Civic documents (its SIP docs and scope requests): contact details,
 * the generic ID document's fields and the verification level.
 */
export type KnownCivicLabel =
  | 'contact.personal.email'
  | 'contact.personal.phoneNumber'
  | 'contact.personal.address'
  | 'documents.genericId.type'
  | 'documents.genericId.number'
  | 'documents.genericId.name'
  | 'documents.genericId.dateOfBirth'
  | 'documents.genericId.dateOfIssue'
  | 'documents.genericId.dateOfExpiry'
  | 'documents.genericId.image'
  | 'documents.genericId.image_md5'
  | 'documents.genericId.country'
  | 'verifications.levels.CIVIC:IAL1'

/**
 * A label of user data: one of Civic's documented labels, or any other string (Civic may send
 * labels newer than these types; editors still offer the known ones).
 */
export type CivicLabel = KnownCivicLabel | (string & {})

/** One verified item of user data. */
export interface UserDataRecord {
  /** What the item is, e.g. `'contact.personal.email'`, `'contact.personal.phoneNumber'`. */
  label: CivicLabel
  /** The value, e.g. `'user@example.com'`. */
  value: string
  /** Civic has validated the value. */
  isValid: boolean
  /** The user owns it (e.g. controls the email address). */
  isOwner: boolean
}

/** What an exchange resolves with. */
export interface UserData {
  /** The decrypted user data: the records the scope request asked for. */
  data: UserDataRecord[]
  /**
   * Civic's stable identifier of the user for this application. `undefined` where Civic's reply
   * has none (civic-sip-api's result has the key then too); typed as a string, as Civic sends it.
   */
  userId: string
}

/** The records of some user data by label: `byLabel(userData)['contact.personal.email']?.value`. */
export type RecordsByLabel = { readonly [L in KnownCivicLabel]?: UserDataRecord } & { readonly [label: string]: UserDataRecord | undefined }

/**
 * The records of `userData` (an exchange's result, or its `data` array) by label, for lookups
 * such as `byLabel(userData)['contact.personal.email']`. Leaves `userData` as it is (it stays the
 * plain object civic-sip-api gave); the result is a new object without a prototype, so a label
 * such as `'constructor'` finds nothing that is not in the data. Check `isValid` (and `isOwner`)
 * before trusting a value.
 *
 * @throws {TypeError} `ERR_INVALID_ARG_VALUE` when the data is not an array of records with
 *   string labels, or names a label twice (which record to trust would be a guess).
 */
export declare function byLabel(userData: UserData | readonly UserDataRecord[]): RecordsByLabel

/** Every `error.code` this package gives, by name: one per kind of failure. */
export declare const codes: {
  /**
   * A required option is missing (thrown by the constructor), or key material, `api`, `proxy`,
   * `ca` or a proxy environment variable cannot be used (rejected, before any request).
   */
  readonly CONFIG: 'ERR_CIVIC_CONFIG'
  /** Civic (or the payload URL) answered with an HTTP status other than 200; see `response`. */
  readonly HTTP_STATUS: 'ERR_CIVIC_HTTP_STATUS'
  /** The connection failed: refused, reset, cut short, DNS, not HTTP, TLS, proxy; in Node's words. */
  readonly NETWORK: 'ERR_CIVIC_NETWORK'
  /** The exchange took longer than `timeout`. */
  readonly TIMEOUT: 'ERR_CIVIC_TIMEOUT'
  /** Civic's reply was not JSON or had no `data`. */
  readonly INVALID_RESPONSE: 'ERR_CIVIC_INVALID_RESPONSE'
  /**
   * The response token is forged, malformed, signed by another key or expired; `reason` says
   * which (see {@link VerificationReason}).
   */
  readonly VERIFICATION: 'ERR_CIVIC_VERIFICATION'
  /** The user data could not be decrypted (wrong `appSecret`, corrupted data) or is not JSON. */
  readonly DECRYPTION: 'ERR_CIVIC_DECRYPTION'
  /**
   * A `TypeError`: `exchangeCode` was called with an auth code that is not a well-formed string,
   * or with a `signal` that is not an AbortSignal (rejections); an option is of the wrong type or
   * holds a lone surrogate (thrown by the constructor).
   */
  readonly INVALID_ARGUMENT: 'ERR_INVALID_ARG_TYPE'
  /**
   * A bug in this package (please report it), or the system's random source failed (the request
   * token needs it): nothing the caller or Civic can mend, and never retried.
   */
  readonly INTERNAL: 'ERR_CIVIC_INTERNAL'
  /** The reply or the processed payload is longer than `maxResponseBytes`. */
  readonly RESPONSE_TOO_LARGE: 'ERR_CIVIC_RESPONSE_TOO_LARGE'
  /** The exchange was aborted by its `signal` (the error's `name` is `'AbortError'`). */
  readonly ABORTED: 'ABORT_ERR'
}

/** An `error.code` this package gives: one of the values of {@link codes}. */
export type ErrorCode = typeof codes[keyof typeof codes]

/**
 * Civic's answer, for `ERR_CIVIC_HTTP_STATUS`: where HTTP clients (got, request) keep it, not on
 * the error itself, so Express's and Koa's error handlers answer the browser with 500, not with
 * Civic's status (a top-level `statusCode` or `status` would become the app's own).
 */
export interface CivicHttpResponse {
  /** The HTTP status Civic (or the payload URL) answered with; absent when a `processPayload`
   * caller gave a status that is not one (`'200'`, `70000`). */
  statusCode?: number
  /** The response body text (for `processPayload`, the given body as civic-sip-api printed it). */
  body: string
}

/**
 * Why a response token was refused (`ERR_CIVIC_VERIFICATION`, from the exchange reply or the
 * processed payload alike); civic-sip-api's message is the same for all of them.
 * - `'signature'`: valid under none of the `civicPublicKey` keys: a wrong or missing
 *   `civicPublicKey` (the emulator or a staging server), or a forged or tampered token.
 * - `'expired'`: its `exp` passed more than 60 s ago (see `expiredAt`); check this machine's clock.
 * - `'not-yet-valid'`: its `nbf` or `iat` lies more than 60 s ahead (see `notBefore`).
 * - `'missing-exp'`: it has no `exp` (civic-sip-api accepted such a token forever).
 * - `'algorithm'`: its header's `alg` is not `ES256` (`none` and HMAC included).
 * - `'malformed'`: not a JWT of three base64url JSON segments, a time claim that is not a
 *   number, or a reply whose `data` is not a string.
 */
export type VerificationReason = 'signature' | 'expired' | 'not-yet-valid' | 'missing-exp' | 'algorithm' | 'malformed'

/** The errors this package throws and rejects with: civic-sip-api's messages, plus a `code`. */
export interface CivicSipError extends Error {
  code: ErrorCode
  /** Civic's status and body, for `ERR_CIVIC_HTTP_STATUS`; absent otherwise. */
  response?: CivicHttpResponse
  /** Why the response token was refused, for `ERR_CIVIC_VERIFICATION`; absent otherwise. */
  reason?: VerificationReason
  /** The token's `exp` as a Date, for reason `'expired'` (as jsonwebtoken's `TokenExpiredError`). */
  expiredAt?: Date
  /** The token's `nbf` (or `iat`) as a Date, for reason `'not-yet-valid'`. */
  notBefore?: Date
}

/** A response as civic-sip-api's `processPayload` took it. */
export interface PayloadResponse {
  statusCode: number
  /** The body text, or the already-parsed body. */
  body?: string | object | null
}

/** A Civic SIP client. Holds its own configuration and connection pool; secrets stay in native memory. */
export declare class sip {
  /**
   * @throws {CivicSipError} `ERR_CIVIC_CONFIG` when `appId`, `appSecret` or `prvKey` is missing,
   * with civic-sip-api's messages (`Please supply your application ID.` ...), or for a bad
   * `timeout`, `maxResponseBytes` or `retries`. Malformed keys do not throw here; the exchange
   * rejects.
   * @throws {TypeError} `ERR_INVALID_ARG_TYPE` when `appId`, `env`, `api`, `proxy.url` or a `ca`
   * entry holds a lone surrogate (it cannot reach the request unchanged).
   */
  constructor(config: ClientConfig)
  /**
   * Exchanges the auth code (the JWT `civic.sip.js` handed the browser) for the user's verified data.
   * Rejects with a {@link CivicSipError} whose message starts `Error exchanging code for data: `;
   * an auth code that is not a string, or holds a lone surrogate, with `ERR_INVALID_ARG_TYPE`
   * before anything is sent. With `NODE_DEBUG=civic-sip-native`, each step (request, status and
   * size, payload fetch, verification and its reason, decryption, retry waits, settle) is printed
   * on stderr with its time when the exchange settles; never a secret, the auth code, a token or
   * user data.
   */
  exchangeCode(authCode: string, options?: ExchangeOptions): Promise<UserData>
  /** Node-style callback form, as in Civic's docs. */
  exchangeCode(authCode: string, callback: (error: CivicSipError | null, userData?: UserData) => void): void
  exchangeCode(authCode: string, options: ExchangeOptions, callback: (error: CivicSipError | null, userData?: UserData) => void): void
  /**
   * civic-sip-api's `processPayload`: reads a reply of Civic's exchange endpoint. Returns the
   * user data, or a Promise of it when the reply points at a processed payload URL.
   * @throws {CivicSipError} with civic-sip-api's messages (`400 x`, `Invalid response body ...`).
   */
  processPayload(response: PayloadResponse): UserData | Promise<UserData>
}

/** A client as civic-sip-api's `newClient` made it. */
export type Client = sip

/** civic-sip-api's factory: the same as `new sip(config)`. */
export declare function newClient(config: ClientConfig): sip

/** The checks `check` runs, in order; a failed one's place (1-6) is the report's `exitCode`. */
export type CheckName = 'configuration' | 'route' | 'connection' | 'tls' | 'clock' | 'credentials'

/**
 * One check's outcome. `'warn'` passes with a note (a clock 30-60 s off, certificate checks
 * turned off); `'skip'` did not run (`credentials` without `probe`, or an earlier check failed).
 */
export interface CheckResult {
  name: CheckName
  status: 'pass' | 'warn' | 'fail' | 'skip'
  /** What was found, one line; never a secret (URLs without userinfo or query, proxies as scheme://host:port). */
  found: string
  /** What to change, on a failure (and some warnings). */
  fix?: string
  /**
   * The same for machines, per check: configuration `{ fields, publicKey, publicKeyCompressed,
   * exchangeUrl }`; route `{ proxy, from }`; connection `{ addresses, answered, port, ms, tunnel }`;
   * tls `{ roots, sources, chain: [{ subject, issuer, validFrom, validTo, fingerprint256 }],
   * protocol, verdict, message }`; clock `{ serverDate, localDate, skewSeconds }`; credentials
   * `{ status, code }`.
   */
  details?: Record<string, unknown>
}

export interface CheckReport {
  /** Every check passed (warnings and skips allowed). */
  ok: boolean
  /** 0 when `ok`, else the place (1-6) of the first check that failed, as the CLI exits. */
  exitCode: number
  checks: CheckResult[]
}

export interface CheckSettings {
  /**
   * Also make one exchange with a made-up auth code (default false: it calls Civic's exchange
   * endpoint). Civic answers 400 when it accepted the app and refused only the code, 401 when it
   * refused the app.
   */
  probe?: boolean
  /** Each check's time limit in milliseconds (default 5000); a check that reaches it fails. */
  timeout?: number
  /**
   * Where each field was read, for the report to name it (`{ appSecret: 'variable APP_SECRET' }`);
   * the CLI fills it in. Never the values.
   */
  names?: Partial<Record<'appId' | 'appSecret' | 'prvKey' | 'env' | 'api' | 'proxy', string>>
}

/**
 * Checks a deployment with the options a client would be made with, in order: the
 * configuration (each required field present and of an accepted form; prvKey's public key, to
 * compare with Civic's partner portal; the exchange URL), the route (direct or which proxy, from
 * `proxy` or the proxy variables with `NO_PROXY` applied, as an exchange decides it), name
 * resolution and connection (through the proxy, CONNECT for https), TLS (the trust store in
 * effect: `ca`, else Node's default roots; the server's chain; Node's verdict), the clock (the
 * server's `Date`: a warning above 30 s of skew, a failure above 60 s) and, with `probe`, the
 * credentials. The same checks as `npx civic-sip-native check`. Nothing it reports holds
 * appSecret, prvKey, a proxy password or a URL's query.
 *
 * Resolves with the report whatever it finds (a failure is in `checks`, never a rejection).
 * @throws {TypeError} `ERR_INVALID_ARG_VALUE` (as a rejection) for a `timeout` that is not a
 *   positive number of milliseconds.
 */
export declare function check(options: ClientConfig, settings?: CheckSettings): Promise<CheckReport>
