// Finds every image an object will run: the containers, init containers and ephemeral
// containers of a Pod, or of the pod template inside each workload kind. A bad Deployment is
// then rejected at `kubectl apply`, not left stuck in ReplicaSet events.
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

/** More than any real pod has: bounds the work a hostile object can ask for. */
export const MAX_CONTAINERS = 256;

export function isHandledKind(group: string, kind: string): boolean {
  return `${group}/${kind}` in POD_SPEC_PATHS;
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
  const images: ContainerImage[] = [];
  for (const [field, containerKind] of CONTAINER_LISTS) {
    const list = node[field];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) return { handled: true, error: `${path.join('.')}.${field} is not a list` };
    for (const [i, c] of list.entries()) {
      if (!isObject(c)) return { handled: true, error: `${path.join('.')}.${field}[${i}] is not an object` };
      if (typeof c.image !== 'string' || c.image === '') {
        return { handled: true, error: `${path.join('.')}.${field}[${i}] has no image string` };
      }
      const name = typeof c.name === 'string' ? c.name : `#${i}`;
      images.push({ containerKind, containerName: name, image: c.image });
      if (images.length > MAX_CONTAINERS) return { handled: true, error: `more than ${MAX_CONTAINERS} containers` };
    }
  }
  return { handled: true, images };
}
