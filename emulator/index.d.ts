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
}

export interface EmulatorOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default: a freshly generated app. Give prvKey, or (verification only) appPublicKey. */
  app?: { appId?: string; appSecret?: string; prvKey?: string; appPublicKey?: string };
  /** Civic's signing key, 64 hex chars. Default: a fresh P-256 key. */
  civicPrivateKey?: string;
  /** Default user data for mintAuthCode(). */
  userData?: unknown;
  /** Keep every request in `requests` (default true; turn off for long runs). */
  recordRequests?: boolean;
  /** Milliseconds an idle keep-alive connection is kept (Node's default: 5000). */
  keepAliveTimeout?: number;
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
  /** 'http://127.0.0.1:<port>/', with the trailing slash. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Uncompressed SEC1 hex of Civic's signing key. */
  readonly civicPublicKey: string;
  readonly app: Readonly<EmulatorApp>;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  readonly faults: readonly FaultName[];
  clientConfig<T extends object = {}>(overrides?: T): ClientConfig & T;
  /** An auth code as Civic's browser flow hands it over; reusable until it expires. */
  mintAuthCode(userData?: unknown, options?: { userId?: string; expiresIn?: number }): string;
  fault(name: FaultName | null, options?: FaultOptions): Emulator;
  close(): Promise<void>;
}

export function startEmulator(options?: EmulatorOptions): Promise<Emulator>;
export const DEFAULT_USER_DATA: readonly UserDataRecord[];
export const FAULTS: readonly FaultName[];
/** JSON.stringify with object keys sorted at every level (json-stable-stringify semantics). */
export function stableStringify(value: unknown): string | undefined;
