// Inspector's pagination as clients meet it. The API reference promises only that a response
// "will return a nextToken value" when more results remain; what Inspector really sends
// includes pages that hold nothing yet carry a nextToken, and a last page of results whose
// token leads to an empty page (issue 22). A client that stops on an empty page, or after a
// fixed number of pages, reads "not covered" or "no findings" where there are some. The
// fixture's inspector.paging turns this on; by default pages are plain.
import type { Runtime } from './context.ts';
import { inspectorValidation } from './inspector-filters.ts';

interface Position {
  /** Offset of the next result. */
  o: number;
  /** Empty pages already served before the page at `o`. */
  e: number;
  /** The trailing empty page is what this token leads to. */
  t?: true;
}

const MAX_EMPTY_PAGES = 1000;

function encode(query: string, pos: Position): string {
  return Buffer.from(JSON.stringify({ q: query, ...pos })).toString('base64url');
}

/** A token replayed against another query, or forged, is refused as Inspector refuses it. */
function decode(token: string | undefined, query: string): Position {
  if (token === undefined) return { o: 0, e: 0 };
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (v.q === query && Number.isInteger(v.o) && (v.o as number) >= 0 && Number.isInteger(v.e) && (v.e as number) >= 0) {
      return { o: v.o as number, e: v.e as number, ...(v.t === true && { t: true as const }) };
    }
  } catch {
    // refused below
  }
  throw inspectorValidation('The nextToken is not valid for this request');
}

export function inspectorPage<T>(
  rt: Runtime,
  items: readonly T[],
  query: string,
  nextToken: string | undefined,
  size: number,
): { items: T[]; nextToken?: string } {
  const paging = rt.state().fixture.inspector?.paging;
  const empties = Math.min(Math.max(0, Math.trunc(paging?.emptyPages ?? 0)), MAX_EMPTY_PAGES);
  const pos = decode(nextToken, query);
  if (pos.t) return { items: [] };
  if (pos.e < empties) return { items: [], nextToken: encode(query, { o: pos.o, e: pos.e + 1 }) };
  const slice = items.slice(pos.o, pos.o + size);
  const next = pos.o + size;
  if (next < items.length) return { items: slice, nextToken: encode(query, { o: next, e: 0 }) };
  return paging?.trailingToken ? { items: slice, nextToken: encode(query, { o: items.length, e: empties, t: true }) } : { items: slice };
}
