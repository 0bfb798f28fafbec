// civic-sip-native as a TypeScript user writes it (CommonJS output: the package has no "type").
// Type-checked only (tsc --noEmit, strict), never run. Every `@ts-expect-error` line carries a
// [tag] that __test__/types.test.js uses to remove it and check that tsc then reports the error.

import { newClient, sip, codes, byLabel, check } from 'civic-sip-native';
import type {
  AbortSignalLike,
  CheckReport,
  Client,
  ClientConfig,
  CivicSipError,
  ErrorCode,
  ExchangeOptions,
  PayloadResponse,
  ProxyConfig,
  UserData,
  UserDataRecord,
  CivicLabel,
} from 'civic-sip-native';
import { Strategy as CivicStrategy } from 'civic-sip-native/passport';
import civicSipCjs = require('civic-sip-native');
import { startEmulator, RefusalCheck } from 'civic-sip-native/emulator';

const appId = 'HyhaWO1SG';
const appSecret = '44bbae32d1e02bf481074177002bbdef';
const prvKey = 'bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721';

// ---- construction, as in Civic's docs
const client = newClient({ appId, appSecret, prvKey });
const viaClass: sip = new sip({ appId, appSecret, prvKey });
const asClient: Client = viaClass;
const viaRequire: Client = civicSipCjs.newClient({ appId, appSecret, prvKey });

// ---- every option
const proxy: ProxyConfig = { url: 'http://proxy.internal:3128', rejectUnauthorized: false };
const config: ClientConfig = {
  appId,
  appSecret,
  prvKey,
  env: 'dev',
  api: 'https://api.civic.com/sip/',
  includeStageInURL: false,
  proxy,
  civicPublicKey: '049a45998638cfb3c4b211d72030d9ae8329a242db63bfb0076a54e7647370a8ac5708b57af6065805d5a6be72332620932dbb35e8d318fce18e7c980a0eb26aa1',
  timeout: 10_000,
  maxResponseBytes: 1024 * 1024,
  ca: ['-----BEGIN CERTIFICATE-----\n...', new Uint8Array([45, 45])],
  retries: 2,
};
const configured = new sip(config);
new sip({ appId, appSecret, prvKey, ca: '-----BEGIN CERTIFICATE-----\n...' });

// ---- an exchange the caller can abort
// (No DOM or @types/node here: any AbortSignal fits AbortSignalLike.)
async function abortable(authCode: string, signal: AbortSignalLike): Promise<string> {
  try {
    const { userId } = await client.exchangeCode(authCode, { signal });
    return userId;
  } catch (error) {
    const err = error as CivicSipError;
    if (err.code === codes.ABORTED) return `aborted: ${String(err.cause)}`;
    if (err.code === 'ERR_CIVIC_RESPONSE_TOO_LARGE') return 'too large';
    throw err;
  }
}
const options: ExchangeOptions = {};
client.exchangeCode('auth-code', options, (error, userData) => { void [error, userData]; });
new sip({ appId, appSecret, prvKey, proxy: {} });
new sip({ appId, appSecret, prvKey, proxy: { url: 'http://127.0.0.1:8080' } });

// ---- the promise form
async function login(authCode: string): Promise<string | undefined> {
  const userData: UserData = await client.exchangeCode(authCode);
  const records: UserDataRecord[] = userData.data;
  const userId: string = userData.userId;
  const email = records.find((r) => r.label === 'contact.personal.email');
  if (email === undefined) return undefined;
  const label: string = email.label;
  const value: string = email.value;
  const isValid: boolean = email.isValid;
  const isOwner: boolean = email.isOwner;
  return isValid && isOwner ? `${userId}:${label}=${value}` : undefined;
}

// ---- the callback form
const returned: void = configured.exchangeCode('auth-code', (error: CivicSipError | null, userData?: UserData) => {
  if (error) {
    const code: ErrorCode = error.code;
    const status: number | undefined = error.response?.statusCode;
    const body: string | undefined = error.response?.body;
    const message: string = error.message;
    void [code, status, body, message];
    return;
  }
  if (userData) {
    const first: UserDataRecord | undefined = userData.data[0];
    void first;
  }
});
// Parameter types are inferred from the overload.
asClient.exchangeCode('auth-code', (error, userData) => {
  const e: CivicSipError | null = error;
  const u: UserData | undefined = userData;
  void [e, u];
});

