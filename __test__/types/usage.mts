// civic-sip-native from an ES module written in TypeScript (module NodeNext): default and named
// imports, top-level await. Type-checked only (tsc --noEmit, strict), never run.

import civicSip, { newClient, sip, codes } from 'civic-sip-native';
import type { CivicSipError, ErrorCode, UserData, UserDataRecord } from 'civic-sip-native';
import { startEmulator, DEFAULT_USER_DATA } from 'civic-sip-native/emulator';
import type { Emulator } from 'civic-sip-native/emulator';

const emu: Emulator = await startEmulator();

// The default export is the module object: newClient, sip and codes.
const viaDefault: sip = civicSip.newClient(emu.clientConfig());
const viaClass = new civicSip.sip({ appId: emu.app.appId, appSecret: emu.app.appSecret, prvKey: emu.app.prvKey });
const viaNamed = newClient({ ...emu.clientConfig(), timeout: 5000, includeStageInURL: true });
const sameCodes: typeof codes = civicSip.codes;

const userData: UserData = await viaNamed.exchangeCode(emu.mintAuthCode());
const emails: string[] = userData.data
  .filter((r: UserDataRecord) => r.label === 'contact.personal.email' && r.isValid)
  .map((r) => r.value);
const defaults: readonly UserDataRecord[] = DEFAULT_USER_DATA;

let failure: ErrorCode | undefined;
try {
  await viaClass.exchangeCode('not-a-code');
} catch (err: unknown) {
  if (err instanceof Error && 'code' in err) {
    const civicError = err as CivicSipError;
    failure = civicError.code === civicSip.codes.HTTP_STATUS ? civicError.code : undefined;
    const status: number | undefined = civicError.response?.statusCode;
    void status;
  }
}
await emu.close();

// @ts-expect-error [esm-missing-prvKey] prvKey is required
civicSip.newClient({ appId: 'a', appSecret: 'b' });
// @ts-expect-error [esm-env-type] env is a string
new sip({ appId: 'a', appSecret: 'b', prvKey: 'c', env: 1 });

export { viaDefault, sameCodes, emails, defaults, failure };
