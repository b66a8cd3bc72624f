// origin: does the image come from a registry the policy allows? Needs no AWS: the image
// reference and the policy decide.
import { unknownEcrRegion } from '../image/ecr-host.ts';
import { pass, fail, type Check, type CheckContext, type CheckOutcome } from './types.ts';

export const originCheck: Check = {
  id: 'origin',
  needs: [],
  enabled: () => true,
  // Nothing to wait for; the Check interface is asynchronous for the checks that call AWS.
  run: (ctx) => Promise.resolve(judgeOrigin(ctx)),
};

function judgeOrigin({ image, compiled }: CheckContext): CheckOutcome {
  const { ref, ecr } = image;
  if (ecr) {
    const allowed = compiled.ecrAccounts.get(ecr.accountId);
    if (allowed && (!allowed.regions || allowed.regions.includes(ecr.region))) return pass('origin');
    if (allowed) {
      return fail(
        'origin',
        `ECR registry ${ecr.accountId} is allowed only in ${allowed.regions?.join(', ')}, not ${ecr.region}`,
        `Push the image to ${ecr.accountId} in an allowed region. Allowed: ${compiled.describeAllowedRegistries()}.`,
      );
    }
  }
  // A registry-shaped host naming a region AWS does not have can be no registry a node pulls
  // from; the image reference is the requester's, so this is a failure, never an error.
  const unknownRegion = ecr ? undefined : unknownEcrRegion(ref.domain);
  if (unknownRegion !== undefined) {
    return fail(
      'origin',
      `ECR registry host names region "${unknownRegion.slice(0, 40)}", which is not a region of the aws, aws-cn or aws-us-gov partitions (AWS SDK partition data)`,
      `Use the registry's real region. A region AWS opened after this release of ecr-admission needs a newer release. Allowed: ${compiled.describeAllowedRegistries()}.`,
    );
  }
  if (image.oci) return pass('origin', { reason: `OCI registry ${image.oci.host}: digest and signature are checked through the OCI API` });
  if (compiled.allowImage(ref.policyName)) return pass('origin', { reason: 'allowed non-ECR pattern: ECR checks do not apply' });
  const what = ecr ? `ECR account ${ecr.accountId} (${ecr.region}) is not an allowed registry` : `registry ${ref.domain} is not allowed`;
  return fail('origin', what, `Use an image from an allowed registry: ${compiled.describeAllowedRegistries()}.`);
}
