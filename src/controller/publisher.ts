// Writes each namespace's PolicyReport only when its content changed: the canonical form of what
// was last written (or, after a restart or a leader change, of what the API server holds) is
// compared with the new one, so an unchanged cluster costs no write per interval. Writes use
// the resourceVersion read (a conflict re-reads once); a namespace left with no Pod loses its report.
import { canonicalReport, type PolicyReportBody } from './report.ts';

export interface StoredReport {
  readonly body: { results?: unknown; summary?: unknown };
  readonly resourceVersion: string;
}

/** The PolicyReport named ecr-admission of a namespace, on the API server (cluster-port.ts). */
export interface ReportPort {
  get(namespace: string): Promise<StoredReport | undefined>;
  /** Answers the new resourceVersion. */
  create(namespace: string, body: PolicyReportBody): Promise<string>;
  /** Answers the new resourceVersion, or undefined on a conflict. */
  replace(namespace: string, body: PolicyReportBody, resourceVersion: string): Promise<string | undefined>;
  delete(namespace: string): Promise<void>;
  /** Every namespace's stored report of ours (a new leader learns which exist, to remove stale ones). */
  list(): Promise<Array<StoredReport & { namespace: string }>>;
}

export type SyncOutcome = 'unchanged' | 'created' | 'updated' | 'deleted';

interface Known {
  /** undefined: the report does not exist. */
  readonly canonical?: string;
  readonly resourceVersion?: string;
}

export class ReportPublisher {
  readonly #port: ReportPort;
  readonly #known = new Map<string, Known>();
  /** Writes made (create, update, delete), for the metrics and the benchmark. */
  writes = 0;

  constructor(port: ReportPort) {
    this.#port = port;
  }

  /** Namespaces whose report this process has seen or written. */
  namespaces(): string[] {
    return [...this.#known.entries()].filter(([, k]) => k.canonical !== undefined).map(([ns]) => ns);
  }

  /** Learns every stored report at once: one list instead of a read per namespace, and reports
   *  of namespaces that no longer run a Pod are known, so the next round removes them. */
  async prime(): Promise<Array<StoredReport & { namespace: string }>> {
    const stored = await this.#port.list();
    for (const report of stored) {
      this.#known.set(report.namespace, { canonical: canonicalReport(report.body), resourceVersion: report.resourceVersion });
    }
    return stored;
  }

  /** Forgets what it knows (a new leader reads the reports again). */
  reset(): void {
    this.#known.clear();
  }

  async #read(namespace: string): Promise<Known> {
    const stored = await this.#port.get(namespace);
    const known: Known = stored ? { canonical: canonicalReport(stored.body), resourceVersion: stored.resourceVersion } : {};
    this.#known.set(namespace, known);
    return known;
  }

  /** Makes the namespace's report say `body` (undefined: no report). */
  async sync(namespace: string, body: PolicyReportBody | undefined): Promise<SyncOutcome> {
    const known = this.#known.get(namespace) ?? (await this.#read(namespace));
    if (body === undefined || body.results.length === 0) {
      if (known.canonical === undefined) return 'unchanged';
      await this.#port.delete(namespace);
      this.#known.set(namespace, {});
      this.writes++;
      return 'deleted';
    }
    const canonical = canonicalReport(body);
    if (known.canonical === canonical) return 'unchanged';
    if (known.canonical === undefined) {
      const resourceVersion = await this.#port.create(namespace, body);
      this.#known.set(namespace, { canonical, resourceVersion });
      this.writes++;
      return 'created';
    }
    let resourceVersion = await this.#port.replace(namespace, body, known.resourceVersion ?? '');
    if (resourceVersion === undefined) {
      // Someone else wrote it (an old leader finishing a round): read it again and retry once.
      const fresh = await this.#read(namespace);
      if (fresh.canonical === canonical) return 'unchanged';
      if (fresh.canonical === undefined) return this.sync(namespace, body);
      resourceVersion = await this.#port.replace(namespace, body, fresh.resourceVersion ?? '');
      if (resourceVersion === undefined) {
        this.#known.delete(namespace);
        throw new Error(`PolicyReport ${namespace}/ecr-admission changed twice while being written`);
      }
    }
    this.#known.set(namespace, { canonical, resourceVersion });
    this.writes++;
    return 'updated';
  }
}
