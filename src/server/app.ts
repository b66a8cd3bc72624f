// The webhook's Fastify app. The factory never listens: tests use inject() or listen on
// 127.0.0.1 themselves. The HTTP layer is a thin chain: decode -> review -> respond.
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import { reviewResponse } from '../admission/codec.ts';
import type { Reviewer } from '../admission/pipeline.ts';
import type { Metrics } from '../support/metrics.ts';
import { TLS_OPTIONS, type KeyPair } from './tls.ts';
import { admissionLogLine, infoLineWriter } from './log-line.ts';
import { isHandledKind } from '../admission/extract.ts';
import { createBodyBudget, DEFAULT_MAX_BODY_BYTES, type BodyBudget } from './body-budget.ts';
import { registerBodyReader } from './body-reader.ts';
import { reviewHandler } from './review-route.ts';
import { ErrorCodes } from '../support/errors.ts';
import type { Mutator } from '../admission/mutate.ts';
import { registerMutateRoute } from './mutate-route.ts';

const OPERATIONS = new Set(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);

/** Metric labels from a request: only values from a fixed set, so that bodies with made-up
 *  kinds or operations cannot grow the metric registry (each label value is a new series). */
function metricLabels(req: { kind: { group: string; kind: string }; operation: string }): { kind: string; operation: string } {
  return {
    kind: isHandledKind(req.kind.group, req.kind.kind) ? req.kind.kind : 'other',
    operation: OPERATIONS.has(req.operation) ? req.operation : 'other',
  };
}

export interface WebhookAppOptions {
  readonly reviewer: Reviewer;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Request bodies above this size get 413 before any parsing (default: DEFAULT_MAX_BODY_BYTES). */
  readonly maxBodyBytes?: number;
  /** The heap budget bodies in flight share (default: a share of V8's heap limit). */
  readonly bodyBudget?: BodyBudget;
  /** HTTPS when given; plain HTTP only for inject() tests. */
  readonly tls?: KeyPair;
  /** Digest pinning: when given, POST /mutate answers too (mutate-route.ts). */
  readonly mutator?: Mutator;
}

export function buildWebhookApp(options: WebhookAppOptions): FastifyInstance {
  const { reviewer, logger, metrics } = options;
  const bodyLimit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const serverOptions: FastifyServerOptions = {
    loggerInstance: logger,
    // One line per admission is written below instead of Fastify's two per request.
    logController: new LogController({ disableRequestLogging: true }),
    // Nor a child logger per request (issue 18: a pino child each time, for a request.log the
    // routes never use); what Fastify itself logs goes to the server's logger.
    childLoggerFactory: (logger) => logger,
    bodyLimit,
    // k8s sends no path params; a long request line is never ours.
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    // The API server gives a webhook at most 30 s; a client that trickles its body for longer
    // (Node's default allows 300 s) only ties up a connection.
    requestTimeout: 30_000,
    forceCloseConnections: 'idle',
  };
  const app = (options.tls
    ? Fastify({ ...serverOptions, https: { ...TLS_OPTIONS, ...options.tls } } as never)
    : Fastify(serverOptions)) as unknown as FastifyInstance;

  // Every body is metered as it arrives and charged against the shared heap budget before it
  // is parsed; the charge is returned when the answer is sent or the request is abandoned.
  // Its base cost is reserved from its Content-Length when it arrives, first come first served
  // (413/503 at once when it does not fit). A reservation is held only while the body arrives
  // at a minimum pace (FIRST_BODY_BYTE_MS, bodyDeadlineMs: see body-budget.ts, body-reader.ts).
  registerBodyReader(app, { budget: options.bodyBudget ?? createBodyBudget(), bodyLimit });

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _request, reply) => {
    // 4xx, and 503 from the body budget (busy: a retry can succeed), pass through; anything
    // else is ours and answered as a plain 500.
    const status = err.statusCode && ((err.statusCode >= 400 && err.statusCode < 500) || err.statusCode === 503) ? err.statusCode : 500;
    if (status === 500) logger.error({ err: err.message, code: err.code }, 'unexpected error answering a request');
    metrics.admissions.inc({ kind: 'unknown', operation: 'unknown', result: 'invalid', dry_run: 'false' });
    // A body too slow in coming: its connection is not kept for the rest of it.
    if (status === 408) void reply.header('connection', 'close');
    void reply.code(status).send({ error: status === 500 ? 'internal error' : err.message, code: err.code ?? ErrorCodes.REQUEST });
  });

  const logAdmission = infoLineWriter(logger, 'admission');
  app.post(
    '/validate',
    reviewHandler(
      logger,
      () => metrics.admissions.inc({ kind: 'unknown', operation: 'unknown', result: 'invalid', dry_run: 'false' }),
      async (req, reply, started) => {
        const outcome = await reviewer.review(req);
        const seconds = (performance.now() - started) / 1000;
        const labels = metricLabels(req);
        metrics.admissions.inc({ ...labels, result: outcome.result, dry_run: req.dryRun === true ? 'true' : 'false' });
        metrics.decisionSeconds.observe({ kind: labels.kind }, seconds);
        if (logger.isLevelEnabled('info')) {
          const line = admissionLogLine(req, outcome, seconds);
          logAdmission(line.fields, line.json);
        }
        reply.send(reviewResponse(outcome.response));
      },
    ),
  );

  if (options.mutator) registerMutateRoute(app, { mutator: options.mutator, logger, metrics });

  return app;
}
