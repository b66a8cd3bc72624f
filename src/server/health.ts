// Plain-HTTP health and metrics app on its own port, so probes and Prometheus never need the
// webhook's certificate.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from '../support/metrics.ts';

export interface Readiness {
  ready: boolean;
  detail: Record<string, unknown>;
}

export function buildHealthApp(options: { metrics: Metrics; readiness: () => Readiness }): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const { ready, detail } = options.readiness();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', ...detail });
  });
  app.get('/metrics', async (_request, reply) => {
    return reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });
  return app;
}