// ---- errors: narrowing an unknown catch
function isCivicSipError(err: unknown): err is CivicSipError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

function describe(code: ErrorCode): string {
  switch (code) {
    case 'ERR_CIVIC_CONFIG': return 'configuration';
    case 'ERR_CIVIC_HTTP_STATUS': return 'http status';
    case 'ERR_CIVIC_NETWORK': return 'network';
    case 'ERR_CIVIC_TIMEOUT': return 'timeout';
    case 'ERR_CIVIC_INVALID_RESPONSE': return 'invalid response';
    case 'ERR_CIVIC_VERIFICATION': return 'verification';
    case 'ERR_CIVIC_DECRYPTION': return 'decryption';
    case 'ERR_INVALID_ARG_TYPE': return 'invalid argument';
    case 'ERR_CIVIC_INTERNAL': return 'internal';
    case 'ERR_CIVIC_RESPONSE_TOO_LARGE': return 'too large';
    case 'ABORT_ERR': return 'aborted';
    default: {
      // Exhaustive: every code is handled above.
      const unreachable: never = code;
      return unreachable;
    }
  }
}

async function safeLogin(authCode: string): Promise<string> {
  try {
    const { data, userId } = await viaRequire.exchangeCode(authCode);
    return `${userId}: ${data.length} records`;
  } catch (err: unknown) {
    if (!isCivicSipError(err)) throw err;
    if (err.code === codes.HTTP_STATUS) {
      const status: number | undefined = err.response?.statusCode;
      return `Civic answered ${status ?? '?'}: ${err.response?.body ?? ''}`;
    }
    if (err.code === codes.TIMEOUT || err.code === codes.NETWORK) return 'try again later';
    return describe(err.code);
  }
}

// ---- codes
const httpStatus: 'ERR_CIVIC_HTTP_STATUS' = codes.HTTP_STATUS;
const anyCode: ErrorCode = codes.DECRYPTION;
const allCodes: ErrorCode[] = [
  codes.CONFIG, codes.HTTP_STATUS, codes.NETWORK, codes.TIMEOUT, codes.INVALID_RESPONSE,
  codes.VERIFICATION, codes.DECRYPTION, codes.INVALID_ARGUMENT, codes.INTERNAL,
  codes.RESPONSE_TOO_LARGE, codes.ABORTED,
];

// ---- processPayload
const response: PayloadResponse = { statusCode: 200, body: '{"data":"...","userId":"u"}' };
async function readReply(): Promise<UserData> {
  const result = client.processPayload(response);
  const parsed = client.processPayload({ statusCode: 200, body: { data: 'x', processed: true } });
  const missing = client.processPayload({ statusCode: 404 });
  void [parsed, missing];
  // Synchronous for a plain reply, a promise for a processed one.
  return result instanceof Promise ? result : Promise.resolve(result);
}
// Bound methods, as civic-sip-api's plain object had.
const { exchangeCode, processPayload } = client;
const pending: Promise<UserData> = exchangeCode('auth-code');
void processPayload;

// ---- Civic's labels and the lookup
function email(userData: UserData): string | undefined {
  const found = byLabel(userData)['contact.personal.email'];
  return found && found.isValid ? found.value : undefined;
}
const anyLabel: CivicLabel = 'some.label.newer.than.these.types';
const fromArray: UserDataRecord | undefined = byLabel([] as UserDataRecord[])['documents.genericId.dateOfBirth'];

// ---- the Passport strategy
const strategy = new CivicStrategy({ appId, appSecret, prvKey, authCodeField: 'code' }, (userData, done) => {
  done(null, { id: userData.userId, email: email(userData) });
});
const withRequest = new CivicStrategy({ client, passReqToCallback: true }, (req, userData, done) => {
  void req;
  done(null, false, { message: `no account for ${userData.userId}` });
});
const strategyName: string = strategy.name;

