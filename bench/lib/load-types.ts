// What the orchestrator asks of the load generator (bench/procs/load.ts) and what it answers.
import type { LatencySummary } from './stats.ts';

export interface PhaseSpec {
  readonly name: string;
  readonly connections: number;
  /** Seconds; or `amount` requests. */
  readonly duration?: number;
  readonly amount?: number;
  /** Requests per second over all connections (autocannon paces each connection per second). */
  readonly overallRate?: number;
  /** Cycled through, one per request. */
  readonly images: readonly string[];
  /** Record the phase (false: warm-up). */
  readonly record: boolean;
  /** Read every answer's decision (costs the load generator a JSON.parse per answer). */
  readonly classify?: boolean;
  /** Return every latency too (the orchestrator merges phases of one scenario). */
  readonly raw?: boolean;
}

export interface LoadSpec {
  readonly url: string;
  /** Seconds before a request counts as timed out: the API server's webhook timeout. */
  readonly timeoutSeconds: number;
  readonly phases: readonly PhaseSpec[];
}

export interface Decisions {
  allowed: number;
  deniedByVerdict: number;
  /** Denied because a check returned `error` (AWS failure or the deadline) and onError is deny. */
  deniedOnError: number;
  /** Checks that ended in `error`, by check id. */
  checkErrors: Record<string, number>;
  /** Answers whose message says a check hit the admission deadline. */
  deadlineErrors: number;
  unreadable: number;
  /** The first few distinct denial messages, to see what went wrong. */
  samples: string[];
}

export interface PhaseResult {
  readonly name: string;
  readonly connections: number;
  readonly seconds: number;
  readonly completed: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: LatencySummary;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly decisions?: Decisions;
  readonly latencies?: number[];
}
