// Image references a user can write: random strings and near-valid references (bad digests,
// upper-case repositories, ports, userinfo, trailing dots, Unicode lookalikes of ECR hosts,
// hosts that merely contain one). None may be taken for the allowed ECR registry: the
// origin check passes an ECR image only when the host the node will pull from is, byte for
// byte (ASCII case aside), the allowed registry's host.
import fc from 'fast-check';
import t from 'tap';
import { parseEcrHost } from '../../src/image/ecr-host.ts';
import { parseImageReference } from '../../src/image/reference.ts';
import { podRequest } from '../helpers/harness.ts';
import { reviewerFor } from '../fixtures/policy.ts';
import { runs } from './helpers.ts';

const ACCOUNT = '111122223333';
const REAL_HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const POLICY = `registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [us-east-1] }]
  allow: ["registry.k8s.io/pause:*"]
`;
const reviewer = reviewerFor(POLICY);

async function originOf(image: string): Promise<{ status: string | undefined; reason?: string | undefined; ecr?: boolean }> {
  const outcome = await reviewer.review(podRequest([image]));
  // An empty image string is refused before any check: the object cannot be read.
  if (outcome.images.length === 0) return { status: outcome.response.allowed ? 'allowed unchecked' : 'fail', reason: outcome.why };
  const result = outcome.images[0]?.results.find((r) => r.check === 'origin');
  return { status: result?.status, reason: result?.reason };
}

const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
/** The only images the origin check may pass: the real host (ASCII case aside) then "/", or
 *  the allowed non-ECR pattern. */
const mayPass = (image: string) => asciiLower(image).startsWith(`${REAL_HOST}/`) || image.startsWith('registry.k8s.io/pause:');

const ECR_HOST_SHAPE = /^\d{12}\.(dkr\.ecr(-fips)?\.[a-z]{2}(-[a-z]+)+-\d{1,2}\.amazonaws\.com(\.cn)?|dkr-ecr(-fips)?\.[a-z]{2}(-[a-z]+)+-\d{1,2}\.on\.aws)$/;

/** What must hold for any string: parsing refuses or yields a reference whose ECR reading,
 *  if any, is an ASCII host of exactly the ECR shape that the original string starts with. */
function referenceProblem(image: string): string | undefined {
  let ref;
  try {
    ref = parseImageReference(image);
  } catch (err) {
    return (err as { code?: string }).code === 'E_REFERENCE_INVALID' ? undefined : `threw ${String(err)}`;
  }
  const ecr = parseEcrHost(ref.domain);
  if (!ecr) return undefined;
  if (!ECR_HOST_SHAPE.test(ecr.host)) return `ECR host ${JSON.stringify(ecr.host)} is not of the ECR shape`;
  if (!asciiLower(image).startsWith(`${ecr.host}/`)) return `ECR host ${ecr.host} is not what ${JSON.stringify(image)} names`;
  return undefined;
}

t.test('random strings: parsed or refused, never mistaken for ECR, origin passes only the real host', async (t) => {
  const n = runs(3000);
  let passed = 0;
  const arbitrary = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF.:/@-_'.split('')), maxLength: 120 }),
    fc.string({ maxLength: 60 }).map((s) => `${REAL_HOST}${s}`),
    fc.string({ maxLength: 60 }).map((s) => `${s}${REAL_HOST}/app:1`),
  );
  await fc.assert(
    fc.asyncProperty(arbitrary, async (image) => {
      const problem = referenceProblem(image);
      if (problem) throw new Error(problem);
      const origin = await originOf(image);
      if (origin.status === 'pass') {
        passed++;
        if (!mayPass(image)) throw new Error(`origin passed ${JSON.stringify(image)}`);
      } else if (origin.status !== 'fail') throw new Error(`origin ${origin.status} for ${JSON.stringify(image)}`);
    }),
    { numRuns: n },
  );
  t.pass(`${n} random strings: ${passed} passed origin, each on the real host`);
});

/** Letters of the ECR host and what can stand in for them. */
const LOOKALIKES: Record<string, string[]> = {
  a: ['\u0430', '\u0251', '\uff41', '\u00e0', '\u1ea1'],
  c: ['\u0441', '\u03f2', '\uff43'],
  e: ['\u0435', '\u0117', '\uff45'],
  k: ['\u212a', '\u043a', '\u03ba', '\uff4b'],
  m: ['\u043c', '\uff4d', 'rn'],
  o: ['\u043e', '\u03bf', '\u0ed0', '0', '\uff4f'],
  r: ['\u0433', '\uff52'],
  s: ['\u0455', '\u017f', '\uff53'],
  w: ['\u0461', 'vv', '\uff57'],
  z: ['\u1d22', '\uff5a'],
  n: ['\u0578', '\uff4e'],
  d: ['\u0501', '\uff44'],
  i: ['\u0131', '\u0456', '\u0130'],
  '.': ['\u3002', '\uff0e', '\u2024', '%2e', '..'],
  '1': ['l', '\uff11', '\u0661'],
  '-': ['\u2010', '\u2011', '\u2212', '_'],
};

