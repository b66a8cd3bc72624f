// Chart values shared by the scenario files: the policy (given to the chart as `policy`, so the
// webhook runs the policy file the chart renders into its ConfigMap) and the trust stores.
import { ACCOUNT, REGION, RELEASE_PROFILE, type EcrWorld } from './ecr-world.ts';

/** Namespaces whose override changes the mode or onError (everything else: enforce, deny). */
export const NS = {
  enforce: 'team-a',
  warn: 'team-warn',
  audit: 'team-audit',
  /** onError: allow — a fact that cannot be established in time admits with a warning. */
  lenient: 'team-lenient',
} as const;

export interface ValuesOptions {
  timeoutSeconds?: number;
  failurePolicy?: 'Fail' | 'Ignore';
}

export function ecrPolicyValues(world: EcrWorld, opts: ValuesOptions = {}): Record<string, unknown> {
  return {
    webhook: { timeoutSeconds: opts.timeoutSeconds ?? 10, failurePolicy: opts.failurePolicy ?? 'Fail' },
    trustStores: { pems: { 'signer-root.pem': world.signerRootPem } },
    policy: {
      mode: 'enforce',
      onError: 'deny',
      registries: { ecr: [{ accountId: ACCOUNT, regions: [REGION] }], allow: [] },
      namespaces: { exclude: ['kube-system'] },
      checks: {
        immutability: true,
        signature: {
          trustStores: [{ type: 'signingAuthority', path: '/etc/ecr-admission/trust/signer-root.pem' }],
          trustedIdentities: [RELEASE_PROFILE],
          revocation: 'enforce',
        },
        vulnerabilities: { denySeverities: ['CRITICAL'], notScanned: 'deny' },
      },
      overrides: [
        { name: 'warn-namespace', namespaces: [NS.warn], images: ['*'], mode: 'warn' },
        { name: 'audit-namespace', namespaces: [NS.audit], images: ['*'], mode: 'audit' },
        { name: 'lenient-on-error', namespaces: [NS.lenient], images: ['*'], onError: 'allow' },
      ],
    },
  };
}
