// The Valkey/Redis connections of the shared fact cache (iovalkey): one for commands, one
// subscribed to the fleet's channels. Both fail fast instead of queueing while the server is
// away (enableOfflineQueue: false, no per-command retries): an admission never waits on a
// reconnect, it goes to AWS. They reconnect on their own, with a capped back-off.
import { Redis, type RedisOptions } from 'iovalkey';

export interface SharedCacheConnection {
  /** redis://[user@]host:port[/db] or rediss:// (TLS). A password in the URL is accepted but
   *  the chart passes it apart, from a Secret (`password`). */
  readonly url: string;
  readonly password?: string;
  /** PEM CA bundle for rediss:// (default: Node's trusted CAs). */
  readonly caPem?: string;
  /** Bound of one command, in ms. */
  readonly opTimeoutMs: number;
}

/** Reconnection back-off: 50 ms doubling to 2 s, forever (the shared level comes back by itself). */
const retryStrategy = (times: number): number => Math.min(2_000, 50 * 2 ** Math.min(times, 6));

export function redisOptions(connection: SharedCacheConnection): RedisOptions {
  const url = new URL(connection.url);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`cache.shared.url must be redis:// or rediss://, not ${url.protocol}`);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isSafeInteger(db) || db < 0) throw new Error(`cache.shared.url names no database number: ${url.pathname}`);
  const password = connection.password ?? (url.password !== '' ? decodeURIComponent(url.password) : undefined);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port !== '' ? Number(url.port) : 6379,
    db,
    ...(url.username !== '' && { username: decodeURIComponent(url.username) }),
    ...(password !== undefined && { password }),
    ...(url.protocol === 'rediss:' && { tls: { servername: url.hostname, ...(connection.caPem !== undefined && { ca: connection.caPem }) } }),
    connectTimeout: Math.max(1_000, connection.opTimeoutMs * 4),
    commandTimeout: connection.opTimeoutMs,
    enableOfflineQueue: false,
    // Ready as soon as connected: the INFO of the ready check would be bound by commandTimeout,
    // and a server still loading answers LOADING, which is a failure like any other here.
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy,
    connectionName: 'ecr-admission',
  };
}

export function connect(connection: SharedCacheConnection): { commands: Redis; subscriber: Redis } {
  const options = redisOptions(connection);
  // The subscriber's commands (SUBSCRIBE) are queued until it connects: it has no deadline.
  return {
    commands: new Redis(options),
    subscriber: new Redis({ ...options, enableOfflineQueue: true, commandTimeout: undefined, connectionName: 'ecr-admission-sub' }),
  };
}

/**
 * Bounds what the subscriber holds of one pub/sub message. The client's parser reads a message
 * whole before any handler sees it, and a server passes on messages of up to its pubsub output
 * limit (32 MB by default) from any client that may PUBLISH. So the bytes arriving on each of
 * the subscriber's connections since its last message are counted, and past `maxBytes` the
 * connection is dropped (`oversized` is called): it reconnects and subscribes again, and the
 * server discards the rest. The count is taken per chunk, after the parser's own listener (it
 * is prepended) has emitted the messages the chunk completes, so it errs by at most a read.
 */
export function boundMessages(subscriber: Redis, maxBytes: number, oversized: () => void): void {
  let pendingBytes = 0;
  subscriber.on('message', () => (pendingBytes = 0));
  subscriber.on('ready', () => {
    pendingBytes = 0;
    const stream = subscriber.stream as NodeJS.ReadableStream & { destroy(): void };
    stream.on('data', (chunk: Buffer) => {
      pendingBytes += chunk.length;
      if (pendingBytes <= maxBytes) return;
      pendingBytes = 0;
      oversized();
      stream.destroy();
    });
  });
}
