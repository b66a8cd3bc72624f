// `serve` writes its log asynchronously in batches (src/cli/log-destination.ts): every
// admission's line still reaches stdout when the process is stopped cleanly, even the lines
// of admissions answered just before SIGTERM, which are still in the buffer then.
import t from 'tap';
import { Agent, request } from 'node:https';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { startServeProcess } from '../helpers/serve-process.ts';

const pair = await generateSelfSigned(['127.0.0.1']);
const ADMISSIONS = 400;

t.test('SIGTERM right after a burst of admissions: every admission line is written before exit', async (t) => {
  const served = startServeProcess(t, { files: { policy: 'mode: enforce\nregistries:\n  allow: ["docker.io/library/*"]\n', cert: pair.cert, key: pair.key } });
  const serving = (await served.ready())?.serving;
  t.ok(serving, `the server started (${served.stderr()})`);
  if (!serving) return;
  const agent = new Agent({ keepAlive: true, maxSockets: 8, ca: pair.caPem });
  const review = loadAdmissionReview('replicationcontroller-create');
  const post = (uid: string) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ ...review, request: { ...review.request, uid } });
      const req = request(
        `https://127.0.0.1:${String(serving.port)}/validate`,
        { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const uids = Array.from({ length: ADMISSIONS }, (_, i) => `flush-${i}`);
  const statuses = await Promise.all(uids.map(post));
  agent.destroy();
  t.ok(
    statuses.every((s) => s === 200),
    'every admission answered',
  );
  // At once: the last lines are still buffered (a batch is written at 32 KiB or every 200 ms).
  served.child.kill('SIGTERM');
  t.equal(await served.closed, 0, 'exit code 0');
  const logged = new Set(served.logs().flatMap((l) => (l.msg === 'admission' && typeof l.uid === 'string' ? [l.uid] : [])));
  t.equal(logged.size, ADMISSIONS, 'one line per admission, none lost');
  t.same(
    uids.filter((u) => !logged.has(u)),
    [],
    'no admission is missing from the log',
  );
  t.ok(
    served.logs().some((l) => l.msg === 'shutting down: finishing in-flight reviews'),
    'the shutdown line is written too',
  );
});
