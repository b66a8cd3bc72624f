// Property tests: hostile bytes never make the verifier throw or accept, and no edit of a
// valid envelope (one byte changed, inserted or removed, or a cut) still verifies.
import fc from 'fast-check';
import t from 'tap';
import { signerOf, verifySignature } from '../../src/notation/index.ts';
import type { VerificationResult } from '../../src/notation/index.ts';
import { awsChain, awsOptions, readVector, sameJson, signAws, TARGET } from './helpers.ts';

const chain = await awsChain();
const options = awsOptions(chain);
const valid = {
  jws: signAws(chain, 'jws'),
  cose: signAws(chain, 'cose'),
};
const MEDIA_TYPES = ['application/jose+json', 'application/cose'] as const;

function refused(r: VerificationResult): boolean {
  return !r.ok && r.code !== 'INTERNAL';
}

t.test('the unmodified envelopes verify (control)', async (t) => {
  for (const { envelope, mediaType } of Object.values(valid)) {
    const r = await verifySignature(envelope, mediaType, TARGET, options);
    t.equal(r.ok, true, mediaType);
  }
});

t.test('random bytes are refused, never thrown', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.constantFrom(...MEDIA_TYPES), async (bytes, mediaType) => {
      const r = await verifySignature(bytes, mediaType, TARGET, options);
      if (!refused(r)) throw new Error(`accepted or crashed: ${JSON.stringify(r)}`);
      signerOf(bytes, mediaType);
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 random inputs refused');
});

t.test('random JSON and CBOR-looking structures are refused', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (json) => {
      const r = await verifySignature(Buffer.from(JSON.stringify(json)), 'application/jose+json', TARGET, options);
      if (!refused(r)) throw new Error(`accepted or crashed: ${JSON.stringify(r)}`);
    }),
    { numRuns: 500 },
  );
  // CBOR tag 18 followed by random bytes: gets past the first byte checks.
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (tail) => {
      const bytes = Buffer.concat([Buffer.from([0xd2, 0x84]), tail]);
      const r = await verifySignature(bytes, 'application/cose', TARGET, options);
      if (!refused(r)) throw new Error(`accepted or crashed: ${JSON.stringify(r)}`);
    }),
    { numRuns: 500 },
  );
  t.pass('structured garbage refused');
});

type Edit =
  { kind: 'replace'; at: number; byte: number } | { kind: 'insert'; at: number; byte: number } | { kind: 'delete'; at: number } | { kind: 'cut'; at: number };

function applyEdit(bytes: Uint8Array, edit: Edit): Uint8Array | undefined {
  const at = edit.at % bytes.length;
  const out = Buffer.from(bytes);
  switch (edit.kind) {
    case 'replace':
      if (out[at] === edit.byte) return undefined; // not an edit
      out[at] = edit.byte;
      return out;
    case 'insert':
      return Buffer.concat([out.subarray(0, at), Buffer.from([edit.byte]), out.subarray(at)]);
    case 'delete':
      return Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    case 'cut':
      return out.subarray(0, at);
  }
}

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);

for (const [name, { envelope, mediaType }] of Object.entries(valid)) {
  t.test(`${name}: no single edit of a valid envelope verifies`, async (t) => {
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(edit, async (e) => {
        const mutated = applyEdit(envelope, e);
        // An edit that leaves the same JSON value (whitespace between tokens, `\/` for `/`) is
        // the same envelope: only such edits are exempt (sameJson).
        if (!mutated || (name === 'jws' && sameJson(envelope, mutated))) return;
        tried++;
        const r = await verifySignature(mutated, mediaType, TARGET, options);
        if (!refused(r)) throw new Error(`edit ${JSON.stringify(e)} gave ${JSON.stringify(r)}`);
      }),
      { numRuns: 1500 },
    );
    t.ok(tried > 1000, `${tried} edited envelopes refused`);
  });
}

t.test('size and depth bounds', async (t) => {
  const huge = new Uint8Array(64 * 1024 + 1);
  const big = await verifySignature(huge, 'application/cose', TARGET, options);
  t.match(big, { ok: false, code: 'PARSE', reason: /the envelope has 65537 bytes \(at most 65536\)/ });
  const deep = Buffer.from(`${'['.repeat(500_000)}${']'.repeat(500_000)}`);
  t.match(await verifySignature(deep, 'application/jose+json', TARGET, options), { ok: false, code: 'PARSE' });
  const deepObject = Buffer.from(`{"payload":${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}}`);
  t.match(await verifySignature(deepObject, 'application/jose+json', TARGET, options), { ok: false, code: 'PARSE' });
  t.match(await verifySignature(readVector('cose_signature.sig'), 'application/x-unknown', TARGET, options), { ok: false, code: 'PARSE' });
  t.match(await verifySignature('not bytes' as unknown as Uint8Array, 'application/cose', TARGET, options), { ok: false, code: 'PARSE' });
  t.equal(signerOf(deep, 'application/jose+json'), undefined, 'signerOf gives up quietly');
  t.equal(signerOf(valid.cose.envelope, 'application/cose'), 'arn:aws:signer:us-east-1:111122223333:/signing-profiles/release/AbCdEf1234');
});
