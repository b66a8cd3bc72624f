// The Pod informer's edge cases, against a local HTTP server that answers the Kubernetes list and
// watch wire format (a PodList; a stream of JSON watch events) with a script of what real API
// servers do: 410 Gone on a compacted resourceVersion, a 500 on a watch, a watch that ends.
// The informer (client-node's, wrapped by pod-watch.ts) must relist after the 410 and report
// Pods deleted in the gap, back off and resume from its resourceVersion after the 500.
import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { Backoff, watchPods } from '../../src/controller/pod-watch.ts';

const pod = (name: string, rv: number): V1Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'ns', uid: `uid-${name}`, resourceVersion: String(rv) },
});

type Step = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

function list(items: V1Pod[], rv: number): Step {
  return (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: String(rv) }, items }));
  };
}

function watch(events: Array<{ type: string; object: unknown }>, end = true): Step {
  return (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.write(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    if (end) res.end();
  };
}

t.test('410 Gone relists (Pods gone meanwhile are deleted); a failed watch backs off and resumes', async (t) => {
  const requests: string[] = [];
  const steps: Step[] = [
    list([pod('a', 5), pod('b', 6)], 10),
    watch([
      { type: 'ADDED', object: pod('c', 11) },
      { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' } },
    ]),
    // After the 410: b was deleted while the watch was gone.
    list([pod('a', 5), pod('c', 11)], 20),
    (_req, res) => {
      res.statusCode = 500;
      res.end('{"kind":"Status","code":500}');
    },
    watch([{ type: 'MODIFIED', object: pod('a', 21) }], false),
  ];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(
      `${url.searchParams.get('watch') ? 'watch' : 'list'}${url.searchParams.get('resourceVersion') ? ` rv=${url.searchParams.get('resourceVersion')}` : ''}`,
    );
    const step = steps.shift();
    if (step) step(req, res, url);
    // Nothing more scripted: a watch that stays open with no event.
    else res.write('');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'local', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'local', cluster: 'local', user: 'none' }],
    currentContext: 'local',
  });
  const seen: string[] = [];
  const backoff = new Backoff(20, 80);
  const watching = watchPods(
    kubeConfig,
    { upsert: (p) => seen.push(`upsert ${p.metadata?.name}@${p.metadata?.resourceVersion}`), remove: (p) => seen.push(`remove ${p.metadata?.name}`) },
    { backoff },
  );
  t.teardown(() => watching.stop());
  await watching.synced;
  const deadline = Date.now() + 10_000;
  while (!seen.includes('upsert a@21') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(
    requests.slice(0, 5),
    ['list', 'watch rv=10', 'list', 'watch rv=20', 'watch rv=20'],
    'relist after 410; after the 500 the watch resumes from its version',
  );
  t.ok(seen.includes('remove b'), 'a Pod deleted during the gap is reported deleted by the relist');
  t.ok(seen.includes('upsert c@11'), 'the event before the 410 was delivered');
  t.ok(seen.includes('upsert a@21'), 'events after the resumed watch are delivered');
  t.equal(watching.errors(), 1, 'the 500 counted once');
  t.equal(backoff.failures, 0, 'the backoff reset once watching again');
});

t.test('the backoff doubles up to its cap and resets', async (t) => {
  const b = new Backoff(1000, 30_000);
  t.same(
    Array.from({ length: 7 }, () => b.next()),
    [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000],
  );
  b.reset();
  t.equal(b.next(), 1000);
});
