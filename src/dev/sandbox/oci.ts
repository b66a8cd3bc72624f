// The OCI distribution API over the same repositories (/v2/), as a registry endpoint
// <account>.dkr.ecr.<region>.amazonaws.com answers it, and the pre-signed layer URLs that
// GetDownloadUrlForLayer and blob redirects hand out (/layers/<token>).
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { MediaTypes } from './builders.ts';
import type { Runtime } from './context.ts';
import type { StoredRepository } from './store.ts';
import { ApiError, type Outgoing } from './wire.ts';

const ROUTE = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\./;
const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' };

/** The call-log name of an OCI request, e.g. 'oci:GET manifests'. */
export function ociOperation(method: string, path: string): string {
  if (path === '/v2/' || path === '/v2') return `oci:${method} base`;
  const m = ROUTE.exec(path);
  return `oci:${method} ${m ? m[2] : 'unknown'}`;
}

const ociError = (status: number, code: string, message: string, headers: Record<string, string> = {}): ApiError =>
  new ApiError(status, code, message, { headers });

function checkAuth(headers: IncomingHttpHeaders, rt: Runtime): void {
  if (!rt.state().fixture.registry?.requireAuth) return;
  const challenge = { 'www-authenticate': `Basic realm="${rt.baseUrl}/",service="ecr.amazonaws.com"` };
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/.exec(headers.authorization ?? '');
  if (!m) throw ociError(401, 'UNAUTHORIZED', 'Not Authorized', challenge);
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const sep = decoded.indexOf(':');
  const user = decoded.slice(0, sep);
  const password = decoded.slice(sep + 1);
  if (sep < 0 || user !== 'AWS' || !rt.registryPasswordValid(password)) {
    throw ociError(401, 'UNAUTHORIZED', 'Your authorization token is invalid or has expired. Reauthenticate and try again.', challenge);
  }
}

function repositoryFor(name: string, headers: IncomingHttpHeaders, rt: Runtime): StoredRepository {
  const state = rt.state();
  const host = HOST.exec(headers.host ?? '');
  const account = host ? host[1]! : state.fixture.defaultAccount;
  const region = host ? host[2]! : state.defaultRegion;
  const repo = state.repository(account, region, decodeURIComponent(name));
  if (!repo) throw ociError(404, 'NAME_UNKNOWN', `The repository with name '${name}' does not exist in the registry with id '${account}'`);
  return repo;
}

function accepts(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(',').map((t) => t.split(';')[0]!.trim());
  return types.includes('*/*') || types.includes(mediaType);
}

export function handleOci(method: string, url: URL, headers: IncomingHttpHeaders, rt: Runtime): Outgoing {
  if (method !== 'GET' && method !== 'HEAD') throw ociError(405, 'UNSUPPORTED', `${method} is not supported by the sandbox registry`);
  checkAuth(headers, rt);
  if (url.pathname === '/v2/' || url.pathname === '/v2') {
    return { status: 200, headers: { 'content-type': 'application/json', ...API_VERSION }, body: method === 'HEAD' ? '' : '{}' };
  }
  const m = ROUTE.exec(url.pathname);
  if (!m) throw ociError(404, 'NAME_UNKNOWN', `no such registry path ${url.pathname}`);
  const [, name, kind, reference] = m as unknown as [string, string, string, string];
  const repo = repositoryFor(name, headers, rt);
  if (kind === 'manifests') return manifest(repo, reference, method, headers);
  if (!DIGEST.test(reference)) throw ociError(400, 'DIGEST_INVALID', `'${reference}' is not a sha256 digest`);
  if (kind === 'blobs') return blob(repo, reference, method, rt);
  if (method === 'HEAD') throw ociError(405, 'UNSUPPORTED', 'HEAD is not supported on referrers');
  return referrers(repo, reference, url.searchParams.get('artifactType'));
}

function manifest(repo: StoredRepository, reference: string, method: string, headers: IncomingHttpHeaders): Outgoing {
  const digest = DIGEST.test(reference) ? reference : repo.tags.get(reference);
  const image = digest !== undefined ? repo.byDigest.get(digest) : undefined;
  if (!image || image.status === 'ARCHIVED') {
    throw ociError(404, 'MANIFEST_UNKNOWN', image ? `manifest ${reference} is archived` : `manifest unknown: ${reference}`);
  }
  if (!accepts(headers.accept, image.mediaType)) {
    throw ociError(404, 'MANIFEST_UNKNOWN', `manifest ${reference} is ${image.mediaType}, which the Accept header does not list`);
  }
  return {
    status: 200,
    headers: {
      'content-type': image.mediaType,
      'docker-content-digest': image.digest,
      'content-length': String(image.bytes.byteLength),
      etag: `"${image.digest}"`,
      ...API_VERSION,
    },
    body: method === 'HEAD' ? '' : image.bytes,
  };
}

function blob(repo: StoredRepository, digest: string, method: string, rt: Runtime): Outgoing {
  const bytes = repo.blobs.get(digest);
  if (!bytes) throw ociError(404, 'BLOB_UNKNOWN', `blob unknown to registry: ${digest}`);
  if (method === 'HEAD') {
    return { status: 200, headers: { 'content-length': String(bytes.byteLength), 'docker-content-digest': digest, ...API_VERSION }, body: '' };
  }
  // ECR answers a blob GET with a redirect to a pre-signed S3 URL; clients must follow it.
  return { status: 307, headers: { location: rt.issueLayerUrl(repo, digest), 'docker-content-digest': digest, ...API_VERSION }, body: '' };
}

function referrers(repo: StoredRepository, subject: string, artifactType: string | null): Outgoing {
  const list = (repo.referrers.get(subject) ?? []).filter((r) => r.status === 'ACTIVE' && (artifactType === null || r.artifactType === artifactType));
  const index = {
    schemaVersion: 2,
    mediaType: MediaTypes.OCI_INDEX,
    manifests: list.map((r) => ({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.bytes.byteLength,
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      ...(r.annotations ? { annotations: { ...r.annotations } } : {}),
    })),
  };
  return {
    status: 200,
    headers: { 'content-type': MediaTypes.OCI_INDEX, ...(artifactType !== null ? { 'oci-filters-applied': 'artifactType' } : {}), ...API_VERSION },
    body: JSON.stringify(index),
  };
}

export function handleLayer(method: string, token: string, rt: Runtime): Outgoing {
  if (method !== 'GET' && method !== 'HEAD') throw new ApiError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
  const found = rt.resolveLayerUrl(token);
  if (found === 'expired') throw new ApiError(403, 'AccessDenied', 'Request has expired');
  if (!found) throw new ApiError(403, 'AccessDenied', 'Access Denied');
  const bytes = found.repo.blobs.get(found.digest);
  if (!bytes) throw new ApiError(404, 'NoSuchKey', 'The specified key does not exist.');
  const md5 = createHash('md5').update(bytes).digest('hex');
  return {
    status: 200,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength), etag: `"${md5}"` },
    body: method === 'HEAD' ? '' : bytes,
  };
}
