import { ErrorCodes } from '../../support/errors.ts';
// Compiles a SandboxFixture into the lookup tables the protocol handlers read: per account
// and region, repositories with their manifests by digest, tags, blobs and referrers.
// Recompiled whole after every update(), so handlers never see a half-applied change.
import {
  MediaTypes,
  blobDescriptor,
  imageDescriptor,
  imageMediaType,
  manifestBytes,
  parseManifestJson,
  sha256Digest,
  toBytes,
  type Descriptor,
} from './builders.ts';
import {
  DEFAULT_PUSHED_AT,
  NOTARY_SIGNATURE_ARTIFACT_TYPE,
  toDate,
  type ImageFixture,
  type ImageStatus,
  type RegionFixture,
  type RepositoryFixture,
  type SandboxFixture,
  type SignatureFixture,
} from './fixture.ts';

export class SandboxFixtureError extends Error {
  readonly code = ErrorCodes.SANDBOX_FIXTURE;
  constructor(message: string) {
    super(message);
    this.name = 'SandboxFixtureError';
  }
}

export interface StoredImage {
  digest: string;
  bytes: Uint8Array;
  mediaType: string;
  /** config.mediaType (ECR's artifactMediaType). */
  configMediaType: string | undefined;
  /** artifactType, else config.mediaType (what the referrers API reports). */
  artifactType: string | undefined;
  subjectDigest: string | undefined;
  annotations: Record<string, string> | undefined;
  imageSizeInBytes: number;
  tags: string[];
  status: ImageStatus;
  pushedAt: Date;
  /** The fixture entry (scan, findings, coverage...); signatures have a synthetic one. */
  source: ImageFixture;
}

export interface StoredRepository {
  account: string;
  region: string;
  name: string;
  fixture: RepositoryFixture;
  images: StoredImage[]; // fixture order: children follow their index, signatures follow all
  byDigest: Map<string, StoredImage>;
  tags: Map<string, string>; // tag -> digest
  blobs: Map<string, Uint8Array>;
  referrers: Map<string, StoredImage[]>; // subject digest -> referrer manifests
}

export interface StoredRegion {
  account: string;
  region: string;
  fixture: RegionFixture;
  scanType: 'BASIC' | 'ENHANCED';
  repositories: Map<string, StoredRepository>;
}

export class SandboxState {
  readonly fixture: SandboxFixture;
  readonly defaultRegion: string;
  private readonly regions = new Map<string, StoredRegion>();

  constructor(fixture: SandboxFixture) {
    this.fixture = fixture;
    if (!/^\d{12}$/.test(fixture.defaultAccount)) {
      throw new SandboxFixtureError(`defaultAccount must be a 12-digit account id, got '${fixture.defaultAccount}'`);
    }
    const admin = fixture.inspector?.delegatedAdministrator;
    if (admin !== undefined && !/^\d{12}$/.test(admin)) {
      throw new SandboxFixtureError(`inspector.delegatedAdministrator must be a 12-digit account id, got '${admin}'`);
    }
    const empties = fixture.inspector?.paging?.emptyPages;
    if (empties !== undefined && (!Number.isInteger(empties) || empties < 0 || empties > 1000)) {
      throw new SandboxFixtureError(`inspector.paging.emptyPages must be an integer within 0..1000, got ${empties}`);
    }
    for (const [account, acct] of Object.entries(fixture.accounts)) {
      if (!/^\d{12}$/.test(account)) throw new SandboxFixtureError(`account '${account}' is not a 12-digit account id`);
      for (const [region, reg] of Object.entries(acct.regions)) {
        this.regions.set(`${account}/${region}`, compileRegion(account, region, reg));
      }
    }
    const defaultRegions = Object.keys(fixture.accounts[fixture.defaultAccount]?.regions ?? {});
    this.defaultRegion = fixture.defaultRegion ?? (defaultRegions.length === 1 ? defaultRegions[0]! : 'us-east-1');
  }

  region(account: string, region: string): StoredRegion | undefined {
    return this.regions.get(`${account}/${region}`);
  }

