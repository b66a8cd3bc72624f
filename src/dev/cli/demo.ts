// `ecr-admission demo`: the embedded default. Starts the webhook over real TLS on 127.0.0.1,
// replays sample workloads as AdmissionReviews, and prints each decision as kubectl would.
import { request } from 'node:https';
import { pino } from 'pino';
import type { DemoOptions } from '../../cli/args.ts';
import { createPolicyStore } from '../../policy/store.ts';
import { DEMO_SAMPLES, demoPolicy } from '../demo/samples.ts';
import { DEMO_PROFILE, demoWorld } from '../demo/fixture.ts';
import { startSandbox } from '../sandbox/index.ts';
import { createRuntime } from '../../cli/wiring.ts';
import { buildWebhookApp } from '../../server/app.ts';
import { createMetrics } from '../../support/metrics.ts';
import { generateSelfSigned } from '../../server/self-signed.ts';
import type { AdmissionReviewResponse } from '../../admission/codec.ts';
import { AwsClients } from '../../facts/aws-clients.ts';
import { runAudit } from '../../cli/audit.ts';
import { formatAuditText } from '../../cli/audit-report.ts';
import { DEMO_REGION } from '../demo/samples.ts';

async function post(url: string, ca: string, body: unknown): Promise<AdmissionReviewResponse> {
  const text = await new Promise<string>((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
  return JSON.parse(text) as AdmissionReviewResponse;
}

const DEMO_CREDENTIALS = { accessKeyId: 'AKIDDEMO', secretAccessKey: 'demo' };

export async function demo(options: DemoOptions, _env: Readonly<Record<string, string | undefined>>, print: (line: string) => void): Promise<number> {
  const logger = pino({ level: options.logLevel }, pino.destination(2));
  const metrics = createMetrics();
  const world = await demoWorld();
  // The built-in AWS sandbox stands in for ECR, Inspector and Signer, with the latency of an
  // in-region call; the real AWS SDK clients talk to it over HTTP.
  const sandbox = await startSandbox({ fixture: world.fixture, latencyMs: 20 });
  const policyText = demoPolicy(world.trustStorePath, DEMO_PROFILE);
  const policyStore = createPolicyStore({ text: policyText, logger, metrics });
  const runtime = createRuntime({
    policyStore,
    logger,
    metrics,
    budgetMs: 8000,
    env: sandbox.endpoints(),
    credentials: DEMO_CREDENTIALS,
  });
  const tls = await generateSelfSigned();
  const app = buildWebhookApp({ reviewer: runtime.reviewer, logger, metrics, tls });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const url = `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/validate`;
  print(`ecr-admission demo: webhook on ${url} (TLS), AWS sandbox on ${sandbox.url}, policy:\n${policyText.replace(/^/gm, '  ')}`);
  let n = 0;
  try {
    for (const sample of DEMO_SAMPLES) {
      n++;
      const metadata = sample.object.metadata as { name: string; namespace: string };
      const [group, version] = String(sample.object.apiVersion).includes('/')
        ? String(sample.object.apiVersion).split('/')
        : ['', String(sample.object.apiVersion)];
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: `demo-${n}`,
          kind: { group, version, kind: sample.object.kind },
          operation: 'CREATE',
          name: metadata.name,
          namespace: metadata.namespace,
          object: sample.object,
        },
      };
      const started = performance.now();
      const { response } = await post(url, tls.caPem, review);
      const ms = Math.round(performance.now() - started);
      print(`\n${n}. ${sample.title}\n   $ kubectl apply -f ${String(sample.object.kind).toLowerCase()}-${metadata.name}.yaml -n ${metadata.namespace}`);
      for (const w of response.warnings ?? []) print(`   Warning: ${w}`);
      if (response.allowed)
        print(`   ${String(sample.object.kind).toLowerCase()}/${metadata.name} created (${response.auditAnnotations?.decision ?? 'allow'}, ${ms} ms)`);
      else
        print(
          `   Error from server (Forbidden): admission webhook "ecr-admission.k8s.aws" denied the request (${ms} ms): ${response.status?.message?.replace(/\n/g, '\n   ')}`,
        );
    }
    print(`\nAWS calls made: ${sandbox.callLog().length} for ${n} admissions (answers are cached per digest).`);
    // The registry's posture as a whole: what `ecr-admission audit` prints.
    const clients = new AwsClients({ env: sandbox.endpoints(), aws: policyStore.current().aws, roleFor: () => undefined, credentials: DEMO_CREDENTIALS });
    try {
      const report = await runAudit(policyStore.current(), { region: DEMO_REGION }, clients, () => {});
      print(`\n$ ecr-admission audit --region ${DEMO_REGION}\n${formatAuditText(report).replace(/^/gm, '   ')}`);
    } finally {
      clients.destroy();
    }
  } finally {
    await app.close();
    await runtime.close();
    await sandbox.close();
  }
  return 0;
}
