// JSON from envelopes, parsed only after its size, nesting and number of values are known to
// be within bounds. JSON.parse builds the whole document before anything can look at it: 4 MiB
// of nested empty arrays cost it over 100 MiB of heap. The pre-scan here reads the bytes once,
// allocates nothing, and refuses a document before JSON.parse would see it.
import { failure, parsed, type Parsed } from './errors.ts';
import { ErrorCodes } from '../support/errors.ts';
import { JsonScanner } from '../support/json-scan.ts';

export interface JsonLimits {
  maxBytes: number;
  /** The top-level value's brackets are depth 1. */
  maxDepth: number;
  /** Containers plus separators (commas): at least the values a document holds, less one. */
  maxValues: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why `bytes` breaks a bound, or undefined (the scan is src/support/json-scan.ts). */
function overBound(bytes: Uint8Array, limits: JsonLimits): string | undefined {
  if (bytes.length > limits.maxBytes) return `has ${bytes.length} bytes (at most ${limits.maxBytes})`;
  const scan = new JsonScanner(limits);
  scan.feed(bytes);
  if (scan.stopped === 'depth') return `is nested deeper than ${limits.maxDepth}`;
  if (scan.stopped === 'values') return `has more than ${limits.maxValues} values`;
  return undefined;
}

/** Parses `bytes` as UTF-8 JSON within `limits`; `what` names it in the reason. Never throws. */
export function parseBoundedJson(bytes: Uint8Array, limits: JsonLimits, what: string): Parsed<unknown> {
  const over = overBound(bytes, limits);
  if (over) return failure(ErrorCodes.PARSE, `${what} ${over}`);
  try {
    return parsed(JSON.parse(utf8.decode(bytes)) as unknown);
  } catch (err) {
    return failure(ErrorCodes.PARSE, `${what} is not valid UTF-8 JSON (${err instanceof Error ? err.message : String(err)})`);
  }
}
