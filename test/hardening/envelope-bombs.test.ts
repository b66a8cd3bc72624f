// Envelope bombs (issue 12, item 2, parser side): signature envelopes built to cost a decoder
// far more memory than their size. Anyone who can push a referrer to an allowed repository
// can make every replica decode one, so each must be refused quickly, with a PARSE rejection
// that names the bound, and without the heap growing. Each case runs in a fresh Node process
// under the chart's NODE_OPTIONS (its V8 heap limit): before the bounds, the 4 MiB COSE bomb
// killed that process, and its peak memory is what a replica would have paid.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse as parseYaml } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const values = parseYaml(readFileSync(`${ROOT}chart/ecr-admission/values.yaml`, 'utf8')) as { server: { nodeOptions: string } };
const NODE_OPTIONS = values.server.nodeOptions;

/** What the child reports for one case. */
interface Outcome {
  ok: boolean;
  code?: string;
  reason?: string;
  ms: number;
  /** Growth of V8's used or reserved heap across the call, whichever is larger (no GC in between). */
  heapGrowth: number;
  /** Growth of the process's peak resident set across the call. */
  rssGrowth: number;
  inputBytes: number;
}

// The child builds the input, settles the heap, then measures one call. `call` is either the
// product entry point (verifySignature, with its size bound) or the CBOR decoder alone on a
// 4 MiB input, to show the decoder's own item and depth bounds hold without the size bound.
const CHILD = `
import v8 from 'node:v8';
import * as bombs from '${ROOT}test/notation/bombs.ts';
import { decodeCbor } from '${ROOT}src/notation/cbor.ts';
import { parseTrustedIdentity, verifySignature } from '${ROOT}src/notation/index.ts';
const [build, arg, mediaType, call] = JSON.parse(process.argv[1]);
const input = arg === null ? bombs[build]() : bombs[build](arg);
const target = { digest: 'sha256:' + 'ab'.repeat(32), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 };
const options = { trustStores: [], trustedIdentities: [parseTrustedIdentity('*')], revocation: 'enforce' };
// Warm up the code path on a small input, so that compiling it is not counted.
await verifySignature(Buffer.of(0xd2, 0x84, 0x40), 'application/cose', target, options);
await verifySignature(Buffer.from('{"payload":[[1]]}'), 'application/jose+json', target, options);
decodeCbor(Buffer.of(0x81, 0x80));
for (let i = 0; i < 3; i++) globalThis.gc();
const h0 = v8.getHeapStatistics();
const rss0 = process.resourceUsage().maxRSS;
const start = performance.now();
const r = call === 'decodeCbor' ? decodeCbor(input) : await verifySignature(input, mediaType, target, options);
const ms = performance.now() - start;
const h1 = v8.getHeapStatistics();
const heapGrowth = Math.max(h1.used_heap_size - h0.used_heap_size, h1.total_heap_size - h0.total_heap_size);
const rssGrowth = (process.resourceUsage().maxRSS - rss0) * 1024;
process.stdout.write(JSON.stringify({ ok: r.ok, code: r.code, reason: r.reason, ms, heapGrowth, rssGrowth, inputBytes: input.length }));
`;

function runCase(args: [string, number | null, string, 'verify' | 'decodeCbor']): Promise<{ outcome?: Outcome; exit: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, JSON.stringify(args)], {
      env: { ...process.env, NODE_OPTIONS },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let outcome: Outcome | undefined;
      try {
        outcome = JSON.parse(out) as Outcome;
      } catch {
        outcome = undefined;
      }
      resolve({ ...(outcome && { outcome }), exit: signal ? `signal ${signal}` : `exit code ${code}`, stderr: err.slice(-600) });
    });
  });
}

const MiB = 1024 * 1024;
const COSE = 'application/cose';
const JWS = 'application/jose+json';
const SIZE = /the envelope has \d+ bytes \(at most 65536\)/;
const ITEMS = /more than 1024 items/;
const NESTING = /nesting deeper than 8/;
const JSON_DEPTH = /nested deeper than \d/;

