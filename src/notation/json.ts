// JSON from envelopes, parsed only after its size, nesting and number of values are known to
// be within bounds. JSON.parse builds the whole document before anything can look at it: 4 MiB
// of nested empty arrays cost it over 100 MiB of heap. The pre-scan here reads the bytes once,
// allocates nothing, and refuses a document before JSON.parse would see it.
import { failure, parsed, type Parsed } from './errors.ts';
import { ErrorCodes } from '../support/errors.ts';

export interface JsonLimits {
  maxBytes: number;
  /** The top-level value's brackets are depth 1. */
  maxDepth: number;
  /** Containers plus separators (commas): at least the values a document holds, less one. */
  maxValues: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Why `bytes` breaks a bound, or undefined. Bytes inside strings are skipped (escapes
 * included); UTF-8 continuation bytes are all >= 0x80, so they never look like punctuation.
 * Malformed JSON is left for JSON.parse to refuse: the scan only has to be right about
 * documents JSON.parse would accept.
 */
function overBound(bytes: Uint8Array, limits: JsonLimits): string | undefined {
  if (bytes.length > limits.maxBytes) return `has ${bytes.length} bytes (at most ${limits.maxBytes})`;
  let depth = 0;
  let values = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
      continue;
    }
    if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > limits.maxDepth) return `is nested deeper than ${limits.maxDepth}`;
      if (++values > limits.maxValues) return `has more than ${limits.maxValues} values`;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      depth--;
    } else if (b === COMMA) {
      if (++values > limits.maxValues) return `has more than ${limits.maxValues} values`;
    }
  }
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
