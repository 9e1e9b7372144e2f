import type { FlagSpec } from './args.js';
import type { Context } from './context.js';

/** One CLI command: its name (`manifest fetch`), flags, argument count and a thin run function. */
export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  usage: string;
  flags: FlagSpec[];
  args: [min: number, max: number];
  examples?: string[];
  run(ctx: Context, args: string[]): Promise<void>;
}