type Mutation = (host: string) => string;

const hostMutations: fc.Arbitrary<{ name: string; mutate: Mutation }> = fc.oneof(
  fc.record({ at: fc.nat(), pick: fc.nat() }).map(({ at, pick }) => {
    const positions = [...REAL_HOST].map((c, i) => [c, i] as const).filter(([c]) => LOOKALIKES[c]);
    const [c, i] = positions[at % positions.length]!;
    const sub = LOOKALIKES[c]![pick % LOOKALIKES[c]!.length]!;
    const name = `lookalike ${JSON.stringify(c)} at ${i} -> ${JSON.stringify(sub)} (U+${sub.codePointAt(0)!.toString(16).padStart(4, '0')})`;
    return { name, mutate: (host: string) => host.slice(0, i) + sub + host.slice(i + 1) };
  }),
  fc.constantFrom<{ name: string; mutate: Mutation }>(
    { name: 'suffix .evil.example', mutate: (h) => `${h}.evil.example` },
    { name: 'amazonaws.com.evil', mutate: (h) => h.replace('amazonaws.com', 'amazonaws.com.evil.example') },
    { name: 'trailing dot', mutate: (h) => `${h}.` },
    { name: 'leading dot', mutate: (h) => `.${h}` },
    { name: 'port 443', mutate: (h) => `${h}:443` },
    { name: 'port 5000', mutate: (h) => `${h}:5000` },
    { name: 'empty port', mutate: (h) => `${h}:` },
    { name: 'userinfo', mutate: (h) => `user@${h}` },
    { name: 'userinfo with password', mutate: (h) => `AWS:token@${h}` },
    { name: 'extra leading label', mutate: (h) => `evil.${h}` },
    { name: 'extra label inside', mutate: (h) => h.replace('.ecr.', '.ecr.evil.') },
    { name: 'missing dkr', mutate: (h) => h.replace('dkr.', '') },
    { name: '11-digit account', mutate: (h) => h.slice(1) },
    { name: '13-digit account', mutate: (h) => `9${h}` },
    { name: 'other account', mutate: (h) => h.replace(ACCOUNT, '999988887777') },
    { name: 'other region', mutate: (h) => h.replace('us-east-1', 'eu-west-1') },
    { name: 'China suffix on a commercial region', mutate: (h) => `${h}.cn` },
    { name: 'dual-stack lookalike', mutate: (h) => h.replace('dkr.ecr.', 'dkr-ecr.').replace('amazonaws.com', 'on.aws.evil.example') },
    { name: 'punycode label', mutate: (h) => h.replace('amazonaws', 'xn--amazonaws-9ig') },
    { name: 'zero-width space', mutate: (h) => h.replace('ecr', 'e\u200bcr') },
    { name: 'soft hyphen', mutate: (h) => h.replace('ecr', 'e\u00adcr') },
    { name: 'IPv6 literal', mutate: () => '[::1]' },
    { name: 'backslash', mutate: (h) => h.replace('.amazonaws', '\\.amazonaws') },
    { name: 'percent-encoded', mutate: (h) => h.replace('.', '%2E') },
    { name: 'space', mutate: (h) => `${h} ` },
    { name: 'newline', mutate: (h) => h.replace('.com', '.com\n') },
    { name: 'NUL', mutate: (h) => h.replace('.com', '.com\u0000') },
    { name: 'scheme', mutate: (h) => `https://${h}` },
    { name: 'path in host', mutate: (h) => `evil.example/${h}` },
  ),
);

const restMutations = fc.constantFrom(
  '/app:1.0',
  '/App:1.0',
  '/app:1.0@sha256:' + 'a'.repeat(64),
  '/app@sha256:' + 'A'.repeat(64),
  '/app@sha256:' + 'a'.repeat(63),
  '/app@sha1:' + 'a'.repeat(40),
  '/app@sha256:' + 'g'.repeat(64),
  '/app@',
  '/app:',
  '/app:-x',
  '/app:' + 'x'.repeat(129),
  '//app:1',
  '/app//x:1',
  '/app/:1',
  '/a/b/c/d/e/f:1',
  '/app:1#frag',
  '/app:1?x=y',
  '/app:1 ',
  '/APP',
  '/app@@sha256:' + 'a'.repeat(64),
  '/../app:1',
  '/./app:1',
  '/app:1.0/extra',
  '/app%2fx:1',
);

