// Digest pinning's patch, pure: where each image of an object sits (as a JSON Pointer), and
// the RFC 6902 `replace` operations that rewrite the tags a resolver pinned to tag@digest.
// Nothing else of the object is touched: the API server applies exactly these operations.
import { isObject } from '../support/json.ts';
import { parseImageReference } from '../image/reference.ts';
import { POD_SPEC_PATHS, specImages } from './extract.ts';
import type { ContainerKind } from '../decision/types.ts';

export type PointerSegment = string | number;

/** RFC 6901: "~" is written "~0" and "/" is written "~1", "~" first so "~1" stays a literal. */
export function jsonPointer(segments: readonly PointerSegment[]): string {
  return segments.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export interface ReplaceOperation {
  readonly op: 'replace';
  readonly path: string;
  readonly value: string;
}

/** One image of an object (a container's or an image volume's) and where it sits. */
export interface ImageSite {
  readonly path: readonly PointerSegment[];
  readonly image: string;
  readonly containerKind: ContainerKind;
  readonly containerName: string;
}

/**
 * Every image of a Pod or of a workload's pod template, with its path: each container, init
 * container and ephemeral container image (`.../image`) and each image volume's reference
 * (`.../volumes/N/image/reference`), found by the validating webhook's own extraction. Undefined
 * when the kind has no pod spec or the object cannot be read (a list that is not a list, an
 * image that is not a string, more than MAX_CONTAINERS images): such an object is not patched,
 * and the validating webhook decides on it.
 */
export function imageSites(group: string, kind: string, object: unknown): ImageSite[] | undefined {
  const specPath = POD_SPEC_PATHS[`${group}/${kind}`];
  if (!specPath) return undefined;
  let spec: unknown = object;
  for (const key of specPath) spec = isObject(spec) ? spec[key] : undefined;
  if (!isObject(spec)) return undefined;
  const found = specImages(spec, specPath.join('.'));
  if ('error' in found) return undefined;
  return found.images.map(({ at, image, containerKind, containerName }) => ({ path: [...specPath, ...at], image, containerKind, containerName }));
}

/** The value at `path` of `object`, when it is a string. */
export function stringAt(object: unknown, path: readonly PointerSegment[]): string | undefined {
  let node: unknown = object;
  for (const key of path) {
    if (typeof key === 'number') node = Array.isArray(node) ? node[key] : undefined;
    else node = isObject(node) ? node[key] : undefined;
  }
  return typeof node === 'string' ? node : undefined;
}

/** Whether the reference already names a digest (pinned, or unreadable: either way left as written). */
export function needsPin(image: string): boolean {
  try {
    return parseImageReference(image).digest === undefined;
  } catch {
    return false;
  }
}

/** The image as written, with the digest appended: the tag stays for people reading it, the
 *  runtime pulls by the digest. "web" (implicit latest) becomes "web@sha256:...". */
export function pinnedReference(image: string, digest: string): string {
  return `${image}@${digest}`;
}

/**
 * The replace operations that pin each site whose image `digests` resolved. An image that
 * already names a digest is left as written, whatever its tag says now: the digest names the
 * content. The same image in several containers is replaced at each of its paths.
 */
export function pinOperations(sites: readonly ImageSite[], digests: ReadonlyMap<string, string>): ReplaceOperation[] {
  const ops: ReplaceOperation[] = [];
  for (const site of sites) {
    const digest = digests.get(site.image);
    if (digest === undefined || !needsPin(site.image)) continue;
    ops.push({ op: 'replace', path: jsonPointer(site.path), value: pinnedReference(site.image, digest) });
  }
  return ops;
}

/** The patch as an AdmissionResponse carries it: base64 of the JSON array. */
export function encodePatch(ops: readonly ReplaceOperation[]): string {
  return Buffer.from(JSON.stringify(ops), 'utf8').toString('base64');
}
