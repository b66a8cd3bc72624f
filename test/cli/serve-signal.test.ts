// `ecr-admission serve` as a process: SIGTERM stops accepting, lets the in-flight review
// finish, and exits 0.
import t from 'tap';
import { spawn } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const pair = await generateSelfSigned(['127.0.0.1']);

t.test('SIGTERM: the in-flight review is answered, then the process exits 0', async (t) => {
  const dir = t.testdir({ 'policy.yaml': 'mode: enforce\nregistries:\n  allow: ["docker.io/library/*"]\n', 'tls.crt': pair.cert, 'tls.key': pair.key });
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', '0', '--health-port', '0', '--host', '127.0.0.1'], {
    env: {
      PATH: process.env.PATH ?? '',
      AWS_EC2_METADATA_DISABLED: 'true',
      ECR_ADMISSION_CONFIG: join(dir, 'policy.yaml'),
      ECR_ADMISSION_TLS_CERT: join(dir, 'tls.crt'),
      ECR_ADMISSION_TLS_KEY: join(dir, 'tls.key'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffered = '';
  child.stdout.on('data', (c: Buffer) => {
    buffered += c.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('{')) logs.push(JSON.parse(l) as Record<string, unknown>);
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));

  let serving: Record<string, unknown> | undefined;
  for (let i = 0; i < 600 && !serving && child.exitCode === null; i++) {
    await sleep(50);
    serving = logs.find((l) => l.msg === 'ecr-admission serving');
  }
  t.ok(serving, `the server started (${stderr})`);
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
  child.kill('SIGTERM');
  const { status, text } = await answer;
  t.equal(status, 200, 'the review in flight at SIGTERM was answered');
  t.equal((JSON.parse(text) as { response: { allowed: boolean } }).response.allowed, true);
  t.equal(await exited, 0, 'exit code 0');
  t.ok(logs.some((l) => l.msg === 'shutting down: finishing in-flight reviews' && l.signal === 'SIGTERM'));
  t.ok(
    logs.some((l) => l.msg === 'admission' && l.kind === 'ReplicationController'),
    'the admission was logged',
  );
});
