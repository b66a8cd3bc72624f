// What a request body may cost the heap before JSON.parse runs on it. The byte limit alone
// does not bound memory: V8 spends about 30 to 55 bytes of heap per JSON value (an empty
// object, a number, a key of a big object), so 3 MiB of `{},{},...` parsed to 87 MiB of heap
// (measured under the chart's NODE_OPTIONS), and several such bodies at once, or a few
// legitimate large ones, overran the 128 MiB old space. So each body is scanned as it arrives,
// without decoding it, and charged an estimate of its parsed cost against one budget shared by
// all requests in flight:
//
//     cost = 2 * bytes          (the body as a string, plus at most as much again in parsed strings)
//          + 64 * separators    ({ [ , : outside strings: every value and key but the first
//                                follows one of them, so this counts values and keys, and
//                                64 bytes is above the most measured per value)
//
// Admission is first come, first served: when a request arrives, its base cost (2 x its
// Content-Length) is reserved at once, before any of its body is read, and a request whose
// reservation does not fit next to what others hold is answered 503 at once. The separator cost
// is charged on top as the body streams. (Charging everything as it streams let concurrent
// large bodies each take a share and starve one another: 4 legitimate 17.6 MiB UPDATEs at once
// all ended in 503, a livelock under failurePolicy Fail.) The API server always sends a
// Content-Length; a body without one (chunked) is charged as it streams.
//
// A body whose own cost exceeds the budget can never be parsed: 413 (at once when its
// Content-Length says so). One that would overrun what other requests hold: 503 (the API server
// applies failurePolicy; a retry can succeed). The charge is held as long as the parsed body can
// be: it is released when the route handler that holds the body settles, when a body is refused
// or cannot be parsed, when nothing has read the body by its first-byte deadline, or, for a
// request that never reached a handler, when its response closes (src/server/body-reader.ts).
import { getHeapStatistics } from 'node:v8';
import { ErrorCodes, type BodyBudgetErrorCode } from '../support/errors.ts';
import { JsonScanner } from '../support/json-scan.ts';

/**
 * Default --max-body-bytes: the largest AdmissionReview an API server sends for an object it
 * can store. An UPDATE carries the object and the old object.
 *  - Each object is at most etcd's request limit as stored (protobuf): 1.5 MiB, etcd's default
 *    --max-request-bytes (etcd docs, dev-guide/limit.md). The old object was stored; a new one
 *    over the limit is refused by etcd after admission anyway. (kube-apiserver's own request
 *    body limit, MaxRequestBodyBytes, is 3 MiB, "2x" etcd's so a JSON body that shrinks to
 *    protobuf fits: kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/server/config.go.)
 *  - The API server writes the review with Go's encoding/json, which escapes <, > and & (and
 *    control bytes) as \u00XX: 6 bytes for 1, the worst expansion of any byte of a string.
 *  - Plus the envelope (uid, kind, resource, userInfo, options): 64 KiB is ample.
 * 2 x 1.5 MiB x 6 + 64 KiB = 18 MiB + 64 KiB. The 3 MiB default this replaces answered 413
 * to UPDATEs of objects with a few hundred KB of escaped annotations or env values.
 * Memory is bounded separately (src/server/body-budget.ts): each body's estimated heap cost
 * when parsed (2 x bytes + 64 per JSON value) is charged to a budget of 40% of V8's heap limit
 * shared by all requests in flight; under the chart's NODE_OPTIONS (a 140 MiB heap limit) that
 * is 56 MiB, so one body of this size (at most about 36 MiB of cost) fits. Measured under those
 * NODE_OPTIONS: an 18 MiB UPDATE of plain text held about 41 MiB of heap after parsing, one of
 * escaped text 26 MiB (peak RSS 155 to 206 MiB); 8 bodies of 18 MiB of `{},{},...` at once were
 * refused (413/503) with the heap under 40 MiB, where 3 MiB of it alone had taken 87 MiB.
 * (kube-apiserver's 3 MiB request limit would give 2 x 3 MiB x 6 = 36 MiB: a body that large
 * costs about 72 MiB to parse, past the budget under the chart's heap limit.)
 */
export const DEFAULT_MAX_BODY_BYTES = 2 * 6 * 1.5 * 1024 * 1024 + 64 * 1024;

export const COST_PER_BYTE = 2;
export const COST_PER_SEPARATOR = 64;
/** Share of V8's heap limit that bodies in flight may claim: the rest is the process's own
 *  (caches, AWS clients, signature envelopes). 40% of the chart's 140 MiB limit is 56 MiB. */
