// Worker thread: builds and signs a slice of the benchmark's images. Signing one image with
// the P-384 leaf takes about a millisecond of CPU, and the churn scenario needs ten thousand,
// so the fixture is made on every core.
import { parentPort, workerData } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { makeSignedImage, type ImageSpec } from './images.ts';

interface Job {
  readonly specs: ImageSpec[];
  readonly certificates: Uint8Array[];
  readonly leafKey: KeyObject;
  readonly signingTime: Date;
}

const job = workerData as Job;
const images = job.specs.map((s) => makeSignedImage(s, job));
parentPort!.postMessage(images);
