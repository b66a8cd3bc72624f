// The checks in the order they are reported. Each is a small module with a stable id.
import type { EcrFacts } from '../facts/ecr/images.ts';
import type { OciFacts } from '../facts/oci/facts.ts';
import { signatureCheck, type SignatureCheckDeps } from './signature.ts';
import { digestCheck } from './digest.ts';
import { immutabilityCheck } from './immutability.ts';
import { originCheck } from './origin.ts';
import { vulnerabilitiesCheck } from './vulnerabilities.ts';
import type { VulnerabilityFacts } from '../facts/vulnerabilities.ts';
import type { Check } from './types.ts';
import { postureCheck } from './posture.ts';
import type { EcrPostureFacts } from '../facts/ecr/posture.ts';

export interface CheckDeps {
  readonly ecr: EcrFacts;
  readonly oci: OciFacts;
  readonly signature: SignatureCheckDeps;
  readonly vulnerabilities: VulnerabilityFacts;
  readonly posture: EcrPostureFacts;
}

export function buildChecks(deps: CheckDeps): Check[] {
  return [
    originCheck,
    digestCheck(deps.ecr, deps.oci),
    immutabilityCheck(deps.ecr),
    signatureCheck(deps.signature),
    vulnerabilitiesCheck(deps.vulnerabilities),
    postureCheck({ ecr: deps.ecr, posture: deps.posture }),
  ];
}
