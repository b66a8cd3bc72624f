// Critical attributes and the verification-plugin attribute. Unknown critical attributes
// must fail verification (signature-specification.md, "Extended attributes"). Of the
// plugins, only AWS Signer's is accepted: its checks (profile identity and revocation)
// are done natively here, as the specification allows an implementation that does not
// run plugins to do ("Guidelines for implementations ...").
import { describe, HEADER_VERIFICATION_PLUGIN, HEADER_VERIFICATION_PLUGIN_MIN_VERSION, STANDARD_ATTRIBUTES, type ParsedEnvelope } from './envelope.ts';
import { failure, parsed, type Parsed } from './errors.ts';
import { SIGNING_SCHEME_SIGNING_AUTHORITY } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

export const AWS_SIGNER_PLUGIN = 'com.amazonaws.signer.notation.plugin';
export const ATTR_SIGNING_PROFILE_VERSION = 'com.amazonaws.signer.signingProfileVersion';
export const ATTR_SIGNING_JOB = 'com.amazonaws.signer.signingJob';

const PROFILE_VERSION_ARN = /^arn:[a-z-]+:signer:[a-z0-9-]+:\d{12}:\/signing-profiles\/[A-Za-z0-9_]+\/[A-Za-z0-9]+$/i;
const JOB_ARN = /^arn:[a-z-]+:signer:[a-z0-9-]+:\d{12}:\/signing-jobs\/[A-Za-z0-9-]+$/i;

export interface AwsSignerAttributes {
  profileVersionArn: string;
  jobArn: string;
}

/** Returns the AWS Signer attributes when the envelope names the AWS Signer plugin. */
export function checkCriticalAttributes(env: ParsedEnvelope): Parsed<{ aws?: AwsSignerAttributes }> {
  const plugin = env.extendedAttributes.get(HEADER_VERIFICATION_PLUGIN);
  const known = new Set(STANDARD_ATTRIBUTES);
  let aws: AwsSignerAttributes | undefined;

  if (plugin !== undefined) {
    if (!env.critical.has(HEADER_VERIFICATION_PLUGIN)) {
      return failure(ErrorCodes.CRITICAL_HEADER, `${HEADER_VERIFICATION_PLUGIN} must be marked critical`);
    }
    if (plugin !== AWS_SIGNER_PLUGIN) {
      return failure(ErrorCodes.UNSUPPORTED_PLUGIN, `the signature requires verification plugin ${describe(plugin)}; only ${AWS_SIGNER_PLUGIN} is supported`);
    }
    if (env.signingScheme !== SIGNING_SCHEME_SIGNING_AUTHORITY) {
      return failure(
        ErrorCodes.UNSUPPORTED_PLUGIN,
        `${AWS_SIGNER_PLUGIN} signatures must use signing scheme ${SIGNING_SCHEME_SIGNING_AUTHORITY}, not ${env.signingScheme}`,
      );
    }
    const profileVersionArn = env.extendedAttributes.get(ATTR_SIGNING_PROFILE_VERSION);
    const jobArn = env.extendedAttributes.get(ATTR_SIGNING_JOB);
    if (typeof profileVersionArn !== 'string' || !PROFILE_VERSION_ARN.test(profileVersionArn)) {
      return failure(ErrorCodes.CRITICAL_HEADER, `AWS Signer signature has no valid ${ATTR_SIGNING_PROFILE_VERSION} (${describe(profileVersionArn)})`);
    }
    if (typeof jobArn !== 'string' || !JOB_ARN.test(jobArn)) {
      return failure(ErrorCodes.CRITICAL_HEADER, `AWS Signer signature has no valid ${ATTR_SIGNING_JOB} (${describe(jobArn)})`);
    }
    aws = { profileVersionArn, jobArn };
    for (const name of [HEADER_VERIFICATION_PLUGIN, HEADER_VERIFICATION_PLUGIN_MIN_VERSION, ATTR_SIGNING_PROFILE_VERSION, ATTR_SIGNING_JOB]) {
      known.add(name);
    }
  }

  for (const name of env.critical) {
    if (!known.has(name)) return failure(ErrorCodes.CRITICAL_HEADER, `unknown critical attribute ${describe(name)}`);
  }
  return parsed(aws ? { aws } : {});
}
