// The webhook pod as the chart renders it, run on this machine: the server (src/main.ts, what
// the image runs as dist/main.js) started with the rendered args and environment, the rendered
// policy file and the chart-made TLS Secret in place of the mounts. It must come up ready,
// present a certificate the API server's caBundle trusts for the Service name, and answer
// reviews. Ports are moved to free ones on 127.0.0.1; nothing else is changed.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../e2e/rig/index.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { NAMESPACE, RELEASE, REPO_ROOT, only, renderChart } from './helm.ts';
import { containerNamed, envOf, type ConfigMap, type Deployment, type Secret, type ValidatingWebhookConfiguration } from './kube-types.ts';

const SERVICE_DNS = `${RELEASE}.${NAMESPACE}.svc`;
const decode = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');

async function waitFor(url: string, deadlineMs: number): Promise<Response> {
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return res;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadlineMs) throw new Error(`${url} did not answer 200 in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function postReview(
  port: number,
  ca: string,
  body: unknown,
): Promise<{ status: number; json: { response: { allowed: boolean; status?: { message?: string } } } }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/validate',
        method: 'POST',
        ca,
        servername: SERVICE_DNS,
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { response: { allowed: boolean; status?: { message?: string } } } }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

t.test('the rendered webhook pod serves', async (t) => {
  // tls.source chart: the certificate files are in the rendered Secret. (The default, certificates
  // the server keeps itself, needs an API server: test/e2e/scenarios/ca-rotation.test.ts.)
  const objects = renderChart({ setJson: ['policy.registries.ecr=[{"accountId":"111122223333","regions":["us-east-1"]}]', 'tls.source="chart"'] });
  const deployment = only<Deployment>(objects, 'Deployment');
  const webhook = containerNamed(deployment.spec.template.spec, 'webhook');
  const tls = only<Secret>(objects, 'Secret', '-tls');
  const caBundle = decode(only<ValidatingWebhookConfiguration>(objects, 'ValidatingWebhookConfiguration').webhooks[0]?.clientConfig.caBundle);

  // The pod's mounts, rebuilt in a temporary directory.
  const root = mkdtempSync(join(tmpdir(), 'ecr-admission-pod-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const files: Record<string, string> = {
    '/etc/ecr-admission/policy.yaml': only<ConfigMap>(objects, 'ConfigMap', '-policy').data?.['policy.yaml'] ?? '',
    '/etc/ecr-admission/tls/tls.crt': decode(tls.data?.['tls.crt']),
    '/etc/ecr-admission/tls/tls.key': decode(tls.data?.['tls.key']),
  };
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content, { mode: 0o400 });
  }

  const [port, healthPort] = [await freePort(), await freePort()];
  // Static sandbox keys stand in for IRSA / Pod Identity: readiness waits for credentials.
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDSANDBOX',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    ECR_ADMISSION_HOST: '127.0.0.1',
    ECR_ADMISSION_NAMESPACE: NAMESPACE,
  };
  for (const [name, value] of envOf(webhook)) {
    if (value !== undefined) env[name] = value.startsWith('/etc/ecr-admission/') ? join(root, value) : value;
  }
  // No API server here: the webhook configuration (failurePolicy switch) is not maintained.
  // With one: test/e2e/scenarios/lockout.test.ts.
  delete env['ECR_ADMISSION_WEBHOOK_CONFIGURATION'];
  env['ECR_ADMISSION_PORT'] = String(port);
  env['ECR_ADMISSION_HEALTH_PORT'] = String(healthPort);

  const server = spawn(process.execPath, [join(REPO_ROOT, 'src', 'main.ts'), ...(webhook.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  server.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  server.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
  t.teardown(async () => {
    server.kill('SIGTERM');
    await exited;
  });

  try {
    await waitFor(`http://127.0.0.1:${healthPort}/readyz`, Date.now() + 20_000);
  } catch (err) {
    t.fail(`the server did not become ready: ${String(err)}\n${output}`);
    return;
  }
  t.pass('/readyz answers 200 (the readiness probe)');
  t.equal((await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status, 200, '/healthz answers 200 (the liveness probe)');
  t.match(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text(), /ecr_admission_admissions_total/, '/metrics for the ServiceMonitor');

  const authorized = await new Promise<boolean>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: SERVICE_DNS, ca: caBundle }, () => {
      resolve(socket.authorized);
      socket.end();
    });
    socket.on('error', reject);
  });
  t.ok(authorized, `the serving certificate verifies against the caBundle for ${SERVICE_DNS}`);

  const own = loadAdmissionReview('pod-create');
  own.request.namespace = NAMESPACE;
  own.request.object!.metadata.namespace = NAMESPACE;
  const ownAnswer = await postReview(port, caBundle, own);
  t.equal(ownAnswer.status, 200, 'POST /validate answers');
  t.equal(ownAnswer.json.response.allowed, true, 'a pod in its own namespace is admitted (the server excludes it too)');

  const foreign = loadAdmissionReview('pod-create');
  const spec = foreign.request.object!['spec'] as { containers: Array<{ image: string }> };
  spec.containers = [{ ...spec.containers[0]!, image: 'docker.io/library/busybox:1.36' }];
  const denied = await postReview(port, caBundle, foreign);
  t.equal(denied.json.response.allowed, false, 'an image from a registry the policy does not allow is denied');
  t.match(denied.json.response.status?.message ?? '', /\[origin\]/, 'by the origin check');
});
