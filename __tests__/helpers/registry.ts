/**
 * Start a real CNCF Distribution 2.8 registry (Debian `docker-registry`) for integration tests.
 *
 *   const registry = await startRegistry({ mode: 'token' });
 *   // registry.url, registry.host, registry.username/password, registry.caFile, registry.tokenServer
 *   await registry.stop();
 *
 * Each registry gets a fresh temp dir (config, log, htpasswd, storage) and a free port on 127.0.0.1.
 * The process runs under a small `sh` watchdog holding a pipe from this process: if the jest worker dies
 * (even by SIGKILL) the pipe closes and the watchdog terminates the registry. An exit hook kills it too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { testTlsMaterial } from './certs.js';
import { run } from './exec.js';
import { atExit, copyWritable, removeDir, tmpDir } from './tmp.js';
import { startTokenServer, type RunningTokenServer, type TokenServerOptions } from './token-server.js';

export type { RunningTokenServer } from './token-server.js';

export type RegistryMode = 'plain' | 'htpasswd' | 'tls' | 'token';

export interface RegistryOptions {
  /** default 'plain' */
  mode?: RegistryMode;
  /** a Distribution root dir (contains docker/registry/v2) to COPY and serve */
  storage?: string;
  /** htpasswd mode: use this bcrypt file instead of a generated user (give username/password to report them) */
  htpasswdFile?: string;
  /** htpasswd/token user, default 'tester' */
  username?: string;
  /** htpasswd/token password, default random */
  password?: string;
  /** http.relativeurls: upload Locations relative (`/v2/…`); default false */
  relativeUrls?: boolean;
  /** storage.delete.enabled; default true */
  deleteEnabled?: boolean;
  /** serve HTTPS (implied by mode 'tls'; combinable with htpasswd/token, the token server then uses HTTPS too) */
  tls?: boolean;
  /** with TLS: require client certificates signed by the test CA (mutual TLS; see TlsMaterial.clientCertFile) */
  clientCerts?: boolean;
  /** token mode: options for the token server (signing 'x5c' | 'kid', extra users, grant policy, lifetime) */
  tokenServer?: Omit<TokenServerOptions, 'tls' | 'service' | 'issuer'>;
  /** write the registry's access log (one line per request) to logFile; default false */
  accessLog?: boolean;
  /** registry log level; default warn */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

export interface RunningRegistry {
  /** '127.0.0.1:PORT' */
  host: string;
  /** http(s)://127.0.0.1:PORT */
  url: string;
  mode: RegistryMode;
  tls: boolean;
  /** PEM file of the generated CA, when TLS */
  caFile?: string;
  username?: string;
  password?: string;
  /** the Distribution storage root (storage.filesystem.rootdirectory) */
  rootDir: string;
  tokenServer?: RunningTokenServer;
  logFile: string;
  configFile: string;
  /** current content of logFile */
  readLog(): string;
  stop(): Promise<void>;
}

const REGISTRY_BIN = process.env.LADING_TEST_REGISTRY_BIN ?? '/usr/bin/docker-registry';
const READY_TIMEOUT_MS = 15_000;
const POLL_MS = 50;
const BIND_ATTEMPTS = 5;
export const BASIC_REALM = 'test-basic';

/**
 * Watchdog: start the registry, write its pid, and kill it when our stdin (a pipe from the test process)
 * reaches EOF. fd 3 keeps that stdin for the background reader (async lists get /dev/null as stdin).
 */
const WATCHDOG = `
exec 3<&0
"$0" serve "$1" </dev/null &
pid=$!
echo "$pid" > "$2"
( cat <&3 >/dev/null; kill -TERM "$pid" 2>/dev/null ) &
wait "$pid"
`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function yamlString(value: string): string {
  return JSON.stringify(value); // a JSON string is a valid YAML double-quoted scalar
}

interface ConfigInput {
  port: number;
  rootDir: string;
  deleteEnabled: boolean;
  relativeUrls: boolean;
  accessLog: boolean;
  logLevel: string;
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  htpasswdPath?: string;
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
}

