/**
 * What the main step hands the post step. The runner keeps `core.saveState` values and gives them to the
 * post step as `STATE_<name>` variables; the names live here so both bundles agree on them.
 */
import type { StoreRecord } from './credentials.js';

export const State = {
  /** JSON list of StoreRecord: every credential write the main step made (empty when logout is false). */
  credentials: 'credentials',
} as const;

export interface StateStore {
  get(name: string): string;
  save(name: string, value: string): void;
}

export function saveRecords(state: StateStore, records: StoreRecord[]): void {
  state.save(State.credentials, JSON.stringify(records));
}

/** The records the main step saved; none when it saved nothing (it failed early, or logout is false). */
export function loadRecords(state: StateStore): StoreRecord[] {
  const raw = state.get(State.credentials);
  if (!raw) return [];
  const parsed = JSON.parse(raw) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`state "${State.credentials}" is not a list`);
  return parsed.filter((r): r is StoreRecord => typeof r === 'object' && r !== null && typeof r.file === 'string' && typeof r.key === 'string');
}
