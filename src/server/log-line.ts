// What one admission's log line holds: enough to answer "why was this denied?" without the
// object itself (which can carry secrets in env values) and without credentials.
import type { AdmissionRequest } from '../admission/codec.ts';
import type { ReviewOutcome } from '../admission/pipeline.ts';

export function admissionLogLine(req: AdmissionRequest, outcome: ReviewOutcome, seconds: number): Record<string, unknown> {
  return {
    uid: req.uid,
    kind: req.kind.kind,
    operation: req.operation,
    namespace: req.namespace,
    name: req.name,
    dryRun: req.dryRun === true,
    user: req.userInfo?.username,
    decision: outcome.result,
    ...(outcome.why !== undefined && { why: outcome.why }),
    durationMs: Math.round(seconds * 10_000) / 10,
    images: outcome.images.map((i) => ({
      container: i.container.containerName,
      image: i.container.image,
      digest: i.digest,
      policy: i.policy.name,
      results: Object.fromEntries(i.results.map((r) => [r.check, r.reason !== undefined && r.status !== 'pass' ? `${r.status}: ${r.reason}` : r.status])),
    })),
  };
}
