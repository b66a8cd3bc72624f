// Continuous compliance (issue 15) on a real kube-apiserver: `ecr-admission controller` as a
// child process watches the Pods, re-checks their running digests against the AWS sandbox and
// publishes PolicyReports (the chart's CRD, installed here) and Events. There is no kubelet:
// each Pod's containerStatuses (the running digest) is written through the status subresource,
// as a kubelet would. Two controller processes share one Lease; SIGKILL of the leader hands over.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSandbox, type SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { e2eOutputDir } from '../rig/index.ts';
import { RELEASE_NAMESPACE, renderChart } from '../support/chart.ts';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { installPolicyReportCrd, reportsApi, startController, type RunningControllerProcess } from '../support/controller.ts';
import { ACCOUNT, ECR_HOST, REGION, buildEcrWorld } from '../support/ecr-world.ts';
import { ecrPolicyValues } from '../support/policy.ts';
import { pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const NAMESPACE = 'team-a';
const NEW_CVE = 'CVE-2024-6387';
const INTERVAL_MS = 3000;
const world = await buildEcrWorld();

interface Report {
  metadata: { resourceVersion: string };
  summary: Record<'pass' | 'fail' | 'warn' | 'error' | 'skip', number>;
  results: Array<{
    policy: string;
    rule: string;
    result: string;
    message: string;
    severity?: string;
    resources: Array<{ kind: string; name: string; namespace: string; uid: string }>;
    properties: Record<string, string>;
  }>;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last instanceof Error ? last.message : JSON.stringify(last)})` : ''}`);
    await sleep(200);
  }
}

/** A Pod the kubelet would have started: Running, each container's imageID the digest pulled. */
async function runningPod(cluster: Cluster, name: string, image: string, digest: string | undefined): Promise<V1Pod> {
  const created = await cluster.core.createNamespacedPod({ namespace: NAMESPACE, body: pod(name, image) });
  const repository = image.split(/[:@]/)[0]!;
  created.status = {
    phase: 'Running',
    containerStatuses: (created.spec?.containers ?? []).map((c) => ({
      name: c.name,
      image: c.image ?? image,
      imageID: digest ? `${repository}@${digest}` : '',
      ready: true,
      restartCount: 0,
      started: true,
      state: { running: { startedAt: new Date() } },
    })),
  };
  return cluster.core.replaceNamespacedPodStatus({ namespace: NAMESPACE, name, body: created });
}

function findingsOf(f: SandboxFixture, tag: string) {
  const repo = f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((r) => r.name === 'shop/web')!;
  const image = repo.images.find((i) => i.tags?.includes(tag))!;
  image.findings ??= [];
  return image.findings;
}