export const HEAP_SHARE = 0.4;

// A reservation is held only by a body that is arriving. The first body byte must come within
// FIRST_BODY_BYTE_MS of the headers, and the whole body within bodyDeadlineMs(its length);
// otherwise the request is answered 408 and its charge returned. Without this, a client that
// sent headers with a large Content-Length and no body held the budget for up to the server's
// requestTimeout (30 s), and every admission meanwhile got 503. Legitimate traffic never comes
// near these: the API server writes the review, headers and body, in one go over the cluster
// network from memory (Go's http client), so its first body byte follows its headers within a
// round trip, and the minimum pace asked for (4 MiB/s after a 2 s allowance) is far below any
// cluster network (18 MiB, the largest review, then has 6.5 s; over 1 Gbit/s it takes 0.15 s).
export const FIRST_BODY_BYTE_MS = 1_000;
export const BODY_DEADLINE_BASE_MS = 2_000;
export const BODY_MIN_BYTES_PER_SECOND = 4 * 1024 * 1024;

/** How long a body of `bytes` may take to arrive in full, from its headers. */
export function bodyDeadlineMs(bytes: number): number {
  return BODY_DEADLINE_BASE_MS + Math.ceil((1000 * bytes) / BODY_MIN_BYTES_PER_SECOND);
}

export class BodyBudgetError extends Error {
  readonly statusCode: number;
  readonly code: BodyBudgetErrorCode;
  constructor(statusCode: 408 | 413 | 503, code: BodyBudgetErrorCode, message: string) {
    super(message);
    this.statusCode = statusCode;
    this.code = code;
  }
}

/** One body's account with the budget: what it has been charged, as its bytes arrive. */
export interface BodyMeter {
  /** Charges the next chunk of the body. A refusal (413 alone over the budget, 503 beside what
   *  others hold) is returned, not thrown, and leaves the charge as it was. */
  feed(chunk: Buffer): BodyBudgetError | undefined;
  /** Returns the charge; later calls do nothing, and later chunks are not charged. */
  release(): void;
  /** Body bytes fed so far. */
  received(): number;
}

export interface BodyBudget {
  readonly limit: number;
  inFlight(): number;
  /** Opens a body's account. With `declaredBytes` (the Content-Length), 2 x declaredBytes is
   *  reserved at once, and a BodyBudgetError is thrown (nothing held) when that alone is over
   *  the limit (413) or does not fit next to what other bodies hold (503). */
  meter(declaredBytes?: number): BodyMeter;
}

export function heapBudgetBytes(): number {
  return Math.floor(getHeapStatistics().heap_size_limit * HEAP_SHARE);
}

export function createBodyBudget(limit = heapBudgetBytes()): BodyBudget {
  let held = 0;
  return {
    limit,
    inFlight: () => held,
    meter(declaredBytes?: number) {
      let charged = 0;
      let released = false;
      const charge = (cost: number): BodyBudgetError | undefined => {
        const delta = cost - charged;
        if (cost > limit) {
          return new BodyBudgetError(
            413,
            ErrorCodes.BODY_TOO_COSTLY,
            `request body too costly to parse: its JSON would need about ${mib(cost)} of heap, over the ${mib(limit)} bodies may use`,
          );
        }
        if (held + delta > limit) {
          return new BodyBudgetError(
            503,
            ErrorCodes.BODY_BUDGET_BUSY,
            `too many large request bodies in flight (${mib(held)} of ${mib(limit)} of heap held); retry`,
          );
        }
        held += delta;
        charged = cost;
        return undefined;
      };
      // The base cost is reserved now, while nothing is read: the first to arrive keeps its
      // place, and those that do not fit are told at once instead of after streaming.
      const reserved = declaredBytes !== undefined && Number.isSafeInteger(declaredBytes) && declaredBytes >= 0 ? declaredBytes : 0;
      const refused = charge(reserved * COST_PER_BYTE);
      if (refused) throw refused;
      let bytes = 0;
      const scan = new JsonScanner();
      return {
        feed(chunk: Buffer) {
          // Counted always (the reader's byte limit and Content-Length checks read it); charged only
          // while the account is open: after an answer (413 on Content-Length, say) nothing is held.
          bytes += chunk.length;
          if (released) return undefined;
          scan.feed(chunk);
          return charge(Math.max(bytes, reserved) * COST_PER_BYTE + scan.separators * COST_PER_SEPARATOR);
        },
        release() {
          if (released) return;
          released = true;
          held -= charged;
          charged = 0;
        },
        received: () => bytes,
      };
    },
  };
}

function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
