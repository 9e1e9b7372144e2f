/**
 * The workflows in .github/workflows and examples/workflows use only inputs and outputs that action.yml
 * declares and only commands the Action knows (a YAML reader would be one more dependency; the files are
 * regular enough to read by indentation).
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/action/inputs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const action = readFileSync(join(root, 'action.yml'), 'utf8');
const section = (name: string) => {
  const body = action.split(new RegExp(`^${name}:\\n`, 'm'))[1].split(/^\S/m)[0];
  return new Set([...body.matchAll(/^ {2}([a-z0-9-]+):/gm)].map((m) => m[1]));
};
const inputs = section('inputs');
const outputs = section('outputs');

/** Each step that uses the Action: its `with:` keys and values. */
function ladingSteps(text: string): Array<Record<string, string>> {
  const steps: Array<Record<string, string>> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*(- )?uses: (\.\/|your-org\/lading@)/.test(lines[i])) continue;
    const indent = lines[i].search(/\S/);
    const step: Record<string, string> = {};
    let j = i + 1;
    while (j < lines.length && (lines[j].trim() === '' || lines[j].search(/\S/) > indent - (lines[i].trimStart().startsWith('- ') ? 0 : 2))) {
      if (/^\s+with:\s*$/.test(lines[j])) {
        const wIndent = lines[j].search(/\S/);
        for (j++; j < lines.length && (lines[j].trim() === '' || lines[j].search(/\S/) > wIndent); j++) {
          const m = /^\s+([a-z0-9-]+):\s*(.*)$/.exec(lines[j]);
          if (m && lines[j].search(/\S/) === wIndent + 2) step[m[1]] = m[2];
        }
        continue;
      }
      j++;
    }
    steps.push(step);
  }
  return steps;
}

const files = [
  ...readdirSync(join(root, '.github/workflows')).map((f) => join(root, '.github/workflows', f)),
  ...readdirSync(join(root, 'examples/workflows')).map((f) => join(root, 'examples/workflows', f)),
];

describe('workflows and examples', () => {
  it.each(files)('%s uses declared inputs, outputs and commands only', (file) => {
    const text = readFileSync(file, 'utf8');
    const steps = ladingSteps(text);
    if (!file.includes('ci.yml') && !file.includes('check-dist.yml')) expect(steps.length).toBeGreaterThan(0);
    for (const step of steps) {
      for (const key of Object.keys(step)) expect(inputs).toContain(key);
      expect(COMMANDS).toContain(step.command);
    }
    for (const m of text.matchAll(/steps\.[a-z0-9-]+\.outputs\.([a-z0-9-]+)/g)) expect(outputs).toContain(m[1]);
  });

  it('reads what it claims to (a wrong key is caught)', () => {
    const steps = ladingSteps('    steps:\n      - uses: ./\n        with:\n          command: pull\n          no-such-input: x\n');
    expect(steps).toEqual([{ command: 'pull', 'no-such-input': 'x' }]);
    expect(inputs).not.toContain('no-such-input');
  });
});
