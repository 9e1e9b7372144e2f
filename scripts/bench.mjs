#!/usr/bin/env node
// npm run bench [-- --runs N] [--quick] [--only push,pull,copy,artifacts,memory,startup,floor] [--json FILE]
//
// Times lading (node dist/cli/index.js) against skopeo on the same work, against fresh local CNCF Distribution
// registries (Debian's docker-registry) that this script starts on 127.0.0.1 and stops again (issue 6,
// "Benchmark"). Runs alternate (lading, skopeo, lading, skopeo …); every run is checked (exit code 0 and the
// destination digest equal to the source digest) before its time counts. Prints Markdown tables on stdout,
// progress on stderr. Not part of `npm test`. No dependencies beyond Node, skopeo, docker-registry, /usr/bin/time.
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import net from 'node:net';
import { cpus, totalmem, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const MiB = 1024 * 1024;
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const cli = join(root, 'dist', 'cli', 'index.js');

// ---------------------------------------------------------------- options
const SECTIONS = ['floor', 'push', 'pull', 'copy', 'artifacts', 'memory', 'startup'];
const opts = { runs: 3, quick: false, only: SECTIONS, startupRuns: 20, json: undefined, tmp: tmpdir(), keep: false, waitIdle: 0 };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    if (name === '--runs') opts.runs = positive(value(), '--runs');
    else if (name === '--startup-runs') opts.startupRuns = positive(value(), '--startup-runs');
    else if (name === '--quick') opts.quick = true;
    else if (name === '--only') {
      opts.only = value().split(',').map((s) => s.trim()).filter(Boolean);
      for (const s of opts.only) if (!SECTIONS.includes(s)) usage(`unknown section "${s}" (one of ${SECTIONS.join(', ')})`);
    } else if (name === '--json') opts.json = value();
    else if (name === '--tmp') opts.tmp = value();
    else if (name === '--keep') opts.keep = true;
    else if (name === '--wait-idle') opts.waitIdle = positive(value(), '--wait-idle');
    else if (name === '-h' || name === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
}
function positive(v, flag) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) usage(`${flag} needs a positive integer`);
  return n;
}
function usage(err) {
  const text = `Usage: npm run bench -- [--runs N] [--quick] [--only SECTION,…] [--startup-runs N] [--json FILE] [--tmp DIR] [--keep] [--wait-idle S]

  --runs N          timed runs per tool and case (default 3), alternating lading/skopeo
  --quick           smaller sizes: 8 × 8 MiB layers, a 128 MiB blob, 500 × 4 KiB files
  --only LIST       sections: ${SECTIONS.join(', ')} (default all)
  --startup-runs N  runs of "lading version" and "node -e 0" (default 20)
  --json FILE       also write every sample as JSON
  --tmp DIR         where temporary data goes (default ${tmpdir()})
  --keep            keep the temporary folder (registry logs, layouts)
  --wait-idle S     before each timed run, wait up to S seconds for the machine to be idle (other load)`;
  if (err) {
    console.error(`bench: ${err}\n\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

const size = opts.quick
  ? { layers: 8, layer: 8 * MiB, big: 128 * MiB, files: 500, file: 4 * 1024 }
  : { layers: 8, layer: 64 * MiB, big: 1024 * MiB, files: 500, file: 16 * 1024 };
const fmtSize = (n) => {
  const [v, u] = n >= 1024 * MiB ? [n / 1024 / MiB, 'GiB'] : n >= MiB ? [n / MiB, 'MiB'] : [n / 1024, 'KiB'];
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${u}`;
};

// ---------------------------------------------------------------- process bookkeeping and clean-up
const work = (() => {
  mkdirSync(opts.tmp, { recursive: true });
  return mkdtempSync(join(opts.tmp, 'lading-bench-'));
})();
const children = new Set(); // every process we started and that still runs
const registries = new Set();
let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const r of registries) {
    try {
      r.proc.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (opts.keep) console.error(`bench: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`\nbench: ${sig}, stopping registries and removing ${work}`);
    cleanup();
    process.exit(130);
  });
}
process.on('exit', cleanup);

const log = (line) => process.stderr.write(`${line}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * Runs a command to completion. Wall time is measured here (spawn to exit); with /usr/bin/time the child's
 * user/sys CPU and peak RSS come from it, otherwise the peak RSS is polled from /proc/PID/status (VmHWM).
 */
function run(cmd, args, { cwd = work, env = process.env, measure = true } = {}) {
  return new Promise((resolve) => {
    let file = cmd;
    let argv = args;
    let timeFile;
    if (measure && TIME) {
      timeFile = join(work, `time-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
      file = TIME;
      argv = ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args];
    }
    const t0 = performance.now();
    const p = spawn(file, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => {
      if (stdout.length < 1 << 20) stdout += d;
    });
    p.stderr.on('data', (d) => {
      if (stderr.length < 1 << 20) stderr += d;
    });
    let hwm = 0;
    let poll;
    if (measure && !TIME) {
      poll = setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
          if (m) hwm = Math.max(hwm, Number(m[1]));
        } catch {
          /* exited */
        }
      }, 10);
    }
    const done = (code, error) => {
      const wall = (performance.now() - t0) / 1000;
      if (poll) clearInterval(poll);
      children.delete(p);
      const r = { code, wall, stdout, stderr: error ? `${stderr}${error.message}` : stderr, user: null, sys: null, rssMiB: hwm ? hwm / 1024 : null };
      if (timeFile) {
        try {
          const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
          const [, user, sys, rss] = lines[lines.length - 1].split(' ').map(Number);
          Object.assign(r, { user, sys, rssMiB: rss / 1024 });
          // /usr/bin/time reports "Command exited with non-zero status N" on its first line; keep the exit code we got.
        } catch {
          /* time did not write */
        }
        rmSync(timeFile, { force: true });
      }
      resolve(r);
    };
    p.on('error', (e) => done(127, e));
    p.on('close', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

const lading = (...args) => ['node', [cli, ...args]];
const skopeo = (...args) => ['skopeo', args];
/** The minimal Node programs of scripts/bench-floor (undici, or node:http for pull): what any Node client costs here. */
const floorScript = (name, ...args) => ['node', [join(dirname(fileURLToPath(import.meta.url)), 'bench-floor', `${name}.mjs`), ...args]];
const NODE_FLOOR = 'node minimal (undici)';
const NODE_HTTP_FLOOR = 'node minimal (node:http)';

// ---------------------------------------------------------------- registries
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

let registrySeq = 0;
const REGISTRY_BIN = process.env.LADING_REGISTRY_BIN ?? '/usr/bin/docker-registry';

/** A fresh registry: empty storage, info-level JSON log (its "response completed" lines carry request durations). */
async function startRegistry(name) {
  const port = await freePort();
  const dir = join(work, `registry-${name}-${++registrySeq}`);
  mkdirSync(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  formatter: json',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: bench-${name}`,
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'registry.log');
  const fd = openSync(logFile, 'a');
  const proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const reg = { name, host: `127.0.0.1:${port}`, proc, dir, logFile, exited: false };
  proc.on('exit', () => {
    reg.exited = true;
  });
  registries.add(reg);
  for (let i = 0; i < 400; i++) {
    if (reg.exited) break;
    try {
      if ((await fetch(`http://${reg.host}/v2/`)).ok) return reg;
    } catch {
      /* not up yet */
    }
    await sleep(25);
  }
  throw new Error(`registry ${name} did not start on port ${port}: ${existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-500) : ''}`);
}

async function stopRegistry(reg) {
  if (!reg) return;
  if (!reg.exited) {
    const gone = new Promise((r) => reg.proc.once('exit', r));
    reg.proc.kill('SIGTERM');
    await Promise.race([gone, sleep(3000)]);
    if (!reg.exited) reg.proc.kill('SIGKILL');
  }
  registries.delete(reg);
  if (!opts.keep) rmSync(reg.dir, { recursive: true, force: true });
}

/** CPU seconds (user+sys, all threads) the registry process has used so far. */
function registryCpu(reg) {
  try {
    const stat = readFileSync(`/proc/${reg.proc.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14 and 15 of stat)
  } catch {
    return 0;
  }
}

/** CPU seconds the whole machine has been busy (all CPUs; idle and iowait excluded). */
function machineBusy() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = f;
    return (user + nice + system + irq + softirq + (steal || 0)) / CLK_TCK;
  } catch {
    return null;
  }
}

function loadavg() {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}

function logSize(reg) {
  try {
    return statSync(reg.logFile).size;
  } catch {
    return 0;
  }
}

/** Go duration ("1.5s", "850µs", "1m2.3s") in seconds. */
function goDuration(s) {
  let total = 0;
  const re = /([\d.]+)(ns|us|µs|μs|ms|s|m|h)/g;
  let m;
  while ((m = re.exec(s))) total += Number(m[1]) * { ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }[m[2]];
  return total;
}

/** Requests the registry answered since byte `from` of its log: count, summed handler time, and the busy span. */
function registryRequests(reg, from) {
  const out = { requests: 0, handlerSeconds: 0, byMethod: {} };
  let text = '';
  try {
    const buf = readFileSync(reg.logFile);
    text = buf.subarray(from).toString('utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"msg":"response completed')) continue; // also "response completed with error" (4xx)
    try {
      const j = JSON.parse(line);
      const d = goDuration(String(j['http.response.duration'] ?? '0s'));
      const m = j['http.request.method'];
      out.requests++;
      out.handlerSeconds += d;
      const b = (out.byMethod[m] ??= { n: 0, seconds: 0 });
      b.n++;
      b.seconds += d;
    } catch {
      /* not JSON */
    }
  }
  return out;
}

// ---------------------------------------------------------------- data
function writeRandomFile(path, bytes) {
  const fd = openSync(path, 'w');
  const h = createHash('sha256');
  const chunk = Buffer.allocUnsafe(Math.min(bytes, 4 * MiB));
  for (let left = bytes; left > 0; ) {
    const n = Math.min(left, chunk.length);
    randomFillSync(chunk, 0, n);
    h.update(chunk.subarray(0, n));
    writeSync(fd, chunk, 0, n);
    left -= n;
  }
  closeSync(fd);
  return `sha256:${h.digest('hex')}`;
}

function sha256Bytes(b) {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function sha256File(path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path, { highWaterMark: 4 * MiB })
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(`sha256:${h.digest('hex')}`));
  });
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

/** An OCI image layout with `count` random (incompressible) layers of `bytes` each, tagged `tag`. */
function buildLayout(dir, tag, count, bytes) {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const layers = [];
  for (let i = 0; i < count; i++) {
    const tmp = join(blobs, `.layer-${i}`);
    const digest = writeRandomFile(tmp, bytes);
    const path = join(blobs, digest.slice(7));
    rmSync(path, { force: true });
    spawnSync('mv', [tmp, path]);
    layers.push({ mediaType: OCI_LAYER, digest, size: bytes, path });
  }
  const putJson = (obj) => {
    const b = Buffer.from(JSON.stringify(obj));
    const digest = sha256Bytes(b);
    writeFileSync(join(blobs, digest.slice(7)), b);
    return { digest, size: b.length, path: join(blobs, digest.slice(7)) };
  };
  const config = putJson({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } });
  const manifestObj = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
    layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
  };
  const manifest = putJson(manifestObj);
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, digest: manifest.digest, size: manifest.size, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { dir, tag, manifest, config, layers, blobs: [config, ...layers], totalBytes: count * bytes };
}

// ---------------------------------------------------------------- checks (none of them timed)
async function head(url, accept) {
  const res = await fetch(url, { method: 'HEAD', headers: accept ? { accept } : {} });
  return res;
}

/** The registry holds REPO:TAG as exactly the source manifest, and every blob of it at its size. */
async function checkRegistryImage(host, repo, tag, image) {
  const res = await head(`http://${host}/v2/${repo}/manifests/${tag}`, OCI_MANIFEST);
  if (res.status !== 200) throw new Error(`${host}/${repo}:${tag}: manifest HEAD answered ${res.status}`);
  const got = res.headers.get('docker-content-digest');
  if (got !== image.manifest.digest) throw new Error(`${host}/${repo}:${tag} is ${got}, the source is ${image.manifest.digest}`);
  for (const b of image.blobs) {
    const r = await head(`http://${host}/v2/${repo}/blobs/${b.digest}`);
    if (r.status !== 200 || Number(r.headers.get('content-length')) !== b.size) throw new Error(`${host}/${repo}: blob ${b.digest} missing or of the wrong size (${r.status})`);
  }
}

/** The layout at DIR tags TAG as the source manifest, and every blob in it hashes to its digest. */
/** The bare blob files of scripts/bench-floor/node-pull.mjs: every layer there, hashing to its digest. */
async function checkBlobFiles(dir, image) {
  for (const l of image.layers) {
    const p = join(dir, l.digest.slice(7));
    const got = existsSync(p) ? await sha256File(p) : 'nothing';
    if (got !== l.digest) throw new Error(`${dir}: layer ${l.digest} is ${got}`);
  }
}

async function checkLayoutImage(dir, tag, image) {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const entry = (index.manifests ?? []).find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`${dir}: no manifest tagged ${tag} in index.json`);
  if (entry.digest !== image.manifest.digest) throw new Error(`${dir}:${tag} is ${entry.digest}, the source is ${image.manifest.digest}`);
  for (const b of [image.manifest, ...image.blobs]) {
    const p = join(dir, 'blobs', 'sha256', b.digest.slice(7));
    if (!existsSync(p) || statSync(p).size !== b.size) throw new Error(`${dir}: blob ${b.digest} missing or of the wrong size`);
    const got = await sha256File(p);
    if (got !== b.digest) throw new Error(`${dir}: blob ${b.digest} hashes to ${got}`);
  }
}

async function registryManifest(host, repo, ref) {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
  if (res.status !== 200) throw new Error(`${host}/${repo}:${ref}: manifest GET answered ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  return { digest: res.headers.get('docker-content-digest'), bodyDigest: sha256Bytes(body), json: JSON.parse(body.toString('utf8')) };
}

// ---------------------------------------------------------------- measurement helpers
const median = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const results = {}; // case id -> tool -> [sample]
function record(id, tool, sample) {
  ((results[id] ??= {})[tool] ??= []).push(sample);
}
const samples = (id, tool) => (results[id]?.[tool] ?? []).filter((s) => s.ok);
const med = (id, tool, key = 'wall') => median(samples(id, tool).map((s) => s[key]));

function sync() {
  spawnSync('sync');
}

/**
 * One timed run: `setup` prepares (a fresh registry, a fresh folder …), the command runs, `check` must pass,
 * then `teardown`. Registries listed by `watch` have their CPU time and request log measured over the run.
 */
async function timedRun(id, tool, i, { setup, command, check, teardown, watch = () => [] }) {
  const ctx = (await setup?.(i)) ?? {};
  sync(); // no write-back of the previous run's data during this one
  const regs = watch(ctx).filter(Boolean);
  if (opts.waitIdle) await waitIdle(opts.waitIdle);
  const before = regs.map((r) => ({ cpu: registryCpu(r), log: logSize(r) }));
  const busy0 = machineBusy();
  const [cmd, args, runOpts] = command(ctx, i);
  const r = await run(cmd, args, runOpts);
  const busy1 = machineBusy();
  await sleep(50); // let the registry flush its log line for the last request
  const regStats = regs.map((reg, k) => ({ cpu: registryCpu(reg) - before[k].cpu, ...registryRequests(reg, before[k].log) }));
  const sample = {
    run: i + 1,
    ok: r.code === 0,
    wall: r.wall,
    user: r.user,
    sys: r.sys,
    cpu: r.user === null ? null : r.user + r.sys,
    rssMiB: r.rssMiB,
    registryCpu: regStats.reduce((a, s) => a + s.cpu, 0),
    registryRequests: regStats.reduce((a, s) => a + s.requests, 0),
    registryHandlerSeconds: regStats.reduce((a, s) => a + s.handlerSeconds, 0),
    registryByMethod: regStats.map((s) => s.byMethod),
    // CPU time of everything else on the machine during the run (other processes, kernel threads): interference.
    otherCpu: busy0 === null || r.user === null ? null : Math.max(0, busy1 - busy0 - r.user - r.sys - regStats.reduce((a, s) => a + s.cpu, 0)),
  };
  if (r.code !== 0) sample.error = `exit ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  else {
    try {
      await check?.(ctx, r);
    } catch (e) {
      sample.ok = false;
      sample.error = `check failed: ${e.message}`;
    }
  }
  try {
    await teardown?.(ctx);
  } catch (e) {
    log(`  (teardown: ${e.message})`);
  }
  record(id, tool, sample);
  const extra = [sample.rssMiB ? `rss ${sample.rssMiB.toFixed(0)} MiB` : '', sample.cpu !== null ? `cpu ${sample.cpu.toFixed(2)} s` : '', regs.length ? `registry cpu ${sample.registryCpu.toFixed(2)} s` : '']
    .filter(Boolean)
    .join(', ');
  log(`  ${id} ${tool} #${i + 1}: ${sample.ok ? `${sample.wall.toFixed(2)} s` : `FAILED (${sample.error})`}${extra ? ` (${extra})` : ''}`);
  return sample;
}

/** Waits (at most `max` seconds) for a half second in which the machine is busy less than a quarter of one CPU. */
async function waitIdle(max) {
  const end = Date.now() + max * 1000;
  while (Date.now() < end) {
    const b0 = machineBusy();
    await sleep(500);
    if (machineBusy() - b0 < 0.125) return;
  }
}

/** Alternates the tools run by run: A, B, A, B … */
async function alternate(id, tools, runs = opts.runs) {
  for (let i = 0; i < runs; i++) for (const [tool, spec] of Object.entries(tools)) await timedRun(id, tool, i, spec);
}

// ---------------------------------------------------------------- the cases
const startLoad = loadavg();
/** The bundle being measured: others may rebuild it while the bench runs, which the report then says. */
function bundleId() {
  try {
    return `${sha256Bytes(readFileSync(cli)).slice(7, 19)} (${statSync(cli).mtime.toISOString()})`;
  } catch {
    return 'missing';
  }
}
const startBundle = existsSync(cli) ? bundleId() : 'missing';
function versions() {
  const v = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return (r.stdout || r.stderr || '').trim().split('\n')[0] || 'not found';
  };
  return {
    node: process.version,
    lading: v('node', [cli, 'version']),
    skopeo: v('skopeo', ['--version']),
    registry: v(REGISTRY_BIN, ['--version']).replace(/^\S*\//, ''),
  };
}
const cases = []; // rows of the main table, in order
const details = []; // rows of the "where the time goes" table

async function main() {
  if (!existsSync(cli)) throw new Error('dist/cli/index.js is missing: run npm run build');
  if (!existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is missing: apt-get install docker-registry (or set LADING_REGISTRY_BIN)`);
  if (spawnSync('skopeo', ['--version']).status !== 0) throw new Error('skopeo is not installed (apt-get install skopeo)');
  const want = (s) => opts.only.includes(s);
  log(`bench: load average ${loadavg()}; work folder ${work}${opts.quick ? ' (--quick sizes)' : ''}, ${opts.runs} run(s) per tool`);

  // Data, built once.
  const needImage = ['floor', 'push', 'pull', 'copy'].some(want);
  let image;
  if (needImage) {
    log(`bench: building an OCI layout of ${size.layers} × ${fmtSize(size.layer)} random layers…`);
    image = buildLayout(join(work, 'layout'), 'v1', size.layers, size.layer);
  }
  const TAG = 'v1';

  // A long-lived source registry for pulls and copies, seeded once (by lading, checked).
  let source;
  if (['floor', 'pull', 'copy', 'artifacts', 'memory'].some(want)) source = await startRegistry('source');
  if (image && source && (want('pull') || want('copy') || want('floor'))) {
    const r = await run(...lading('copy', '--from-oci-layout', `${image.dir}:${TAG}`, '--to-plain-http', `${source.host}/bench/image:${TAG}`), { measure: false });
    if (r.code !== 0) throw new Error(`seeding the source registry failed: ${r.stderr}`);
    await checkRegistryImage(source.host, 'bench/image', TAG, image);
  }

  // -------------------------------------------------- floor: what the machine and the registry can do without a client
  if (want('floor')) {
    log('bench: floor (hashing, disk, the registry with curl)…');
    const layerPaths = image.layers.map((l) => l.path);
    await alternate('floor-sha256sum', {
      sha256sum: { command: () => ['sha256sum', layerPaths] },
    });
    await alternate('floor-write', {
      'cat > file': { command: () => ['sh', ['-c', 'cat "$@" > "$OUT"', 'sh', ...layerPaths], { env: { ...process.env, OUT: join(work, 'floor-write.bin') } }], teardown: () => rmSync(join(work, 'floor-write.bin'), { force: true }) },
      'dd conv=fsync': {
        command: () => ['sh', ['-c', 'cat "$@" | dd of="$OUT" bs=4M conv=fsync status=none', 'sh', ...layerPaths], { env: { ...process.env, OUT: join(work, 'floor-write.bin') } }],
        teardown: () => rmSync(join(work, 'floor-write.bin'), { force: true }),
      },
    });
    const urls = image.layers.map((l) => `http://${source.host}/v2/bench/image/blobs/${l.digest}`);
    const getArgs = (parallel) => [...(parallel ? ['--parallel', '--parallel-max', '3'] : []), '-s', '-f', ...urls.flatMap((u) => ['-o', '/dev/null', u])];
    await alternate('floor-curl-get', {
      'curl GET, one at a time': { command: () => ['curl', getArgs(false)], watch: () => [source] },
      'curl GET, 3 at a time': { command: () => ['curl', getArgs(true)], watch: () => [source] },
    });
    const putSpec = (parallel) => ({
      setup: async () => {
        const reg = await startRegistry('floor-put');
        const targets = [];
        for (const l of image.layers) {
          const res = await fetch(`http://${reg.host}/v2/bench/curl/blobs/uploads/`, { method: 'POST' });
          const loc = new URL(res.headers.get('location'), `http://${reg.host}`);
          loc.searchParams.set('digest', l.digest);
          targets.push(['-T', l.path, loc.toString()]);
        }
        return { reg, targets };
      },
      command: ({ targets }) => ['curl', [...(parallel ? ['--parallel', '--parallel-max', '3'] : []), '-s', '-f', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', ...targets.flat()]],
      check: async ({ reg }) => {
        for (const l of image.layers) {
          const r = await head(`http://${reg.host}/v2/bench/curl/blobs/${l.digest}`);
          if (r.status !== 200) throw new Error(`blob ${l.digest} not in the registry`);
        }
      },
      teardown: ({ reg }) => stopRegistry(reg),
      watch: ({ reg }) => [reg],
    });
    await alternate('floor-curl-put', { 'curl PUT, one at a time': putSpec(false), 'curl PUT, 3 at a time': putSpec(true) });
  }

  // -------------------------------------------------- push: layout -> empty registry
  if (want('push')) {
    log(`bench: push (layout -> empty registry)…`);
    const spec = (tool) => ({
      setup: async (i) => ({ reg: await startRegistry('push'), repo: `bench/push-${tool}-${i}` }),
      command: ({ reg, repo }) =>
        tool === 'lading'
          ? lading('copy', '--from-oci-layout', `${image.dir}:${TAG}`, '--to-plain-http', `${reg.host}/${repo}:${TAG}`)
          : tool === 'skopeo'
            ? skopeo('copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${image.dir}:${TAG}`, `docker://${reg.host}/${repo}:${TAG}`)
            : floorScript('node-push', image.dir, TAG, reg.host, repo),
      check: ({ reg, repo }) => checkRegistryImage(reg.host, repo, TAG, image),
      teardown: ({ reg }) => stopRegistry(reg),
      watch: ({ reg }) => [reg],
    });
    await alternate('push', { lading: spec('lading'), skopeo: spec('skopeo'), [NODE_FLOOR]: spec('node') });
    cases.push({ id: 'push', what: `push: OCI layout (${size.layers} × ${fmtSize(size.layer)} random layers) → empty registry`, a: 'lading', b: 'skopeo', target: 0.6, bytes: image.totalBytes });
    cases.push({ id: 'push', what: 'floor: push by a minimal Node program (scripts/bench-floor/node-push.mjs) vs skopeo', a: NODE_FLOOR, b: 'skopeo', bytes: image.totalBytes, note: 'reference' });
  }

  // -------------------------------------------------- pull: registry -> layout
  if (want('pull')) {
    log('bench: pull (registry -> new layout)…');
    const spec = (tool) => ({
      setup: (i) => ({ dir: join(work, `pull-${tool}-${i}`) }),
      command: ({ dir }) =>
        tool === 'lading'
          ? lading('copy', '--from-plain-http', `${source.host}/bench/image:${TAG}`, '--to-oci-layout', `${dir}:${TAG}`)
          : tool === 'skopeo'
            ? skopeo('copy', '--src-tls-verify=false', '--preserve-digests', `docker://${source.host}/bench/image:${TAG}`, `oci:${dir}:${TAG}`)
            : floorScript('node-pull', tool, source.host, 'bench/image', TAG, dir),
      // The minimal programs write bare blob files, each checked against its digest by the program itself.
      check: ({ dir }) => (tool === 'lading' || tool === 'skopeo' ? checkLayoutImage(dir, TAG, image) : checkBlobFiles(dir, image)),
      teardown: ({ dir }) => rmSync(dir, { recursive: true, force: true }),
      watch: () => [source],
    });
    await alternate('pull', { lading: spec('lading'), skopeo: spec('skopeo'), [NODE_FLOOR]: spec('undici'), [NODE_HTTP_FLOOR]: spec('http') });
    cases.push({ id: 'pull', what: `pull: registry → new OCI layout (same image)`, a: 'lading', b: 'skopeo', target: 0.8, bytes: image.totalBytes });
    cases.push({ id: 'pull', what: 'floor: pull by a minimal Node program with undici (scripts/bench-floor/node-pull.mjs) vs skopeo', a: NODE_FLOOR, b: 'skopeo', bytes: image.totalBytes, note: 'reference' });
    cases.push({ id: 'pull', what: 'floor: pull by a minimal Node program with node:http vs skopeo', a: NODE_HTTP_FLOOR, b: 'skopeo', bytes: image.totalBytes, note: 'reference' });
  }

  // -------------------------------------------------- copy: registry -> registry
  if (want('copy')) {
    log('bench: copy (registry -> another, empty registry)…');
    const spec = (tool) => ({
      setup: async (i) => ({ reg: await startRegistry('copy-dest'), repo: `bench/copy-${tool}-${i}` }),
      command: ({ reg, repo }) =>
        tool === 'lading'
          ? lading('copy', '--from-plain-http', '--to-plain-http', `${source.host}/bench/image:${TAG}`, `${reg.host}/${repo}:${TAG}`)
          : tool === 'skopeo'
            ? skopeo('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--preserve-digests', `docker://${source.host}/bench/image:${TAG}`, `docker://${reg.host}/${repo}:${TAG}`)
            : floorScript('node-copy', `${source.host}/bench/image:${TAG}`, `${reg.host}/${repo}`),
      check: ({ reg, repo }) => checkRegistryImage(reg.host, repo, TAG, image),
      teardown: ({ reg }) => stopRegistry(reg),
      watch: ({ reg }) => [source, reg],
    });
    await alternate('copy', { lading: spec('lading'), skopeo: spec('skopeo'), [NODE_FLOOR]: spec('node') });
    cases.push({ id: 'copy', what: `copy: registry → another, empty registry (same image)`, a: 'lading', b: 'skopeo', target: 0.7, bytes: image.totalBytes });
    cases.push({ id: 'copy', what: 'floor: copy by a minimal Node program (scripts/bench-floor/node-copy.mjs) vs skopeo', a: NODE_FLOOR, b: 'skopeo', bytes: image.totalBytes, note: 'reference' });
  }

  // -------------------------------------------------- artifacts: 500 small files vs one file of the same size
  if (want('artifacts')) {
    const art = join(work, 'art');
    mkdirSync(join(art, 'files'), { recursive: true });
    log(`bench: artifacts (${size.files} × ${fmtSize(size.file)} files vs one ${fmtSize(size.files * size.file)} file)…`);
    const fileHashes = new Map();
    const names = [];
    for (let i = 0; i < size.files; i++) {
      const rel = `files/f${String(i).padStart(4, '0')}`;
      names.push(rel);
      fileHashes.set(rel, writeRandomFile(join(art, rel), size.file));
    }
    fileHashes.set('one.bin', writeRandomFile(join(art, 'one.bin'), size.files * size.file));
    const variants = {
      folder: { args: ['files'], layers: 1, expect: names },
      layers: { args: names, layers: size.files, expect: names },
      one: { args: ['one.bin'], layers: 1, expect: ['one.bin'] },
    };
    const checkFiles = async (dir, expect) => {
      for (const rel of expect) {
        const got = await sha256File(join(dir, rel));
        if (got !== fileHashes.get(rel)) throw new Error(`${rel}: pulled content differs`);
      }
    };
    const pushSpec = (v) => ({
      setup: async (i) => ({ reg: await startRegistry('art-push'), repo: `bench/art-${v}-${i}` }),
      command: ({ reg, repo }) => [...lading('push', '--plain-http', '--format', 'json', `${reg.host}/${repo}:${TAG}`, ...variants[v].args), { cwd: art }],
      check: async ({ reg, repo }, r) => {
        const out = JSON.parse(r.stdout);
        const m = await registryManifest(reg.host, repo, TAG);
        if (m.digest !== out.digest || m.bodyDigest !== out.digest) throw new Error(`registry has ${m.digest}, lading reported ${out.digest}`);
        if (m.json.layers.length !== variants[v].layers) throw new Error(`${m.json.layers.length} layers, expected ${variants[v].layers}`);
        if (v !== 'folder') for (const l of m.json.layers) if (l.digest !== fileHashes.get(l.annotations['org.opencontainers.image.title'])) throw new Error(`layer ${l.digest} is not its file`);
      },
      teardown: ({ reg }) => stopRegistry(reg),
      watch: ({ reg }) => [reg],
    });
    await alternate('art-push', { 'one file': pushSpec('one'), folder: pushSpec('folder'), layers: pushSpec('layers') });

    // Pull: seed once, then pull into fresh folders.
    const seeded = {};
    for (const v of Object.keys(variants)) {
      const r = await run(...lading('push', '--plain-http', '--format', 'json', `${source.host}/bench/art-${v}:${TAG}`, ...variants[v].args), { cwd: art, measure: false });
      if (r.code !== 0) throw new Error(`seeding artifact ${v} failed: ${r.stderr}`);
      seeded[v] = JSON.parse(r.stdout).digest;
    }
    const pullSpec = (v) => ({
      setup: (i) => ({ dir: join(work, `art-pull-${v}-${i}`) }),
      command: ({ dir }) => lading('pull', '--plain-http', '--format', 'json', `${source.host}/bench/art-${v}:${TAG}`, '-o', dir),
      check: async ({ dir }, r) => {
        const out = JSON.parse(r.stdout);
        if (out.digest !== seeded[v]) throw new Error(`pulled ${out.digest}, pushed ${seeded[v]}`);
        await checkFiles(dir, variants[v].expect);
      },
      teardown: ({ dir }) => rmSync(dir, { recursive: true, force: true }),
      watch: () => [source],
    });
    await alternate('art-pull', { 'one file': pullSpec('one'), folder: pullSpec('folder'), layers: pullSpec('layers') });
    const total = fmtSize(size.files * size.file);
    cases.push({ id: 'art-push', what: `push artifact: ${size.files} files as a folder (one tar+gzip layer) vs one ${total} file`, a: 'folder', b: 'one file', bytes: size.files * size.file, note: 'lading only' });
    cases.push({ id: 'art-push', what: `push artifact: ${size.files} files as ${size.files} layers vs one ${total} file`, a: 'layers', b: 'one file', bytes: size.files * size.file, note: 'lading only' });
    cases.push({ id: 'art-pull', what: `pull artifact: ${size.files} files as a folder (one tar+gzip layer) vs one ${total} file`, a: 'folder', b: 'one file', bytes: size.files * size.file, note: 'lading only' });
    cases.push({ id: 'art-pull', what: `pull artifact: ${size.files} files as ${size.files} layers vs one ${total} file`, a: 'layers', b: 'one file', bytes: size.files * size.file, note: 'lading only' });
  }

  // -------------------------------------------------- memory: one big blob
  if (want('memory')) {
    log(`bench: memory (one ${fmtSize(size.big)} blob)…`);
    const big = buildLayout(join(work, 'big'), 'big', 1, size.big);
    const blob = big.layers[0];
    const pushSpec = (kind) => ({
      setup: async (i) => ({ reg: await startRegistry('mem-push'), repo: `bench/mem-${kind}-${i}` }),
      command: ({ reg, repo }) =>
        kind === 'blob'
          ? lading('blob', 'push', '--plain-http', `${reg.host}/${repo}@${blob.digest}`, blob.path)
          : kind === 'copy'
            ? lading('copy', '--from-oci-layout', `${big.dir}:big`, '--to-plain-http', `${reg.host}/${repo}:big`)
            : skopeo('copy', '--dest-tls-verify=false', '--preserve-digests', `oci:${big.dir}:big`, `docker://${reg.host}/${repo}:big`),
      check: async ({ reg, repo }) => {
        if (kind !== 'blob') return checkRegistryImage(reg.host, repo, 'big', big);
        const r = await head(`http://${reg.host}/v2/${repo}/blobs/${blob.digest}`);
        if (r.status !== 200 || Number(r.headers.get('content-length')) !== blob.size) throw new Error(`blob not in the registry (${r.status})`);
      },
      teardown: ({ reg }) => stopRegistry(reg),
      watch: ({ reg }) => [reg],
    });
    await alternate('mem-push', { 'lading blob push': pushSpec('blob'), 'lading copy': pushSpec('copy'), skopeo: pushSpec('skopeo') });

    const r = await run(...lading('copy', '--from-oci-layout', `${big.dir}:big`, '--to-plain-http', `${source.host}/bench/big:big`), { measure: false });
    if (r.code !== 0) throw new Error(`seeding the big blob failed: ${r.stderr}`);
    const pullSpec = (kind) => ({
      setup: (i) => ({ dir: join(work, `mem-pull-${kind}-${i}`) }),
      command: ({ dir }) =>
        kind === 'blob'
          ? lading('blob', 'fetch', '--plain-http', `${source.host}/bench/big@${blob.digest}`, '-o', join(dir, 'blob'))
          : kind === 'copy'
            ? lading('copy', '--from-plain-http', `${source.host}/bench/big:big`, '--to-oci-layout', `${dir}:big`)
            : skopeo('copy', '--src-tls-verify=false', '--preserve-digests', `docker://${source.host}/bench/big:big`, `oci:${dir}:big`),
      check: async ({ dir }) => {
        if (kind !== 'blob') return checkLayoutImage(dir, 'big', big);
        const got = await sha256File(join(dir, 'blob'));
        if (got !== blob.digest) throw new Error(`fetched blob hashes to ${got}`);
      },
      teardown: ({ dir }) => rmSync(dir, { recursive: true, force: true }),
      watch: () => [source],
    });
    // blob fetch needs its output folder to exist
    const blobPull = pullSpec('blob');
    const setup0 = blobPull.setup;
    blobPull.setup = (i) => {
      const ctx = setup0(i);
      mkdirSync(ctx.dir, { recursive: true });
      return ctx;
    };
    await alternate('mem-pull', { 'lading blob fetch': blobPull, 'lading copy': pullSpec('copy'), skopeo: pullSpec('skopeo') });
    const s = fmtSize(size.big);
    cases.push({ id: 'mem-push', what: `peak RSS, push one ${s} blob: lading blob push vs skopeo copy (layout → registry)`, a: 'lading blob push', b: 'skopeo', key: 'rssMiB', unit: 'MiB', rssTarget: 150, bytes: size.big });
    cases.push({ id: 'mem-push', what: `peak RSS, push one ${s} blob: lading copy vs skopeo copy (layout → registry)`, a: 'lading copy', b: 'skopeo', key: 'rssMiB', unit: 'MiB', rssTarget: 150, bytes: size.big });
    cases.push({ id: 'mem-pull', what: `peak RSS, pull one ${s} blob: lading blob fetch vs skopeo copy (registry → layout)`, a: 'lading blob fetch', b: 'skopeo', key: 'rssMiB', unit: 'MiB', rssTarget: 150, bytes: size.big });
    cases.push({ id: 'mem-pull', what: `peak RSS, pull one ${s} blob: lading copy vs skopeo copy (registry → layout)`, a: 'lading copy', b: 'skopeo', key: 'rssMiB', unit: 'MiB', rssTarget: 150, bytes: size.big });
  }

  // -------------------------------------------------- start-up
  if (want('startup')) {
    log(`bench: start-up (${opts.startupRuns} runs each)…`);
    await alternate(
      'startup',
      {
        'lading version': { command: () => lading('version'), check: (_, r) => (/\d+\.\d+/.test(r.stdout) ? undefined : Promise.reject(new Error(`unexpected output ${r.stdout}`))) },
        'node -e 0': { command: () => ['node', ['-e', '0']] },
      },
      opts.startupRuns,
    );
    cases.push({ id: 'startup', what: 'start-up: `lading version` vs `node -e 0`', a: 'lading version', b: 'node -e 0', startupTarget: 3 });
  }

  if (want('floor')) {
    cases.unshift(
      { id: 'floor-curl-put', what: `floor: curl PUT of the ${size.layers} layers to an empty registry, 3 at a time vs one at a time`, a: 'curl PUT, 3 at a time', b: 'curl PUT, one at a time', bytes: image.totalBytes, note: 'reference' },
      { id: 'floor-curl-get', what: `floor: curl GET of the ${size.layers} layers to /dev/null, 3 at a time vs one at a time`, a: 'curl GET, 3 at a time', b: 'curl GET, one at a time', bytes: image.totalBytes, note: 'reference' },
      { id: 'floor-write', what: `floor: write the ${fmtSize(image.totalBytes)} to a new file, with fsync vs without`, a: 'dd conv=fsync', b: 'cat > file', bytes: image.totalBytes, note: 'reference' },
      { id: 'floor-sha256sum', what: `floor: sha256sum of the ${size.layers} layers (${fmtSize(image.totalBytes)}, one core)`, a: 'sha256sum', bytes: image.totalBytes, note: 'reference' },
    );
  }
}

// ---------------------------------------------------------------- report
const f2 = (x) => (x === null || x === undefined ? '—' : x.toFixed(2));
function okCount(id, tool) {
  const all = results[id]?.[tool] ?? [];
  return `${all.filter((s) => s.ok).length}/${all.length}`;
}

function report() {
  const out = [];
  const esc = (t) => String(t).replaceAll('|', '\\|');
  out.push('| benchmark | measured (median) | compared with (median) | ratio | target | result | runs ok |');
  out.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const c of cases) {
    const key = c.key ?? 'wall';
    const unit = c.unit ?? 's';
    const a = med(c.id, c.a, key);
    const b = c.b ? med(c.id, c.b, key) : null;
    const ratio = a !== null && b !== null && b > 0 ? a / b : null;
    let target = '—';
    let result = '—';
    // The speed and memory targets are for the full sizes: at --quick sizes the fixed costs (start-up, connections)
    // weigh several times more, so those rows are not judged.
    if (c.target) {
      target = `≤ ${c.target}× skopeo`;
      result = opts.quick ? 'not judged (--quick)' : ratio === null ? 'no data' : ratio <= c.target ? 'met' : 'not met';
    } else if (c.rssTarget) {
      target = `≤ ${c.rssTarget} MiB${size.big !== 1024 * MiB ? ' (for 1 GiB)' : ''}`;
      result = opts.quick ? 'not judged (--quick)' : a === null ? 'no data' : a <= c.rssTarget ? 'met' : 'not met';
    } else if (c.startupTarget) {
      target = `≤ ${c.startupTarget}× node`;
      result = ratio === null ? 'no data' : ratio <= c.startupTarget ? 'met' : 'not met';
    }
    const cell = (tool, v) => (tool ? `${tool}: ${v === null ? 'failed' : `${unit === 's' ? v.toFixed(unit === 's' && v < 1 ? 3 : 2) : v.toFixed(0)} ${unit}`}` : '—');
    const thru = key === 'wall' && c.bytes && a ? ` (${(c.bytes / MiB / a).toFixed(0)} MiB/s)` : '';
    out.push(`| ${esc(c.what)} | ${cell(c.a, a)}${thru} | ${c.b ? cell(c.b, b) : '—'} | ${ratio === null ? '—' : `${ratio.toFixed(2)}×`} | ${target} | ${result} | ${[c.a, c.b].filter(Boolean).map((t) => okCount(c.id, t)).join(', ')} |`);
  }

  const detail = [];
  detail.push('| case | tool | wall s | client CPU s (user+sys) | client peak RSS MiB | registry CPU s | registry requests | registry handler time s | other CPU s |');
  detail.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [id, tools] of Object.entries(results)) {
    if (id === 'startup') continue;
    for (const tool of Object.keys(tools)) {
      const s = samples(id, tool);
      if (!s.length) {
        detail.push(`| ${id} | ${tool} | failed | | | | | | |`);
        continue;
      }
      const hasReg = s.some((x) => x.registryRequests > 0 || x.registryCpu > 0);
      detail.push(
        `| ${id} | ${tool} | ${f2(med(id, tool))} | ${f2(med(id, tool, 'cpu'))} | ${med(id, tool, 'rssMiB')?.toFixed(0) ?? '—'} | ${hasReg ? f2(med(id, tool, 'registryCpu')) : '—'} | ${hasReg ? med(id, tool, 'registryRequests') : '—'} | ${hasReg ? f2(med(id, tool, 'registryHandlerSeconds')) : '—'} | ${f2(med(id, tool, 'otherCpu'))} |`,
      );
    }
  }

  const failures = [];
  for (const [id, tools] of Object.entries(results)) for (const [tool, ss] of Object.entries(tools)) for (const s of ss) if (!s.ok) failures.push(`- ${id} ${tool} run ${s.run}: ${s.error}`);

  const cmd = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  const ver = versions();
  const endBundle = bundleId();
  const lines = [
    `## lading vs skopeo (${opts.quick ? '--quick sizes' : 'full sizes'}, median of ${opts.runs} run(s), start-up ${opts.startupRuns})`,
    '',
    `Command: \`${cmd}\` · ${new Date().toISOString()} · ${cpus().length} CPUs · ${(totalmem() / 1024 / MiB).toFixed(0)} GiB RAM · load average at start ${startLoad}, at end ${loadavg()}`,
    '',
    `Versions: node ${ver.node} · ${ver.lading} (dist/cli/index.js ${startBundle}) · ${ver.skopeo} · ${ver.registry}`,
    ...(endBundle !== startBundle ? ['', `**Warning: dist/cli/index.js changed during the run (now ${endBundle}); the lading numbers may mix two builds.**`] : []),
    '',
    ...out,
    '',
    'Where the time goes (medians; client CPU and peak RSS from /usr/bin/time; registry CPU from /proc/PID/stat of the registries involved; handler time: the sum of the registry\'s "response completed" durations, overlapping requests counted each; other CPU: what the rest of the machine used meanwhile):',
    '',
    ...detail,
  ];
  if (failures.length) lines.push('', 'Failed runs (not counted):', '', ...failures);
  return lines.join('\n');
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  console.error(`\nbench failed: ${err.stack ?? err.message}`);
  exitCode = 1;
}
try {
  if (cases.length) console.log(report());
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ options: opts, size, results }, null, 2));
} finally {
  for (const r of [...registries]) await stopRegistry(r);
  cleanup();
}
process.exit(exitCode);
