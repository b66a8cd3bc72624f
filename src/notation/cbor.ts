// A strict CBOR (RFC 8949) decoder and a small encoder, for COSE_Sign1 envelopes.
// Written here rather than taken from cbor-x because the decoder faces hostile bytes
// and must hold to rules a general-purpose library relaxes: no indefinite lengths
// (go-cose, which notation uses, forbids them too), map keys only integers or text, no
// duplicate keys, lengths checked against the bytes actually left before anything is
// allocated, an item budget and a nesting bound checked while decoding (not after), no
// trailing bytes, and failure as a value instead of an exception. Callers that expect a
// shape (cose.ts) read it head by head through CborReader, so that a wrong shape is refused
// before anything nested in it is decoded.
import { failure, parsed, type Parsed } from './errors.ts';
import { ErrorCodes } from '../support/errors.ts';

export class CborTag {
  readonly tag: number;
  readonly value: CborValue;
  constructor(tag: number, value: CborValue) {
    this.tag = tag;
    this.value = value;
  }
}

export type CborKey = number | string;
export type CborValue = number | bigint | string | boolean | null | undefined | Uint8Array | CborValue[] | Map<CborKey, CborValue> | CborTag;

export interface CborLimits {
  /** Data items in the whole input, containers and their contents alike. */
  maxItems: number;
  /** The top item is at depth 0; a container's contents one deeper than it. */
  maxDepth: number;
}

/**
 * Bounds for one COSE_Sign1 envelope, and separately for its protected header. Real ones
 * need little: notation's alpine envelope has 11 items outside the protected header and 13
 * in it, an AWS-Signer-shaped one 12 and 23; both reach depth 4 (tag 18, the array, the
 * unprotected map, x5chain, a certificate) outside and 2 in the protected header. The margin
 * is for extended attributes and longer chains; what it caps is what a hostile envelope can
 * make the decoder build (a few hundred KiB at most).
 */
export const COSE_LIMITS: Readonly<CborLimits> = { maxItems: 1024, maxDepth: 8 };

export const MAJOR_BYTES = 2;
export const MAJOR_ARRAY = 4;
export const MAJOR_MAP = 5;
export const MAJOR_TAG = 6;

