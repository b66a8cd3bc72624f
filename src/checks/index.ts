// The checks in the order they are reported. Each is a small module with a stable id.
import { originCheck } from './origin.ts';
import type { Check } from './types.ts';

export interface CheckDeps {}

export function buildChecks(_deps: CheckDeps): Check[] {
  return [originCheck];
}
