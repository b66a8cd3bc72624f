// What the contract floor (bench/procs/contract-floor.ts) replays: one warm admission of a real
// webhook, its answer as sent and its log line as written.
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { FloorCapture } from '../procs/contract-floor.ts';
import { podReview } from './review.ts';

/** Sends the webhook at `url` (logging to `logPath`) two admissions of `image`, the first to fill
 *  its caches, and writes the second's answer and log line to `dir`/floor-capture.json (returned). */
export async function captureAdmission(url: string, logPath: string, image: string, dir: string): Promise<string> {
  const uid = 'contract-floor-capture';
  const body = podReview(uid, image, 0);
  // The webhook's serving pair is self-signed and local; the load generator does not verify it either.
  const send = () =>
    new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        `${url}/validate`,
        { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`capture: HTTP ${res.statusCode}: ${text}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  await send();
  const answer = await send();
  for (let waited = 0; waited < 10_000; waited += 100) {
    const logLine = readFileSync(logPath, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`"uid":"${uid}"`) && l.includes('"msg":"admission"'))
      .at(1);
    if (logLine) {
      const capture: FloorCapture = { answer, uid, logLine };
      const path = join(dir, 'floor-capture.json');
      writeFileSync(path, JSON.stringify(capture));
      return path;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no log line for the captured admission in ${logPath}`);
}
