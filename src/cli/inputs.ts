// Turns `check` arguments (image references, Kubernetes YAML files, AdmissionReviews) into the
// AdmissionRequests the webhook would receive, so `check` runs the webhook's own code path.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { AdmissionRequest } from '../admission/codec.ts';
import { parseAdmissionReview } from '../admission/codec.ts';
import { AdmissionError, ErrorCodes, errorMessage } from '../support/errors.ts';
import { isObject } from '../support/json.ts';

export interface CheckInput {
  /** Where it came from, for output: "file.yaml#2" or "image list". */
  readonly origin: string;
  readonly request: AdmissionRequest;
}

function requestFor(object: Record<string, unknown>, namespace: string, uid: string): AdmissionRequest {
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '';
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const name = typeof metadata.name === 'string' ? metadata.name : typeof metadata.generateName === 'string' ? `${metadata.generateName}*` : undefined;
  return {
    uid,
    kind: { group: group ?? '', version: version ?? '', kind: typeof object.kind === 'string' ? object.kind : '' },
    operation: 'CREATE',
    namespace: typeof metadata.namespace === 'string' ? metadata.namespace : namespace,
    ...(name !== undefined && { name }),
    object,
  };
}

function fromFile(path: string, namespace: string): CheckInput[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AdmissionError(ErrorCodes.USAGE, `cannot read ${path}: ${errorMessage(err)}`);
  }
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: CheckInput[] = [];
  list.forEach((doc, i) => {
    if (doc.errors.length > 0)
      throw new AdmissionError(ErrorCodes.USAGE, `${path}: document ${i + 1} is not valid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
    const value: unknown = doc.toJS({ maxAliasCount: 50 });
    if (value === null || value === undefined) return;
    if (!isObject(value)) throw new AdmissionError(ErrorCodes.USAGE, `${path}: document ${i + 1} is not a Kubernetes object`);
    const origin = `${path}#${i + 1}`;
    if (value.kind === 'AdmissionReview') {
      const parsed = parseAdmissionReview(value);
      if (!parsed.ok) throw new AdmissionError(ErrorCodes.USAGE, `${origin}: ${parsed.reason}`);
      out.push({ origin, request: parsed.request });
    } else if (value.kind === 'List' && Array.isArray(value.items)) {
      value.items.forEach((item, j) => {
        if (isObject(item)) out.push({ origin: `${origin}.items[${j}]`, request: requestFor(item, namespace, `check-${i}-${j}`) });
      });
    } else {
      out.push({ origin, request: requestFor(value, namespace, `check-${i}`) });
    }
  });
  return out;
}

/** Image references become one Pod with a container per image, as `kubectl run` would make. */
function fromImages(images: readonly string[], namespace: string): CheckInput {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'ecr-admission-check', namespace },
    spec: { containers: images.map((image, i) => ({ name: `image-${i + 1}`, image })) },
  };
  return { origin: 'command line', request: requestFor(pod, namespace, 'check-images') };
}

function looksLikeFile(arg: string): boolean {
  if (!existsSync(arg)) return false;
  try {
    return statSync(arg).isFile();
  } catch {
    return false;
  }
}

export function checkInputs(args: readonly string[], namespace: string): CheckInput[] {
  // "deploy.yaml" is also a valid image name (docker.io/library/deploy.yaml): a mistyped file
  // path must be a usage error (exit 2), not an image the policy denies (exit 1).
  const missing = args.find((a) => /\.(ya?ml|json)$/i.test(a) && !looksLikeFile(a));
  if (missing !== undefined) throw new AdmissionError(ErrorCodes.USAGE, `cannot read ${missing}: no such file`);
  const files = args.filter(looksLikeFile);
  const images = args.filter((a) => !looksLikeFile(a));
  const inputs = files.flatMap((f) => fromFile(f, namespace));
  if (images.length > 0) inputs.push(fromImages(images, namespace));
  if (inputs.length === 0) throw new AdmissionError(ErrorCodes.USAGE, 'nothing to check: the files hold no Kubernetes objects');
  return inputs;
}
