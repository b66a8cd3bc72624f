// A minimal validating webhook for the rig smoke test: HTTPS on 127.0.0.1, denies every
// AdmissionReview with a fixed message and records what it received. The real webhook replaces
// it in the e2e scenarios; this one only proves the API server -> url webhook path.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { selfSignedServingCert } from '../rig/tls.ts';

export interface AdmissionReviewSeen {
  request?: { uid?: string; kind?: { kind?: string }; operation?: string; namespace?: string };
}

export interface DenyingWebhook {
  url: string;
  port: number;
  caPem: string;
  reviews: AdmissionReviewSeen[];
  close(): Promise<void>;
}

export async function startDenyingWebhook(dir: string, message: string): Promise<DenyingWebhook> {
  const cert = await selfSignedServingCert(dir);
  const reviews: AdmissionReviewSeen[] = [];
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/validate')) {
        res.writeHead(404).end();
        return;
      }
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReviewSeen;
      reviews.push(review);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.request?.uid, allowed: false, status: { code: 403, message } },
        }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/validate`,
    port,
    caPem: cert.certPem,
    reviews,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
