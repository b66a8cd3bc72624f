// How denials, warnings, logs and reports name where an image sits. A container keeps the words
// it always had (readers of existing warnings and annotations see no change); an image volume is
// named as a volume, never as a container, so whoever reads it looks in spec.volumes.
import type { ContainerImage, ContainerKind } from './types.ts';

/** Where an image sits: the container's or the image volume's kind and name. */
export type Site = Pick<ContainerImage, 'containerKind' | 'containerName'>;

export function isImageVolume(site: Site): boolean {
  return site.containerKind === 'imageVolume';
}

/** The word a denial line puts before the quoted name: `container`, `initContainer`, `volume`. */
export function siteNoun(kind: ContainerKind): string {
  return kind === 'imageVolume' ? 'volume' : kind;
}

/** What a warning or an audit violation starts with: a container's name, `volume NAME` for a volume. */
export function siteLabel(site: Site): string {
  return isImageVolume(site) ? `volume ${site.containerName}` : site.containerName;
}

/** The key a JSON record names the site by: `container` as before, `volume` for an image volume. */
export function siteField(site: Site): { container: string } | { volume: string } {
  return isImageVolume(site) ? { volume: site.containerName } : { container: site.containerName };
}
