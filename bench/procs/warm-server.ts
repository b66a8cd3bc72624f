// The webhook side of bench/warm-ab.ts, in its own process: the webhook's Fastify app as `serve`
// builds it (buildWebhookApp, the runtime, an asynchronous info log line per admission to
// /dev/null) over TLS with a policy that allows the image by pattern (no AWS). The other side is
// bench/procs/baseline.ts. Prints {"url": ...} when listening.
// Usage: node bench/procs/warm-server.ts
import { openSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createPolicyStore } from '../../src/policy/store.ts';
import { createRuntime } from '../../src/cli/wiring.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { asyncLogDestination } from '../../src/cli/log-destination.ts';
import { buildWebhookApp } from '../../src/server/app.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { WARM_AB_REGISTRY } from '../lib/warm-ab.ts';

const pair = await generateSelfSigned(['localhost', '127.0.0.1']);
const logger = pino({ level: 'info', base: { service: 'ecr-admission' } }, asyncLogDestination(openSync('/dev/null', 'w')).stream);
const metrics = createMetrics();
const policyStore = createPolicyStore({ text: `mode: enforce\nregistries:\n  allow: ["${WARM_AB_REGISTRY}/*"]\n`, logger, metrics });
const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' };
const runtime = createRuntime({ policyStore, logger, metrics, budgetMs: 8000, env: {}, credentials });
const app = buildWebhookApp({ reviewer: runtime.reviewer, logger, metrics, tls: { cert: pair.cert, key: pair.key } });
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;
process.stdout.write(`${JSON.stringify({ url: `https://127.0.0.1:${port}` })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
