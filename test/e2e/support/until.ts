// Waiting in the e2e scenarios for something the API server or a webhook process does on its
// own time (a configuration armed, a certificate rotated, a log line written).

import { setTimeout as sleep } from 'node:timers/promises';

/** Calls `probe` every `intervalMs` until it returns a value, which it returns; past
 *  `timeoutMs` it throws, naming `what` it waited for. A probe that throws ends the wait. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}
