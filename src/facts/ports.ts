// What the checks know of an image's place and content: the shapes every fact source (ECR,
// Inspector, Signer, OCI registries) answers in. They live here, below checks/, so that facts/
// never imports the layer that uses it.
import type { EcrRegistry } from '../image/ecr-host.ts';

/** A manifest as ECR stores it: the digest every later check works on. */
export interface ManifestDescriptor {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
}

export interface PlatformManifest extends ManifestDescriptor {
  /** "linux/amd64", "linux/arm64/v8" ... */
  readonly platform: string;
}

export interface ResolvedImage extends ManifestDescriptor {
  /** For an index (multi-arch), its platform manifests; signatures and findings may sit on either. */
  readonly platforms?: readonly PlatformManifest[];
}

/** An ECR image location: which account, region and repository to ask. */
export interface EcrImageLocation extends EcrRegistry {
  readonly repository: string;
}

/** A non-ECR registry the policy reads through the OCI distribution API. */
export interface OciImageLocation {
  readonly host: string;
  readonly repository: string;
  readonly plainHttp: boolean;
}
