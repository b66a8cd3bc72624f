// POST /mutate: digest pinning's webhook on the validating webhook's server and port, behind
// the same body limit, body budget and error handler (app.ts). A body that is not an
// AdmissionReview gets the same 400 as /validate; anything else gets an allowed answer, with a
// patch when an image was pinned.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { reviewResponse } from '../admission/codec.ts';
import type { Mutator } from '../admission/mutate.ts';
import { clip } from '../decision/decide.ts';
import { reviewHandler } from './review-route.ts';
import { infoLineWriter } from './log-line.ts';
import type { Metrics } from '../support/metrics.ts';

export function registerMutateRoute(app: FastifyInstance, options: { readonly mutator: Mutator; readonly logger: Logger; readonly metrics: Metrics }): void {
  const { mutator, logger, metrics } = options;
  const logMutation = infoLineWriter(logger, 'mutation');
  app.post(
    '/mutate',
    reviewHandler(
      logger,
      () => metrics.mutations.inc({ result: 'invalid' }),
      async (req, reply, started) => {
        const outcome = await mutator.mutate(req);
        metrics.mutations.inc({ result: outcome.result });
        if (outcome.pinned > 0) metrics.pinnedImages.inc({ outcome: 'pinned' }, outcome.pinned);
        if (outcome.unresolved.size > 0) metrics.pinnedImages.inc({ outcome: 'unresolved' }, outcome.unresolved.size);
        logMutation({
          uid: req.uid,
          kind: req.kind.kind,
          operation: req.operation,
          namespace: req.namespace,
          name: req.name,
          pinning: outcome.result,
          ...(outcome.why !== undefined && { why: outcome.why }),
          pinned: outcome.pinned,
          // Bounded: image strings come from the object.
          ...(outcome.unresolved.size > 0 && {
            unresolved: [...outcome.unresolved].slice(0, 16).map(([image, why]) => `${clip(image, 256)}: ${clip(why, 256)}`),
          }),
          durationMs: Math.round((performance.now() - started) * 10) / 10,
        });
        reply.send(reviewResponse(outcome.response));
      },
    ),
  );
}
