// The publisher against an in-memory report store that enforces the API server's optimistic
// concurrency (replace with a stale resourceVersion: conflict). The real PolicyReport CRD is
// written in the e2e scenario.
import t from 'tap';
import { ReportPublisher, type ReportPort, type StoredReport } from '../../src/controller/publisher.ts';
import { buildReportBody, type PolicyReportBody, type ReportResult } from '../../src/controller/report.ts';

class Store {
  readonly reports = new Map<string, { body: PolicyReportBody; version: number }>();
  readonly calls: string[] = [];
  port(): ReportPort {
    return {
      get: (ns) => {
        this.calls.push(`get ${ns}`);
        const r = this.reports.get(ns);
        // What the API server answers: the stored JSON, keys in its own order, metadata added.
        const stored: StoredReport | undefined = r && {
          body: JSON.parse(JSON.stringify({ summary: r.body.summary, results: r.body.results })) as StoredReport['body'],
          resourceVersion: String(r.version),
        };
        return Promise.resolve(stored);
      },
      create: (ns, body) => {
        this.calls.push(`create ${ns}`);
        this.reports.set(ns, { body, version: 1 });
        return Promise.resolve('1');
      },
      replace: (ns, body, rv) => {
        this.calls.push(`replace ${ns}`);
        const r = this.reports.get(ns);
        if (!r || String(r.version) !== rv) return Promise.resolve(undefined);
        this.reports.set(ns, { body, version: r.version + 1 });
        return Promise.resolve(String(r.version + 1));
      },
      list: () =>
        Promise.resolve(
          [...this.reports.entries()].map(([namespace, r]) => ({
            namespace,
            body: { summary: r.body.summary, results: r.body.results },
            resourceVersion: String(r.version),
          })),
        ),
      delete: (ns) => {
        this.calls.push(`delete ${ns}`);
        this.reports.delete(ns);
        return Promise.resolve();
      },
    };
  }
}

const result = (pod: string, outcome: ReportResult['result']): ReportResult => ({
  policy: 'ecr-admission',
  rule: 'vulnerabilities',
  result: outcome,
  message: `[vulnerabilities] ${outcome}`,
  source: 'ecr-admission',
  scored: true,
  resources: [{ apiVersion: 'v1', kind: 'Pod', name: pod, namespace: 'n', uid: `u-${pod}` }],
  properties: { image: 'i' },
});

t.test('written only when the content changes; an empty namespace loses its report', async (t) => {
  const store = new Store();
  const publisher = new ReportPublisher(store.port());
  t.equal(await publisher.sync('n', buildReportBody([result('a', 'pass')])), 'created');
  for (let i = 0; i < 5; i++) t.equal(await publisher.sync('n', buildReportBody([result('a', 'pass')])), 'unchanged');
  t.equal(await publisher.sync('n', buildReportBody([result('a', 'fail')])), 'updated');
  t.equal(await publisher.sync('n', undefined), 'deleted');
  t.equal(await publisher.sync('n', undefined), 'unchanged');
  t.same(store.calls, ['get n', 'create n', 'replace n', 'delete n'], 'one read, then writes only for changes');
  t.equal(publisher.writes, 3);
});

t.test('after a restart the stored report is read and compared: no write for the same content', async (t) => {
  const store = new Store();
  await new ReportPublisher(store.port()).sync('n', buildReportBody([result('a', 'pass'), result('b', 'fail')]));
  const next = new ReportPublisher(store.port());
  // Results given in another order: the body sorts them, the canonical form is the same.
  t.equal(await next.sync('n', buildReportBody([result('b', 'fail'), result('a', 'pass')])), 'unchanged');
  t.equal(next.writes, 0);
});

t.test('a conflict (someone else wrote) re-reads and retries once', async (t) => {
  const store = new Store();
  const publisher = new ReportPublisher(store.port());
  await publisher.sync('n', buildReportBody([result('a', 'pass')]));
  const other = store.reports.get('n')!;
  store.reports.set('n', { body: buildReportBody([result('x', 'pass')]), version: other.version + 1 });
  t.equal(await publisher.sync('n', buildReportBody([result('a', 'fail')])), 'updated');
  t.equal(store.reports.get('n')!.body.results[0]!.result, 'fail');
  t.same(store.calls.slice(-3), ['replace n', 'get n', 'replace n']);
});

t.test('a new leader primes from the stored reports: a namespace with no Pod left loses its stale report', async (t) => {
  const store = new Store();
  await new ReportPublisher(store.port()).sync('gone', buildReportBody([result('a', 'pass')]));
  const next = new ReportPublisher(store.port());
  await next.prime();
  t.same(next.namespaces(), ['gone']);
  t.equal(await next.sync('gone', undefined), 'deleted');
  t.equal(store.reports.size, 0);
});
