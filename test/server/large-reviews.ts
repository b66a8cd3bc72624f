// AdmissionReview bodies as large as an API server really sends them, written the way it
// writes them: Go's encoding/json, which escapes <, > and & as \u003c, \u003e, \u0026.
import { loadAdmissionReview, type FixtureAdmissionReview } from '../fixtures/admission.ts';

interface DeploymentObject {
  spec: { template: { spec: { containers: Array<{ env?: unknown[] }> } } };
}

/** JSON text as Go's encoding/json writes it (HTML-safe escaping of <, > and &). */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** An XML config of about `bytes` characters: the kind of text an env value carries. */
function xmlConfig(bytes: number): string {
  const entry = (i: number) => `<entry key="feature.${i}&amp;flag">value &lt;${i}&gt;</entry>\n`;
  const parts: string[] = ['<config>\n'];
  let size = parts[0]!.length;
  for (let i = 0; size < bytes; i++) {
    const e = entry(i);
    parts.push(e);
    size += e.length;
  }
  return `${parts.join('')}</config>\n`;
}

/**
 * A Deployment UPDATE (image change) whose object and old object each carry an env value of
 * `configBytes` of XML, as Go-escaped JSON text. 1 MiB of XML per object stays under etcd's
 * 1.5 MiB and makes a body of about 3.9 MiB: over the old 3 MiB limit.
 */
export function largeDeploymentUpdate(configBytes: number): { review: FixtureAdmissionReview; body: string } {
  const review = loadAdmissionReview('deployment-update-image');
  const config = xmlConfig(configBytes);
  for (const object of [review.request.object, review.request.oldObject]) {
    const spec = (object as unknown as DeploymentObject).spec.template.spec;
    spec.containers[0]!.env = [{ name: 'APP_CONFIG', value: config }];
  }
  return { review, body: goJson(review) };
}

/** A body of `bytes` that is one AdmissionReview-shaped object holding `[{},{},...]`: the
 *  most heap per byte JSON.parse can be made to spend. */
export function emptyObjectBomb(bytes: number): string {
  const head = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"bomb","junk":[';
  const tail = '{}]}}';
  return head + '{},'.repeat(Math.floor((bytes - head.length - tail.length) / 3)) + tail;
}

/** The computed worst case (src/server/body-budget.ts DEFAULT_MAX_BODY_BYTES): an UPDATE whose
 *  object and old object each hold nearly etcd's 1.5 MiB in characters Go escapes to 6 bytes. */
export function worstCaseUpdate(): { review: FixtureAdmissionReview; body: string } {
  const review = loadAdmissionReview('deployment-update-image');
  const value = '<&>'.repeat((1.5 * 1024 * 1024 - 8 * 1024) / 3);
  for (const object of [review.request.object, review.request.oldObject]) {
    const spec = (object as unknown as DeploymentObject).spec.template.spec;
    spec.containers[0]!.env = [{ name: 'HTML_TEMPLATE', value }];
  }
  return { review, body: goJson(review) };
}
