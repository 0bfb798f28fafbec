/** A record of Civic user data, as Civic returns it. */
export interface UserDataRecord {
  label: string;
  value: string;
  isValid: boolean;
  isOwner: boolean;
}

export interface EmulatorApp {
  appId: string;
  /** 32 hex chars (AES-128); 48 or 64 hex chars select AES-192 / AES-256. */
  appSecret: string;
  /** The app's P-256 private scalar, 64 hex chars. Undefined if only appPublicKey was given. */
  prvKey: string;
  /** Uncompressed SEC1 point, '04' + X + Y (130 hex chars). */
  appPublicKey: string;
  /** The app's name on the consent screen (default 'Demo app'). */
  name: string;
}

/** A value for a label of the emulated user, with Civic's flags (both default to true). */
export type UserRecordValue = string | { value: string; isValid?: boolean; isOwner?: boolean };

/** The emulated user of the browser flow (the shape of the CLI's --user JSON file). */
export interface EmulatedUser {
  /** Values per label, over DEFAULT_USER_RECORDS. */
  records?: Record<string, UserRecordValue>;
  /** The labels each scope request shares, over DEFAULT_SCOPES; new names add scope requests. */
  scopes?: Record<string, string[]>;
  /** The userId the exchange reports for this user (default: derived from the appId and the records). */
  userId?: string;
}

export interface EmulatorOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default: a freshly generated app. Give prvKey, or (verification only) appPublicKey. */
  app?: { appId?: string; appSecret?: string; prvKey?: string; appPublicKey?: string; name?: string };
  /** Civic's signing key, 64 hex chars. Default: a fresh P-256 key. */
  civicPrivateKey?: string;
  /** Default user data for mintAuthCode(). */
  userData?: unknown;
  /** The emulated user whose consent screen civic.sip.js shows, and what each scope shares. */
  user?: EmulatedUser;
  /**
   * Page origins allowed to open the consent screen (Civic's domain whitelist), e.g.
   * ['http://localhost:3000']. Default: any. Others get a civic-sip-error of type 'config'.
   */
  origins?: string[];
  /** Keep every request in `requests` (default true; turn off for long runs). */
  recordRequests?: boolean;
  /** Milliseconds an idle keep-alive connection is kept (Node's default: 5000). */
  keepAliveTimeout?: number;
  /**
   * Serve HTTPS with this key and certificate (PEM, as text or bytes: a Buffer is a Uint8Array), as Civic does: `url` is then `https://...`.
   * Default: plain HTTP. Clients trust the certificate's issuer as in production, e.g. through
   * `NODE_EXTRA_CA_CERTS`.
   */
  tls?: { key: string | Uint8Array; cert: string | Uint8Array };
}

export type StatusFault =
  | 'badRequest' | 'unauthorized' | 'methodNotAllowed' | 'rateLimited' | 'serverError' | 'gatewayTimeout';
export type FaultName =
  | StatusFault
  | 'processed' | 'tamperedResponse' | 'wrongKey' | 'expiredResponse' | 'notJson' | 'noData'
  | 'unencrypted' | 'badPadding' | 'badIv' | 'delay' | 'hang' | 'connectionReset';

export interface FaultOptions {
  /** Only the next `times` exchanges (default: until cleared). */
  times?: number;
  /** Status faults and notJson: the reply body text. */
  body?: string;
  /** Status faults and notJson: the reply status. */
  status?: number;
  /** Status faults and notJson: the reply content type. */
  contentType?: string;
  /** processed: status of the payload GET (answers an S3 AccessDenied XML body). */
  payloadStatus?: number;
  /** expiredResponse: how long ago the response JWT expired (default 120). */
  secondsAgo?: number;
  /** delay: milliseconds to wait before answering (default 1000). */
  ms?: number;
  /** tamperedResponse: the forged user data put in the token (default: an attacker's email). */
  userData?: unknown;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Why the emulator refused the request; absent when it was answered normally. */
  refusal?: Refusal;
}

/**
 * Which of Civic's checks of an exchange request failed, in the order Civic makes them:
 * the Authorization header's form, the request token (`request-token` when malformed or not
 * ES256, `-signature` when signed by another key than the app's), the app (`iss`/`sub`), `aud`,
 * `exp`, the token's `data.method`/`data.path`, the Civic extension (HMAC of the body keyed with
 * the appSecret), the body, then the auth code (malformed, signed by another Civic key, expired,
 * for another app, never minted by this run). `path`, `method` and `body-size` are refusals
 * before any of those.
 */
