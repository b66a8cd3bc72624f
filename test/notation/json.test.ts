// The bounded JSON parser in front of JSON.parse: the same answer as JSON.parse for any
// document within the bounds, a refusal naming the bound otherwise, and strings (escapes
// included) never counted as structure.
import fc from 'fast-check';
import t from 'tap';
import { parseBoundedJson } from '../../src/notation/json.ts';
import { verifySignature } from '../../src/notation/index.ts';
import { parsePayload } from '../../src/notation/payload.ts';
import { awsChain, awsOptions, signAws, tamperJws, TARGET } from './helpers.ts';

const LIMITS = { maxBytes: 4096, maxDepth: 4, maxValues: 64 };
const bytes = (s: string) => new TextEncoder().encode(s);

function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (typeof v === 'object' && v !== null) return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

t.test('within the bounds: exactly what JSON.parse gives; deeper: refused', async (t) => {
  let within = 0;
  let deeper = 0;
  // A random value wrapped in up to four arrays or objects: depths on both sides of the bound.
  const wrapped = fc
    .tuple(fc.jsonValue({ maxDepth: 3 }), fc.array(fc.boolean(), { maxLength: 4 }))
    .map(([v, wraps]) => wraps.reduce<unknown>((inner, asArray) => (asArray ? [inner] : { k: inner }), v));
  fc.assert(
    fc.property(wrapped, (v) => {
      const text = JSON.stringify(v);
      if (text.length > LIMITS.maxBytes) return;
      const r = parseBoundedJson(bytes(text), { ...LIMITS, maxValues: 10_000 }, 'the document');
      if (depthOf(v) <= LIMITS.maxDepth) {
        within++;
        if (!r.ok) throw new Error(`refused ${text}: ${r.reason}`);
        t.same(r.value, JSON.parse(text));
      } else {
        deeper++;
        if (r.ok || !/nested deeper than 4/.test(r.reason)) throw new Error(`accepted ${text}`);
      }
    }),
    { numRuns: 500 },
  );
  t.ok(within > 50 && deeper > 10, `${within} documents within the depth bound, ${deeper} deeper`);
});

t.test('each bound, and what does not count against it', async (t) => {
  const check = (text: string, reason: RegExp | null, name: string) => {
    const r = parseBoundedJson(bytes(text), LIMITS, 'the document');
    if (reason === null) t.equal(r.ok, true, name);
    else t.match(r, { ok: false, code: 'PARSE', reason }, name);
  };
  check('[[[[1]]]]', null, 'depth 4');
  check('[[[[[1]]]]]', /the document is nested deeper than 4/, 'depth 5');
  check('{"a":{"b":{"c":{"d":{}}}}}', /nested deeper than 4/, 'objects 5 deep');
  check(`{"a":"${'['.repeat(100)}"}`, null, 'brackets inside a string');
  check(`{"a":"\\"${'['.repeat(100)}"}`, null, 'brackets after an escaped quote');
  check(`{"a":"\\\\","b":${'['.repeat(5)}${']'.repeat(5)}}`, /nested deeper than 4/, 'an escaped backslash ends the escape');
  check(`{"a":"é${'{'.repeat(10)}"}`, null, 'brackets after multi-byte UTF-8 in a string');
  check(`[${'0,'.repeat(64)}0]`, /more than 64 values/, 'the array and 64 commas');
  check(`[${'0,'.repeat(63)}0]`, null, 'the array and 63 commas');
  check(`"${'a'.repeat(4095)}"`, /has 4097 bytes \(at most 4096\)/, 'size');
  check('{"a":1', /not valid UTF-8 JSON/, 'malformed JSON is left to JSON.parse');
  const badUtf8 = parseBoundedJson(Uint8Array.of(0x22, 0xc3, 0x28, 0x22), LIMITS, 'the document');
  t.match(badUtf8, { ok: false, reason: /not valid UTF-8 JSON/ }, 'invalid UTF-8');
});

t.test('JWS: each part is bounded before it is decoded', async (t) => {
  const chain = await awsChain();
  const { envelope, mediaType } = signAws(chain, 'jws');
  const options = awsOptions(chain);
  t.equal((await verifySignature(envelope, mediaType, TARGET, options)).ok, true, 'the real envelope verifies (control)');
  const verify = (e: Uint8Array) => verifySignature(e, mediaType, TARGET, options);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    [
      'a deep protected header',
      tamperJws(envelope, {
        protected: (h) => {
          h.x = [[[[['deep']]]]];
        },
      }),
      /the JWS protected header is nested deeper than 4/,
    ],
    [
      'a deep unprotected header member',
      tamperJws(envelope, {
        top: (e) => {
          (e.header as Record<string, unknown>).x = [[1]];
        },
      }),
      /the JWS envelope is nested deeper than 3/,
    ],
    [
      'a signature over 1 KiB',
      tamperJws(envelope, {
        top: (e) => {
          e.signature = 'A'.repeat(1400);
        },
      }),
      /the JWS signature has 1400 characters \(at most 1366\)/,
    ],
    [
      'a non-string signingAgent',
      tamperJws(envelope, {
        top: (e) => {
          (e.header as Record<string, unknown>)['io.cncf.notary.signingAgent'] = 1;
        },
      }),
      /signingAgent must be a string/,
    ],
  ];
  for (const [name, edited, reason] of cases) {
    const r = await verify(edited);
    t.notOk(r.ok, name);
    if (!r.ok) t.match(`${r.code} ${r.reason}`, reason, name);
  }
});

t.test('the signed payload (JWS and COSE alike) is bounded before JSON.parse', async (t) => {
  const target = { digest: TARGET.digest, mediaType: TARGET.mediaType, size: TARGET.size };
  const ok = parsePayload(bytes(JSON.stringify({ targetArtifact: { ...target, annotations: { a: 'b' } } })));
  t.equal(ok.ok, true, 'a real payload (depth 3) parses');
  const deep = parsePayload(bytes(JSON.stringify({ targetArtifact: target, x: [[[['deep']]]] })));
  t.match(deep, { ok: false, code: 'PARSE', reason: 'the signed payload is nested deeper than 4' });
  const big = parsePayload(bytes(JSON.stringify({ targetArtifact: { ...target, annotations: { a: 'x'.repeat(40_000) } } })));
  t.match(big, { ok: false, code: 'PARSE', reason: /the signed payload has \d+ bytes \(at most 32768\)/ });
});
