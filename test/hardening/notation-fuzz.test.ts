// The signature issue's property tests at a larger count (HARDENING_SCALE raises them further):
// hostile envelope bytes never verify and never throw; no edit of a valid envelope verifies;
// the OCI challenge, referrers-index and signature-manifest parsers only ever throw content
// errors. Then the same through the whole signature check: an edited envelope stored as an
// image's signature in the sandbox never lets the image pass.
import fc from 'fast-check';
import t from 'tap';
import { signerOf, verifySignature, type VerificationResult } from '../../src/notation/index.ts';
import { parseChallenges } from '../../src/facts/oci/challenge.ts';
import { nextPageUrl, parseReferrersIndex, parseSignatureManifest } from '../../src/facts/oci/referrers.ts';
import { FactError } from '../../src/facts/errors.ts';
import { sha256Digest } from '../../src/dev/sandbox/index.ts';
import { awsChain, awsOptions, sameJson, signAws, TARGET } from '../notation/helpers.ts';
import { resultOf, startHarness } from '../helpers/harness.ts';
import { IMAGES, fixture, fullPolicy, HOST, runs, sign } from './helpers.ts';

const chain = await awsChain();
const options = awsOptions(chain);
const valid = { jws: signAws(chain, 'jws'), cose: signAws(chain, 'cose') };
const MEDIA_TYPES = ['application/jose+json', 'application/cose'] as const;
const refused = (r: VerificationResult) => !r.ok && r.code !== 'INTERNAL';

type Edit = { kind: 'replace' | 'insert'; at: number; byte: number } | { kind: 'delete' | 'cut'; at: number };
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constantFrom('replace' as const, 'insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constantFrom('delete' as const, 'cut' as const), at: fc.nat() }),
);

function applyEdits(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let out = Buffer.from(bytes);
  for (const e of edits) {
    const at = e.at % Math.max(1, out.length);
    if (e.kind === 'replace') out[at] = e.byte;
    else if (e.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from([e.byte]), out.subarray(at)]);
    else if (e.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
    else out = out.subarray(0, at);
  }
  return out;
}

/** The same bytes, or for JWS the same JSON value (whitespace between tokens, `\/` for `/`):
 *  the same envelope, which may verify (sameJson). */
const meaningless = (format: string, original: Uint8Array, edited: Uint8Array) =>
  Buffer.from(original).equals(Buffer.from(edited)) || (format === 'jws' && sameJson(original, edited));

t.test('random bytes, JSON and CBOR-looking input: refused, never thrown', async (t) => {
  const counts = { bytes: runs(20_000), json: runs(10_000), cbor: runs(10_000) };
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.constantFrom(...MEDIA_TYPES), async (bytes, mediaType) => {
      const r = await verifySignature(bytes, mediaType, TARGET, options);
      if (!refused(r)) throw new Error(`accepted or crashed: ${JSON.stringify(r)}`);
      signerOf(bytes, mediaType);
    }),
    { numRuns: counts.bytes },
  );
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 8 }), async (json) => {
      const r = await verifySignature(Buffer.from(JSON.stringify(json)), 'application/jose+json', TARGET, options);
      if (!refused(r)) throw new Error(`accepted or crashed: ${JSON.stringify(r)}`);
    }),
    { numRuns: counts.json },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 1024 }), async (tail) => {
      const r = await verifySignature(Buffer.concat([Buffer.from([0xd2, 0x84]), tail]), 'application/cose', TARGET, options);
      if (!refused(r)) throw new Error(`accepted or crashed: ${JSON.stringify(r)}`);
    }),
    { numRuns: counts.cbor },
  );
  t.pass(`${counts.bytes} random byte strings, ${counts.json} JSON values, ${counts.cbor} CBOR-prefixed tails refused`);
});