  repository(account: string, region: string, name: string): StoredRepository | undefined {
    return this.region(account, region)?.repositories.get(name);
  }

  /** Every account's registry in one AWS region. */
  regionsNamed(region: string): StoredRegion[] {
    return [...this.regions.values()].filter((r) => r.region === region);
  }

  /** The registries of one region Inspector shows `caller`: its own account's, or every
   *  account's when it is the delegated administrator. */
  inspectorRegions(region: string, caller: string): StoredRegion[] {
    const all = this.fixture.inspector?.delegatedAdministrator === caller;
    return this.regionsNamed(region).filter((r) => all || r.account === caller);
  }
}

function compileRegion(account: string, region: string, fixture: RegionFixture): StoredRegion {
  const repositories = new Map<string, StoredRepository>();
  for (const repo of fixture.repositories) {
    if (repositories.has(repo.name)) throw new SandboxFixtureError(`${account}/${region}: repository '${repo.name}' appears twice`);
    repositories.set(repo.name, compileRepository(account, region, repo));
  }
  return { account, region, fixture, scanType: fixture.scanType ?? 'ENHANCED', repositories };
}

const REPOSITORY_NAME = /^(?=.{2,256}$)[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function compileRepository(account: string, region: string, fixture: RepositoryFixture): StoredRepository {
  const where = `${account}/${region}/${fixture.name}`;
  if (!REPOSITORY_NAME.test(fixture.name)) throw new SandboxFixtureError(`${where}: invalid repository name`);
  const mutability = fixture.tagMutability ?? 'MUTABLE';
  const filters = fixture.exclusionFilters ?? [];
  if (mutability.endsWith('_WITH_EXCLUSION') && (filters.length < 1 || filters.length > 5)) {
    throw new SandboxFixtureError(`${where}: ${mutability} needs 1 to 5 exclusionFilters, got ${filters.length}`);
  }
  if (!mutability.endsWith('_WITH_EXCLUSION') && filters.length > 0) {
    throw new SandboxFixtureError(`${where}: exclusionFilters are only valid with a *_WITH_EXCLUSION mutability`);
  }
  const repo: StoredRepository = {
    account,
    region,
    name: fixture.name,
    fixture,
    images: [],
    byDigest: new Map(),
    tags: new Map(),
    blobs: new Map(),
    referrers: new Map(),
  };
  const signatures: Array<{ sig: SignatureFixture; subject: Descriptor | string; fallbackPushedAt: string | Date | number }> = [];
  const addImage = (image: ImageFixture): StoredImage => {
    const stored = storeImage(image);
    if (repo.byDigest.has(stored.digest)) throw new SandboxFixtureError(`${where}: image ${stored.digest} appears twice`);
    for (const tag of stored.tags) {
      if (!TAG.test(tag)) throw new SandboxFixtureError(`${where}: invalid tag '${tag}'`);
      if (repo.tags.has(tag)) throw new SandboxFixtureError(`${where}: tag '${tag}' is on two images`);
      repo.tags.set(tag, stored.digest);
    }
    repo.byDigest.set(stored.digest, stored);
    repo.images.push(stored);
    for (const blob of image.blobs ?? []) repo.blobs.set(sha256Digest(toBytes(blob)), toBytes(blob));
    for (const child of image.children ?? []) addImage(child);
    for (const sig of image.signatures ?? []) {
      signatures.push({ sig, subject: imageDescriptor(image), fallbackPushedAt: image.pushedAt ?? DEFAULT_PUSHED_AT });
    }
    return stored;
  };
  for (const image of fixture.images) addImage(image);
  for (const sig of fixture.signatures ?? []) {
    signatures.push({ sig, subject: sig.subjectDigest, fallbackPushedAt: DEFAULT_PUSHED_AT });
  }
  for (const { sig, subject, fallbackPushedAt } of signatures) {
    const descriptor = typeof subject === 'string' ? subjectDescriptor(repo, subject, where) : subject;
    const { image, blobs } = signatureImage(sig, descriptor, fallbackPushedAt);
    for (const blob of blobs) repo.blobs.set(sha256Digest(blob), blob);
    addImage(image);
  }
  for (const image of repo.images) {
    if (!image.subjectDigest) continue;
    const list = repo.referrers.get(image.subjectDigest) ?? [];
    list.push(image);
    repo.referrers.set(image.subjectDigest, list);
  }
  return repo;
}

function subjectDescriptor(repo: StoredRepository, digest: string, where: string): Descriptor {
  if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new SandboxFixtureError(`${where}: signature subjectDigest '${digest}' is not a sha256 digest`);
  const known = repo.byDigest.get(digest);
  // A signature over a digest the repository does not hold is allowed (a dangling referrer).
  return known ? { mediaType: known.mediaType, digest, size: known.bytes.byteLength } : { mediaType: MediaTypes.OCI_MANIFEST, digest, size: 0 };
}

function storeImage(image: ImageFixture): StoredImage {
  const bytes = manifestBytes(image.manifest);
  const parsed = parseManifestJson(bytes);
  const config = asDescriptor(parsed?.config);
  const subject = asDescriptor(parsed?.subject);
  const artifactType = typeof parsed?.artifactType === 'string' ? parsed.artifactType : config?.mediaType;
  const annotations = isStringRecord(parsed?.annotations) ? parsed.annotations : undefined;
  return {
    digest: sha256Digest(bytes),
    bytes,
    mediaType: imageMediaType(image),
    configMediaType: config?.mediaType,
    artifactType,
    subjectDigest: subject?.digest,
    annotations,
    imageSizeInBytes: image.sizeInBytes ?? defaultImageSize(image, parsed, bytes),
    tags: [...(image.tags ?? [])],
    status: image.status ?? 'ACTIVE',
    pushedAt: toDate(image.pushedAt ?? DEFAULT_PUSHED_AT),
    source: image,
  };
}

function defaultImageSize(image: ImageFixture, parsed: Record<string, unknown> | undefined, bytes: Uint8Array): number {
  if (image.children && image.children.length > 0) {
    return image.children.reduce((sum, c) => sum + storeImage(c).imageSizeInBytes, 0);
  }
  const layers = Array.isArray(parsed?.layers) ? parsed.layers.map(asDescriptor) : [];
  const config = asDescriptor(parsed?.config);
  const total = [config, ...layers].reduce((sum, d) => sum + (d?.size ?? 0), 0);
  return total > 0 ? total : bytes.byteLength;
}

/** The OCI manifest Notation pushes: one layer (the envelope), the empty config, subject =
 *  the signed image, artifactType (or, legacy, config.mediaType) = notary signature. */
function signatureImage(sig: SignatureFixture, subject: Descriptor, fallbackPushedAt: string | Date | number): { image: ImageFixture; blobs: Uint8Array[] } {
  const envelope = toBytes(sig.envelope);
  const artifactType = sig.artifactType ?? NOTARY_SIGNATURE_ARTIFACT_TYPE;
  const pushedAt = sig.pushedAt ?? fallbackPushedAt;
  const configBytes = toBytes('{}');
  const config = sig.legacyConfigMediaType ? blobDescriptor(artifactType, configBytes) : blobDescriptor(MediaTypes.OCI_EMPTY, configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.OCI_MANIFEST,
    ...(sig.legacyConfigMediaType ? {} : { artifactType }),
    config,
    layers: [blobDescriptor(sig.envelopeMediaType, envelope)],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      'org.opencontainers.image.created': toDate(pushedAt)
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
      ...sig.annotations,
    },
  };
  const image: ImageFixture = { manifest, status: sig.status ?? 'ACTIVE', pushedAt, sizeInBytes: envelope.byteLength + 2 };
  return { image, blobs: [envelope, configBytes] };
}

function asDescriptor(v: unknown): Descriptor | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const d = v as Record<string, unknown>;
  if (typeof d.digest !== 'string' || typeof d.mediaType !== 'string') return undefined;
  return { mediaType: d.mediaType, digest: d.digest, size: typeof d.size === 'number' ? d.size : 0 };
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}
