'use strict';

// The README, the changelog and docs/ link to each other and into the repository: every relative link must name
// a file that exists and, with a #fragment, a heading of that file (GitHub's anchor rules). docs/emulator.md's
// tables name every option, member and fault emulator/index.d.ts declares, and no other.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const {
  declaredMembers, declaredUnion, declaredExports,
} = require('./helpers/declarations');

const root = path.resolve(__dirname, '..');
const documents = ['README.md', 'CHANGELOG.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

// GitHub's heading anchors: lower case, punctuation other than '-' and '_' dropped, spaces to '-'.
function anchors(markdown) {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...withoutCode.matchAll(/^#{1,6} +(.+)$/gm)].map(([, title]) =>
    title.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')));
}

function links(markdown) {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target).filter((t) => !/^[a-z]+:/i.test(t));
}

test('every relative link of the README and docs/ resolves to a file and a heading', () => {
  let checked = 0;
  for (const doc of documents) {
    const text = fs.readFileSync(path.join(root, doc), 'utf8');
    for (const target of links(text)) {
      const [file, fragment] = target.split('#');
      const resolved = file ? path.resolve(root, path.dirname(doc), file) : path.join(root, doc);
      assert.ok(resolved.startsWith(root + path.sep), `${doc}: ${target} leaves the repository`);
      assert.ok(fs.existsSync(resolved), `${doc}: ${target} names a missing file`);
      if (fragment) {
        assert.ok(resolved.endsWith('.md'), `${doc}: ${target} has a fragment on a non-Markdown file`);
        assert.ok(anchors(fs.readFileSync(resolved, 'utf8')).has(fragment), `${doc}: ${target} names a missing heading`);
      }
      checked += 1;
    }
  }
  assert.ok(checked >= 10, `only ${checked} links checked: the link pattern no longer matches`);
});

test('the README keeps the order a user reads it in', () => {
  const headings = [...fs.readFileSync(path.join(root, 'README.md'), 'utf8').replace(/^```[\s\S]*?^```/gm, '').matchAll(/^## +(.+)$/gm)].map(([, h]) => h);
  const order = ['Install', 'Usage', 'Migrating', 'API', 'Configuration', 'Errors', 'Working on it', 'License'];
  const positions = order.map((h) => headings.indexOf(h));
  assert.ok(positions.every((p) => p >= 0), `missing sections: ${order.filter((h, i) => positions[i] < 0)}`);
  assert.deepEqual([...positions].sort((a, b) => a - b), positions, `sections out of order: ${headings.join(', ')}`);
});

/** The names in backquotes (`name`, `name(...)`) of one column of the first table under `## heading`. */
function tableNames(markdown, heading, column) {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  assert.ok(start >= 0, `no section ${heading}`);
  let i = lines.findIndex((line, n) => n > start && line.startsWith('|'));
  const names = [];
  for (i += 2; lines[i] && lines[i].startsWith('|'); i += 1) {
    const cell = lines[i].split(' | ')[column].replace(/^\| /, '');
    names.push(...[...cell.matchAll(/`([A-Za-z_$][\w$]*)/g)].map((m) => m[1]));
  }
  return [...new Set(names)].sort();
}

test('docs/emulator.md names every option, member, fault and export of emulator/index.d.ts, and no other', () => {
  const doc = fs.readFileSync(path.join(root, 'docs', 'emulator.md'), 'utf8');
  const file = 'emulator/index.d.ts';
  const sorted = (list) => [...list].sort();
  assert.deepEqual(tableNames(doc, 'Options', 0), sorted(declaredMembers('EmulatorOptions', file)));
  assert.deepEqual(tableNames(doc, 'The emulator', 0), sorted(declaredMembers('Emulator', file)));
  assert.deepEqual(tableNames(doc, 'Faults', 0), sorted(declaredUnion('FaultName', file).values));
  // The faults' options: in the third column, and `times`, which every fault takes.
  assert.match(doc, /^Every fault takes `times`/m);
  assert.deepEqual(sorted([...tableNames(doc, 'Faults', 2), 'times']), sorted(declaredMembers('FaultOptions', file)));
  for (const name of declaredExports(file)) assert.ok(doc.includes(`\`${name}`), `docs/emulator.md does not name ${name}`);
});
