// GET over HTTPS trusting a given CA (global fetch cannot take a CA without importing undici).
import { request } from 'node:https';

export interface HttpsGetResult {
  status: number;
  body: string;
}

export function httpsGet(url: string, opts: { ca: string; token?: string; timeoutMs?: number }): Promise<HttpsGetResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    const req = request(url, { method: 'GET', ca: opts.ca, headers, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout GET ${url}`)));
    req.on('error', reject);
    req.end();
  });
}
