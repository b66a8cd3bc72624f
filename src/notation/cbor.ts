// A strict CBOR (RFC 8949) decoder and a small encoder, for COSE_Sign1 envelopes.
// Written here rather than taken from cbor-x because the decoder faces hostile bytes
// and must hold to rules a general-purpose library relaxes: no indefinite lengths
// (go-cose forbids them too), map keys only integers or text, no duplicate keys,
// lengths checked against the bytes actually left before anything is allocated,
// bounded nesting, no trailing bytes, and failure as a value instead of an exception.
import { failure, parsed, type Parsed } from './errors.ts';

export class CborTag {
  readonly tag: number;
  readonly value: CborValue;
  constructor(tag: number, value: CborValue) {
    this.tag = tag;
    this.value = value;
  }
}

export type CborKey = number | string;
export type CborValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | Uint8Array
  | CborValue[]
  | Map<CborKey, CborValue>
  | CborTag;

const MAX_DEPTH = 16;

class CborError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos = 0;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  remaining(): number {
    return this.bytes.length - this.pos;
  }
  need(n: number): void {
    if (n > this.remaining()) throw new CborError(`truncated: needs ${n} more bytes at offset ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++] as number;
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** Reads the argument of a head; returns a number when it fits exactly, a bigint otherwise. */
function readArgument(r: Reader, info: number): number | bigint {
  if (info < 24) return info;
  switch (info) {
    case 24:
      return r.u8();
    case 25: {
      r.need(2);
      const v = r.view.getUint16(r.pos);
      r.pos += 2;
      return v;
    }
    case 26: {
      r.need(4);
      const v = r.view.getUint32(r.pos);
      r.pos += 4;
      return v;
    }
    case 27: {
      r.need(8);
      const v = r.view.getBigUint64(r.pos);
      r.pos += 8;
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case 31:
      throw new CborError('indefinite-length items are not accepted');
    default:
      throw new CborError(`reserved additional information ${info}`);
  }
}

/** A length must be a number that the remaining input could possibly hold. */
function readLength(r: Reader, info: number, minBytesPerUnit: number): number {
  const n = readArgument(r, info);
  if (typeof n === 'bigint' || n * minBytesPerUnit > r.remaining()) {
    throw new CborError(`length ${String(n)} exceeds the ${r.remaining()} bytes left`);
  }
  return n;
}

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function readItem(r: Reader, depth: number): CborValue {
  if (depth > MAX_DEPTH) throw new CborError(`nesting deeper than ${MAX_DEPTH}`);
  const initial = r.u8();
  const major = initial >> 5;
  const info = initial & 0x1f;
  switch (major) {
    case 0:
      return readArgument(r, info);
    case 1: {
      const n = readArgument(r, info);
      return typeof n === 'bigint' ? -1n - n : n === Number.MAX_SAFE_INTEGER ? -1n - BigInt(n) : -1 - n;
    }
    case 2:
      return r.take(readLength(r, info, 1));
    case 3: {
      const raw = r.take(readLength(r, info, 1));
      try {
        return utf8.decode(raw);
      } catch {
        throw new CborError('text string is not valid UTF-8');
      }
    }
    case 4: {
      const n = readLength(r, info, 1);
      const out: CborValue[] = [];
      for (let i = 0; i < n; i++) out.push(readItem(r, depth + 1));
      return out;
    }
    case 5: {
      const n = readLength(r, info, 2);
      const out = new Map<CborKey, CborValue>();
      for (let i = 0; i < n; i++) {
        const key = readItem(r, depth + 1);
        if (typeof key !== 'number' && typeof key !== 'string') {
          throw new CborError('map keys must be integers or text strings');
        }
        if (out.has(key)) throw new CborError(`duplicate map key ${JSON.stringify(key)}`);
        out.set(key, readItem(r, depth + 1));
      }
      return out;
    }
    case 6: {
      const tag = readArgument(r, info);
      if (typeof tag === 'bigint') throw new CborError('tag number too large');
      return new CborTag(tag, readItem(r, depth + 1));
    }
    default: {
      // major 7: simple values and floats
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
          r.need(2);
          const v = halfToNumber(r.view.getUint16(r.pos));
          r.pos += 2;
          return v;
        }
        case 26: {
          r.need(4);
          const v = r.view.getFloat32(r.pos);
          r.pos += 4;
          return v;
        }
        case 27: {
          r.need(8);
          const v = r.view.getFloat64(r.pos);
          r.pos += 8;
          return v;
        }
        default:
          throw new CborError(`unsupported simple value ${info}`);
      }
    }
  }
}

/** Decodes exactly one CBOR item that spans all of `bytes`. Never throws. */
export function decodeCbor(bytes: Uint8Array): Parsed<CborValue> {
  try {
    const r = new Reader(bytes);
    const value = readItem(r, 0);
    if (r.remaining() !== 0) return failure('PARSE', `CBOR: ${r.remaining()} trailing bytes after the item`);
    return parsed(value);
  } catch (err) {
    const message = err instanceof CborError ? err.message : `malformed input (${String(err)})`;
    return failure('PARSE', `CBOR: ${message}`);
  }
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
