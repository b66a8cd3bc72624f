// Finds every image an object will run: the containers, init containers and ephemeral
// containers of a Pod, or of the pod template inside each workload kind, and its image volumes
// (`volumes[].image.reference`, Kubernetes ImageVolume), which a node pulls from their registry
// like a container's image. A bad Deployment is then rejected at `kubectl apply`, not left
// stuck in ReplicaSet events.
//
// An image volume without a reference (absent or empty) is unreadable, as a container with an
// empty image is, in a Pod and in a template alike. The API documents it as optional in
// templates, for configuration management to fill in (kube-apiserver v1.37 refuses it there
// too); but what would be filled in cannot be judged here, and a node cannot pull an empty
// reference as it stands, so admitting it would admit an image unseen.
import { isObject } from '../support/json.ts';
import type { ContainerImage, ContainerKind } from '../decision/types.ts';

export type { ContainerImage, ContainerKind };

export type Extraction = { handled: true; images: ContainerImage[] } | { handled: false } | { handled: true; error: string };

/** Where each kind keeps its pod spec. Group "" is the core API group. */
export const POD_SPEC_PATHS: Record<string, readonly string[]> = {
  '/Pod': ['spec'],
  '/PodTemplate': ['template', 'spec'],
  '/ReplicationController': ['spec', 'template', 'spec'],
  'apps/Deployment': ['spec', 'template', 'spec'],
  'apps/ReplicaSet': ['spec', 'template', 'spec'],
  'apps/StatefulSet': ['spec', 'template', 'spec'],
  'apps/DaemonSet': ['spec', 'template', 'spec'],
  'batch/Job': ['spec', 'template', 'spec'],
  'batch/CronJob': ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
};

export const HANDLED_KINDS = Object.keys(POD_SPEC_PATHS).map((k) => {
  const [group = '', kind = ''] = k.split('/');
  return { group, kind };
});

export const CONTAINER_LISTS: ReadonlyArray<[string, ContainerKind]> = [
  ['initContainers', 'initContainer'],
  ['containers', 'container'],
  ['ephemeralContainers', 'ephemeralContainer'],
];

/** More than any real pod has: bounds the work a hostile object can ask for. It bounds every
 *  image of the object, image volumes included: each costs the same checks as a container's. */
export const MAX_CONTAINERS = 256;

/** One image of a pod spec and where it sits, relative to the spec (a JSON Pointer's segments). */
export interface SpecImage extends ContainerImage {
  readonly at: readonly (string | number)[];
}

/** Every image of a pod spec, or why it cannot be read. */
export type SpecImages = { readonly images: SpecImage[] } | { readonly error: string };

export function isHandledKind(group: string, kind: string): boolean {
  return `${group}/${kind}` in POD_SPEC_PATHS;
}

function nameOf(item: Record<string, unknown>, index: number): string {
  return typeof item.name === 'string' ? item.name : `#${index}`;
}

/** A list field of the spec: absent reads as empty, anything but a list is unreadable (a string). */
function listOf(spec: Record<string, unknown>, field: string, where: string): unknown[] | string {
  const list = spec[field];
  if (list === undefined || list === null) return [];
  return Array.isArray(list) ? list : `${where}.${field} is not a list`;
}

function containerImage(item: unknown, field: string, kind: ContainerKind, index: number, where: string): SpecImage | string {
  if (!isObject(item)) return `${where}.${field}[${index}] is not an object`;
  if (typeof item.image !== 'string' || item.image === '') return `${where}.${field}[${index}] has no image string`;
  return { containerKind: kind, containerName: nameOf(item, index), image: item.image, at: [field, index, 'image'] };
}

/** A volume's image, or undefined when the volume's source is not an image. */
function volumeImage(item: unknown, index: number, where: string): SpecImage | string | undefined {
  if (!isObject(item)) return `${where}.volumes[${index}] is not an object`;
  const source = item.image;
  if (source === undefined || source === null) return undefined;
  if (!isObject(source) || typeof source.reference !== 'string' || source.reference === '') {
    return `${where}.volumes[${index}].image has no reference string`;
  }
  return { containerKind: 'imageVolume', containerName: nameOf(item, index), image: source.reference, at: ['volumes', index, 'image', 'reference'] };
}

/**
 * The images of a pod spec in order (init, regular, ephemeral containers, then image volumes),
 * or why it cannot be read. `where` is the spec's path, for the reasons. Past MAX_CONTAINERS
 * images in all it stops: a bound no real object reaches.
 */
export function specImages(spec: Record<string, unknown>, where: string): SpecImages {
  const images: SpecImage[] = [];
  for (const [field, kind] of CONTAINER_LISTS) {
    const list = listOf(spec, field, where);
    if (typeof list === 'string') return { error: list };
    for (const [i, item] of list.entries()) {
      const image = containerImage(item, field, kind, i, where);
      if (typeof image === 'string') return { error: image };
      images.push(image);
      if (images.length > MAX_CONTAINERS) return { error: `more than ${MAX_CONTAINERS} containers` };
    }
  }
  const volumes = listOf(spec, 'volumes', where);
  if (typeof volumes === 'string') return { error: volumes };
  for (const [i, item] of volumes.entries()) {
    const image = volumeImage(item, i, where);
    if (image === undefined) continue;
    if (typeof image === 'string') return { error: image };
    images.push(image);
    if (images.length > MAX_CONTAINERS) return { error: `more than ${MAX_CONTAINERS} images (containers and image volumes)` };
  }
  return { images };
}

export function extractImages(group: string, kind: string, object: unknown): Extraction {
  const path = POD_SPEC_PATHS[`${group}/${kind}`];
  if (!path) return { handled: false };
  let node: unknown = object;
  const walked: string[] = [];
  for (const key of path) {
    walked.push(key);
    if (!isObject(node)) return { handled: true, error: `${kind} object has no ${walked.slice(0, -1).join('.') || 'body'} object` };
    node = node[key];
  }
  if (!isObject(node)) return { handled: true, error: `${kind} has no pod spec at ${path.join('.')}` };
  const found = specImages(node, path.join('.'));
  if ('error' in found) return { handled: true, error: found.error };
  return { handled: true, images: found.images.map(({ containerKind, containerName, image }) => ({ containerKind, containerName, image })) };
}
