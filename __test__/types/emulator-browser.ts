// The emulator's browser-flow API as a TypeScript user writes it; compiled by
// __test__/emulator-browser.test.js (tsc -p __test__/types/tsconfig.emulator.json). Every
// expect-error directive below must meet an error, or tsc fails with TS2578.
import { newClient, type UserDataRecord } from 'civic-sip-native';
import {
  startEmulator, DEFAULT_SCOPES, DEFAULT_USER_RECORDS, type EmulatedUser, type Emulator,
} from 'civic-sip-native/emulator';

const user: EmulatedUser = {
  records: { 'contact.personal.email': 'ada@example.com', 'custom.level': { value: 'gold', isValid: false } },
  scopes: { GOLD: ['custom.level'] },
  userId: 'ada',
};

async function browserFlow(): Promise<UserDataRecord[] | null> {
  const emu: Emulator = await startEmulator({ user, origins: ['http://localhost:3000'], app: { name: 'Typed app' } });
  const script: string = emu.scriptUrl;
  const stylesheet: string = emu.stylesheetUrl;
  const name: string = emu.app.name;
  const labels: readonly string[] = DEFAULT_SCOPES.BASIC_SIGNUP;
  const email: string | undefined = DEFAULT_USER_RECORDS['contact.personal.email'];
  void [script, stylesheet, name, labels, email, newClient];
  await emu.close();
  return emu.userDataFor('GOLD');
}

// @ts-expect-error [scopes-labels] a scope lists labels, not records
const badScopes: EmulatedUser = { scopes: { GOLD: [{ label: 'x' }] } };
// @ts-expect-error [record-flag] isValid is a boolean
const badRecord: EmulatedUser = { records: { x: { value: 'y', isValid: 'yes' } } };
// @ts-expect-error [origins-type] origins is a list
startEmulator({ origins: 'http://localhost:3000' });

export { browserFlow, badScopes, badRecord };
