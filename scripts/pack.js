'use strict';

// Packs what would be published: the root package, with optionalDependencies on the platform
// packages (as `napi pre-publish` adds them), and one platform package with its addon: this
// machine's (the addon built here), or another's from npm/<platform>/ (`npm run build:platforms`).
// `node scripts/pack.js [destination [platform]]` prints the tarballs' paths.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ensureBuilt, platformSuffix } = require('./build');

const root = path.resolve(__dirname, '..');

function npmPack(dir, destination) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', destination], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  return path.join(destination, JSON.parse(out.toString())[0].filename);
}

function packAll(destination = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-pack-')), suffix = platformSuffix()) {
  const addon = suffix === platformSuffix()
    ? ensureBuilt({ quiet: true })
    : path.join(root, 'npm', suffix, `civic-sip-native.${suffix}.node`);
  if (!fs.existsSync(addon)) throw new Error(`${addon} is missing: run npm run build:platforms`);
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

  const stageRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-stage-'));
  for (const file of manifest.files) {
    fs.mkdirSync(path.dirname(path.join(stageRoot, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(stageRoot, file));
  }
  const published = { ...manifest };
  delete published.devDependencies;
  delete published.overrides;
  delete published.scripts;
  published.optionalDependencies = Object.fromEntries(fs.readdirSync(path.join(root, 'npm'))
    .map((dir) => [`${manifest.name}-${dir}`, manifest.version]));
  fs.writeFileSync(path.join(stageRoot, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);

  const stagePlatform = fs.mkdtempSync(path.join(os.tmpdir(), 'civic-sip-native-stage-'));
  fs.copyFileSync(path.join(root, 'npm', suffix, 'package.json'), path.join(stagePlatform, 'package.json'));
  fs.copyFileSync(addon, path.join(stagePlatform, `civic-sip-native.${suffix}.node`));

  const tarballs = { root: npmPack(stageRoot, destination), platform: npmPack(stagePlatform, destination) };
  fs.rmSync(stageRoot, { recursive: true, force: true });
  fs.rmSync(stagePlatform, { recursive: true, force: true });
  return tarballs;
}

module.exports = { packAll };

if (require.main === module) {
  const destination = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  if (destination) fs.mkdirSync(destination, { recursive: true });
  console.log(JSON.stringify(packAll(destination, process.argv[3]), null, 2));
}
