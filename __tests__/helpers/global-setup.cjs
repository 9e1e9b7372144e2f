// Runs once before the tests: the integration tests need Debian's docker-registry, skopeo, htpasswd and
// openssl. On a fresh machine `npm test` installs what is missing with apt-get when it can (root), as
// .ci/run and the demo do, and otherwise stops with one clear message instead of hundreds of failures.
const { execFileSync, spawnSync } = require('node:child_process');

const NEEDED = [
  ['docker-registry', 'docker-registry'],
  ['skopeo', 'skopeo'],
  ['htpasswd', 'apache2-utils'],
  ['openssl', 'openssl'],
];

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

module.exports = async function globalSetup() {
  const missing = NEEDED.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && has('apt-get')) {
    process.stdout.write(`\nInstalling ${missing.join(', ')} with apt-get for the integration tests…\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], { stdio: 'inherit', env });
    const still = NEEDED.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
    if (still.length === 0) return;
    missing.splice(0, missing.length, ...still);
  }
  throw new Error(`the integration tests need ${missing.join(', ')}: install them with "sudo apt-get install ${missing.join(' ')}" (Debian/Ubuntu), then run npm test again`);
};
