import type { CheckResult } from '../checks/types.ts';
import type { EffectivePolicy } from '../policy/compile.ts';

/** Everything the decision needs about one container's image. */
export interface ImageVerdictInput {
  readonly container: ContainerImage;
  readonly policy: EffectivePolicy;
  readonly results: readonly CheckResult[];
  readonly digest?: string;
}

/** An object the requester sent that cannot be read, or is over a bound: its images are
 *  unknown, so it is decided as a whole, a `fail` whatever onError says. */
export interface UnreadableObject {
  /** Why, e.g. "more than 256 containers". */
  readonly reason: string;
  /** The policy whose mode applies (see unreadable-object.ts for which one). */
  readonly policy: EffectivePolicy;
}

export interface DecisionInput {
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly images: readonly ImageVerdictInput[];
  /** Set when the object could not be read: `images` is then empty. */
  readonly unreadable?: UnreadableObject;
  /** Set for a Namespace change that would switch the image checks off for it (the
   *  namespace-label guard): `images` is then empty. */
  readonly namespaceLabel?: NamespaceLabelChange;
}

/** A Namespace create/update that takes it out of the webhook's scope by a label. */
export interface NamespaceLabelChange {
  /** e.g. `ecr-admission.io/ignore=true set` or `ecr-admission.io/enforce=true removed`. */
  readonly change: string;
  readonly requester: string;
  /** Whether the requester is one of the allowed groups or users. */
  readonly permitted: boolean;
  /** Who may, for the message: e.g. `groups platform-admins; users alice`. */
  readonly editors: string;
}

export interface Decision {
  readonly allowed: boolean;
  /** The denial message (status.message), one line per problem. */
  readonly message?: string;
  readonly warnings: string[];
  readonly auditAnnotations: Record<string, string>;
  /** allow, deny, warn (allowed with warnings) or audit (allowed, problems recorded). */
  readonly result: 'allow' | 'deny' | 'warn' | 'audit';
}

/** Where an image of a pod spec sits. `imageVolume` is a volume whose source is an OCI image
 *  (`volumes[].image.reference`, Kubernetes ImageVolume): the node pulls it like a container's. */
export type ContainerKind = 'container' | 'initContainer' | 'ephemeralContainer' | 'imageVolume';

/** One image of the object under review, as extraction found it: a container's (any kind) or an
 *  image volume's, whose name is then the volume's. */
export interface ContainerImage {
  readonly containerKind: ContainerKind;
  readonly containerName: string;
  /** The image string exactly as written in the object. */
  readonly image: string;
}
