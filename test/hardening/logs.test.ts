// What the webhook writes to its logs, captured at trace level over a run that goes through
// every path: admitted, denied, AWS faults, hostile bodies, a registry read with a
// GetAuthorizationToken password, credentials from the environment. No credential, token,
// signed URL or object content may appear; each admission is one bounded line of known keys.
import t from 'tap';
import { buildWebhookApp } from '../../src/server/app.ts';
import { createPolicyStore } from '../../src/policy/store.ts';
import { createRuntime } from '../../src/cli/wiring.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { startSandbox } from '../../src/dev/sandbox/index.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { fixture, fullPolicy, HOST, logCapture } from './helpers.ts';

// Credentials the SDK's default chain reads from the environment, as on a node or with IRSA.
const SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY1';
const SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKENtHaTmUsTnEvErLeAk';
const ACCESS_KEY_ID = 'AKIAHARDENINGEXAMPLE';
process.env.AWS_ACCESS_KEY_ID = ACCESS_KEY_ID;
process.env.AWS_SECRET_ACCESS_KEY = SECRET_ACCESS_KEY;
process.env.AWS_SESSION_TOKEN = SESSION_TOKEN;
process.env.AWS_REGION = 'us-east-1';

const ENV_SECRET = 'db-password-hunter2-9f8e7d';
const CONFIG_SECRET = 'super-secret-config-value-5a4b';

/** Keys an admission log line may have. */
const ADMISSION_KEYS = new Set([
  'level',
  'time',
  'pid',
  'hostname',
  'msg',
  'uid',
  'kind',
  'operation',
  'namespace',
  'name',
  'dryRun',
  'user',
  'decision',
  'why',
  'durationMs',
  'images',
]);
const IMAGE_KEYS = new Set(['container', 'image', 'digest', 'policy', 'results']);