function registryConfig(c: ConfigInput): string {
  const lines = [
    'version: 0.1',
    'log:',
    `  level: ${c.logLevel}`,
    '  formatter: text',
    '  accesslog:',
    `    disabled: ${!c.accessLog}`,
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${yamlString(c.rootDir)}`,
    '  delete:',
    `    enabled: ${c.deleteEnabled}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${c.port}`,
    `  secret: ${yamlString(randomBytes(24).toString('hex'))}`,
    `  relativeurls: ${c.relativeUrls}`,
    '  debug:',
    '    addr: ""',
  ];
  if (c.tls) {
    lines.push('  tls:', `    certificate: ${yamlString(c.tls.certFile)}`, `    key: ${yamlString(c.tls.keyFile)}`);
    if (c.tls.clientCaFile) lines.push('    clientcas:', `      - ${yamlString(c.tls.clientCaFile)}`);
  }
  lines.push('health:', '  storagedriver:', '    enabled: false');
  if (c.htpasswdPath) {
    lines.push('auth:', '  htpasswd:', `    realm: ${BASIC_REALM}`, `    path: ${yamlString(c.htpasswdPath)}`);
  } else if (c.token) {
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${yamlString(c.token.realm)}`,
      `    service: ${yamlString(c.token.service)}`,
      `    issuer: ${yamlString(c.token.issuer)}`,
      `    rootcertbundle: ${yamlString(c.token.rootCertBundle)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** One GET /v2/ without verifying TLS; resolves to the status code or undefined when nothing answers. */
function probe(url: string, client?: { cert: string; key: string }): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(`${url}/v2/`, { method: 'GET', agent: false, rejectUnauthorized: false, timeout: 1000, ...(client ?? {}) }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolve true when `promise` settles within `ms`, false on timeout; the timer never outlives the wait. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

interface Spawned {
  child: ChildProcess;
  /** the registry's own pid (child is the watchdog shell) */
  registryPid(): number | undefined;
  exited: Promise<void>;
  hasExited(): boolean;
}

function spawnRegistry(configFile: string, pidFile: string, logFile: string): Spawned {
  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', ['-c', WATCHDOG, REGISTRY_BIN, configFile, pidFile], { stdio: ['pipe', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  child.unref();
  child.stdin?.on('error', () => undefined);
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  let pid: number | undefined;
  return {
    child,
    registryPid() {
      if (pid === undefined && existsSync(pidFile)) {
        const parsed = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
        if (Number.isInteger(parsed) && parsed > 0) pid = parsed;
      }
      return pid;
    },
    exited: exitedPromise,
    hasExited: () => exited,
  };
}

async function terminate(spawned: Spawned): Promise<void> {
  if (!spawned.hasExited()) {
    killQuietly(spawned.registryPid(), 'SIGTERM');
    if (!(await settlesWithin(spawned.exited, 2000))) {
      killQuietly(spawned.registryPid(), 'SIGKILL');
      killQuietly(spawned.child.pid, 'SIGKILL');
      await settlesWithin(spawned.exited, 1000);
    }
  }
  spawned.child.stdin?.destroy();
}

export async function startRegistry(options: RegistryOptions = {}): Promise<RunningRegistry> {
  const mode = options.mode ?? 'plain';
  const useTls = options.tls ?? mode === 'tls';
  const workDir = tmpDir('lading-registry-');
  const rootDir = join(workDir, 'storage');
  const configFile = join(workDir, 'config.yml');
  const logFile = join(workDir, 'registry.log');
  const pidFile = join(workDir, 'registry.pid');
  let tokenServer: RunningTokenServer | undefined;
  let spawned: Spawned | undefined;
  let unregisterExit: (() => void) | undefined;

  const cleanup = async (): Promise<void> => {
    unregisterExit?.();
    if (spawned) await terminate(spawned);
    await tokenServer?.stop();
    removeDir(workDir);
  };

  try {
    if (options.storage) copyWritable(options.storage, rootDir);
    const tlsMaterial = useTls ? await testTlsMaterial() : undefined;

    let username: string | undefined;
    let password: string | undefined;
    let htpasswdPath: string | undefined;
    if (mode === 'htpasswd' || mode === 'token') {
      username = options.username ?? (options.htpasswdFile ? undefined : 'tester');
      password = options.password ?? (options.htpasswdFile ? undefined : randomBytes(12).toString('base64url'));
    }
    if (mode === 'htpasswd') {
      if (options.htpasswdFile) {
        htpasswdPath = options.htpasswdFile;
      } else {
        htpasswdPath = join(workDir, 'htpasswd');
        const { stdout } = await run('htpasswd', ['-Bbn', username!, password!]);
        writeFileSync(htpasswdPath, stdout.trim() + '\n');
      }
    }
    if (mode === 'token') {
      const users = { ...(options.tokenServer?.users ?? {}) };
      if (username !== undefined && password !== undefined) users[username] = password;
      tokenServer = await startTokenServer({
        ...options.tokenServer,
        users,
        tls: tlsMaterial ? { cert: tlsMaterial.certPem, key: tlsMaterial.keyPem } : undefined,
      });
    }

    let lastError = '';
    for (let attempt = 1; attempt <= BIND_ATTEMPTS; attempt++) {
      const port = await freePort();
      writeFileSync(
        configFile,
        registryConfig({
          port,
          rootDir,
          deleteEnabled: options.deleteEnabled ?? true,
          relativeUrls: options.relativeUrls ?? false,
          accessLog: options.accessLog ?? false,
          logLevel: options.logLevel ?? 'warn',
          tls: tlsMaterial ? { certFile: tlsMaterial.certFile, keyFile: tlsMaterial.keyFile, clientCaFile: options.clientCerts ? tlsMaterial.caFile : undefined } : undefined,
          htpasswdPath,
          token: tokenServer
            ? { realm: tokenServer.realm, service: tokenServer.service, issuer: tokenServer.issuer, rootCertBundle: tokenServer.certFile }
            : undefined,
        }),
      );
      writeFileSync(logFile, `--- attempt ${attempt}, port ${port}\n`, { flag: 'a' });
      rmSync(pidFile, { force: true });
      const current = spawnRegistry(configFile, pidFile, logFile);
      spawned = current;
      unregisterExit?.();
      unregisterExit = atExit(() => {
        killQuietly(current.registryPid(), 'SIGKILL');
        killQuietly(current.child.pid, 'SIGKILL');
      });

      const url = `${useTls ? 'https' : 'http'}://127.0.0.1:${port}`;
      const deadline = Date.now() + READY_TIMEOUT_MS;
      let ready = false;
      while (Date.now() < deadline) {
        const status = await probe(url, options.clientCerts && tlsMaterial ? { cert: readFileSync(tlsMaterial.clientCertFile, 'utf8'), key: readFileSync(tlsMaterial.clientKeyFile, 'utf8') } : undefined);
        if (status === 200 || status === 401) {
          ready = true;
          break;
        }
        if (current.hasExited()) break;
        await sleep(POLL_MS);
      }
      if (ready) {
        const registry: RunningRegistry = {
          host: `127.0.0.1:${port}`,
          url,
          mode,
          tls: useTls,
          caFile: tlsMaterial?.caFile,
          username,
          password,
          rootDir,
          tokenServer,
          logFile,
          configFile,
          readLog: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
          stop: (() => {
            let stopping: Promise<void> | undefined;
            return () => (stopping ??= cleanup());
          })(),
        };
        return registry;
      }
      await terminate(current);
      const log = readFileSync(logFile, 'utf8');
      if (current.hasExited() && /address already in use/i.test(log)) {
        lastError = `port ${port} in use`;
        continue;
      }
      throw new Error(
        current.hasExited()
          ? `registry exited before answering GET /v2/ (config ${configFile}); log:\n${log}`
          : `registry did not answer GET /v2/ within ${READY_TIMEOUT_MS} ms; log:\n${log}`,
      );
    }
    throw new Error(`registry could not bind a port after ${BIND_ATTEMPTS} attempts (${lastError}); log:\n${readFileSync(logFile, 'utf8')}`);
  } catch (error) {
    await cleanup();
    throw error;
  }
}
