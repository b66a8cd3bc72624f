// The Docker/OCI image reference grammar (the one kubelet and containerd apply), so that the
// image we check is exactly the image the node will pull.
//
//   reference := name [ ":" tag ] [ "@" digest ]
//   name      := [ domain "/" ] path-component ( "/" path-component )*
import { AdmissionError, ErrorCodes } from '../support/errors.ts';
import { ecrHost, parseEcrHost } from './ecr-host.ts';

export interface ImageReference {
  /** What the manifest said, verbatim. */
  readonly original: string;
  /** Registry host, with port if any, lower-cased ("docker.io" when omitted). */
  readonly domain: string;
  /** Repository path inside the registry ("library/nginx" for "nginx"). */
  readonly path: string;
  readonly tag?: string;
  /** "sha256:<64 hex>" (or another registered algorithm), when pinned. */
  readonly digest?: string;
  /** domain/path[:tag][@digest] as written, normalised (Docker Hub's library/ and host): for
   *  messages and keys. Policy patterns are matched against `policyName`. */
  readonly normalized: string;
  /** What policy patterns (overrides, vulnerability exceptions, registries.allow) are matched
   *  against (policyNameOf). */
  readonly policyName: string;
}

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const NAME_MAX = 255;
const REFERENCE_MAX = 4096;

function invalid(ref: string, why: string): AdmissionError {
  return new AdmissionError(ErrorCodes.REFERENCE_INVALID, `invalid image reference "${truncate(ref)}": ${why}`);
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}...` : s;
}

function checkDigest(ref: string, digest: string): void {
  if (!DIGEST.test(digest)) throw invalid(ref, `digest "${truncate(digest)}" is not algorithm:hex`);
  const [algorithm, hex = ''] = digest.split(':');
  const want = HEX_LENGTH[algorithm ?? ''];
  if (want === undefined) throw invalid(ref, `unsupported digest algorithm "${algorithm}"`);
  if (hex.length !== want || !/^[a-f0-9]+$/.test(hex)) {
    throw invalid(ref, `${algorithm} digest must be ${want} lower-case hex characters`);
  }
}

/** Splits "a/b" into domain and path the way the Docker CLI does: the first component is a
 *  registry host when it has a dot or a port, is "localhost", or has upper-case letters. */
function splitDomain(name: string): { domain: string; path: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash === -1 || !(first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    const path = slash === -1 ? `library/${name}` : name;
    return { domain: 'docker.io', path };
  }
  // ASCII only: String#toLowerCase maps the Kelvin sign (U+212A) to "k", which would turn a
  // host no node can pull from into a valid-looking "dkr.ecr" host.
  let domain = first.replace(/[A-Z]+/g, (c) => c.toLowerCase());
  let path = name.slice(slash + 1);
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return { domain, path };
}

export function parseImageReference(ref: unknown): ImageReference {
  if (typeof ref !== 'string') throw invalid(String(ref), 'not a string');
  if (ref.length === 0) throw invalid(ref, 'empty');
  if (ref.length > REFERENCE_MAX) throw invalid(ref, `longer than ${REFERENCE_MAX} characters`);
  if (ref !== ref.trim()) throw invalid(ref, 'leading or trailing whitespace');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    checkDigest(ref, digest);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalid(ref, `tag "${truncate(tag)}" is not valid (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  if (rest.length === 0) throw invalid(ref, 'no repository name');
  if (rest.length > NAME_MAX) throw invalid(ref, `repository name longer than ${NAME_MAX} characters`);

  const { domain, path } = splitDomain(rest);
  if (!DOMAIN.test(domain)) throw invalid(ref, `registry host "${truncate(domain)}" is not a valid host[:port]`);
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT.test(component)) {
      throw invalid(ref, `repository path component "${truncate(component)}" must be lower-case letters and digits separated by . _ __ or -`);
    }
  }
  const normalized = `${domain}/${path}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`;
  const policyName = policyNameOf(domain, path, tag, digest);
  return { original: ref, domain, path, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }), normalized, policyName };
}

/** Other names of Docker Hub's registry a node pulls from as it would from docker.io. */
const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set(['registry-1.docker.io', 'index.docker.io']);

/** The one host policy patterns name a registry by, however a reference spells it: without
 *  HTTPS's own port 443, an ECR registry by its canonical host (its FIPS and dual-stack
 *  endpoints, `….dkr.ecr-fips.…`, `….dkr-ecr.….on.aws`, are the same registry), and Docker
 *  Hub's API host as docker.io. */
export function policyHost(domain: string): string {
  const host = domain.endsWith(':443') ? domain.slice(0, -':443'.length) : domain;
  const ecr = parseEcrHost(host);
  if (ecr) return ecrHost(ecr.accountId, ecr.region);
  return DOCKER_HUB_HOSTS.has(host) ? 'docker.io' : host;
}

/** The form of a reference policy patterns are matched against: the fully-qualified reference
 *  as a node pulls it, its registry named by policyHost, and a reference with neither tag nor
 *  digest with the tag a node pulls, `latest` (as docker's TagNameOnly). Matched as written, an
 *  override `images: ["…/prod/*"]` was escaped by `….dkr-ecr.us-east-1.on.aws/prod/app` and by
 *  `HOST:443/prod/app`, one on `docker.io/*` by `registry-1.docker.io/…`, and one on `…/app:*`
 *  by `…/app` (attacker reviews): each then fell to a softer policy for the very image it named. */
export function policyNameOf(domain: string, path: string, tag: string | undefined, digest: string | undefined): string {
  const host = policyHost(domain);
  const pulledTag = tag ?? (digest === undefined ? 'latest' : undefined);
  return `${host}/${path}${pulledTag !== undefined ? `:${pulledTag}` : ''}${digest !== undefined ? `@${digest}` : ''}`;
}

/** The tag kubelet pulls when the reference names neither tag nor digest. */
export function effectiveTag(ref: ImageReference): string | undefined {
  if (ref.tag !== undefined) return ref.tag;
  return ref.digest === undefined ? 'latest' : undefined;
}

/** "web:1.4.2" style short form for warnings that must stay under 120 characters. */
export function shortName(ref: ImageReference): string {
  const repo = ref.path.split('/').pop() ?? ref.path;
  const tag = ref.tag !== undefined ? `:${ref.tag}` : '';
  const digest = ref.digest !== undefined ? `@${ref.digest.slice(0, 19)}` : '';
  return `${repo}${tag}${digest}`;
}
