// What reading one image's signatures may cost. Anyone who can push to an allowed repository
// can hang referrers of any size and number on an image, and each admission reads them: so
// the envelope size is bounded before download (from the size its digest-checked manifest
// declares) and while reading, referrers are fetched a few at a time, and one image check
// (an index and its children together) reads at most ENVELOPE_BUDGET_BYTES of envelopes and
// at most MAX_REFERRER_READS signature manifests: the byte budget alone lets tiny junk
// envelopes cost nothing, so 64 children with 50 junk referrers each made thousands of AWS
// calls (issue 12). Referrers past either budget are not fetched, and the denial says so.
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

/** Signature manifests (referrers) one image check may read, shared by an index and its
 *  children: enough for a signature on each of 64 platforms, and the bound on what junk
 *  referrers can cost (each read is a BatchGetImage or a registry GET, then maybe a download). */
export const MAX_REFERRER_READS = 64;

export class EnvelopeBudget {
  readonly total: number;
  readonly reads: number;
  #remaining: number;
  #readsLeft: number;
  #refused = 0;

  constructor(bytes = ENVELOPE_BUDGET_BYTES, reads = MAX_REFERRER_READS) {
    this.total = bytes;
    this.reads = reads;
    this.#remaining = bytes;
    this.#readsLeft = reads;
  }

  /** Takes one signature-manifest read before it is made; false, and counted, when none is
   *  left: that referrer is then not read at all. */
  takeRead(): boolean {
    if (this.#readsLeft <= 0) {
      this.#refused += 1;
      return false;
    }
    this.#readsLeft -= 1;
    return true;
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
