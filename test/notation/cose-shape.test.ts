// COSE_Sign1 is read head by head: a wrong shape is refused at the first head that shows it,
// before anything nested in it is decoded (the bytes after the bad head below are garbage or
// truncated, and the reason is still the shape, not the garbage).
import t from 'tap';
import { parseCose } from '../../src/notation/cose.ts';
import { verifySignature } from '../../src/notation/index.ts';
import { awsChain, awsOptions, signAws, TARGET } from './helpers.ts';

const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/ /g, ''), 'hex'));
const GARBAGE = 'ff ff 1c 9f';

t.test('each wrong head is named, whatever follows it', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['not a tag', `84 ${GARBAGE}`, /not a COSE_Sign1_Tagged item \(tag 18\)/],
    ['tag 17 (COSE_Mac0)', `d1 84 ${GARBAGE}`, /not a COSE_Sign1_Tagged item \(tag 18\)/],
    ['tag 18 of a map', `d2 a4 ${GARBAGE}`, /must be an array of 4 items/],
    ['tag 18 of 3 items', `d2 83 ${GARBAGE}`, /must be an array of 4 items/],
    ['tag 18 of 5 items', `d2 85 ${GARBAGE}`, /must be an array of 4 items/],
    ['protected header as an array', `d2 84 9a 00 0f 42 40 ${GARBAGE}`, /protected header must be a byte string/],
    ['protected header as text', `d2 84 61 41 ${GARBAGE}`, /protected header must be a byte string/],
    ['unprotected header as an array', `d2 84 41 a0 9a 00 0f 42 40 ${GARBAGE}`, /unprotected header must be a map/],
    ['payload as null (detached)', `d2 84 41 a0 a0 f6 ${GARBAGE}`, /payload must be attached as a byte string/],
    ['signature as text', `d2 84 41 a0 a0 40 61 41`, /signature must be a byte string/],
    ['trailing bytes', `d2 84 41 a0 a0 40 40 00`, /1 trailing bytes/],
    ['empty protected header', `d2 84 40 a0 40 40`, /protected header must be a non-empty byte string/],
    ['protected header holding an array', `d2 84 43 83 00 00 a0 40 40`, /COSE protected header must be a map/],
    ['protected header holding a map and a trailing byte', `d2 84 42 a0 00 a0 40 40`, /COSE protected header: CBOR: 1 trailing bytes/],
    ['indefinite-length unprotected map', `d2 84 41 a0 bf ff 40 40`, /indefinite/],
  ];
  for (const [name, h, reason] of cases) {
    const r = parseCose(hex(h));
    t.match(r, { ok: false, code: 'PARSE', reason }, name);
  }
});

t.test('the envelope size bound holds in the parser too (not only in verifySignature)', async (t) => {
  t.match(parseCose(new Uint8Array(64 * 1024 + 1)), { ok: false, code: 'PARSE', reason: /at most 65536/ });
});

t.test('a real COSE envelope still parses and verifies (control)', async (t) => {
  const chain = await awsChain();
  const { envelope, mediaType } = signAws(chain, 'cose');
  t.equal(parseCose(envelope).ok, true, 'parses');
  t.equal((await verifySignature(envelope, mediaType, TARGET, awsOptions(chain))).ok, true, 'verifies');
});
