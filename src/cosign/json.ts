// JSON a requester supplied (bundles, payloads, Rekor bundles), parsed only once its size,
// depth and number of values are within bounds: JSON.parse builds the whole document before
// anything can look at it, so the shape is checked first, with the byte scanner (support/).
import { JsonScanner } from '../support/json-scan.ts';

export interface JsonBounds {
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxValues: number;
}

/** Real bundles are a few KB, 6 levels deep, a few dozen values (a v0.3 bundle with a chain and
 *  an inclusion proof of 30 hashes has about 80). */
export const BUNDLE_BOUNDS: JsonBounds = { maxBytes: 64 * 1024, maxDepth: 12, maxValues: 4096 };
/** A simple-signing payload or in-toto statement: a few hundred bytes. */
export const PAYLOAD_BOUNDS: JsonBounds = { maxBytes: 64 * 1024, maxDepth: 10, maxValues: 1024 };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type Json = { ok: true; value: unknown } | { ok: false; reason: string };

/** Parses `bytes` within `bounds`; `what` names the document in the reason. Never throws. */
export function boundedJson(bytes: Uint8Array, bounds: JsonBounds, what: string): Json {
  if (bytes.byteLength > bounds.maxBytes) return { ok: false, reason: `${what} has ${bytes.byteLength} bytes (at most ${bounds.maxBytes})` };
  const scan = new JsonScanner(bounds);
  scan.feed(bytes);
  if (scan.stopped === 'depth') return { ok: false, reason: `${what} is nested deeper than ${bounds.maxDepth}` };
  if (scan.stopped === 'values') return { ok: false, reason: `${what} has more than ${bounds.maxValues} values` };
  try {
    return { ok: true, value: JSON.parse(utf8.decode(bytes)) as unknown };
  } catch {
    return { ok: false, reason: `${what} is not valid UTF-8 JSON` };
  }
}

export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}
