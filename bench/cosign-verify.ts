// Verification time of one cosign signature (issue 19): parsing, @sigstore/verify and the
// payload check together, the first call (cold) and the median of N repeats. Key cases are
// signed here (ECDSA P-256, as `cosign generate-key-pair` makes); keyless cases are Sigstore's
// conformance bundles (Fulcio chain, SCT, Rekor inclusion proof or SET) against the public-good
// trusted root the chart ships.
//   node bench/cosign-verify.ts [N]
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { exactMatcher, parseBundle, parseTrustedRoot, verifyCosign, verifyWithAuthority, type Authority, type CosignArtifact } from '../src/cosign/index.ts';

const N = Number(process.argv[2] ?? 300);
const fixtures = new URL('../test/fixtures/cosign/conformance/', import.meta.url);
const root = parseTrustedRoot(readFileSync(new URL('../chart/ecr-admission/files/sigstore-trusted-root.json', import.meta.url)), 'public-good').material;
const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key: Authority = { kind: 'key', name: 'release', key: publicKey, describe: 'key' };
const keyless: Authority = {
  kind: 'keyless',
  name: 'ci',
  issuer: exactMatcher('https://token.actions.githubusercontent.com'),
  subject: exactMatcher(
    'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main',
  ),
  describe: 'keyless',
};
const digest = `sha256:${createHash('sha256').update('bench image').digest('hex')}`;
const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');

const payload = Buffer.from(
  JSON.stringify({
    critical: { identity: { 'docker-reference': 'x/app' }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
  }),
);
const legacy: CosignArtifact = {
  form: 'simple-signing',
  manifestDigest: digest,
  payload,
  annotations: { 'dev.cosignproject.cosign/signature': b64(sign('sha256', payload, privateKey)) },
};
const statement = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ digest: { sha256: digest.slice(7) } }],
    predicateType: 'https://sigstore.dev/cosign/sign/v1',
    predicate: {},
  }),
);
const type = 'application/vnd.in-toto+json';
const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} ${type} ${statement.length} `), statement]);
const dsse: CosignArtifact = {
  form: 'bundle',
  manifestDigest: digest,
  bundle: Buffer.from(
    JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] },
      dsseEnvelope: { payload: b64(statement), payloadType: type, signatures: [{ sig: b64(sign('sha256', pae, privateKey)), keyid: '' }] },
    }),
  ),
};
const aTxt = readFileSync(new URL('a.txt', fixtures));
const keylessBundle = readFileSync(new URL('happy-path-v0.3/bundle.sigstore.json', fixtures));

const cases: Array<{ name: string; run: () => boolean }> = [
  { name: 'key P-256, simple-signing layer', run: () => verifyCosign(legacy, digest, [key], {}).ok },
  { name: 'key P-256, v0.3 DSSE bundle', run: () => verifyCosign(dsse, digest, [key], {}).ok },
  {
    name: 'keyless v0.3 (Fulcio, SCT, Rekor proof)',
    run: () => {
      const parsed = parseBundle(keylessBundle);
      return parsed.ok && verifyWithAuthority({ ...parsed.signed, payload: aTxt }, keyless, { trustMaterial: root }).ok;
    },
  },
  {
    // Four keyless authorities, the matching one last: the chain is verified once, shared.
    name: 'keyless v0.3, 4 authorities (last matches)',
    run: () => {
      const parsed = parseBundle(keylessBundle);
      if (!parsed.ok) return false;
      const others = ['a', 'b', 'c'].map((n): Authority => ({ ...keyless, name: n, subject: exactMatcher(`https://github.com/acme/${n}`) }));
      const shared = {};
      return [...others, keyless].map((a) => verifyWithAuthority({ ...parsed.signed, payload: aTxt }, a, { trustMaterial: root }, shared).ok).at(-1) === true;
    },
  },
  {
    // A real certificate and log entry over a forged signature: refused before the chain.
    name: 'keyless v0.3, forged signature (expected no)',
    run: () => {
      const parsed = parseBundle(keylessBundle);
      return parsed.ok && !verifyWithAuthority({ ...parsed.signed, payload: Buffer.from('forged') }, keyless, { trustMaterial: root }).ok;
    },
  },
];

console.log(`node ${process.version}, N=${N}`);
for (const c of cases) {
  const t0 = process.hrtime.bigint();
  if (!c.run()) throw new Error(`${c.name}: did not verify`);
  const cold = Number(process.hrtime.bigint() - t0) / 1e6;
  const samples: number[] = [];
  for (let i = 0; i < N; i++) {
    const s = process.hrtime.bigint();
    c.run();
    samples.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!.toFixed(3);
  console.log(`${c.name.padEnd(42)} cold ${cold.toFixed(3)} ms  median ${at(0.5)} ms  p95 ${at(0.95)} ms  (${(1000 / Number(at(0.5))).toFixed(0)}/s)`);
}
