// The webhook reached over IPv6 by a real kube-apiserver (issue 21, "Listens on IPv4 and IPv6"):
// serve listens on ::1 only, with a certificate whose one address is the IP ::1, and the chart's
// webhook configuration points the API server at https://[::1]:PORT/validate. A Pod with a good
// image is admitted and one with a bad image denied with the webhook's own message: the API
// server could only have got that answer over IPv6. The socket is ::1 rather than serve's
// default `::` (every address, IPv4 included) so that the test stays on the loopback; the
// dual-stack default and its IPv4 fallback are test/server/listen.test.ts's.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { generateSelfSigned } from '../../../src/server/self-signed.ts';
import { e2eOutputDir, listeningSockets } from '../rig/index.ts';
import { attempt } from '../support/admission.ts';
import { WEBHOOK_NAME } from '../support/chart.ts';
import { buildEcrWorld, CRITICAL_CVE } from '../support/ecr-world.ts';
import { NS, ecrPolicyValues } from '../support/policy.ts';
import { startStack } from '../support/stack.ts';
import { manifest, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

/** Why this machine cannot run the scenario (no IPv6 loopback to listen on), or undefined. */
async function noIpv6Loopback(): Promise<string | undefined> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '::1', resolve);
    });
    return undefined;
  } catch (err) {
    return `this machine has no IPv6 loopback: listening on ::1 failed (${(err as { code?: string }).code ?? String(err)})`;
  } finally {
    if (server.listening) server.close();
  }
}

const skip = await noIpv6Loopback();
const world = skip === undefined ? await buildEcrWorld() : undefined;

t.test('the API server calls the webhook at https://[::1]', { skip: skip ?? false }, async (t) => {
  if (!world) throw new Error('unreachable: no world without a skip');
  const name = 'scenario-ipv6';
  const out = e2eOutputDir(t, name);
  // The serving pair and its CA, made by the product's own code (src/server/self-signed.ts), for
  // the IPv6 loopback alone: no 127.0.0.1 the API server could fall back to.
  const pair = await generateSelfSigned(['::1']);
  const tlsDir = join(out, 'tls');
  mkdirSync(tlsDir, { recursive: true });
  const tls = { certPath: join(tlsDir, 'tls.crt'), keyPath: join(tlsDir, 'tls.key'), caPem: pair.caPem };
  writeFileSync(tls.certPath, pair.cert, { mode: 0o400 });
  writeFileSync(tls.keyPath, pair.key, { mode: 0o400 });
  t.equal(new X509Certificate(pair.cert).subjectAltName, 'IP Address:0:0:0:0:0:0:0:1', 'the serving certificate names the IP ::1 and nothing else');

  const stack = await startStack(t, {
    name,
    out,
    fixture: world.fixture,
    values: () => ecrPolicyValues(world),
    namespaces: [NS.enforce],
    webhook: { host: '::1', tls },
  });
  const { cluster, chart, webhook } = stack;
  const ns = NS.enforce;

  t.equal(webhook.url, `https://[::1]:${webhook.port}/validate`, 'the webhook url is an IPv6 literal');
  t.same(
    listeningSockets(webhook.pid).filter((l) => l.port === webhook.port),
    [{ address: '::1', port: webhook.port }],
    'the webhook port is bound on ::1 only (no IPv4 socket)',
  );
  const installed = await cluster.admission.readValidatingWebhookConfiguration({ name: chart.webhookConfiguration.metadata?.name ?? '' });
  t.same(
    installed.webhooks?.map((w) => w.clientConfig.url),
    [webhook.url],
    'the API server holds the configuration with clientConfig.url https://[::1]:PORT/validate',
  );

  const good = await attempt(() => cluster.core.createNamespacedPod({ namespace: ns, body: pod('ipv6-good', world.images.good) }));
  t.ok(good.allowed, `a Pod with a good image is admitted ${good.message ?? ''}`);
  const goodReview = await webhook.waitForReview((r) => r.kind === 'Pod' && r.namespace === ns && r.name === 'ipv6-good');
  t.equal(goodReview?.decision, 'allow', 'the webhook reviewed it (over ::1) and allowed it');

  const bad = await attempt(() => cluster.core.createNamespacedPod({ namespace: ns, body: pod('ipv6-critical', world.images.critical) }));
  t.notOk(bad.allowed, 'a Pod with an image with a CRITICAL finding is rejected');
  t.equal(bad.code, 403, 'with 403, a webhook denial (a failed call would be 500)');
  t.match(bad.message, `admission webhook "${WEBHOOK_NAME}" denied the request: ecr-admission denied Pod ${ns}/ipv6-critical`);
  t.match(bad.message, `[vulnerabilities] 1 CRITICAL finding: ${CRITICAL_CVE} (xz-utils 5.6.0, fixed in 5.6.1)`, "the webhook's reason");
  const badReview = await webhook.waitForReview((r) => r.kind === 'Pod' && r.namespace === ns && r.name === 'ipv6-critical');
  t.equal(badReview?.decision, 'deny', 'the webhook logged the deny');

  const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod('ipv6-critical-kubectl', world.images.critical), ns));
  t.equal(run.code, 1, 'kubectl apply is refused too');
  t.match(
    run.stderr,
    /Error from server \(Forbidden\): [\s\S]*denied the request: ecr-admission denied Pod team-a\/ipv6-critical-kubectl[\s\S]*\[vulnerabilities\] 1 CRITICAL finding/,
  );
  t.comment(`denial over IPv6: ${bad.message}`);
});
