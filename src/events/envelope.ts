// EventBridge events as the SQS target delivers them (the message body is the event JSON), read
// into what they say about facts. Shape and bounds are checked before anything is used: every
// value that reaches a cache key is an account id, a real region, a repository name, a tag or a
// digest of ECR's own syntax. Anything else is malformed (logged and deleted); an event of a
// kind that says nothing about facts is ignored (deleted too).
//
// The events (Amazon ECR User Guide, "Amazon ECR events and EventBridge"; Amazon Inspector User
// Guide, "Amazon EventBridge event schema for Amazon Inspector events"):
// - aws.ecr "ECR Image Action": detail { action-type PUSH|DELETE, result SUCCESS|FAILURE,
//   repository-name, image-digest, image-tag? }, in the registry's account and region;
// - aws.ecr "ECR Image Scan": detail { scan-status, repository-name, image-digest, image-tags };
// - aws.inspector2 "Inspector2 Scan": detail { scan-status, repository-name (an ECR repository
//   ARN), image-digest, image-tags };
// - aws.inspector2 "Inspector2 Finding": detail { status, severity, resources: [{ type
//   AWS_ECR_CONTAINER_IMAGE, region, details.awsEcrContainerImage { registry, repositoryName,
//   imageHash } }] }.
import { knownRegion } from '../image/ecr-host.ts';

/** An event's body is at most 256 KiB (EventBridge's event size limit); more is not an event. */
export const MAX_EVENT_BYTES = 256 * 1024;
/** Resources of one finding read at most (a finding names one image). */
const MAX_RESOURCES = 10;

export interface ImageAt {
  readonly accountId: string;
  readonly region: string;
  readonly repository: string;
  readonly digest: string;
}

export type FactEvent =
  | { readonly kind: 'push'; readonly image: ImageAt; readonly tag?: string }
  | { readonly kind: 'delete'; readonly image: ImageAt; readonly tag?: string }
  | { readonly kind: 'scan'; readonly image: ImageAt }
  | { readonly kind: 'finding'; readonly images: readonly ImageAt[] };

export type ParsedEvent = { readonly event: FactEvent } | { readonly ignored: string } | { readonly malformed: string };

const ACCOUNT = /^[0-9]{12}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
// ECR's repositoryName and imageTag patterns (@aws-sdk/client-ecr, CreateRepository, ImageIdentifier).
const REPOSITORY = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}$/;
const REPOSITORY_ARN = /^arn:aws(?:-cn|-us-gov)?:ecr:([a-z0-9-]+):([0-9]{12}):repository\/(.+)$/;

class Malformed extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function field(o: Obj, key: string, pattern: RegExp, what: string): string {
  const v = o[key];
  if (typeof v !== 'string' || !pattern.test(v)) throw new Malformed(`${what} is not valid`);
  return v;
}

function region(v: unknown): string {
  if (typeof v !== 'string' || !knownRegion(v)) throw new Malformed('region is not an AWS region');
  return v;
}

export function parseEvent(body: string): ParsedEvent {
  if (body.length > MAX_EVENT_BYTES) return { malformed: `larger than ${MAX_EVENT_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { malformed: 'not JSON' };
  }
  if (!isObj(raw)) return { malformed: 'not an object' };
  const source = raw.source;
  const type = raw['detail-type'];
  if (typeof source !== 'string' || typeof type !== 'string') return { malformed: 'no source or detail-type: not an EventBridge event' };
  const detail = raw.detail;
  try {
    if (!isObj(detail)) throw new Malformed('no detail');
    if (source === 'aws.ecr' && type === 'ECR Image Action') return imageAction(raw, detail);
    if (source === 'aws.ecr' && type === 'ECR Image Scan') return { event: { kind: 'scan', image: ecrImage(raw, detail) } };
    if (source === 'aws.inspector2' && type === 'Inspector2 Scan') return inspectorScan(detail);
    if (source === 'aws.inspector2' && type === 'Inspector2 Finding') return finding(raw, detail);
  } catch (error) {
    if (error instanceof Malformed) return { malformed: `${type}: ${error.message}` };
    throw error;
  }
  return { ignored: `${source} ${type.slice(0, 64)} says nothing about cached facts` };
}

/** The image of an ECR event: the event's account and region, the detail's repository and digest. */
function ecrImage(raw: Obj, detail: Obj): ImageAt {
  return {
    accountId: field(raw, 'account', ACCOUNT, 'account'),
    region: region(raw.region),
    repository: field(detail, 'repository-name', REPOSITORY, 'repository-name'),
    digest: field(detail, 'image-digest', DIGEST, 'image-digest'),
  };
}

function imageAction(raw: Obj, detail: Obj): ParsedEvent {
  const action = detail['action-type'];
  if (action !== 'PUSH' && action !== 'DELETE') return { ignored: `ECR Image Action ${typeof action === 'string' ? action.slice(0, 32) : '?'}` };
  if (detail.result !== 'SUCCESS') return { ignored: `ECR Image Action ${action} did not succeed` };
  const image = ecrImage(raw, detail);
  const tagValue = detail['image-tag'];
  // An untagged push or a delete by digest has no tag (absent or "").
  const tag = tagValue === undefined || tagValue === '' ? undefined : field(detail, 'image-tag', TAG, 'image-tag');
  return { event: { kind: action === 'PUSH' ? 'push' : 'delete', image, ...(tag !== undefined && { tag }) } };
}

function inspectorScan(detail: Obj): ParsedEvent {
  const arn = detail['repository-name'];
  const m = typeof arn === 'string' ? REPOSITORY_ARN.exec(arn) : null;
  if (!m) return { ignored: 'Inspector2 Scan of something other than an ECR image' };
  if (!REPOSITORY.test(m[3]!)) throw new Malformed('repository-name is not valid');
  return {
    event: {
      kind: 'scan',
      image: { accountId: m[2]!, region: region(m[1]), repository: m[3]!, digest: field(detail, 'image-digest', DIGEST, 'image-digest') },
    },
  };
}

function finding(raw: Obj, detail: Obj): ParsedEvent {
  const resources = detail.resources;
  if (!Array.isArray(resources)) throw new Malformed('no resources');
  const images: ImageAt[] = [];
  for (const r of resources.slice(0, MAX_RESOURCES)) {
    if (!isObj(r) || r.type !== 'AWS_ECR_CONTAINER_IMAGE') continue;
    const details = isObj(r.details) ? r.details.awsEcrContainerImage : undefined;
    if (!isObj(details)) throw new Malformed('no awsEcrContainerImage details');
    images.push({
      accountId: field(details, 'registry', ACCOUNT, 'registry'),
      region: region(r.region ?? raw.region),
      repository: field(details, 'repositoryName', REPOSITORY, 'repositoryName'),
      digest: field(details, 'imageHash', DIGEST, 'imageHash'),
    });
  }
  if (images.length === 0) return { ignored: 'Inspector2 Finding of something other than an ECR image' };
  return { event: { kind: 'finding', images } };
}