export type RefusalCheck =
  | 'authorization-header' | 'request-token' | 'request-token-signature' | 'app-id' | 'aud' | 'exp'
  | 'method-and-path' | 'civic-extension' | 'body'
  | 'auth-code' | 'auth-code-signature' | 'auth-code-expired' | 'auth-code-app' | 'auth-code-unknown'
  | 'path' | 'method' | 'body-size' | 'payload-signature';

/**
 * A request the emulator refused. The HTTP answer is Civic's own (its status and a body such as
 * `{"message":"Unauthorized"}`, which never says why); this report says why. It never holds a
 * secret (appSecret, a private key, an HMAC).
 */
export interface Refusal {
  /** The HTTP status sent: 401, 400, 404, 405, 413, or 403 for a processed payload URL fetched
   * without its pre-signed query. */
  status: number;
  check: RefusalCheck;
  /** What failed, what was expected and what was received, in words, with a hint at the usual cause. */
  message: string;
  /** The value the check wanted, where there is one to show (an appId, the aud URLs, ...). */
  expected?: unknown;
  /** The value the request carried for it. */
  received?: unknown;
  method: string;
  /** The request target as received (path and query). */
  path: string;
}

export interface ClientConfig {
  appId: string;
  appSecret: string;
  prvKey: string;
  api: string;
  civicPublicKey: string;
  [key: string]: unknown;
}

export interface Emulator {
  /** 'http://127.0.0.1:<port>/' ('https://...' with the tls option), with the trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Uncompressed SEC1 hex of Civic's signing key. */
  readonly civicPublicKey: string;
  readonly app: Readonly<EmulatorApp>;
  /** `<url>js/civic.sip.js`: the browser script, for the partner page's <script src>. */
  readonly scriptUrl: string;
  /** `<url>css/civic-modal.css`: the modal's stylesheet. */
  readonly stylesheetUrl: string;
  /**
   * `<url>emulator/auth-code`: POST (no body, or JSON `{ scope?, userData?, expiresIn? }`) answers
   * `{ "authCode": "..." }`, an auth code as if the emulated user had allowed (default scope
   * BASIC_SIGNUP). For scripts and tests without a browser; refused (403) for pages of other origins.
   */
  readonly mintUrl: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  readonly faults: readonly FaultName[];
  clientConfig<T extends object = {}>(overrides?: T): ClientConfig & T;
  /** The records the emulated user shares for a scope request; null for an unknown scope. */
  userDataFor(scope: string): UserDataRecord[] | null;
  /** An auth code as Civic's browser flow hands it over; reusable until it expires. */
  mintAuthCode(userData?: unknown, options?: { userId?: string; expiresIn?: number }): string;
  fault(name: FaultName | null, options?: FaultOptions): Emulator;
  /** Called with each request the emulator refuses, saying which check failed. */
  on(event: 'refusal', listener: (refusal: Refusal) => void): Emulator;
  off(event: 'refusal', listener: (refusal: Refusal) => void): Emulator;
  close(): Promise<void>;
}

/** Credentials the CLI's `--credentials <file>` saves: an app's and the emulator's Civic key (64 hex each). */
export interface EmulatorCredentials {
  appId: string;
  /** 32 hex characters. */
  appSecret: string;
  prvKey: string;
  civicPrivateKey: string;
}
/** Fresh random credentials, for `startEmulator({ app: { appId, appSecret, prvKey }, civicPrivateKey })`. */
export function newCredentials(): EmulatorCredentials;

export function startEmulator(options?: EmulatorOptions): Promise<Emulator>;
export const DEFAULT_USER_DATA: readonly UserDataRecord[];
/** The emulated user's value per label. */
export const DEFAULT_USER_RECORDS: Readonly<Record<string, string>>;
/** The labels each scope request shares: BASIC_SIGNUP, ANONYMOUS_LOGIN, PROOF_OF_EMAIL, PROOF_OF_IDENTITY, PROOF_OF_RESIDENCE, PROOF_OF_AGE. */
export const DEFAULT_SCOPES: Readonly<Record<string, readonly string[]>>;
export const FAULTS: readonly FaultName[];
/** JSON.stringify with object keys sorted at every level (json-stable-stringify semantics). */
export function stableStringify(value: unknown): string | undefined;
