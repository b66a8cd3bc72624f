// Envelope rules of signature-envelope-jws.md / -cose.md and signature-specification.md,
// each checked on an envelope that is otherwise validly signed (re-signed after the edit).
import t from 'tap';
import { CborTag } from '../../src/notation/cbor.ts';
import { verifySignature } from '../../src/notation/index.ts';
import type { VerificationResult } from '../../src/notation/index.ts';
import { awsChain, awsOptions, resignCose, resignJws, signAws, TARGET, tamperJws } from './helpers.ts';

const chain = await awsChain();
const options = awsOptions(chain);
const jws = signAws(chain, 'jws');
const cose = signAws(chain, 'cose');
const code = (r: VerificationResult) => (r.ok ? 'OK' : r.code);
const verifyJws = (bytes: Uint8Array) => verifySignature(bytes, jws.mediaType, TARGET, options);
const verifyCose = (bytes: Uint8Array) => verifySignature(bytes, cose.mediaType, TARGET, options);

t.test('re-signing helpers produce valid envelopes (control)', async (t) => {
  t.equal(code(await verifyJws(resignJws(jws.envelope, chain.leafKey, () => {}))), 'OK');
  t.equal(code(await verifyCose(resignCose(cose.envelope, chain.leafKey, () => {}))), 'OK');
});

t.test('JWS protected header rules', async (t) => {
  const cases: [string, (h: Record<string, unknown>) => void, string][] = [
    [
      'crit missing',
      (h) => {
        delete h.crit;
      },
      'PARSE',
    ],
    [
      'crit empty',
      (h) => {
        h.crit = [];
      },
      'PARSE',
    ],
    [
      'crit not strings',
      (h) => {
        h.crit = [1];
      },
      'PARSE',
    ],
    [
      'crit lists alg',
      (h) => {
        (h.crit as string[]).push('alg');
      },
      'PARSE',
    ],
    [
      'crit names an absent header',
      (h) => {
        (h.crit as string[]).push('io.cncf.notary.expiry');
      },
      'PARSE',
    ],
    [
      'signingScheme not critical',
      (h) => {
        h.crit = (h.crit as string[]).filter((c) => c !== 'io.cncf.notary.signingScheme');
      },
      'PARSE',
    ],
    [
      'authenticSigningTime not critical',
      (h) => {
        h.crit = (h.crit as string[]).filter((c) => c !== 'io.cncf.notary.authenticSigningTime');
      },
      'PARSE',
    ],
    [
      'expiry not critical',
      (h) => {
        h['io.cncf.notary.expiry'] = '2999-01-01T00:00:00Z';
      },
      'PARSE',
    ],
    [
      'signingTime with signingAuthority',
      (h) => {
        h['io.cncf.notary.signingTime'] = '2020-01-01T00:00:00Z';
      },
      'PARSE',
    ],
    [
      'authenticSigningTime missing',
      (h) => {
        delete h['io.cncf.notary.authenticSigningTime'];
        h.crit = (h.crit as string[]).filter((c) => c !== 'io.cncf.notary.authenticSigningTime');
      },
      'PARSE',
    ],
    [
      'not RFC 3339',
      (h) => {
        h['io.cncf.notary.authenticSigningTime'] = '2020-01-01 00:00:00';
      },
      'PARSE',
    ],
    [
      '30 February',
      (h) => {
        h['io.cncf.notary.authenticSigningTime'] = '2020-02-30T00:00:00Z';
      },
      'PARSE',
    ],
    [
      'unknown signing scheme',
      (h) => {
        h['io.cncf.notary.signingScheme'] = 'notary.x509.v2';
      },
      'PARSE',
    ],
    [
      'wrong content type',
      (h) => {
        h.cty = 'application/json';
      },
      'PARSE',
    ],
    [
      'alg none',
      (h) => {
        h.alg = 'none';
      },
      'UNSUPPORTED_ALGORITHM',
    ],
    [
      'alg HS256',
      (h) => {
        h.alg = 'HS256';
      },
      'UNSUPPORTED_ALGORITHM',
    ],
    [
      'unknown critical header',
      (h) => {
        h['x-mine'] = 1;
        (h.crit as string[]).push('x-mine');
      },
      'CRITICAL_HEADER',
    ],
    [
      'plugin header not critical',
      (h) => {
        h.crit = (h.crit as string[]).filter((c) => c !== 'io.cncf.notary.verificationPlugin');
      },
      'CRITICAL_HEADER',
    ],
    [
      'profile version missing',
      (h) => {
        delete h['com.amazonaws.signer.signingProfileVersion'];
        h.crit = (h.crit as string[]).filter((c) => !c.endsWith('signingProfileVersion'));
      },
      'CRITICAL_HEADER',
    ],
  ];
  for (const [name, edit, expected] of cases) {
    t.equal(code(await verifyJws(resignJws(jws.envelope, chain.leafKey, edit))), expected, name);
  }
  const offset = resignJws(jws.envelope, chain.leafKey, (h) => {
    h['io.cncf.notary.authenticSigningTime'] = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, '+00:00');
  });
  t.equal(code(await verifyJws(offset)), 'OK', 'a numeric UTC offset is RFC 3339 too');
});

