// What reading one image's signatures may cost. Anyone who can push to an allowed repository
// can hang referrers of any size and number on an image, and each admission reads them: so
// the envelope size is bounded before download (from the size its digest-checked manifest
// declares) and while reading, referrers are fetched a few at a time, and one image check
// (an index and its children together) reads at most ENVELOPE_BUDGET_BYTES of envelopes.
// Referrers past the budget are not fetched, and the denial says so.
import { MAX_ENVELOPE_BYTES } from '../notation/index.ts';

/** Real Notation envelopes are a few KB; the verifier refuses larger ones (src/notation). */
export { MAX_ENVELOPE_BYTES };

/** A Notation signature manifest is under 1 KB (one layer, the empty config, a subject and a
 *  few annotations); anything much larger is not one. */
export const MAX_SIGNATURE_MANIFEST_BYTES = 64 * 1024;

/** Envelope bytes one image check may read, shared by an index and its children. */
export const ENVELOPE_BUDGET_BYTES = 1024 * 1024;

/** Signature referrers fetched at once per listing. */
export const REFERRER_FETCH_CONCURRENCY = 4;

/** Signature referrers examined per digest; more are not examined and the message says so. */
export const MAX_REFERRERS = 50;

export class EnvelopeBudget {
  readonly total: number;
  #remaining: number;
  #refused = 0;

  constructor(bytes = ENVELOPE_BUDGET_BYTES) {
    this.total = bytes;
    this.#remaining = bytes;
  }

  /** Takes `bytes` (a declared envelope size) before its download; false, and counted, when
   *  they are not left: that referrer is then not fetched. */
  take(bytes: number): boolean {
    if (bytes > this.#remaining) {
      this.#refused += 1;
      return false;
    }
    this.#remaining -= bytes;
    return true;
  }

  /** Referrers left unread because the budget was spent. */
  get refused(): number {
    return this.#refused;
  }
}
