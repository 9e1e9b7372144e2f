import { LadingError, toLadingError } from '../errors/errors.js';
import { printableLines } from '../errors/printable.js';
import { addSecret, currentSecretScope, scrubSecrets, withSecretScope, type SecretSet } from '../errors/secrets.js';
import { flagHelp, parseArgs } from './args.js';
import type { Command } from './command.js';
import { artifactCommands } from './commands/artifact.js';
import { blobCommands } from './commands/blob.js';
import { convertCommands } from './commands/convert.js';
import { copyCommands } from './commands/copy.js';
import { loginCommands, VERSION } from './commands/login.js';
import { manifestCommands } from './commands/manifest.js';
import { manifestIndexCommands } from './commands/manifest-index.js';
import { tagCommands } from './commands/tag.js';
import { Context, type CliIO } from './context.js';

export const COMMANDS: Command[] = [...artifactCommands, ...copyCommands, ...convertCommands, ...manifestCommands, ...manifestIndexCommands, ...blobCommands, ...tagCommands, ...loginCommands];

/**
 * A message or line as printed: every secret of this run and of the process scrubbed (errors/secrets.ts: the
 * flags' and the auth layer's, in every form they can be echoed in), and no control character but LF (server
 * text should have been made printable where it was quoted: this is the last line of defence).
 */
export function forPrinting(message: string, run?: SecretSet): string {
  return printableLines(scrubSecrets(message, [run]));
}

/** The CLI's context, whose status and warning lines are printed as forPrinting shows them (with this run's secrets). */
class PrintingContext extends Context {
  private readonly run = currentSecretScope();
  override status(line: string): void {
    super.status(forPrinting(line, this.run));
  }
  override warn(line: string): void {
    super.warn(forPrinting(line, this.run));
  }
}

function findCommand(words: string[]): { command?: Command; used: number } {
  for (let n = Math.min(3, words.length); n >= 1; n--) {
    const name = words.slice(0, n).join(' ');
    const command = COMMANDS.find((c) => c.name === name || c.aliases?.includes(name));
    if (command) return { command, used: n };
  }
  return { used: 0 };
}

function usageOf(c: Command): string {
  let s = `Usage: lading ${c.name}${c.usage ? ` ${c.usage}` : ''} [flags]\n\n${c.summary}\n`;
  if (c.aliases?.length) s += `\nAliases: ${c.aliases.map((a) => `lading ${a}`).join(', ')}\n`;
  if (c.examples?.length) s += `\nExamples:\n${c.examples.map((e) => `  ${e}`).join('\n')}\n`;
  s += `\nFlags:\n${flagHelp(c.flags)}\n`;
  return s;
}

function topHelp(group?: string): string {
  const list = COMMANDS.filter((c) => !group || c.name.startsWith(`${group} `));
  const width = Math.max(...list.map((c) => c.name.length)) + 2;
  const title = group ? `Usage: lading ${group} COMMAND [flags]\n\nCommands:` : 'lading: an OCI registry client (ORAS-compatible commands)\n\nUsage: lading COMMAND [flags]\n\nCommands:';
  return `${title}\n${list.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}\n\nRun "lading COMMAND --help" for a command's flags. Exit codes: 0 ok, 1 error, 2 usage, 3 authentication, 4 not found, 5 digest mismatch, 6 rate limited, 7 network.${group ? '' : `\n\n${ENVIRONMENT}`}\n`;
}

/**
 * Commands with two sides (copy, convert, blob copy) take `--from-…`/`--to-…` flags: the advice in an error
 * that names its side (`source …:` / `destination …:`) is reworded with that side's flags.
 */
export function forSide(message: string): string {
  const side = message.startsWith('source ') ? 'from' : message.startsWith('destination ') ? 'to' : undefined;
  if (!side) return message;
  return message
    .replace('log in with `lading login` or pass -u/-p', `pass --${side}-username with --${side}-password-stdin`)
    .replace(/--(plain-http|insecure|ca-file|cert-file|key-file)\b/g, `--${side}-$1`);
}