t.test('near-valid references: lookalike, extended and decorated ECR hosts are never the allowed registry', async (t) => {
  const n = runs(4000);
  const counts = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(hostMutations, restMutations, async ({ name, mutate }, rest) => {
      const host = mutate(REAL_HOST);
      const image = `${host}${rest}`;
      const kind = name.startsWith('lookalike') ? 'lookalike' : name;
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      const problem = referenceProblem(image);
      if (problem) throw new Error(`${name}: ${problem}`);
      const origin = await originOf(image);
      if (origin.status === 'pass' && !mayPass(image)) throw new Error(`${name}: origin passed ${JSON.stringify(image)}`);
      if (asciiLower(host) !== REAL_HOST && origin.status !== 'fail') throw new Error(`${name}: ${JSON.stringify(image)} got origin ${origin.status}`);
    }),
    { numRuns: n },
  );
  t.pass(`${n} near-valid references (${counts.size} kinds of host mutation) refused by origin`);
});

t.test('named cases', async (t) => {
  const cases: Array<[string, string, 'pass' | 'fail']> = [
    ['the real host', `${REAL_HOST}/app:1.0`, 'pass'],
    ['the real host in upper case (DNS is case-insensitive)', `${REAL_HOST.toUpperCase()}/app:1.0`, 'pass'],
    ['the real host, pinned', `${REAL_HOST}/app@sha256:${'a'.repeat(64)}`, 'pass'],
    ['Kelvin sign for k in dkr', `${REAL_HOST.replace('dkr', 'd\u212ar')}/app:1.0`, 'fail'],
    ['Cyrillic a in amazonaws', `${REAL_HOST.replace('amazonaws', '\u0430mazonaws')}/app:1.0`, 'fail'],
    ['Cyrillic o in .com', `${REAL_HOST.replace('.com', '.c\u043em')}/app:1.0`, 'fail'],
    ['Latin capital I with dot', `${REAL_HOST.replace('amazonaws', 'amazonaws').replace('us-east', 'us-\u0130ast')}/app:1.0`, 'fail'],
    ['long s for s', `${REAL_HOST.replace('aws', 'aw\u017f')}/app:1.0`, 'fail'],
    ['fullwidth dot', `${REAL_HOST.replace('.com', '\uff0ecom')}/app:1.0`, 'fail'],
    ['amazonaws.com.evil.example', `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.evil.example/app:1.0`, 'fail'],
    ['trailing dot', `${REAL_HOST}./app:1.0`, 'fail'],
    ['port', `${REAL_HOST}:443/app:1.0`, 'fail'],
    ['userinfo', `user@${REAL_HOST}/app:1.0`, 'fail'],
    ['extra label', `evil.${REAL_HOST}/app:1.0`, 'fail'],
    ['host as path', `evil.example/${REAL_HOST}/app:1.0`, 'fail'],
    ['upper-case repository', `${REAL_HOST}/App:1.0`, 'fail'],
    ['upper-case digest', `${REAL_HOST}/app@sha256:${'A'.repeat(64)}`, 'fail'],
    ['short digest', `${REAL_HOST}/app@sha256:${'a'.repeat(63)}`, 'fail'],
    ['sha1 digest', `${REAL_HOST}/app@sha1:${'a'.repeat(40)}`, 'fail'],
    ['other region', `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/app:1.0`, 'fail'],
    ['other account', `999988887777.dkr.ecr.us-east-1.amazonaws.com/app:1.0`, 'fail'],
    ['allowed pause pattern', 'registry.k8s.io/pause:3.10', 'pass'],
    ['pause pattern with a lookalike host', 'registry.k8s.\u0456o/pause:3.10', 'fail'],
    ['pause pattern on another host', 'registry.k8s.io.evil.example/pause:3.10', 'fail'],
  ];
  for (const [label, image, want] of cases) {
    const origin = await originOf(image);
    t.equal(origin.status, want, `${label}: origin ${want}${origin.reason ? ` (${origin.reason.slice(0, 100)})` : ''}`);
  }
  t.equal(parseEcrHost(REAL_HOST.replace('dkr', 'd\u212ar')), undefined, 'parseEcrHost: the Kelvin sign is not a "k"');
  t.equal(parseEcrHost(REAL_HOST.replace('amazonaws', '\u0430mazonaws')), undefined, 'parseEcrHost: a Cyrillic "a" is not an "a"');
  t.equal(parseEcrHost(`${REAL_HOST}.evil.example`), undefined);
  t.equal(parseEcrHost(`${REAL_HOST}.`), undefined);
  t.equal(parseEcrHost(`${REAL_HOST}:443`), undefined);
  t.equal(parseEcrHost(REAL_HOST.toUpperCase())?.accountId, ACCOUNT, 'parseEcrHost: ASCII case does not matter');
});

t.test('parsing stays fast on the longest inputs (no catastrophic backtracking)', async (t) => {
  const n = runs(500);
  let slowest = 0;
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', '-', '.', '_', ':', '/', '@', '0', 'A'), minLength: 3000, maxLength: 4096 }), (image) => {
      const started = performance.now();
      referenceProblem(image);
      slowest = Math.max(slowest, performance.now() - started);
    }),
    { numRuns: n },
  );
  t.ok(slowest < 50, `slowest of ${n} references of 3-4 KiB parsed in ${slowest.toFixed(2)} ms`);
});
