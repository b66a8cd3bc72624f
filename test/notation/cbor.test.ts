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
  if (v instanceof Map) return [...v].map(([k, x]: [unknown, unknown]) => [k, normal(x)]);
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
  fc.assert(
    fc.property(value, (v) => {
      t.same(normal(other.dec.decode(encodeCbor(v))), normal(v));
    }),
    { numRuns: 300 },
  );
});

t.test('their encoder, our decoder', async (t) => {
  fc.assert(
    fc.property(value, (v) => {
      const toTheirs = (x: CborValue): unknown =>
        x instanceof CborTag
          ? new Tag(x.tag, toTheirs(x.value))
          : Array.isArray(x)
            ? x.map(toTheirs)
            : x instanceof Map
              ? new Map([...x].map(([k, y]) => [k, toTheirs(y)]))
              : x;
      // Random values may nest deeper than an envelope may: this compares decoding, not bounds.
      const decoded = decodeCbor(other.enc.encode(toTheirs(v)), { maxItems: 1_000_000, maxDepth: 64 });
      if (!decoded.ok) throw new Error(decoded.reason);
      t.same(normal(decoded.value), normal(v));
    }),
    { numRuns: 300 },
  );
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
    [`${'81'.repeat(40)}01`, 'nesting 40 deep', /nesting deeper than 8/],
    [`${'81'.repeat(9)}01`, 'nesting 9 deep', /nesting deeper than 8/],
    [`${'a1 01'.repeat(9)}01`, 'maps nested 9 deep', /nesting deeper than 8/],
    [`99 0400 ${'00'.repeat(1024)}`, 'an array of 1024 items (1025 with itself)', /more than 1024 items/],
    [`99 0400`, 'an array head of 1024 items with nothing after it', /exceeds|more than 1024 items/],
    [`82 99 03ff ${'00'.repeat(1023)} 00`, '1026 items in two arrays', /more than 1024 items/],
    [`b9 0200 ${'0000'.repeat(512)}`, 'a map of 512 pairs (1025 items)', /more than 1024 items/],
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

t.test('bounds: the deepest and widest input within them decodes', async (t) => {
  const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/ /g, ''), 'hex'));
  t.same(decodeCbor(hex(`${'81'.repeat(8)}01`)), { ok: true, value: [[[[[[[[1]]]]]]]] }, 'depth 8');
  const wide = decodeCbor(hex(`99 03ff ${'00'.repeat(1023)}`));
  t.ok(wide.ok && Array.isArray(wide.value) && wide.value.length === 1023, '1024 items');
});

t.test('an item budget is spent while decoding: a container too large for it is refused at its head', async (t) => {
  // The array head declares 1,000,000 items; the input holds them, so only the budget stops it,
  // and it does so before a single element is read (the reason comes from the head).
  const input = Buffer.concat([Buffer.of(0x9a, 0x00, 0x0f, 0x42, 0x40), Buffer.alloc(1_000_000, 0x80)]);
  const r = decodeCbor(input);
  t.match(r, { ok: false, code: 'PARSE', reason: 'CBOR: more than 1024 items' });
  // With a larger budget the same input decodes: the bound, not the input, refused it.
  const allowed = decodeCbor(input, { maxItems: 1_000_001, maxDepth: 8 });
  t.ok(allowed.ok && Array.isArray(allowed.value) && allowed.value.length === 1_000_000, 'a budget of 1,000,001 decodes it');
});
