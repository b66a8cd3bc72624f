// What /validate and /mutate share: the body held while the handler runs (withParsedBody), and
// a body that is not an AdmissionReview answered 400, counted and logged, before the route's
// own work.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { parseAdmissionReview, type AdmissionRequest } from '../admission/codec.ts';
import { ErrorCodes } from '../support/errors.ts';
import { withParsedBody } from './body-reader.ts';

/** A route handler for AdmissionReviews. `invalid` counts a refused body in the route's metric;
 *  `handle` gets the request and the time it arrived (performance.now()), and sends the answer. */
export function reviewHandler(
  logger: Logger,
  invalid: () => void,
  handle: (req: AdmissionRequest, reply: FastifyReply, started: number) => Promise<void>,
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  return (request, reply) =>
    withParsedBody(request, reply, async () => {
      const started = performance.now();
      const parsed = parseAdmissionReview(request.body);
      if (!parsed.ok) {
        invalid();
        logger.warn({ reason: parsed.reason }, 'rejected a body that is not an AdmissionReview');
        reply.code(400).send({ error: `not an admission.k8s.io/v1 AdmissionReview: ${parsed.reason}`, code: ErrorCodes.REVIEW_INVALID });
        return;
      }
      await handle(parsed.request, reply, started);
    });
}
