// The baseline: an allow-all admission webhook on Fastify with exactly the TLS settings of the
// real server (src/server/tls.ts TLS_OPTIONS, a self-signed ECDSA P-256 pair from
// src/server/self-signed.ts) and the same body limit. It parses the AdmissionReview and
// answers allowed: true. What the real webhook costs above it is our work: decoding the
// review, extracting images, policy matching, the cache look-ups, the decision and the log line.
// Prints {"url": ...} when listening. Usage: node bench/procs/baseline.ts
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { TLS_OPTIONS } from '../../src/server/tls.ts';

const pair = await generateSelfSigned(['localhost', '127.0.0.1']);
const app = Fastify({ logger: false, bodyLimit: 3 * 1024 * 1024, https: { ...TLS_OPTIONS, cert: pair.cert, key: pair.key } });

interface Review {
  apiVersion?: string;
  kind?: string;
  request?: { uid?: string };
}

app.post('/validate', async (request) => {
  const review = request.body as Review;
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request?.uid ?? '', allowed: true } };
});

await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as AddressInfo;
process.stdout.write(`${JSON.stringify({ url: `https://127.0.0.1:${port}` })}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