for (const [format, { envelope, mediaType }] of Object.entries(valid)) {
  t.test(`${format}: no edit (one to five changes) of a valid envelope verifies`, async (t) => {
    t.equal((await verifySignature(envelope, mediaType, TARGET, options)).ok, true, 'the unedited envelope verifies (control)');
    let tried = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 5 }), async (edits) => {
        const edited = applyEdits(envelope, edits);
        if (meaningless(format, envelope, edited)) return;
        tried++;
        const r = await verifySignature(edited, mediaType, TARGET, options);
        if (!refused(r)) throw new Error(`edits ${JSON.stringify(edits)} gave ${JSON.stringify(r)}`);
      }),
      { numRuns: runs(20_000) },
    );
    t.ok(tried > 0, `${tried} edited ${format} envelopes refused`);
  });
}

t.test('OCI challenge, referrers-index and signature-manifest parsers: content errors only, always end', async (t) => {
  const n = runs(20_000);
  const subject = sha256Digest('subject');
  const json = fc.jsonValue({ maxDepth: 6 }).map((v) => new TextEncoder().encode(JSON.stringify(v)));
  const manifestLike = fc
    .record(
      {
        schemaVersion: fc.oneof(fc.constant(2), fc.jsonValue()),
        mediaType: fc.oneof(fc.constant('application/vnd.oci.image.manifest.v1+json'), fc.string()),
        artifactType: fc.oneof(fc.constant('application/vnd.cncf.notary.signature'), fc.jsonValue()),
        subject: fc.oneof(fc.constant({ digest: subject, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 7 }), fc.jsonValue()),
        layers: fc.oneof(
          fc.array(
            fc.record({
              digest: fc.oneof(fc.constant(subject), fc.string()),
              size: fc.oneof(fc.nat(), fc.jsonValue()),
              mediaType: fc.constantFrom('application/jose+json', 'application/cose', ''),
            }),
          ),
          fc.jsonValue(),
        ),
        manifests: fc.oneof(fc.array(fc.record({ digest: fc.string(), artifactType: fc.string(), mediaType: fc.string(), size: fc.nat() })), fc.jsonValue()),
      },
      { requiredKeys: [] },
    )
    .map((v) => new TextEncoder().encode(JSON.stringify(v)));
  const bytes = fc.oneof(
    json,
    manifestLike,
    fc.uint8Array({ maxLength: 1024 }),
    fc.string({ unit: 'grapheme-ascii' }).map((s) => new TextEncoder().encode(s)),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 500 }), (header) => parseChallenges(header).every((c) => /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(c.scheme))),
    { numRuns: n },
  );
  fc.assert(
    fc.property(bytes, (b) => {
      for (const parse of [() => parseReferrersIndex(b, 'GET referrers', 'x'), () => parseSignatureManifest(b, subject, subject, 'GET manifests')]) {
        try {
          parse();
        } catch (error) {
          if (!(error instanceof FactError)) throw error;
        }
      }
    }),
    { numRuns: n },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (link) => {
      const next = nextPageUrl(link, new URL('http://127.0.0.1:5000/v2/a/referrers/x'));
      return next === undefined || next.origin === 'http://127.0.0.1:5000';
    }),
    { numRuns: n },
  );
  t.pass(`${n} runs of each parser property`);
});

t.test("through the whole check: an edited envelope stored as the image's signature never passes", async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: fullPolicy(), budgetMs: 3000 });
  t.teardown(() => h.close());
  const image = `${HOST}/app:1.0`;
  t.equal((await h.reviewPod([image])).response.allowed, true, 'the real signature passes (control)');
  const original = sign(IMAGES.good);
  const originalBytes = Buffer.from(original.envelope as Uint8Array);
  let tried = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
      const edited = applyEdits(originalBytes, edits);
      if (meaningless('jws', originalBytes, edited) || edited.length === 0) return;
      tried++;
      h.sandbox.update((f) => {
        f.accounts['111122223333']!.regions['us-east-1']!.repositories[0]!.images[0]!.signatures = [{ ...original, envelope: edited }];
      });
      h.runtime.cache.clear();
      const out = await h.reviewPod([image]);
      const status = resultOf(out, 'signature')?.status;
      if (status === 'pass' || out.response.allowed) throw new Error(`edits ${JSON.stringify(edits)} passed the signature check`);
    }),
    { numRuns: runs(300) },
  );
  t.ok(tried > 0, `${tried} edited envelopes served from the sandbox, none admitted`);
});
