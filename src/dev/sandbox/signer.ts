// AWS Signer's data-plane GetRevocationStatus: GET /revocations?signatureTimestamp=...&
// platformId=...&profileVersionArn=...&jobArn=...&certificateHashes=...(repeated).
import type { Runtime } from './context.ts';
import { toDate } from './fixture.ts';
import { ApiError, json, requireScope, type Outgoing } from './wire.ts';

const NOTATION_PLATFORMS = ['Notation-OCI-SHA384-ECDSA'];
const PROFILE_VERSION_ARN = /^arn:(aws|aws-cn|aws-us-gov):signer:[a-z0-9-]+:\d{12}:\/signing-profiles\/[A-Za-z0-9_]{2,64}\/[A-Za-z0-9]+$/;
const JOB_ARN = /^arn:(aws|aws-cn|aws-us-gov):signer:[a-z0-9-]+:\d{12}:\/signing-jobs\/[A-Za-z0-9-]+$/;
const HEX = /^[0-9a-fA-F]{2,}$/;

const invalid = (message: string): ApiError => new ApiError(400, 'ValidationException', message, { fields: { code: 'ValidationException' } });

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export function signerInput(url: URL): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    out[key] = key === 'certificateHashes' ? all : all[0]!;
  }
  return out;
}

export function handleSigner(authorization: string | undefined, url: URL, rt: Runtime): Outgoing {
  const scope = requireScope(authorization, 'signer');
  const q = url.searchParams;
  const one = (name: string): string => {
    const values = q.getAll(name);
    if (values.length === 0 || values[0] === '')
      throw invalid(`1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null`);
    if (values.length > 1) throw invalid(`'${name}' must be given once`);
    return values[0]!;
  };
  const timestampText = one('signatureTimestamp');
  const signatureTime = new Date(timestampText);
  if (Number.isNaN(signatureTime.getTime())) throw invalid(`signatureTimestamp '${timestampText}' is not a timestamp`);
  const platformId = one('platformId');
  if (!NOTATION_PLATFORMS.includes(platformId)) throw invalid(`platformId '${platformId}' does not support revocation checks`);
  const profileVersionArn = one('profileVersionArn');
  const profile = PROFILE_VERSION_ARN.exec(profileVersionArn);
  if (!profile) throw invalid(`profileVersionArn '${profileVersionArn}' is not a signing profile version ARN`);
  const jobArn = one('jobArn');
  const job = JOB_ARN.exec(jobArn);
  if (!job) throw invalid(`jobArn '${jobArn}' is not a signing job ARN`);
  const hashes = q.getAll('certificateHashes');
  if (hashes.length === 0)
    throw invalid("1 validation error detected: Value null at 'certificateHashes' failed to satisfy constraint: Member must not be null");
  for (const h of hashes) if (!HEX.test(h)) throw invalid(`certificateHashes entry '${h.slice(0, 40)}' is not hex`);
  // Signatures do not cross partitions: a GovCloud signature checked in aws fails, as in AWS.
  const partition = partitionOf(scope.region);
  if (profile[1] !== partition || job[1] !== partition) {
    throw invalid(`Signing entities of partition '${profile[1]}' cannot be checked in partition '${partition}'`);
  }

  const revokedAt = new Map<string, Date | undefined>();
  for (const r of rt.state().fixture.revoked ?? []) {
    if (typeof r === 'string') revokedAt.set(r.toLowerCase(), undefined);
    else revokedAt.set(r.entity.toLowerCase(), r.effectiveFrom === undefined ? undefined : toDate(r.effectiveFrom));
  }
  const revoked = (entity: string): boolean => {
    const key = entity.toLowerCase();
    if (!revokedAt.has(key)) return false;
    const from = revokedAt.get(key);
    return from === undefined || signatureTime.getTime() >= from.getTime();
  };
  const revokedEntities = [profileVersionArn, jobArn, ...hashes].filter(revoked);
  return json(200, { revokedEntities }, 'application/json');
}