t.test('JWS serialization rules', async (t) => {
  const withTop = (edit: (e: Record<string, unknown>) => void) => tamperJws(jws.envelope, { top: edit });
  t.equal(
    code(
      await verifyJws(
        withTop((e) => {
          e.signatures = [];
        }),
      ),
    ),
    'PARSE',
    'general serialization member',
  );
  t.equal(
    code(
      await verifyJws(
        withTop((e) => {
          delete e.header;
        }),
      ),
    ),
    'PARSE',
    'no unprotected header',
  );
  t.equal(
    code(
      await verifyJws(
        withTop((e) => {
          (e.header as Record<string, unknown>).x5c = [];
        }),
      ),
    ),
    'PARSE',
    'empty x5c',
  );
  t.equal(
    code(
      await verifyJws(
        withTop((e) => {
          (e.header as { x5c: string[] }).x5c[0] = 'not base64!';
        }),
      ),
    ),
    'PARSE',
    'x5c not base64',
  );
  t.equal(
    code(
      await verifyJws(
        withTop((e) => {
          e.protected = `${e.protected as string}=`;
        }),
      ),
    ),
    'PARSE',
    'padded base64url',
  );
  t.equal(
    code(
      await verifyJws(
        withTop((e) => {
          (e.header as Record<string, unknown>)['io.cncf.notary.signingAgent'] = 'anything/1.0';
        }),
      ),
    ),
    'OK',
    'unsigned signing agent is informational',
  );
  t.equal(code(await verifyJws(Buffer.from('[]'))), 'PARSE');
  t.equal(code(await verifyJws(Buffer.from([0xff, 0xfe]))), 'PARSE', 'not UTF-8');
});

t.test('COSE protected header rules', async (t) => {
  const without = (h: Map<unknown, unknown>, name: string) =>
    h.set(
      2,
      (h.get(2) as string[]).filter((c) => c !== name),
    );
  const cases: [string, (h: Map<string | number, unknown>) => void, string][] = [
    [
      'crit missing',
      (h) => {
        h.delete(2);
      },
      'PARSE',
    ],
    [
      'crit lists label 1',
      (h) => {
        (h.get(2) as unknown[]).push(1);
      },
      'PARSE',
    ],
    [
      'crit lists an unknown integer label',
      (h) => {
        h.set(99, 'x');
        (h.get(2) as unknown[]).push(99);
      },
      'CRITICAL_HEADER',
    ],
    [
      'signingScheme not critical',
      (h) => {
        without(h, 'io.cncf.notary.signingScheme');
      },
      'PARSE',
    ],
    [
      'time not tag 1',
      (h) => {
        h.set('io.cncf.notary.authenticSigningTime', Math.floor(Date.now() / 1000));
      },
      'PARSE',
    ],
    [
      'time as text',
      (h) => {
        h.set('io.cncf.notary.authenticSigningTime', new CborTag(1, '2020-01-01T00:00:00Z'));
      },
      'PARSE',
    ],
    [
      'alg as text',
      (h) => {
        h.set(1, 'ES384');
      },
      'UNSUPPORTED_ALGORITHM',
    ],
    [
      'alg -8 (EdDSA)',
      (h) => {
        h.set(1, -8);
      },
      'UNSUPPORTED_ALGORITHM',
    ],
    [
      'content type as a number',
      (h) => {
        h.set(3, 50);
      },
      'PARSE',
    ],
    [
      'unknown critical attribute',
      (h) => {
        h.set('x-mine', 'v');
        (h.get(2) as unknown[]).push('x-mine');
      },
      'CRITICAL_HEADER',
    ],
  ];
  for (const [name, edit, expected] of cases) {
    t.equal(code(await verifyCose(resignCose(cose.envelope, chain.leafKey, edit as never))), expected, name);
  }
  const chainInProtected = resignCose(cose.envelope, chain.leafKey, (h) => {
    h.set(33, chain.certificates);
  });
  t.equal(code(await verifyCose(chainInProtected)), 'OK', 'x5chain may be in the protected header');
});

t.test('COSE structure rules', async (t) => {
  const { encodeCbor } = await import('../../src/notation/cbor.ts');
  const sign1 = (items: unknown[], tag = 18) => encodeCbor(new CborTag(tag, items as never));
  const empty = new Map();
  t.equal(
    code(await verifyCose(sign1([new Uint8Array([0xa0]), empty, new Uint8Array(1), new Uint8Array(1)], 98))),
    'PARSE',
    'COSE_Sign (98) is not COSE_Sign1',
  );
  t.equal(code(await verifyCose(encodeCbor([new Uint8Array(1), empty, new Uint8Array(1), new Uint8Array(1)]))), 'PARSE', 'untagged');
  t.equal(code(await verifyCose(sign1([new Uint8Array([0xa0]), empty, null, new Uint8Array(1)]))), 'PARSE', 'detached payload');
  t.equal(code(await verifyCose(sign1([new Uint8Array(0), empty, new Uint8Array(1), new Uint8Array(1)]))), 'PARSE', 'empty protected header');
  t.equal(code(await verifyCose(sign1([new Uint8Array([0xa0]), empty, new Uint8Array(1)]))), 'PARSE', 'three items');
});