/** The environment variables lading reads, for the top-level help. */
const ENVIRONMENT = `Environment:
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY  proxies for every host contacted (either case; NO_PROXY: names, .suffixes, host:port, *)
  LADING_HTTP_TIMEOUT                seconds to wait for response headers and for each piece of a body (default 60)
  LADING_REGISTRY_CONFIG             credentials file read before DOCKER_CONFIG/config.json and ~/.docker/config.json
  DOCKER_CONFIG                      folder of the Docker config.json with credentials
  SOURCE_DATE_EPOCH                  fixed timestamps for push --reproducible`;

/**
 * Runs the CLI; returns the exit code. Errors are printed once, scrubbed of secrets. Each run has its own
 * secrets (errors/secrets.ts): the flags' and everything its registry clients register.
 */
export function main(argv: string[], io: CliIO): Promise<number> {
  return withSecretScope(() => run(argv, io));
}

async function run(argv: string[], io: CliIO): Promise<number> {
  let helpHint = 'lading --help';
  let sided = false;
  try {
    const words: string[] = [];
    for (const a of argv) {
      if (a.startsWith('-')) break;
      words.push(a);
    }
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || (words[0] === 'help' && words.length === 1)) {
      io.stdout.write(topHelp());
      return 0;
    }
    if (argv[0] === '--version') {
      io.stdout.write(`lading ${VERSION}\n`);
      return 0;
    }
    const helpFor = words[0] === 'help';
    const { command, used } = findCommand(helpFor ? words.slice(1) : words);
    if (!command) {
      // A group of commands (`manifest`, `manifest index`): its help, or "unknown command" within it.
      const groupWords = [2, 1].map((n) => words.slice(0, n)).find((g) => g.length > 0 && COMMANDS.some((c) => c.name.startsWith(`${g.join(' ')} `)));
      if (groupWords) {
        const group = groupWords.join(' ');
        if (words.length === groupWords.length) {
          io.stdout.write(topHelp(group));
          return argv.includes('-h') || argv.includes('--help') ? 0 : 2;
        }
        throw new LadingError('usage', `unknown command "${words.slice(0, groupWords.length + 1).join(' ')}"; run "lading ${group} --help"`);
      }
      throw new LadingError('usage', `unknown command "${words[0] ?? argv[0]}"; run "lading --help"`);
    }
    if (helpFor) {
      io.stdout.write(usageOf(command));
      return 0;
    }
    helpHint = `lading ${command.name} --help`;
    sided = command.flags.some((f) => f.long === 'from-plain-http');
    const parsed = parseArgs(argv.slice(used), command.flags);
    // Every side's: --password, --from-password, --to-identity-token …
    for (const [k, v] of Object.entries(parsed.flags)) {
      if (/(^|-)(password|identity-token)$/.test(k) && typeof v === 'string') addSecret(v);
    }
    if (parsed.flags.help === true) {
      io.stdout.write(usageOf(command));
      return 0;
    }
    if ((parsed.flags['password-stdin'] === true || parsed.flags['identity-token-stdin'] === true) && parsed.args.includes('-')) {
      throw new LadingError('usage', 'stdin cannot carry both the password (--password-stdin) and the content ("-"): pass the password with -p or put the content in a file');
    }
    const [min, max] = command.args;
    if (parsed.args.length < min || parsed.args.length > max) {
      const count = min === max ? `exactly ${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      throw new LadingError('usage', `"lading ${command.name}" takes ${count} argument${max === 1 ? '' : 's'}: ${command.usage}`);
    }
    const formats = command.flags.find((f) => f.long === 'format')?.value?.split('|');
    const ctx = new PrintingContext(io, parsed, formats);
    await command.run(ctx, parsed.args);
    return 0;
  } catch (err) {
    const e = toLadingError(err);
    if (sided) e.message = forSide(e.message);
    io.stderr.write(`Error: ${forPrinting(e.message)}\n`);
    if (e.kind === 'usage' && !/--help/.test(e.message)) io.stderr.write(`Run "${helpHint}" for usage.\n`);
    return e.exitCode;
  }
}
