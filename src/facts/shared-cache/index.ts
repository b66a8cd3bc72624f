// The shared fact cache from the policy's cache.shared and the environment (the chart puts
// the password and the HMAC key in a Secret): what wiring.ts needs, in one call.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { SharedCacheConfig } from '../../policy/schema.ts';
import type { Metrics } from '../../support/metrics.ts';
import { connect } from './client.ts';
import { SHARED_FACTS } from './shapes.ts';
import { SharedFactCache } from './shared-cache.ts';

export { SharedFactCache } from './shared-cache.ts';
export { digestGroup, tagGroup } from './shapes.ts';

/** Environment variables of the shared cache's secrets. */
export const SHARED_CACHE_PASSWORD_ENV = 'ECR_ADMISSION_SHARED_CACHE_PASSWORD';
export const SHARED_CACHE_HMAC_KEY_ENV = 'ECR_ADMISSION_SHARED_CACHE_HMAC_KEY';

export function createSharedFactCache(
  config: SharedCacheConfig,
  deps: {
    env: Readonly<Record<string, string | undefined>>;
    metrics?: Metrics;
    logger?: Logger;
    onDrop: (groups: ReadonlySet<string> | 'all') => void;
  },
): SharedFactCache {
  const password = deps.env[SHARED_CACHE_PASSWORD_ENV];
  const hmac = deps.env[SHARED_CACHE_HMAC_KEY_ENV];
  if (hmac === undefined || hmac === '') {
    // Shapes and key binding stop garbage and copied records, not a well-formed lie: say so.
    deps.logger?.warn(
      { env: SHARED_CACHE_HMAC_KEY_ENV },
      'shared fact cache without an HMAC key: any client that can write to it can write facts the fleet will use',
    );
  }
  const caPem = config.caFile !== undefined ? readFileSync(config.caFile, 'utf8') : undefined;
  const { commands, subscriber } = connect({
    url: config.url,
    opTimeoutMs: config.opTimeoutMs,
    ...(password !== undefined && password !== '' && { password }),
    ...(caPem !== undefined && { caPem }),
  });
  return new SharedFactCache({
    commands,
    subscriber,
    prefix: config.keyPrefix,
    opTimeoutMs: config.opTimeoutMs,
    lockMs: config.lockMs,
    ...(hmac !== undefined && hmac !== '' && { hmacKey: Buffer.from(hmac, 'utf8') }),
    ...(deps.metrics !== undefined && { metrics: deps.metrics }),
    ...(deps.logger !== undefined && { logger: deps.logger }),
    onDrop: deps.onDrop,
  });
}

/** For FactCache.drop: whether a local entry belongs to one of the changed groups ("all":
 *  every entry an event could change). An entry still loading (value undefined) is judged by
 *  its key. */
export function inGroups(groups: ReadonlySet<string> | 'all'): (fact: string, key: string, value: unknown) => boolean {
  return (fact, key, value) => {
    const shape = SHARED_FACTS.get(fact);
    if (!shape) return false;
    const mine = shape.groups(key, value);
    return groups === 'all' ? mine.length > 0 : mine.some((g) => groups.has(g));
  };
}
