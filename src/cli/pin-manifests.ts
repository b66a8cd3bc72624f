// The manifests `ecr-admission pin` rewrites: multi-document YAML or JSON, read with the yaml
// package's Document API, which keeps each node's place in the source text. An image is pinned
// by replacing exactly its scalar's characters in the original text, in the same quoting style,
// so comments, key order, indentation, blank lines and every other byte survive: a GitOps diff
// shows only the digests that were added.
import { readFileSync, statSync } from 'node:fs';
import { isAlias, isScalar, parseAllDocuments, Scalar } from 'yaml';
import { imageSites, needsPin, type ImageSite } from '../admission/json-patch.ts';
import { AdmissionError, ErrorCodes, errorMessage } from '../support/errors.ts';
import { isObject } from '../support/json.ts';
import { siteNoun } from '../decision/image-site.ts';

/** Larger than any manifest a repository keeps; bounds what one argument can make us read. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** One image of one document that may be pinned. */
export interface ManifestImage {
  /** "file.yaml#2 Deployment web container app", for messages. */
  readonly where: string;
  readonly image: string;
  readonly namespace: string;
  /** Where its scalar's characters sit in the file's text, or why it cannot be rewritten. */
  readonly span: { readonly start: number; readonly end: number; readonly quote: '' | '"' | "'" } | { readonly unwritable: string };
}

export interface Manifest {
  readonly path: string;
  readonly text: string;
  readonly images: readonly ManifestImage[];
}

const bad = (message: string) => new AdmissionError(ErrorCodes.USAGE, message);

function objectsOf(value: Record<string, unknown>): Array<{ object: Record<string, unknown>; prefix: Array<string | number> }> {
  if (value.kind === 'List' && Array.isArray(value.items)) {
    return value.items.flatMap((item, i) => (isObject(item) ? [{ object: item, prefix: ['items', i] }] : []));
  }
  return [{ object: value, prefix: [] }];
}

function spanOf(node: unknown): ManifestImage['span'] {
  if (isAlias(node)) return { unwritable: 'the image is a YAML alias; pin the anchored value' };
  if (!isScalar(node) || node.range === undefined || node.range === null) return { unwritable: 'the image is not a plain or quoted scalar' };
  switch (node.type) {
    case Scalar.PLAIN:
      return { start: node.range[0], end: node.range[1], quote: '' };
    case Scalar.QUOTE_DOUBLE:
      return { start: node.range[0], end: node.range[1], quote: '"' };
    case Scalar.QUOTE_SINGLE:
      return { start: node.range[0], end: node.range[1], quote: "'" };
    default:
      return { unwritable: 'the image is a block scalar; write it on one line' };
  }
}

/** Reads one file's documents and the images they hold. Bad input is a usage error (exit 2). */
export function readManifest(path: string, defaultNamespace = 'default'): Manifest {
  let text: string;
  try {
    if (statSync(path).size > MAX_MANIFEST_BYTES) throw new Error(`larger than ${MAX_MANIFEST_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw bad(`cannot read ${path}: ${errorMessage(err)}`);
  }
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  if (!Array.isArray(docs)) return { path, text, images: [] };
  const images: ManifestImage[] = [];
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0) throw bad(`${path}: document ${i + 1} is not valid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 50 });
    } catch (err) {
      throw bad(`${path}: document ${i + 1}: ${errorMessage(err)}`);
    }
    if (value === null || value === undefined) return;
    if (!isObject(value)) throw bad(`${path}: document ${i + 1} is not a Kubernetes object`);
    for (const { object, prefix } of objectsOf(value)) {
      const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '';
      const group = apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';
      const kind = typeof object.kind === 'string' ? object.kind : '';
      const metadata = isObject(object.metadata) ? object.metadata : {};
      const sites: ImageSite[] | undefined = imageSites(group, kind, object);
      if (sites === undefined) continue;
      const namespace = typeof metadata.namespace === 'string' ? metadata.namespace : defaultNamespace;
      const name = typeof metadata.name === 'string' ? metadata.name : '(unnamed)';
      for (const site of sites) {
        if (!needsPin(site.image)) continue;
        images.push({
          where: `${path}#${i + 1} ${kind} ${name} ${siteNoun(site.containerKind)} ${site.containerName}`,
          image: site.image,
          namespace,
          span: spanOf(doc.getIn([...prefix, ...site.path], true)),
        });
      }
    }
  });
  return { path, text, images };
}

/** The file's text with each image in `pinned` (image -> reference) rewritten in place. */
export function rewriteManifest(manifest: Manifest, pinned: ReadonlyMap<string, string>): string {
  const edits = manifest.images
    .flatMap((m) => {
      const to = pinned.get(m.image);
      return to !== undefined && 'start' in m.span ? [{ ...m.span, to }] : [];
    })
    .sort((a, b) => b.start - a.start);
  let text = manifest.text;
  // From the end, so earlier offsets stay valid. A pinned reference needs no escaping in any
  // of the three styles: reference characters are letters, digits and . _ - / : @.
  for (const e of edits) text = `${text.slice(0, e.start)}${e.quote}${e.to}${e.quote}${text.slice(e.end)}`;
  return text;
}
