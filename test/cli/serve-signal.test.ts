// `ecr-admission serve` as a process: SIGTERM stops accepting, lets the in-flight review
// finish, and exits 0.
import t from 'tap';
import { request } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { startServeProcess } from '../helpers/serve-process.ts';

const pair = await generateSelfSigned(['127.0.0.1']);

t.test('SIGTERM: the in-flight review is answered, then the process exits 0', async (t) => {
  const served = startServeProcess(t, { files: { policy: 'mode: enforce\nregistries:\n  allow: ["docker.io/library/*"]\n', cert: pair.cert, key: pair.key } });
  const serving = (await served.ready())?.serving;
  t.ok(serving, `the server started (${served.stderr()})`);
  if (!serving) return;
  t.match(serving, { service: 'ecr-admission', port: Number, healthPort: Number, policyVersion: /^[0-9a-f]{12}$/ });

  const body = JSON.stringify(loadAdmissionReview('replicationcontroller-create'));
  let firstPartSent: () => void = () => {};
  const sent = new Promise<void>((resolve) => {
    firstPartSent = resolve;
  });
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      `https://127.0.0.1:${String(serving.port)}/validate`,
      { method: 'POST', ca: pair.caPem, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, 50), () => firstPartSent());
    // The rest of the body goes out after SIGTERM has been handled.
    sent.then(() => setTimeout(() => req.end(body.slice(50)), 600), reject);
  });
  await sent;
  await sleep(200);
  served.child.kill('SIGTERM');
  const { status, text } = await answer;
  t.equal(status, 200, 'the review in flight at SIGTERM was answered');
  t.equal((JSON.parse(text) as { response: { allowed: boolean } }).response.allowed, true);
  t.equal(await served.closed, 0, 'exit code 0');
  t.ok(served.logs().some((l) => l.msg === 'shutting down: finishing in-flight reviews' && l.signal === 'SIGTERM'));
  t.ok(
    served.logs().some((l) => l.msg === 'admission' && l.kind === 'ReplicationController'),
    'the admission was logged',
  );
});