t.test('logs carry no credentials, tokens or objects', async (t) => {
  const f = fixture();
  f.registry = { requireAuth: true };
  const sandbox = await startSandbox({ fixture: f });
  const capture = logCapture('trace');
  const metrics = createMetrics();
  // Two runtimes: ECR API signatures, and registry signatures with a GetAuthorizationToken password.
  const viaApi = createRuntime({
    policyStore: createPolicyStore({ text: fullPolicy(), logger: capture.logger, metrics }),
    logger: capture.logger,
    metrics,
    budgetMs: 2000,
    env: sandbox.endpoints(),
  });
  const viaRegistry = createRuntime({
    policyStore: createPolicyStore({
      text: fullPolicy({ extra: `aws:\n  endpoints: { ecrRegistry: "${sandbox.url}" }\n` }).replace(
        'trustedIdentities:',
        'source: registry\n    trustedIdentities:',
      ),
      logger: capture.logger,
      metrics,
    }),
    logger: capture.logger,
    metrics,
    budgetMs: 2000,
    env: sandbox.endpoints(),
  });
  const apps = [viaApi, viaRegistry].map((runtime) => buildWebhookApp({ reviewer: runtime.reviewer, logger: capture.logger, metrics }));
  t.teardown(async () => {
    for (const app of apps) await app.close();
    await viaApi.close();
    await viaRegistry.close();
    await sandbox.close();
  });

  const review = (image: string, extra: Record<string, unknown> = {}) => {
    const r = loadAdmissionReview('pod-create');
    (r.request.object as { spec: Record<string, unknown> }).spec = {
      containers: [{ name: 'app', image, env: [{ name: 'DB_PASSWORD', value: ENV_SECRET }], args: ['--token', CONFIG_SECRET] }],
      volumes: [{ name: 'cfg', configMap: { name: CONFIG_SECRET } }],
    };
    r.request.object!.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify({ data: { password: ENV_SECRET } }) };
    return JSON.stringify({ ...r, ...extra });
  };
  const post = (app: (typeof apps)[number], payload: string) =>
    app.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload });

  let answered = 0;
  for (const app of apps) {
    for (const image of [`${HOST}/app:1.0`, `${HOST}/app:unsigned`, `${HOST}/app:vuln`, `${HOST}/app:nope`, 'ghcr.io/x/y:1', `${HOST}/App:BAD`]) {
      const res = await post(app, review(image));
      if (res.statusCode === 200) answered++;
    }
    for (const kind of ['access-denied', 'expired-token', 'unrecognized-client', 'malformed', 'server-error', 'reset'] as const) {
      sandbox.inject('*', { kind });
      viaApi.cache.clear();
      viaRegistry.cache.clear();
      const res = await post(app, review(`${HOST}/app:1.0`));
      if (res.statusCode === 200) answered++;
      sandbox.clearFaults();
    }
    // Bodies that are not reviews: their reason is logged, not their content.
    await post(app, JSON.stringify({ apiVersion: { password: ENV_SECRET }, kind: 'AdmissionReview' }));
    await post(
      app,
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: ENV_SECRET.repeat(20), object: { data: { password: ENV_SECRET } } },
      }),
    );
    await post(app, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":${'['.repeat(400_000)}`);
    // A Secret is not a kind with a pod template: skipped, and its data never logged.
    const secret = loadAdmissionReview('configmap-create');
    secret.request.kind = { group: '', version: 'v1', kind: 'Secret' };
    secret.request.object = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'team-a' },
      data: { password: Buffer.from(ENV_SECRET).toString('base64') },
      stringData: { password: ENV_SECRET },
    };
    await post(app, JSON.stringify(secret));
  }
  t.ok(answered >= 20, `${answered} admissions answered`);
  t.ok(sandbox.calls('ecr:GetAuthorizationToken') > 0, 'the registry path was taken (GetAuthorizationToken called)');
  t.ok(
    sandbox.callLog().some((c) => c.accessKeyId === ACCESS_KEY_ID),
    'the credentials came from the environment',
  );

  const text = capture.text();
  const lines = capture.lines();
  t.ok(lines.length > 20, `${lines.length} log lines captured at trace level`);
  const forbidden: Array<[string, RegExp | string]> = [
    ['the secret access key', SECRET_ACCESS_KEY],
    ['the session token', SESSION_TOKEN],
    ['the access key id', ACCESS_KEY_ID],
    ['an env value of the pod', ENV_SECRET],
    ['an argument of the pod', CONFIG_SECRET],
    ['a Basic authorization header', /basic [a-z0-9+/=]{8,}/i],
    ['an authorization header', /authorization/i],
    ['a GetAuthorizationToken token', /"AWS:|QVdTOi/],
    ['a SigV4 signature', /Signature=|X-Amz-Signature|Credential=/],
    ['a pre-signed layer URL', /\/layers\/[A-Za-z0-9_-]{20,}/],
    ['the sandbox URL with a path', new RegExp(`${sandbox.url}/\\S`)],
    ['a pod spec', /"env"|"volumes"|"args"|"spec"|"metadata"|"last-applied/],
  ];
  for (const [what, pattern] of forbidden) {
    const found = typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
    t.notOk(found, `${what}: not in the logs`);
  }
  for (const line of lines.filter((l) => l.msg === 'admission')) {
    const extra = Object.keys(line).filter((k) => !ADMISSION_KEYS.has(k));
    if (extra.length > 0) t.fail(`an admission line with keys ${extra.join(', ')}`);
    for (const image of (line.images as Array<Record<string, unknown>>) ?? []) {
      const imageExtra = Object.keys(image).filter((k) => !IMAGE_KEYS.has(k));
      if (imageExtra.length > 0) t.fail(`an image entry with keys ${imageExtra.join(', ')}`);
    }
  }
  const longest = Math.max(...text.split('\n').map((l) => l.length));
  t.ok(longest < 8192, `the longest log line is ${longest} characters`);
  t.ok(
    lines.some((l) => l.msg === 'rejected a body that is not an AdmissionReview'),
    'refused bodies are logged, by reason',
  );
  t.ok(
    lines.filter((l) => l.msg === 'admission').some((l) => JSON.stringify(l).includes('AccessDeniedException')),
    'AWS failures are in the admission lines, by name',
  );
});