// ---- the emulator's types
async function withEmulator(): Promise<UserData> {
  const emu = await startEmulator({ userData: [{ label: 'x', value: 'y', isValid: true, isOwner: false }] });
  emu.on('refusal', (refusal) => {
    const why: string = `${refusal.status} ${refusal.check}: ${refusal.message}`;
    void why;
  });
  const mintUrl: string = emu.mintUrl;
  void mintUrl;
  try {
    return await newClient(emu.clientConfig({ timeout: 5000 })).exchangeCode(emu.mintAuthCode());
  } finally {
    await emu.close();
  }
}

// ---- compile errors a user must get
// @ts-expect-error [missing-appId] appId is required
newClient({ appSecret, prvKey });
// @ts-expect-error [missing-appId-annotated] appId is required in a ClientConfig
const noAppId: ClientConfig = { appSecret, prvKey };
// @ts-expect-error [appID] a misspelt option
newClient({ appID: appId, appSecret, prvKey });
// @ts-expect-error [includeStageInUrl] a misspelt option
newClient({ appId, appSecret, prvKey, includeStageInUrl: false });
// @ts-expect-error [timeout-type] timeout is a number of milliseconds
newClient({ appId, appSecret, prvKey, timeout: '5000' });
// @ts-expect-error [includeStageInURL-type] includeStageInURL is a boolean
newClient({ appId, appSecret, prvKey, includeStageInURL: 'false' });
// @ts-expect-error [rejectUnauthorised] a misspelt proxy option
newClient({ appId, appSecret, prvKey, proxy: { url: 'http://proxy:3128', rejectUnauthorised: false } });
// @ts-expect-error [proxy-type] proxy is an object, not a URL string
newClient({ appId, appSecret, prvKey, proxy: 'http://proxy:3128' });
// @ts-expect-error [retries-type] retries is a number
newClient({ appId, appSecret, prvKey, retries: true });
// @ts-expect-error [signal-type] signal is an AbortSignal
const badOptions: ExchangeOptions = { signal: 'abort' };
// @ts-expect-error [auth-code-number] the auth code is a string
client.exchangeCode(42);
// @ts-expect-error [auth-code-missing] the auth code is required
client.exchangeCode();
// @ts-expect-error [callback-type] the callback's userData is UserData, not a string
client.exchangeCode('auth-code', (error: CivicSipError | null, userData?: string) => { void [error, userData]; });
// @ts-expect-error [record-value-type] a record's value is a string
const notNumber: number = ({} as UserDataRecord).value;
// @ts-expect-error [codes-readonly] codes cannot be reassigned
codes.CONFIG = 'ERR_SOMETHING_ELSE';
// @ts-expect-error [unknown-code] not one of the codes
const notACode: ErrorCode = 'ERR_CIVIC_SOMETHING';
// @ts-expect-error [verify-userData] the verify callback gets UserData, not a string
new CivicStrategy({ appId, appSecret, prvKey }, (userData: string, done) => { done(null, userData); });
// @ts-expect-error [strategy-config] the strategy needs the client's configuration or a client
new CivicStrategy({ authCodeField: 'code' }, (userData: UserData, done: (error: unknown, user?: unknown) => void) => { done(null, userData); });
// @ts-expect-error [refusal-check] not one of the emulator's checks
const notACheck: RefusalCheck = 'hmac';
// @ts-expect-error [status-type] processPayload wants a numeric statusCode
client.processPayload({ statusCode: '200', body: '' });

// The deployment check, as a health endpoint would call it.
async function healthy(config: ClientConfig): Promise<boolean> {
  const report: CheckReport = await check(config, { probe: false, timeout: 2000 });
  const tls = report.checks.find((c) => c.name === 'tls');
  // @ts-expect-error [check-status] a status the check never gives
  const bad: typeof report.checks[number]['status'] = 'error';
  return report.ok && report.exitCode === 0 && tls?.status !== 'fail' && bad !== undefined;
}

export {
  login, safeLogin, abortable, badOptions, readReply, withEmulator, returned, httpStatus, anyCode, allCodes, noAppId, notNumber, notACode, notACheck, anyLabel, fromArray, withRequest, strategyName, healthy,
};