/** Malformed CBOR, or over a bound: rendered as "CBOR: ...". */
class CborError extends Error {}
/** Well-formed CBOR of the wrong shape for the caller: rendered as the caller's own words. */
class CborShapeError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Reads one input under one set of limits; every method throws, decodeCborWith catches. */
export class CborReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #limits: CborLimits;
  #pos = 0;
  #items = 0;

  constructor(bytes: Uint8Array, limits: CborLimits) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#limits = limits;
  }

  #remaining(): number {
    return this.#bytes.length - this.#pos;
  }

  #need(n: number): void {
    if (n > this.#remaining()) throw new CborError(`truncated: needs ${n} more bytes at offset ${this.#pos}`);
  }

  #u8(): number {
    this.#need(1);
    return this.#bytes[this.#pos++] as number;
  }

  #take(n: number): Uint8Array {
    this.#need(n);
    const out = this.#bytes.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return out;
  }

  /** Spends `n` items of the budget; containers reserve their contents before reading them. */
  #spend(n: number): void {
    this.#items += n;
    if (this.#items > this.#limits.maxItems) throw new CborError(`more than ${this.#limits.maxItems} items`);
  }

  /** The argument of a head: a number when it fits exactly, a bigint otherwise. */
  #argument(info: number): number | bigint {
    if (info < 24) return info;
    switch (info) {
      case 24:
        return this.#u8();
      case 25: {
        this.#need(2);
        const v = this.#view.getUint16(this.#pos);
        this.#pos += 2;
        return v;
      }
      case 26: {
        this.#need(4);
        const v = this.#view.getUint32(this.#pos);
        this.#pos += 4;
        return v;
      }
      case 27: {
        this.#need(8);
        const v = this.#view.getBigUint64(this.#pos);
        this.#pos += 8;
        return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 31:
        throw new CborError('indefinite-length items are not accepted');
      default:
        throw new CborError(`reserved additional information ${info}`);
    }
  }

  /** A length must be one the remaining input could hold, `minBytesPerUnit` bytes per unit. */
  #fits(n: number | bigint, minBytesPerUnit: number): number {
    if (typeof n === 'bigint' || n * minBytesPerUnit > this.#remaining()) {
      throw new CborError(`length ${String(n)} exceeds the ${this.#remaining()} bytes left`);
    }
    return n;
  }

  #length(info: number, minBytesPerUnit: number): number {
    return this.#fits(this.#argument(info), minBytesPerUnit);
  }

  /** The major type of the next item, without consuming it. */
  peekMajor(): number {
    this.#need(1);
    return (this.#bytes[this.#pos] as number) >> 5;
  }

  /** Reads the head of an item of major type `major` (else `wrongShape`); returns its argument. */
  #expectHead(major: number, wrongShape: string): number | bigint {
    if (this.peekMajor() !== major) throw new CborShapeError(wrongShape);
    this.#spend(1);
    return this.#argument(this.#u8() & 0x1f);
  }

  /** A tag head with this number; its content is read next. */
  expectTag(tag: number, wrongShape: string): void {
    if (this.#expectHead(MAJOR_TAG, wrongShape) !== tag) throw new CborShapeError(wrongShape);
  }

  /** An array head of exactly `length` items; they are read next, one call each. */
  expectArray(length: number, wrongShape: string): void {
    if (this.#expectHead(MAJOR_ARRAY, wrongShape) !== length) throw new CborShapeError(wrongShape);
  }

  /** A whole byte string (a view into the input, not a copy). */
  expectBytes(wrongShape: string): Uint8Array {
    return this.#take(this.#fits(this.#expectHead(MAJOR_BYTES, wrongShape), 1));
  }

  /** One whole item of major type `major` (else `wrongShape`), at `depth` within the input. */
  expectItem(major: number, depth: number, wrongShape: string): CborValue {
    if (this.peekMajor() !== major) throw new CborShapeError(wrongShape);
    return this.item(depth);
  }

  /** Refuses input left after the last item the caller wanted. */
  end(): void {
    if (this.#remaining() !== 0) throw new CborError(`${this.#remaining()} trailing bytes after the item`);
  }

  /** One whole item, at `depth` within the input. */
  item(depth: number): CborValue {
    if (depth > this.#limits.maxDepth) throw new CborError(`nesting deeper than ${this.#limits.maxDepth}`);
    this.#spend(1);
    const initial = this.#u8();
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
        return this.#argument(info);
      case 1: {
        const n = this.#argument(info);
        return typeof n === 'bigint' ? -1n - n : n === Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
      }
      case 2:
        return this.#take(this.#length(info, 1));
      case 3: {
        const raw = this.#take(this.#length(info, 1));
        try {
          return utf8.decode(raw);
        } catch {
          throw new CborError('text string is not valid UTF-8');
        }
      }
      case 4: {
        const n = this.#length(info, 1);
        this.#reserve(n);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.#length(info, 2);
        this.#reserve(2 * n);
        const out = new Map<CborKey, CborValue>();
        for (let i = 0; i < n; i++) {
          const key = this.item(depth + 1);
          if (typeof key !== 'number' && typeof key !== 'string') {
            throw new CborError('map keys must be integers or text strings');
          }
          if (out.has(key)) throw new CborError(`duplicate map key ${JSON.stringify(key)}`);
          out.set(key, this.item(depth + 1));
        }
        return out;
      }
      case 6: {
        const tag = this.#argument(info);
        if (typeof tag === 'bigint') throw new CborError('tag number too large');
        return new CborTag(tag, this.item(depth + 1));
      }
      default:
        return this.#simple(info);
    }
  }

  /** A container of `n` items is refused at its head when the budget cannot hold them. */
  #reserve(n: number): void {
    if (this.#items + n > this.#limits.maxItems) throw new CborError(`more than ${this.#limits.maxItems} items`);
  }

  /** Major type 7: simple values and floats. */
  #simple(info: number): CborValue {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 25: {
        this.#need(2);
        const v = halfToNumber(this.#view.getUint16(this.#pos));
        this.#pos += 2;
        return v;
      }
      case 26: {
        this.#need(4);
        const v = this.#view.getFloat32(this.#pos);
        this.#pos += 4;
        return v;
      }
      case 27: {
        this.#need(8);
        const v = this.#view.getFloat64(this.#pos);
        this.#pos += 8;
        return v;
      }
      default:
        throw new CborError(`unsupported simple value ${info}`);
    }
  }
}

