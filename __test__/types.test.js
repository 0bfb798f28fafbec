'use strict';

// The TypeScript declarations, checked the way a user meets them: __test__/types/usage.ts (CommonJS)
// and usage.mts (ESM) import `civic-sip-native` by name (resolved through the package's own
// `exports`) and must compile under `strict` with no output at all. Then each `@ts-expect-error`
// line is removed in a copy, to prove the check can fail: tsc must report the expected error, at
// the expected line, naming the offending option.
//
// Run: node --test __test__/types.test.js

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const root = path.resolve(__dirname, '..');
const typesDir = path.join(__dirname, 'types');
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
const OPTS = { timeout: 25000 };

function runTsc(args) {
  return new Promise((resolve) => {
    execFile(tsc, args, { cwd: root, timeout: 20000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** `file(line,col): error TSxxxx: message` records, continuation lines folded into the message. */
function parseDiagnostics(output) {
  const diagnostics = [];
  for (const line of output.split('\n')) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line);
    if (m) {
      diagnostics.push({ file: path.resolve(root, m[1]), line: Number(m[2]), column: Number(m[3]), code: m[4], message: m[5] });
    } else if (line.trim() && diagnostics.length) {
      diagnostics[diagnostics.length - 1].message += `\n${line.trim()}`;
    }
  }
  return diagnostics;
}

// tag -> what tsc must say once that tag's `@ts-expect-error` line is gone.
// `names`: the option (or value) the error is about: quoted in the message, or the token tsc points at.
const EXPECTED = {
  'missing-appId': { code: 'TS2345', names: 'appId', message: /Property 'appId' is missing in type '\{ appSecret: string; prvKey: string; \}' but required in type 'ClientConfig'/ },
  'missing-appId-annotated': { code: 'TS2741', names: 'appId', message: /^Property 'appId' is missing in type '\{ appSecret: string; prvKey: string; \}' but required in type 'ClientConfig'\.$/ },
  appID: { code: 'TS2561', names: 'appID', message: /^Object literal may only specify known properties, but 'appID' does not exist in type 'ClientConfig'\. Did you mean to write 'appId'\?$/ },
  includeStageInUrl: { code: 'TS2561', names: 'includeStageInUrl', message: /but 'includeStageInUrl' does not exist in type 'ClientConfig'\. Did you mean to write 'includeStageInURL'\?$/ },
  'timeout-type': { code: 'TS2322', names: 'timeout', message: /^Type 'string' is not assignable to type 'number'\.$/ },
  'includeStageInURL-type': { code: 'TS2322', names: 'includeStageInURL', message: /^Type 'string' is not assignable to type 'boolean \| undefined'\.$/ },
  rejectUnauthorised: { code: 'TS2561', names: 'rejectUnauthorised', message: /does not exist in type 'ProxyConfig'\. Did you mean to write 'rejectUnauthorized'\?$/ },
  'proxy-type': { code: 'TS2559', names: 'proxy', message: /^Type 'string' has no properties in common with type 'ProxyConfig'\.$/ },
  'auth-code-number': { code: 'TS2345', names: '42', message: /^Argument of type 'number' is not assignable to parameter of type 'string'\.$/ },
  'auth-code-missing': { code: 'TS2554', names: 'exchangeCode', message: /^Expected 1-3 arguments, but got 0\.$/ },
  'callback-type': { code: 'TS2769', names: 'userData', message: /^No overload matches this call\.[\s\S]*Types of parameters 'userData' and 'userData' are incompatible/ },
  'record-value-type': { code: 'TS2322', names: 'notNumber', message: /^Type 'string' is not assignable to type 'number'\.$/ },
  'codes-readonly': { code: 'TS2540', names: 'CONFIG', message: /^Cannot assign to 'CONFIG' because it is a read-only property\.$/ },
  'unknown-code': { code: 'TS2322', names: 'notACode', message: /^Type '"ERR_CIVIC_SOMETHING"' is not assignable to type 'ErrorCode'\.$/ },
  'retries-type': { code: 'TS2322', names: 'retries', message: /^Type 'boolean' is not assignable to type 'number'\.$/ },
  'signal-type': { code: 'TS2322', names: 'signal', message: /^Type 'string' is not assignable to type 'AbortSignalLike'\.$/ },
  'verify-userData': { code: 'TS2769', names: 'CivicStrategy', message: /^No overload matches this call\./ },
  'strategy-config': { code: 'TS2769', names: '{ authCodeField', message: /^No overload matches this call\./ },
  'refusal-check': { code: 'TS2322', names: 'notACheck', message: /^Type '"hmac"' is not assignable to type 'RefusalCheck'\.$/ },
  'status-type': { code: 'TS2322', names: 'statusCode', message: /^Type 'string' is not assignable to type 'number'\.$/ },
  'esm-missing-prvKey': { code: 'TS2345', names: 'prvKey', message: /Property 'prvKey' is missing in type '\{ appId: string; appSecret: string; \}' but required in type 'ClientConfig'/ },
  'check-status': { code: 'TS2322', names: 'bad', message: /^Type '"error"' is not assignable to type '"pass" \| "warn" \| "fail" \| "skip"'\.$/ },
  'esm-env-type': { code: 'TS2322', names: 'env', message: /^Type 'number' is not assignable to type 'string'\.$/ },
};

/** Every tagged `@ts-expect-error` in the usage files: { tag, file, index (0-based line) }. */
function expectErrorLines() {
  const found = [];
  for (const file of ['usage.ts', 'usage.mts']) {
    const lines = fs.readFileSync(path.join(typesDir, file), 'utf8').split('\n');
    lines.forEach((text, index) => {
      if (!/^\s*\/\/ @ts-expect-error/.test(text)) return;
      const m = /^\/\/ @ts-expect-error \[([\w-]+)\] \S/.exec(text.trim());
      assert.ok(m, `${file}:${index + 1}: every @ts-expect-error needs a [tag] and a reason: ${text}`);
      found.push({ tag: m[1], file, index, lines });
    });
  }
  return found;
}

test('the usage files compile under strict with no output', OPTS, async () => {
  const { code, stdout, stderr } = await runTsc(['-p', '__test__/types', '--noEmit', '--pretty', 'false']);
  assert.equal(`${stdout}${stderr}`, '');
  assert.equal(code, 0);
});

test('every @ts-expect-error is needed: removing one gives the expected error', OPTS, async (t) => {
  const cases = expectErrorLines();
  assert.deepEqual(cases.map((c) => c.tag).sort(), Object.keys(EXPECTED).sort());

  // The copies live next to the real tsconfig (inside the package) so that `civic-sip-native`
  // still resolves by self-reference; the directory is removed afterwards.
  const dir = path.join(typesDir, `.tmp-${crypto.randomBytes(6).toString('hex')}`);
  fs.mkdirSync(dir);
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files = [];
  for (const c of cases) {
    const name = `${c.tag}${path.extname(c.file)}`;
    fs.writeFileSync(path.join(dir, name), c.lines.filter((_, i) => i !== c.index).join('\n'));
    c.copy = path.join(dir, name);
    files.push(name);
  }
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', files }, null, 2));

  const { code, stdout, stderr } = await runTsc(['-p', path.relative(root, dir), '--noEmit', '--pretty', 'false']);
  assert.notEqual(code, 0);
  assert.equal(stderr, '');
  const diagnostics = parseDiagnostics(stdout);
  assert.equal(diagnostics.length, cases.length, stdout);

  for (const c of cases) {
    const expected = EXPECTED[c.tag];
    const mine = diagnostics.filter((d) => d.file === c.copy);
    assert.equal(mine.length, 1, `${c.tag}: ${stdout}`);
    const [d] = mine;
    // The statement that followed the directive moved up onto the directive's line.
    assert.equal(d.line, c.index + 1, `${c.tag}: ${d.message}`);
    assert.equal(d.code, expected.code, `${c.tag}: ${d.message}`);
    assert.match(d.message, expected.message, c.tag);
    const statement = c.lines[c.index + 1];
    const pointedAt = statement.slice(d.column - 1);
    assert.ok(
      d.message.includes(`'${expected.names}'`) || pointedAt.startsWith(expected.names),
      `${c.tag}: the error should name ${expected.names}: ${d.message} (at "${pointedAt}")`,
    );
  }
});
