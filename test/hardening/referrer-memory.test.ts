// Issue 12, high 2: the memory test. The webhook PROCESS (`node src/main.ts serve` under the
// chart's NODE_OPTIONS, read from chart/ecr-admission/values.yaml) against the sandbox, fed the
// envelope bombs (COSE item-count and JWS nested-array bombs, at 4 MiB and just under the
// envelope bound) and a referrer flood (60 referrers of 4 MiB on each of four images) as
// referrers, several admissions at once. It must survive, deny each of them (with onError
// allow: a deny that comes from the referrers, not from a fault), and keep its peak RSS
// (VmHWM) well under the chart's 256Mi limit. Before the bounds, one flooded image cost
// 428 MiB RSS and four 1.1 GiB.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { MAX_ENVELOPE_BYTES } from '../../src/facts/signature-budget.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { ociImage, startSandbox, type ImageFixture, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, PROFILE, REGION, ROOT_PEM_PATH, sign } from './helpers.ts';
import { MiB, coseBomb, jwsBomb, referrersOf } from './referrer-fixtures.ts';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const values = parse(readFileSync(join(ROOT, 'chart/ecr-admission/values.yaml'), 'utf8')) as { server?: { nodeOptions?: string } };
const NODE_OPTIONS = values.server?.nodeOptions ?? '';
/** The chart's container memory limit; the peak must stay well under it. */
const LIMIT_MIB = 256;
const PEAK_BOUND_MIB = 200;

const bigCose = coseBomb(4 * MiB);
const bigJws = jwsBomb(4 * MiB);
const hostile: Array<{ tag: string; image: ImageFixture }> = [
  ...[0, 1, 2, 3].map((i) => ({
    tag: `flood-${i}`,
    image: { ...ociImage({ seed: `flood-${i}`, tags: [`flood-${i}`] }), signatures: referrersOf(bigCose, 60, 'application/cose') },
  })),
  {
    tag: 'cose-bomb',
    image: {
      ...ociImage({ seed: 'cose-bomb', tags: ['cose-bomb'] }),
      signatures: [...referrersOf(bigCose, 2, 'application/cose'), ...referrersOf(coseBomb(MAX_ENVELOPE_BYTES), 30, 'application/cose')],
    },
  },
  {
    tag: 'jws-bomb',
    image: {
      ...ociImage({ seed: 'jws-bomb', tags: ['jws-bomb'] }),
      signatures: [...referrersOf(bigJws, 2, 'application/jose+json'), ...referrersOf(jwsBomb(MAX_ENVELOPE_BYTES), 30, 'application/jose+json')],
    },
  },
];
const good = ociImage({ seed: 'memory-good', tags: ['good'] });
good.signatures = [sign(good)];

/** How the webhook ended, if it has. */
const exitOf = (webhook: ServeProcess) => {
  const exit = webhook.exit();
  return exit && `code ${exit.code}, signal ${exit.signal}`;
};

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: { regions: { [REGION]: { repositories: [{ name: 'app', tagMutability: 'IMMUTABLE', images: [...hostile.map((h) => h.image), good] }] } } },
  },
});

t.test('the webhook process survives envelope bombs and a referrer flood, denies them, and stays bounded', async (t) => {
  t.ok(NODE_OPTIONS.includes('--max-old-space-size'), `the chart's NODE_OPTIONS: ${NODE_OPTIONS}`);
  const sandbox = await startSandbox({ fixture: fixture() });
  t.teardown(() => sandbox.close());
  const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-referrer-memory-'));
  const pair = await generateSelfSigned(['127.0.0.1']);
  writeFileSync(join(dir, 'tls.crt'), pair.cert);
  writeFileSync(join(dir, 'tls.key'), pair.key);
  writeFileSync(
    join(dir, 'policy.yaml'),
    `mode: enforce
onError: allow
registries:
  ecr: [{ accountId: "${ACCOUNT}", regions: [${REGION}] }]
checks:
  signature:
    trustStores: [{ type: signingAuthority, path: ${ROOT_PEM_PATH} }]
    trustedIdentities: ["${PROFILE}"]
`,
  );
  const webhook = startServeProcess(t, {
    args: [
      '--config',
      join(dir, 'policy.yaml'),
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--budget-ms',
      '20000',
      '--log-level',
      'info',
    ],
    cwd: ROOT,
    env: {
      HOME: tmpdir(),
      NODE_OPTIONS,
      ...sandbox.endpoints(),
      AWS_ACCESS_KEY_ID: 'AKIDSANDBOX',
      AWS_SECRET_ACCESS_KEY: 'sandbox',
    },
    startTimeoutMs: 60_000,
  });
  const ready = await webhook.ready();
  if (!ready) throw new Error(`the webhook did not start (${exitOf(webhook) ?? 'timeout'}): ${(webhook.stdout() + webhook.stderr()).slice(-2000)}`);
  const { port } = ready;
  const memory = () => {
    const status = readFileSync(`/proc/${webhook.child.pid}/status`, 'utf8');
    const mib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) / 1024;
    return { rss: mib('VmRSS'), peak: mib('VmHWM') };
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 32, ca: pair.caPem });
  t.teardown(() => agent.destroy());
  let uid = 0;
  const review = async (images: string[]): Promise<{ allowed: boolean; message: string }> => {
    uid += 1;
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `memory-${uid}`,
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        operation: 'CREATE',
        namespace: 'team-a',
        name: `memory-${uid}`,
        userInfo: { username: 'tenant' },
        object: {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: `memory-${uid}`, namespace: 'team-a' },
          spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
        },
      },
    });
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/validate',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        },
      );
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
      req.end(body);
    });
    const answer = JSON.parse(text) as { response: { allowed: boolean; status?: { message?: string } } };
    return { allowed: answer.response.allowed, message: answer.response.status?.message ?? '' };
  };

  t.equal((await review([`${HOST}/app:good`])).allowed, true, 'warm-up: a signed image is admitted');
  const before = memory();
  // Every hostile image alone, and Pods naming all of them, at once: four flooded images,
  // 60 referrers of 4 MiB each, in flight together, and the bombs beside them.
  const all = hostile.map((h) => `${HOST}/app:${h.tag}`);
  const answers = await Promise.all([...all.map((image) => review([image])), review(all), review(all), review([...all].reverse())]);
  const after = memory();
  t.notOk(webhook.exited(), `the webhook is alive (${exitOf(webhook) ?? 'running'})`);
  t.ok(
    answers.every((a) => !a.allowed),
    `all ${answers.length} admissions denied under onError allow`,
  );
  t.ok(
    answers.every((a) => a.message.includes('[signature]')),
    'each denial names the signature check',
  );
  t.notOk(
    answers.some((a) => /could not all be checked|did not answer/.test(a.message)),
    'none of them was an error left to onError',
  );
  t.match(answers[0]?.message, new RegExp(`over the ${MAX_ENVELOPE_BYTES}-byte limit`), 'the flood: refused by declared size');
  t.comment(`RSS ${before.rss.toFixed(1)} MiB before, ${after.rss.toFixed(1)} after; peak (VmHWM) ${after.peak.toFixed(1)} MiB; chart limit ${LIMIT_MIB} MiB`);
  t.ok(after.peak < PEAK_BOUND_MIB, `peak RSS ${after.peak.toFixed(1)} MiB < ${PEAK_BOUND_MIB} MiB (chart limit ${LIMIT_MIB} MiB)`);
  t.equal((await review([`${HOST}/app:good`])).allowed, true, 'and it still admits a signed image afterwards');
});