// [name, builder, builder argument, media type, what is called, the reason expected]
const CASES: Array<[string, string, number | null, string, 'verify' | 'decodeCbor', RegExp]> = [
  ['COSE: 4.2 million empty arrays in a 4 MiB body', 'coseEmptyArraysInBody', 4 * MiB, COSE, 'verify', SIZE],
  [
    'COSE: empty arrays where the protected header belongs, 64 KiB',
    'coseEmptyArraysInBody',
    64 * 1024,
    COSE,
    'verify',
    /protected header must be a byte string/,
  ],
  ['COSE: empty arrays as the x5chain of the unprotected header, 64 KiB', 'coseEmptyArraysInUnprotected', 64 * 1024, COSE, 'verify', ITEMS],
  ['COSE: empty arrays inside the protected header, 60 KiB', 'coseEmptyArraysInProtected', 60 * 1024, COSE, 'verify', ITEMS],
  ['COSE: maps nested 30,000 deep, 60 KiB', 'coseDeepMaps', 30_000, COSE, 'verify', NESTING],
  ['CBOR decoder alone: 4.2 million empty arrays in 4 MiB', 'coseEmptyArraysInBody', 4 * MiB, COSE, 'decodeCbor', ITEMS],
  ['CBOR decoder alone: 4 MiB x5chain of empty arrays', 'coseEmptyArraysInUnprotected', 4 * MiB, COSE, 'decodeCbor', ITEMS],
  ['CBOR decoder alone: maps nested 2 million deep', 'coseDeepMaps', 2 * MiB - 4, COSE, 'decodeCbor', NESTING],
  ['JWS: arrays nested 2 million deep (4 MiB)', 'jsonNestedArrays', 4 * MiB, JWS, 'verify', SIZE],
  ['JWS: arrays nested 32,000 deep (64 KiB)', 'jsonNestedArrays', 64 * 1024, JWS, 'verify', JSON_DEPTH],
  ['JWS: nested arrays in the unprotected header, 64 KiB', 'jwsNestedInHeader', 64 * 1024, JWS, 'verify', JSON_DEPTH],
  ['JWS: nested arrays in the protected header, 12 KiB', 'jwsNestedInProtected', 12 * 1024, JWS, 'verify', JSON_DEPTH],
  ['JWS: 32,000 x5c entries, 64 KiB', 'jwsWideHeader', 64 * 1024, JWS, 'verify', /more than 1024 values/],
  ['JWS: a protected header over its 16 KiB bound', 'jwsNestedInProtected', 48 * 1024, JWS, 'verify', /protected header has \d+ characters \(at most 21846\)/],
];

// Measured after the bounds (a 2-core machine under load): every case under 5 ms, heap growth
// under 0.1 MiB, peak RSS growth 0 to 2 MiB. The bounds below leave room for a slow machine.
const MAX_MS = 500;
const MAX_HEAP_GROWTH = 2 * MiB;
const MAX_RSS_GROWTH = 16 * MiB;

t.test(`envelope bombs under the chart's NODE_OPTIONS (${NODE_OPTIONS})`, async (t) => {
  for (const [name, build, arg, mediaType, call, reason] of CASES) {
    const run = await runCase([build, arg, mediaType, call]);
    const o = run.outcome;
    if (!o) {
      t.fail(`${name}: the process died (${run.exit}) ${run.stderr.split('\n').filter(Boolean).slice(-3).join(' | ')}`);
      continue;
    }
    t.comment(
      `${name}: ${o.inputBytes} bytes, ${o.ms.toFixed(1)} ms, heap +${(o.heapGrowth / MiB).toFixed(2)} MiB, peak RSS +${(o.rssGrowth / MiB).toFixed(1)} MiB: ${o.reason}`,
    );
    t.match(o, { ok: false, code: 'PARSE' }, `${name}: refused as unparseable`);
    t.match(o.reason ?? '', reason, `${name}: the reason names the bound`);
    t.ok(o.ms < MAX_MS, `${name}: refused in ${o.ms.toFixed(1)} ms`);
    t.ok(o.heapGrowth < MAX_HEAP_GROWTH, `${name}: heap grew ${(o.heapGrowth / MiB).toFixed(2)} MiB`);
    t.ok(o.rssGrowth < MAX_RSS_GROWTH, `${name}: peak RSS grew ${(o.rssGrowth / MiB).toFixed(1)} MiB`);
  }
});

t.test('huge lengths in CBOR heads are refused before anything is allocated', async (t) => {
  const { coseHugeLengths } = await import('../notation/bombs.ts');
  const { verifySignature, parseTrustedIdentity } = await import('../../src/notation/index.ts');
  const target = { digest: `sha256:${'ab'.repeat(32)}`, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 };
  const options = { trustStores: [], trustedIdentities: [parseTrustedIdentity('*')], revocation: 'enforce' as const };
  for (const [name, bytes] of coseHugeLengths()) {
    const r = await verifySignature(bytes, COSE, target, options);
    t.match(r, { ok: false, code: 'PARSE', reason: /exceeds the \d+ bytes left|more than 1024 items/ }, name);
  }
});

t.test('real envelopes still verify within the bounds (control)', async (t) => {
  const { awsChain, awsOptions, readVector, signAws, TARGET } = await import('../notation/helpers.ts');
  const { loadTrustStore, parseTrustedIdentity, verifySignature } = await import('../../src/notation/index.ts');
  const chain = await awsChain();
  for (const format of ['jws', 'cose'] as const) {
    const { envelope, mediaType } = signAws(chain, format);
    const r = await verifySignature(envelope, mediaType, TARGET, awsOptions(chain));
    t.equal(r.ok, true, `AWS-Signer-shaped ${format} (${envelope.length} bytes) verifies`);
  }
  // The Notary Project reference implementation's COSE and JWS envelopes for alpine.
  const alpine = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0',
    size: 481,
  };
  const store = loadTrustStore({ type: 'ca', path: `${ROOT}test/fixtures/notation/alpine-root.pem` });
  for (const [file, mediaType] of [
    ['cose_signature.sig', COSE],
    ['jws_signature.sig', JWS],
  ] as const) {
    const r = await verifySignature(readVector(file), mediaType, alpine, {
      trustStores: [store],
      trustedIdentities: [parseTrustedIdentity('*')],
      revocation: 'enforce',
    });
    t.equal(r.ok, true, `${file} verifies`);
  }
});
