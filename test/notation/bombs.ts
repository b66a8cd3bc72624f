// Envelope bombs: small inputs that cost a naive decoder far more memory or time than their
// size. Built byte by byte (no encoder in between that could refuse or normalise them), for
// test/hardening/envelope-bombs.test.ts and the notation unit tests.

const MiB = 1024 * 1024;

/** A CBOR head (major type, argument) with the shortest argument encoding. */
export function cborHead(major: number, n: number): Buffer {
  const m = major << 5;
  if (n < 24) return Buffer.of(m | n);
  if (n < 0x100) return Buffer.of(m | 24, n);
  if (n < 0x10000) return Buffer.of(m | 25, n >> 8, n & 0xff);
  const out = Buffer.alloc(5);
  out[0] = m | 26;
  out.writeUInt32BE(n, 1);
  return out;
}

/** Tag 18, an array of 4 items: the first bytes of every COSE_Sign1_Tagged envelope. */
const COSE_PREFIX = Buffer.of(0xd2, 0x84);
/** A one-byte protected header bstr holding an empty map, then the unprotected map's head. */
const PROTECTED_EMPTY = Buffer.of(0x41, 0xa0);

/** An array of empty arrays (0x80 each) that takes exactly `bytes` bytes, head included. */
function emptyArrays(bytes: number): Buffer {
  let count = bytes - 1;
  while (count + cborHead(4, count).length > bytes) count--;
  return Buffer.concat([cborHead(4, count), Buffer.alloc(count, 0x80)]);
}

/**
 * The COSE bomb of issue 12: a COSE_Sign1 whose first element is an array of empty arrays
 * filling `bytes` (4 MiB: about 4.2 million arrays). Decoding it whole before looking at its
 * shape builds millions of JS arrays.
 */
export function coseEmptyArraysInBody(bytes = 4 * MiB): Buffer {
  return Buffer.concat([COSE_PREFIX, emptyArrays(bytes - COSE_PREFIX.length)]);
}

/**
 * The same empty arrays where the shape allows a nested item: as the x5chain (label 33) of
 * the unprotected header, after a well-formed protected header. Only an item budget stops it.
 */
export function coseEmptyArraysInUnprotected(bytes = 4 * MiB): Buffer {
  const head = Buffer.concat([COSE_PREFIX, PROTECTED_EMPTY, Buffer.of(0xa1, 0x18, 0x21)]);
  return Buffer.concat([head, emptyArrays(bytes - head.length)]);
}

/** The protected header (a bstr) holds a map whose one value is an array of empty arrays. */
export function coseEmptyArraysInProtected(bytes = 60 * 1024): Buffer {
  const inner = Buffer.concat([Buffer.of(0xa1, 0x01), emptyArrays(bytes - 16)]);
  return Buffer.concat([COSE_PREFIX, cborHead(2, inner.length), inner, Buffer.of(0xa0, 0x40, 0x40)]);
}

/** Maps nested `depth` deep ({1: {1: ... 1}}) in the unprotected header. */
export function coseDeepMaps(depth: number): Buffer {
  return Buffer.concat([COSE_PREFIX, PROTECTED_EMPTY, Buffer.alloc(depth * 2).fill(Buffer.of(0xa1, 0x01)), Buffer.of(0x01)]);
}

/** Heads that declare far more than the input holds: a 4 GiB bstr, 2^32-1 items, 2^31 pairs, 2^64-1 items. */
export function coseHugeLengths(): Array<[string, Buffer]> {
  return [
    ['protected bstr of 4 GiB', Buffer.concat([COSE_PREFIX, Buffer.of(0x5a, 0xff, 0xff, 0xff, 0xff), Buffer.alloc(16)])],
    ['unprotected map of 2^31 pairs', Buffer.concat([COSE_PREFIX, PROTECTED_EMPTY, Buffer.of(0xba, 0x80, 0x00, 0x00, 0x00), Buffer.alloc(16)])],
    ['x5chain of 2^32-1 items', Buffer.concat([COSE_PREFIX, PROTECTED_EMPTY, Buffer.of(0xa1, 0x18, 0x21, 0x9a, 0xff, 0xff, 0xff, 0xff), Buffer.alloc(16)])],
    ['x5chain of 2^64-1 items', Buffer.concat([COSE_PREFIX, PROTECTED_EMPTY, Buffer.of(0xa1, 0x18, 0x21, 0x9b), Buffer.alloc(8, 0xff), Buffer.alloc(16)])],
    ['payload bstr of 2^63 bytes', Buffer.concat([COSE_PREFIX, PROTECTED_EMPTY, Buffer.of(0xa0, 0x5b, 0x80), Buffer.alloc(7), Buffer.alloc(16)])],
  ];
}

/** `[[[...]]]` nested to fill `bytes`: the JWS bomb of issue 12 (67 MiB of heap at 4 MiB). */
export function jsonNestedArrays(bytes = 4 * MiB): Buffer {
  const depth = Math.floor(bytes / 2);
  return Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
}

/** A JWS-shaped object whose unprotected header hides nested arrays filling `bytes`. */
export function jwsNestedInHeader(bytes = 4 * MiB): Buffer {
  const shell = '{"payload":"e30","protected":"e30","signature":"AA","header":{"x5c":["AA=="],"x":}}';
  const depth = Math.floor((bytes - shell.length) / 2);
  return Buffer.from(shell.replace('"x":', `"x":${'['.repeat(depth)}${']'.repeat(depth)}`));
}

/** A JWS whose protected header (base64url JSON) is nested arrays, the rest well-formed. */
export function jwsNestedInProtected(bytes = 12 * 1024): Buffer {
  const depth = Math.floor((bytes * 3) / 4 / 2) - 16;
  const header = Buffer.from(`{"alg":${'['.repeat(depth)}${']'.repeat(depth)}}`).toString('base64url');
  return Buffer.from(JSON.stringify({ payload: 'e30', protected: header, signature: 'AA', header: { x5c: ['AA=='] } }));
}

/** A JWS whose unprotected header holds one wide array: `x5c` of zeros filling `bytes`. */
export function jwsWideHeader(bytes = 4 * MiB): Buffer {
  const count = Math.floor((bytes - 100) / 2);
  return Buffer.from(`{"payload":"e30","protected":"e30","signature":"AA","header":{"x5c":[${'0,'.repeat(count)}0]}}`);
}
