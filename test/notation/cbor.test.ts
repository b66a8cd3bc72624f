// The strict CBOR codec: cross-checked against cbor2 (an independent implementation)
// on random values, and refusing every malformed shape the COSE parser must not accept.
import { decode as theirDecode, encode as theirEncode, Tag } from 'cbor2';
import fc from 'fast-check';
import t from 'tap';
import { CborTag, decodeCbor, encodeCbor, type CborKey, type CborValue } from '../../src/notation/cbor.ts';

const other = { enc: { encode: (v: unknown) => theirEncode(v) }, dec: { decode: (b: Uint8Array) => theirDecode(b, { preferMap: true }) } };

/** Normal form for comparison: Buffers as plain byte arrays, cbor2 Tags as our CborTag. */
function normal(v: unknown): unknown {
  if (v instanceof Uint8Array) return { bytes: [...v] };
  if (Array.isArray(v)) return v.map(normal);
  if (v instanceof Map) return [...v].map(([k, x]) => [k, normal(x)]);
  if (v instanceof Tag) return { tag: Number(v.tag), value: normal(v.contents) };
  if (v instanceof CborTag) return { tag: v.tag, value: normal(v.value) };
  return v;
}

const key: fc.Arbitrary<CborKey> = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.string({ maxLength: 12 }));
const { value } = fc.letrec<{ value: CborValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.string({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.uniqueArray(fc.tuple(key, tie('value')), { maxLength: 4, selector: ([k]) => `${typeof k}:${String(k)}` }).map((e) => new Map(e)),
    fc.tuple(fc.constantFrom(18, 1000, 40000), tie('value')).map(([tag, v]) => new CborTag(tag, v)),
  ),
}));

t.test('our encoder, their decoder', async (t) => {
  fc.assert(fc.property(value, (v) => {
    t.same(normal(other.dec.decode(encodeCbor(v))), normal(v));
  }), { numRuns: 300 });
});

t.test('their encoder, our decoder', async (t) => {
  fc.assert(fc.property(value, (v) => {
    const toTheirs = (x: CborValue): unknown =>
      x instanceof CborTag ? new Tag(x.tag, toTheirs(x.value))
        : Array.isArray(x) ? x.map(toTheirs)
        : x instanceof Map ? new Map([...x].map(([k, y]) => [k, toTheirs(y)]))
        : x;
    const decoded = decodeCbor(other.enc.encode(toTheirs(v)));
    if (!decoded.ok) throw new Error(decoded.reason);
    t.same(normal(decoded.value), normal(v));
  }), { numRuns: 300 });
});

t.test('hostile and malformed input is refused with a reason', async (t) => {
  const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
  const cases: [string, string, RegExp][] = [
    ['', 'empty', /truncated/],
    ['5f4101ff', 'indefinite byte string', /indefinite/],
    ['9f01ff', 'indefinite array', /indefinite/],
    ['bf0101ff', 'indefinite map', /indefinite/],
    ['5b00000000ffffffff', 'byte string of 4 GiB', /exceeds/],
    ['9bffffffffffffffff', 'array of 2^64-1 items', /exceeds/],
    ['ba7fffffff', 'map of 2^31 pairs', /exceeds/],
    ['430102', 'truncated byte string', /truncated|exceeds/],
    ['a2010201 03', 'duplicate map key', /duplicate/],
    ['a1410101', 'byte-string map key', /map keys/],
    ['0101', 'trailing byte', /trailing/],
    ['62c328', 'invalid UTF-8', /UTF-8/],
    ['1c', 'reserved additional information', /reserved/],
    ['f8ff', 'unassigned simple value', /simple/],
    ['c1', 'tag without content', /truncated/],
    [`${'81'.repeat(40)}01`, 'nesting 40 deep', /nesting/],
  ];
  for (const [h, name, pattern] of cases) {
    const r = decodeCbor(hex(h.replace(/ /g, '')));
    t.equal(r.ok, false, name);
    if (!r.ok) {
      t.equal(r.code, 'PARSE');
      t.match(r.reason, pattern, name);
    }
  }
  const half = decodeCbor(hex('f93c00'));
  t.same(half, { ok: true, value: 1 }, 'half-precision float');
  const big = decodeCbor(hex('1bffffffffffffffff'));
  t.same(big, { ok: true, value: 0xffffffffffffffffn }, 'beyond 2^53 stays exact as a bigint');
  const neg = decodeCbor(hex('3bffffffffffffffff'));
  t.same(neg, { ok: true, value: -0x10000000000000000n }, 'the most negative CBOR integer');
});
