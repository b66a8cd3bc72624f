// STS AssumeRole (AWS Query protocol: form-encoded request, XML answer), so that a policy's
// per-account roleArn is exercised through the SDK's real credential provider. The sandbox
// hands out credentials whose access key names the role, and records which key signed each
// later call.
import { randomBytes } from 'node:crypto';
import { ApiError, requireScope, type Outgoing } from './wire.ts';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/([\w+=,.@/-]{1,512})$/;

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function isStsRequest(method: string, path: string, contentType: string | undefined, body: Buffer): boolean {
  return method === 'POST' && path === '/' && (contentType ?? '').startsWith('application/x-www-form-urlencoded') && /(^|&)Action=/.test(body.toString('utf8'));
}

export function stsOperation(body: Buffer): string {
  return new URLSearchParams(body.toString('utf8')).get('Action') ?? 'Unknown';
}

/** The access key a role's sessions sign with: "ASIA" + the role's account, so tests can see it. */
export function assumedAccessKeyId(roleArn: string): string {
  const m = ROLE_ARN.exec(roleArn);
  return `ASIA${m?.[1] ?? '000000000000'}SBX`;
}

const ASSUMED_KEY = /^ASIA(\d{12})SBX$/;

/** The account a signed call comes from, as AWS knows it from the credentials: a key this
 *  sandbox's AssumeRole issued belongs to the role's account; any other key (the static
 *  credentials tests and the demo use) to the fixture's defaultAccount, the caller's own.
 *  ECR answers a request without registryId for this account, and Inspector lists only its
 *  resources unless it is the delegated administrator. */
export function callerAccount(accessKeyId: string, defaultAccount: string): string {
  return ASSUMED_KEY.exec(accessKeyId)?.[1] ?? defaultAccount;
}

export function handleSts(authorization: string | undefined, body: Buffer, now: Date): Outgoing {
  requireScope(authorization, 'sts');
  const params = new URLSearchParams(body.toString('utf8'));
  const action = params.get('Action');
  if (action !== 'AssumeRole') throw new ApiError(400, 'InvalidAction', `Could not find operation ${action ?? ''} for version 2011-06-15`);
  const roleArn = params.get('RoleArn') ?? '';
  const session = params.get('RoleSessionName') ?? '';
  const m = ROLE_ARN.exec(roleArn);
  if (!m) throw new ApiError(400, 'ValidationError', `1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint`);
  if (!/^[\w+=,.@-]{2,64}$/.test(session)) throw new ApiError(400, 'ValidationError', 'RoleSessionName is invalid');
  const expiration = new Date(now.getTime() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const xml = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROA${m[1]}SANDBOX:${xmlEscape(session)}</AssumedRoleId>
      <Arn>arn:aws:sts::${m[1]}:assumed-role/${xmlEscape(m[2] ?? '')}/${xmlEscape(session)}</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>${assumedAccessKeyId(roleArn)}</AccessKeyId>
      <SecretAccessKey>${randomBytes(20).toString('base64')}</SecretAccessKey>
      <SessionToken>${randomBytes(32).toString('base64')}</SessionToken>
      <Expiration>${expiration}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>${randomBytes(16).toString('hex')}</RequestId></ResponseMetadata>
</AssumeRoleResponse>`;
  return { status: 200, headers: { 'content-type': 'text/xml' }, body: xml };
}
