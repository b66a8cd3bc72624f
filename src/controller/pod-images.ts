// What a Pod really runs: for each container and each image volume, the image its spec names
// and, when the kubelet has reported it, the digest it pulled (containerStatuses[].imageID; for
// an image volume, the imageRef of a container's mount of it, reported where the kubelet's
// ImageVolumeWithDigest feature is on). The controller checks the digest
// (`repository@sha256:...`), not the tag, which may have moved since the Pod started. Images are
// found by the webhook's own extraction (same bounds, same error texts).
import { extractImages } from '../admission/extract.ts';
import { parseImageReference } from '../image/reference.ts';
import { isObject } from '../support/json.ts';
import type { ContainerImage, ContainerKind } from '../decision/types.ts';

/** One image the Pod runs: a container's, or an image volume's (containerKind `imageVolume`). */
export interface RunningContainer {
  readonly container: ContainerImage;
  /** What is checked: `domain/path@digest` when the status names a digest, else the spec's image. */
  readonly image: string;
  /** The digest from the status, when there is one. */
  readonly runningDigest?: string;
}

export type PodImages = { readonly containers: readonly RunningContainer[] } | { readonly error: string };

const STATUS_LISTS: Readonly<Record<Exclude<ContainerKind, 'imageVolume'>, string>> = {
  container: 'containerStatuses',
  initContainer: 'initContainerStatuses',
  ephemeralContainer: 'ephemeralContainerStatuses',
};

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * The manifest digest of an imageID, or undefined. Runtimes write `docker-pullable://repo@sha256:…`
 * (dockershim), `repo@sha256:…` (containerd, CRI-O) or a bare `sha256:…`, which is the image's
 * config ID, not a manifest digest: it names nothing ECR can look up, so it is not used.
 */
export function digestOfImageId(imageId: unknown): string | undefined {
  if (typeof imageId !== 'string' || imageId.length > 2048) return undefined;
  const at = imageId.lastIndexOf('@');
  if (at === -1) return undefined;
  const digest = imageId.slice(at + 1);
  return DIGEST.test(digest) ? digest : undefined;
}

/** Bounds what one Pod's status can make us read (per list of statuses, per container's mounts). */
const MAX_STATUSES = 512;

/** The imageRef a container's status reports for each image volume it mounts, by `imageVolume/NAME`. */
function volumeImageRefs(status: Record<string, unknown>, ids: Map<string, unknown>): void {
  const mounts = Array.isArray(status.volumeMounts) ? status.volumeMounts.slice(0, MAX_STATUSES) : [];
  for (const m of mounts) {
    if (!isObject(m) || typeof m.name !== 'string' || !isObject(m.volumeStatus) || !isObject(m.volumeStatus.image)) continue;
    const key = `imageVolume/${m.name}`;
    // Every container mounting the volume reports the same pull; the first report stands.
    if (!ids.has(key)) ids.set(key, m.volumeStatus.image.imageRef);
  }
}

/** What the status reports each image ran as, by `KIND/NAME` (a ContainerImage's kind and name). */
function statusImageIds(pod: Record<string, unknown>): Map<string, unknown> {
  const ids = new Map<string, unknown>();
  const status = pod.status;
  if (!isObject(status)) return ids;
  for (const [kind, list] of Object.entries(STATUS_LISTS)) {
    const statuses = status[list];
    if (!Array.isArray(statuses)) continue;
    for (const s of statuses.slice(0, MAX_STATUSES)) {
      if (!isObject(s)) continue;
      if (typeof s.name === 'string') ids.set(`${kind}/${s.name}`, s.imageID);
      volumeImageRefs(s, ids);
    }
  }
  return ids;
}

/** The running image of each container and image volume, or why the Pod cannot be read. */
export function runningImages(pod: unknown): PodImages {
  const extraction = extractImages('', 'Pod', pod);
  if (!extraction.handled) return { error: 'not a Pod' };
  if ('error' in extraction) return { error: extraction.error };
  const ids = statusImageIds(pod as Record<string, unknown>);
  const containers = extraction.images.map((container): RunningContainer => {
    const digest = digestOfImageId(ids.get(`${container.containerKind}/${container.containerName}`));
    if (digest === undefined) return { container, image: container.image };
    let ref;
    try {
      ref = parseImageReference(container.image);
    } catch {
      // The spec's image cannot be read: it is checked (and reported) as written.
      return { container, image: container.image };
    }
    // The spec's repository (the status may name an alias of it) at the digest that runs.
    return { container, image: `${ref.domain}/${ref.path}@${digest}`, runningDigest: digest };
  });
  return { containers };
}