/**
 * Runs `read` over `bytes` under `limits`. Malformed input and a broken bound give
 * "CBOR: ..."; a wrong shape the caller's own message. Never throws.
 */
export function decodeCborWith<T>(bytes: Uint8Array, limits: CborLimits, read: (r: CborReader) => T): Parsed<T> {
  try {
    return parsed(read(new CborReader(bytes, limits)));
  } catch (err) {
    if (err instanceof CborShapeError) return failure(ErrorCodes.PARSE, err.message);
    const message = err instanceof CborError ? err.message : `malformed input (${String(err)})`;
    return failure(ErrorCodes.PARSE, `CBOR: ${message}`);
  }
}

/** Decodes exactly one CBOR item that spans all of `bytes`. Never throws. */
export function decodeCbor(bytes: Uint8Array, limits: CborLimits = COSE_LIMITS): Parsed<CborValue> {
  return decodeCborWith(bytes, limits, (r) => {
    const value = r.item(0);
    r.end();
    return value;
  });
}

// ---- encoder (for the signer in sign.ts and the Sig_structure) ----

function head(major: number, n: number | bigint): Uint8Array {
  const m = major << 5;
  if (typeof n === 'number' && n < 24) return Uint8Array.of(m | n);
  if (typeof n === 'number' && n < 0x100) return Uint8Array.of(m | 24, n);
  if (typeof n === 'number' && n < 0x10000) return Uint8Array.of(m | 25, n >> 8, n & 0xff);
  if (typeof n === 'number' && n < 0x100000000) {
    const out = new Uint8Array(5);
    out[0] = m | 26;
    new DataView(out.buffer).setUint32(1, n);
    return out;
  }
  const out = new Uint8Array(9);
  out[0] = m | 27;
  new DataView(out.buffer).setBigUint64(1, BigInt(n));
  return out;
}

const utf8Encoder = new TextEncoder();

function encodeInto(value: CborValue, parts: Uint8Array[]): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError('the CBOR encoder only writes integers');
    parts.push(value >= 0 ? head(0, value) : head(1, -1 - value));
  } else if (typeof value === 'bigint') {
    parts.push(value >= 0n ? head(0, value) : head(1, -1n - value));
  } else if (typeof value === 'string') {
    const b = utf8Encoder.encode(value);
    parts.push(head(3, b.length), b);
  } else if (value instanceof Uint8Array) {
    parts.push(head(2, value.length), value);
  } else if (Array.isArray(value)) {
    parts.push(head(4, value.length));
    for (const v of value) encodeInto(v, parts);
  } else if (value instanceof Map) {
    parts.push(head(5, value.size));
    for (const [k, v] of value) {
      encodeInto(k, parts);
      encodeInto(v, parts);
    }
  } else if (value instanceof CborTag) {
    parts.push(head(6, value.tag));
    encodeInto(value.value, parts);
  } else if (value === false) {
    parts.push(Uint8Array.of(0xf4));
  } else if (value === true) {
    parts.push(Uint8Array.of(0xf5));
  } else if (value === null) {
    parts.push(Uint8Array.of(0xf6));
  } else {
    parts.push(Uint8Array.of(0xf7));
  }
}

export function encodeCbor(value: CborValue): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeInto(value, parts);
  return Buffer.concat(parts);
}
