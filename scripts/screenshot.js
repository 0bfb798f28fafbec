'use strict';

// docs/sign-in.png, retaken from what `npm run example` shows: the example app as that command
// starts it (scripts/example.js, the default emulated user; free ports instead of 3000 and 8080),
// in headless Chromium (Debian's chromium through playwright-core, as __test__/e2e.test.js),
// after a click on "Sign in with Civic", with the emulator's consent screen open.
//
//   node scripts/screenshot.js [out.png]     default docs/sign-in.png

const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'docs', 'sign-in.png'));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function startExample() {
  const child = spawn(process.execPath, [path.join(__dirname, 'example.js')], {
    cwd: root,
    env: { ...process.env, PORT: '0', EMULATOR_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // its own process group: the example's server is stopped with it
  });
  let output = '';
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`npm run example exited with ${code}:\n${output}`)));
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const m = /Listening on (http:\/\/\S+)/.exec(output);
      if (m) resolve({ url: m[1], stop: () => process.kill(-child.pid, 'SIGTERM') });
    });
  });
}

async function main() {
  const example = await startExample();
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
    await page.goto(example.url);
    await page.getByRole('button', { name: 'Sign in with Civic' }).click();
    await page.frameLocator('iframe.civic-iframe').locator('#allow').waitFor();
    await page.screenshot({ path: out });
    console.log(`${path.relative(root, out)}: the consent screen over ${example.url}`);
  } finally {
    await browser.close();
    example.stop();
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