t.test('the controller reports running Pods and follows Inspector', async (t) => {
  const out = e2eOutputDir(t, 'scenario-controller');
  const sandbox = await startSandbox({ fixture: world.fixture });
  t.teardown(async () => {
    if (!t.passing()) writeFileSync(join(out, 'aws-sandbox-calls.json'), JSON.stringify(sandbox.callLog(), null, 1));
    await sandbox.close();
  });
  const values = ecrPolicyValues(world) as { policy: Record<string, unknown> };
  // Findings are re-read from Inspector at every round (a 1 s TTL under a 3 s interval).
  values.policy.cache = { ttlSeconds: { findings: 1 } };
  const chart = await renderChart(out, {
    ...values,
    aws: { region: REGION, endpoints: { ecr: sandbox.url, inspector2: sandbox.url, signer: sandbox.url, sts: sandbox.url } },
  });
  const cluster = await startCluster(t, out);
  await cluster.createNamespaces(RELEASE_NAMESPACE, NAMESPACE);
  await installPolicyReportCrd(cluster);
  const reports = reportsApi(cluster.api.kubeConfig);
  const leases = cluster.api.kubeConfig.makeApiClient(CoordinationV1Api);
  const report = async (): Promise<Report | undefined> => {
    try {
      return (await reports.getNamespacedCustomObject({
        group: 'wgpolicyk8s.io',
        version: 'v1alpha2',
        plural: 'policyreports',
        namespace: NAMESPACE,
        name: 'ecr-admission',
      })) as Report;
    } catch {
      return undefined;
    }
  };
  const resultsOf = (r: Report | undefined, podName: string) => (r?.results ?? []).filter((x) => x.resources[0]?.name === podName);
  const violations = async (podName: string): Promise<CoreV1Event[]> =>
    (await cluster.core.listNamespacedEvent({ namespace: NAMESPACE })).items.filter(
      (e) => e.reason === 'ImagePolicyViolation' && e.involvedObject.name === podName,
    );

  await runningPod(cluster, 'web', world.images.good, world.digests.good);
  await runningPod(cluster, 'web2', world.images.good2, world.digests.good2);
  // Not readable as an image reference (upper case in the path): the API server takes it.
  await runningPod(cluster, 'odd', `${ECR_HOST}/Shop/Web:1`, undefined);
  // kube-system is excluded by the policy: never reported.
  await cluster.core.createNamespacedPod({ namespace: 'kube-system', body: pod('system', world.images.unsigned) });

  const controllers: RunningControllerProcess[] = [];
  const start = async (name: string) => {
    const c = await startController({
      name,
      dir: out,
      chart,
      kubeconfigPath: cluster.api.kubeconfigPath,
      args: ['--interval-ms', String(INTERVAL_MS), '--lease-duration-ms', '4000', '--renew-deadline-ms', '3000', '--retry-period-ms', '500'],
      env: { AWS_ACCESS_KEY_ID: 'AKIDE2ESANDBOX', AWS_SECRET_ACCESS_KEY: 'sandbox', AWS_REGION: REGION },
    });
    controllers.push(c);
    t.teardown(() => c.stop());
    return c;
  };
  const first = await start('controller-a');

  await t.test('running Pods are reported: pass, with the digest that runs; an unreadable image is an error', async (t) => {
    const r = await until(
      'web and odd reported',
      async () => {
        const got = await report();
        return resultsOf(got, 'web').length === 5 && resultsOf(got, 'odd').length > 0 && resultsOf(got, 'web2').length === 5 ? got : undefined;
      },
      30_000,
    );
    const web = resultsOf(r, 'web');
    t.same(web.map((x) => x.rule).sort(), ['digest', 'immutability', 'origin', 'signature', 'vulnerabilities'], 'one result per check');
    t.same(
      web.filter((x) => x.result !== 'pass' || x.policy !== 'ecr-admission'),
      [],
      'all pass, policy ecr-admission',
    );
    t.equal(web[0]!.properties.digest, world.digests.good, 'the running digest');
    t.equal(web[0]!.properties.image, world.images.good, 'the spec image');
    const odd = resultsOf(r, 'odd');
    t.equal(odd.length, 1);
    t.equal(odd[0]!.result, 'error', 'an unreadable image is an error, not a crash');
    t.match(odd[0]!.message, /cannot read the image reference/);
    const counted = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
    for (const x of r.results) counted[x.result as keyof typeof counted]++;
    t.same(r.summary, counted, 'the summary adds up');
    t.notOk(
      r.results.some((x) => x.resources[0]?.name === 'system'),
      'excluded namespace not reported',
    );
  });

  await t.test('a CRITICAL finding turns the Pod to fail with one Event; an unchanged report is not rewritten', async (t) => {
    sandbox.update((f) => {
      findingsOf(f, '1.0.0').push({
        vulnerabilityId: NEW_CVE,
        severity: 'CRITICAL',
        inspectorScore: 9.8,
        fixAvailable: 'YES',
        packages: [{ name: 'openssh', version: '9.6', fixedInVersion: '9.8' }],
      });
    });
    const failedAt = Date.now();
    const r = await until(
      'vulnerabilities fail',
      async () => {
        const got = await report();
        return resultsOf(got, 'web').find((x) => x.rule === 'vulnerabilities' && x.result === 'fail') ? got : undefined;
      },
      INTERVAL_MS * 3 + 5000,
    );
    t.ok(Date.now() - failedAt <= INTERVAL_MS * 3 + 5000, 'within an interval (plus the fact TTL and the write)');
    const vuln = resultsOf(r, 'web').find((x) => x.rule === 'vulnerabilities')!;
    t.match(vuln.properties.cves, NEW_CVE, 'the CVE id in properties');
    t.equal(vuln.severity, 'critical');
    t.match(vuln.message, /^\[vulnerabilities\] /, "the webhook's sentence");
    t.ok(
      resultsOf(r, 'web2').every((x) => x.result === 'pass'),
      'the other Pod still passes',
    );
    const events = await until('one Event', async () => ((await violations('web')).length > 0 ? violations('web') : undefined), 10_000);
    t.equal(events.length, 1);
    t.equal(events[0]!.type, 'Warning');
    t.match(events[0]!.message, NEW_CVE);
    // Two more intervals: nothing changes, so no write and no second Event.
    const version = r.metadata.resourceVersion;
    await sleep(INTERVAL_MS * 2 + 1000);
    t.equal((await report())?.metadata.resourceVersion, version, 'no PolicyReport write for an unchanged namespace');
    t.equal((await violations('web')).length, 1, 'one Event per change, not per interval');
    // Prometheus metrics on the health port.
    const metrics = await (await fetch(`${first.healthUrl}/metrics`)).text();
    t.match(metrics, /^ecr_admission_controller_failing_pods\{check="vulnerabilities",severity="critical"\} 1$/m, 'failing Pods by check and severity');
    t.match(metrics, /^ecr_admission_controller_running_pods 3$/m, 'running Pods (excluded namespace aside)');
    t.match(metrics, /^ecr_admission_controller_distinct_images 3$/m, 'distinct images evaluated');
    t.match(metrics, /^ecr_admission_controller_report_writes_total\{outcome="updated"\} \d+$/m, 'report writes counted');
  });

  await t.test('closing the finding turns it back to pass', async (t) => {
    sandbox.update((f) => {
      for (const finding of findingsOf(f, '1.0.0')) if (finding.vulnerabilityId === NEW_CVE) finding.status = 'CLOSED';
    });
    await until(
      'pass again',
      async () => {
        const got = await report();
        const web = resultsOf(got, 'web');
        return web.length === 5 && web.every((x) => x.result === 'pass') ? got : undefined;
      },
      INTERVAL_MS * 3 + 5000,
    );
    t.pass('all checks of web pass again');
  });

  await t.test('a deleted Pod leaves the report', async (t) => {
    await cluster.core.deleteNamespacedPod({ namespace: NAMESPACE, name: 'odd', gracePeriodSeconds: 0 });
    const r = await until(
      'odd gone',
      async () => {
        const got = await report();
        return got && resultsOf(got, 'odd').length === 0 ? got : undefined;
      },
      15_000,
    );
    t.equal(resultsOf(r, 'web').length, 5, 'the others stay');
    t.equal(r.summary.error, 0, 'the summary follows');
  });

  await t.test('two controllers elect one leader; killing it hands over', async (t) => {
    const second = await start('controller-b');
    await sleep(2000);
    const [a, b] = [await first.status(), await second.status()];
    t.equal(a.leader, true, 'the first leads');
    t.equal(b.leader, false, 'the second stands by');
    first.kill();
    const lease = await until(
      'b leads',
      async () => {
        const l = await leases.readNamespacedLease({ namespace: RELEASE_NAMESPACE, name: 'ecr-admission-controller' });
        return l.spec?.holderIdentity === 'controller-b' ? l : undefined;
      },
      15_000,
    );
    t.equal(lease.spec?.leaseTransitions, 1, 'one transition');
    // The Lease is written before the process hears back: its /readyz follows within moments.
    t.equal(await until('b reports leading', async () => ((await second.status()).leader ? true : undefined), 5000), true, 'b says it leads');
    // The new leader does the work: a new Pod is reported.
    await runningPod(cluster, 'web3', world.images.good, world.digests.good);
    await until('web3 reported by b', async () => (resultsOf(await report(), 'web3').length === 5 ? true : undefined), 20_000);
    t.pass('the standby took over');
    // SIGTERM: the leader releases the Lease on its way out (no standby waits the duration out).
    await second.stop();
    const released = await leases.readNamespacedLease({ namespace: RELEASE_NAMESPACE, name: 'ecr-admission-controller' });
    t.equal(released.spec?.holderIdentity, '', 'released on SIGTERM');
  });
});
