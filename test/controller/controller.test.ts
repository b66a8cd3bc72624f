// The controller's rounds with the checks' answers scripted per image (the real checks run in the
// e2e scenario): one evaluation per distinct image, reports written only on change, an Event per
// pass→fail and not per round, errors keeping the standing, scope, deletion, and a new leader's
// memory from the stored reports.
import t from 'tap';
import type { V1Pod } from '@kubernetes/client-node';
import type { CheckResult } from '../../src/checks/types.ts';
import { ComplianceController } from '../../src/controller/controller.ts';
import { ImageEvaluator } from '../../src/controller/evaluations.ts';
import { ReportPublisher, type ReportPort } from '../../src/controller/publisher.ts';
import { standingsFromReport, type PolicyReportBody } from '../../src/controller/report.ts';
import { compileText, ACCOUNT } from '../fixtures/policy.ts';

const HOST = `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com`;
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const policy = compileText(`mode: enforce\nonError: deny\nregistries:\n  ecr:\n    - accountId: "${ACCOUNT}"\nnamespaces:\n  exclude: [kube-system]\n`);

function pod(name: string, namespace: string, repo: string, d: string, phase = 'Running'): V1Pod {
  return {
    metadata: { name, namespace, uid: `uid-${name}` },
    spec: { containers: [{ name: 'app', image: `${HOST}/${repo}:1` }] },
    status: { phase, containerStatuses: [{ name: 'app', image: `${HOST}/${repo}:1`, imageID: `${HOST}/${repo}@${d}`, ready: true, restartCount: 0 }] },
  };
}

function world(options: { inScope?: (ns: string) => boolean } = {}) {
  const answers = new Map<string, CheckResult['status']>();
  const checked: string[] = [];
  const evaluator = new ImageEvaluator({
    checkImage: (image) => {
      checked.push(image);
      const status = answers.get(image) ?? 'pass';
      const result: CheckResult =
        status === 'pass'
          ? { check: 'vulnerabilities', status }
          : {
              check: 'vulnerabilities',
              status,
              reason: status === 'fail' ? '1 CRITICAL finding: CVE-2024-3094' : 'inspector2 ListFindings failed: ThrottlingException',
            };
      return Promise.resolve({ results: [{ check: 'origin', status: 'pass' }, result], effective: policy.base });
    },
    policy: () => policy,
    concurrency: 4,
    budgetMs: 1000,
  });
  const reports = new Map<string, PolicyReportBody>();
  const writes: string[] = [];
  const port: ReportPort = {
    get: (ns) => Promise.resolve(reports.has(ns) ? { body: reports.get(ns)!, resourceVersion: '1' } : undefined),
    create: (ns, body) => (writes.push(`create ${ns}`), reports.set(ns, body), Promise.resolve('1')),
    replace: (ns, body) => (writes.push(`replace ${ns}`), reports.set(ns, body), Promise.resolve('1')),
    delete: (ns) => (writes.push(`delete ${ns}`), reports.delete(ns), Promise.resolve()),
    list: () => Promise.resolve([...reports.entries()].map(([namespace, body]) => ({ namespace, body, resourceVersion: '1' }))),
  };
  const events: string[] = [];
  const controller = new ComplianceController({
    evaluator,
    policy: () => policy,
    reports: new ReportPublisher(port),
    event: (p, message) => (events.push(`${p.namespace}/${p.name}: ${message}`), Promise.resolve()),
    intervalMs: 60_000,
    ...(options.inScope && { namespaceInScope: options.inScope }),
  });
  const vuln = (ns: string, name: string) => reports.get(ns)?.results.find((r) => r.resources[0]?.name === name && r.rule === 'vulnerabilities');
  return { answers, checked, controller, reports, writes, events, vuln, port };
}

const WEB = `${HOST}/shop/web@${digest('a')}`;

t.test('one evaluation per distinct image; writes and Events only on change; errors keep the standing', async (t) => {
  const w = world();
  w.controller.upsert(pod('web-1', 'team-a', 'shop/web', digest('a')));
  w.controller.upsert(pod('web-2', 'team-a', 'shop/web', digest('a')));
  w.controller.upsert(pod('api', 'team-a', 'shop/api', digest('b')));
  w.controller.upsert(pod('system', 'kube-system', 'shop/web', digest('a')));
  w.controller.upsert(pod('done', 'team-a', 'shop/old', digest('c'), 'Succeeded'));
  let stats = await w.controller.round(true);
  t.match(stats, { pods: 3, distinctImages: 2, evaluated: 2, writes: 1, events: 0 }, 'excluded namespace and finished Pod left out');
  t.same(w.checked.sort(), [`${HOST}/shop/api@${digest('b')}`, WEB], 'each digest checked once, by digest');
  t.equal(w.reports.get('team-a')?.results.length, 6);
  t.notOk(w.reports.has('kube-system'));

  stats = await w.controller.round(true);
  t.match(stats, { evaluated: 2, writes: 0, events: 0 }, 'unchanged: re-checked, not rewritten');

  w.answers.set(WEB, 'fail');
  stats = await w.controller.round(true);
  t.match(stats, { writes: 1, events: 2 }, 'both Pods of the digest turn to fail: one Event each');
  t.match(w.events[0], /team-a\/web-1: A running image no longer passes the image policy: \[vulnerabilities\] 1 CRITICAL finding: CVE-2024-3094/);
  stats = await w.controller.round(true);
  t.match(stats, { writes: 0, events: 0 }, 'still failing: no second Event');

  w.answers.set(WEB, 'error');
  await w.controller.round(true);
  t.equal(w.vuln('team-a', 'web-1')?.result, 'error');
  t.equal(w.vuln('team-a', 'web-1')?.properties.previousResult, 'fail', 'the previous result kept');
  w.answers.set(WEB, 'fail');
  stats = await w.controller.round(true);
  t.equal(stats.events, 0, 'fail → error → fail is no new change');

  w.answers.set(WEB, 'pass');
  await w.controller.round(true);
  w.answers.set(WEB, 'error');
  await w.controller.round(true);
  t.equal(w.vuln('team-a', 'web-1')?.properties.previousResult, 'pass', 'an error after a pass is not a failure');
  w.answers.set(WEB, 'fail');
  stats = await w.controller.round(true);
  t.equal(stats.events, 2, 'pass → fail again: Events again');
});

t.test('a deleted Pod leaves the report; the last Pod gone deletes it; new Pods are evaluated alone', async (t) => {
  const w = world();
  const web = pod('web', 'team-a', 'shop/web', digest('a'));
  w.controller.upsert(web);
  await w.controller.round(true);
  w.controller.upsert(pod('api', 'team-a', 'shop/api', digest('b')));
  const added = await w.controller.round(false);
  t.match(added, { kind: 'new', evaluated: 1 }, 'only the new digest is checked at once');
  w.controller.remove(web);
  await w.controller.round(false);
  t.same([...new Set(w.reports.get('team-a')!.results.map((r) => r.resources[0]?.name))], ['api']);
  w.controller.remove(pod('api', 'team-a', 'shop/api', digest('b')));
  await w.controller.round(false);
  t.notOk(w.reports.has('team-a'), 'no Pod left: no report');
  t.equal(w.writes.at(-1), 'delete team-a');
});

t.test('namespaces out of scope are not reported, and enter when they come into scope', async (t) => {
  const inScope = new Set(['team-a']);
  const w = world({ inScope: (ns) => inScope.has(ns) });
  w.controller.upsert(pod('web', 'team-a', 'shop/web', digest('a')));
  w.controller.upsert(pod('other', 'team-b', 'shop/web', digest('a')));
  await w.controller.round(true);
  t.same([...w.reports.keys()], ['team-a']);
  inScope.add('team-b');
  await w.controller.round(false);
  t.same([...w.reports.keys()].sort(), ['team-a', 'team-b'], 'relabelled in: reported');
  inScope.delete('team-a');
  await w.controller.round(false);
  t.same([...w.reports.keys()], ['team-b'], 'relabelled out: its report removed');
});

t.test("a new leader remembers the stored reports' pass and fail: a flip after takeover still gets its Event", async (t) => {
  const first = world();
  first.controller.upsert(pod('web', 'team-a', 'shop/web', digest('a')));
  await first.controller.round(true);
  const stored = first.reports.get('team-a')!;
  t.same([...standingsFromReport(stored.results)], [['uid-web', 'pass']]);
  t.same(
    [...standingsFromReport([{ result: 'error', resources: [{ uid: 'u' }], properties: { previousResult: 'fail' } }, 'junk', { resources: 'x' }])],
    [['u', 'fail']],
  );

  const next = world();
  next.answers.set(WEB, 'fail');
  next.controller.seedStandings(standingsFromReport(stored.results));
  next.controller.upsert(pod('web', 'team-a', 'shop/web', digest('a')));
  const stats = await next.controller.round(true);
  t.equal(stats.events, 1, 'pass (from the stored report) → fail: an Event');
});
