// Counters and histograms for the warm path (issue 18). prom-client's inc() and observe() build,
// validate and hash the label object on every call, and observe() also allocates a closure and
// finds its bucket through a number-keyed object: together with the log line, a tenth of a
// cached admission's CPU in the server (bench/README.md). These keep one cell per label set,
// found by a key made of its label values (keyOf), and add to it; each cell is folded into prom-client's
// series when the registry is read (its collect hook), so /metrics shows what prom-client would
// (a histogram's float sum may differ in its last bits: its cells add apart). The first use of
// a label set, and any call prom-client would refuse (unknown labels, bad values), goes through
// prom-client, which validates it.
import { Counter, Histogram, type CounterConfiguration, type HistogramConfiguration, type LabelValues } from 'prom-client';

/** The cell's key: the label values in the metric's label order, each length-prefixed (so no
 *  value can run into the next), an absent one marked apart from an empty one. */
function keyOf<T extends string>(names: readonly T[], labels: LabelValues<T>): string {
  let key = '';
  for (const name of names) {
    const value = labels[name];
    key += value === undefined ? '\u0001' : `${String(value).length}:${value}`;
  }
  return key;
}

/** Whether `labels` has more keys than the metric has label names (an unknown one: prom-client
 *  refuses it, so such a call takes its path). Counted without allocating. */
function tooMany(labels: object, names: readonly string[]): boolean {
  let n = 0;
  for (const _ in labels) n++;
  return n > names.length;
}

/** Each hot metric's fold, for the collect hook its config is given (which runs before the
 *  instance, and its private fields, exist). */
const folds = new WeakMap<object, () => void>();

/** The collect hook of a hot metric: folds its cells into prom-client's series, then runs the
 *  hook the caller's config gave, if any. */
function foldingCollect<M extends object>(own: ((this: M) => void | Promise<void>) | undefined): (this: M) => void | Promise<void> {
  return function (this: M) {
    folds.get(this)?.();
    return own?.call(this);
  };
}

/** A hot metric's reset() and remove(): its cells go with its series (what is counted before a
 *  remove() is folded first), and a removed series starts again from prom-client's path. */
function keepCellsWithSeries(
  metric: { reset(): void; remove(...args: never[]): void },
  cells: Map<string, unknown>,
  fold: () => void,
  cleared = () => {},
): void {
  const slowReset = metric.reset.bind(metric);
  metric.reset = () => {
    cells.clear();
    cleared();
    slowReset();
  };
  const slowRemove = metric.remove.bind(metric) as (...args: unknown[]) => void;
  metric.remove = (...args: never[]) => {
    fold();
    cells.clear();
    cleared();
    slowRemove(...args);
  };
}

interface CounterCell<T extends string> {
  readonly labels: LabelValues<T>;
  pending: number;
}

export class HotCounter<T extends string> extends Counter<T> {
  readonly #names: readonly T[];
  readonly #cells = new Map<string, CounterCell<T>>();
  /** Counts the times the cells were cleared (reset, remove): a cell found before is stale after. */
  #cleared = 0;
  /** prom-client's own inc(): validates, hashes, counts. */
  readonly #slowInc: (labels?: LabelValues<T> | number, value?: number) => void;

  constructor(config: CounterConfiguration<T>) {
    super({ ...config, collect: foldingCollect(config.collect) });
    folds.set(this, () => this.#fold());
    this.#names = [...(config.labelNames ?? [])];
    const slow = (this.#slowInc = this.inc.bind(this) as (labels?: LabelValues<T> | number, value?: number) => void);
    // prom-client sets inc on the instance in its constructor; this one replaces it.
    this.inc = ((labels?: LabelValues<T> | number, value?: number) => {
      // No labels, or a value prom-client refuses: its own path, and its errors.
      if (typeof labels !== 'object' || (value !== undefined && !(Number.isFinite(value) && value >= 0)) || tooMany(labels, this.#names))
        return slow(labels, value);
      const key = keyOf(this.#names, labels);
      const cell = this.#cells.get(key);
      if (cell === undefined) {
        slow(labels, value);
        this.#cells.set(key, { labels: { ...labels }, pending: 0 });
        return;
      }
      cell.pending += value ?? 1;
    }) as Counter<T>['inc'];
    keepCellsWithSeries(
      this,
      this.#cells,
      () => this.#fold(),
      () => this.#cleared++,
    );
  }

  /**
   * A function that adds 1 to the series of each of `items`' label sets (`labelsOf`), as inc()
   * of each would. For a fixed list counted again and again (a remembered decision's check
   * results, issue 18): its cells are found once, not by their label values at every call. The
   * first call, and the first after a reset() or remove(), goes through inc(), which creates
   * and validates them; a label set inc() would refuse keeps going through inc().
   */
  counting<I>(items: readonly I[], labelsOf: (item: I) => LabelValues<T>): () => void {
    let cells: Array<CounterCell<T>> | undefined;
    let foundAt = -1;
    return () => {
      if (cells !== undefined && foundAt === this.#cleared) {
        for (const cell of cells) cell.pending++;
        return;
      }
      const found: Array<CounterCell<T>> = [];
      for (const item of items) {
        const labels = labelsOf(item);
        this.inc(labels);
        // inc() has thrown for a label set prom-client refuses; any other now has its cell.
        const cell = this.#cells.get(keyOf(this.#names, labels));
        if (cell !== undefined) found.push(cell);
      }
      cells = found.length === items.length ? found : undefined;
      foundAt = this.#cleared;
    };
  }

  #fold(): void {
    for (const cell of this.#cells.values()) {
      if (cell.pending === 0) continue;
      this.#slowInc(cell.labels, cell.pending);
      cell.pending = 0;
    }
  }
}

interface HistogramCell<T extends string> {
  readonly labels: LabelValues<T>;
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** prom-client's record of one label set (lib/histogram.js createBaseValues). The test of this
 *  file compares the exposition with prom-client's own for the same observations, so a change
 *  of prom-client's internals fails there, not in production. */
interface PromHistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

export class HotHistogram<T extends string> extends Histogram<T> {
  readonly #names: readonly T[];
  readonly #bounds: readonly number[];
  readonly #cells = new Map<string, HistogramCell<T>>();

  constructor(config: HistogramConfiguration<T>) {
    super({ ...config, collect: foldingCollect(config.collect) });
    folds.set(this, () => this.#fold());
    this.#names = [...(config.labelNames ?? [])];
    this.#bounds = (this as unknown as { upperBounds: number[] }).upperBounds;
    const slow = this.observe.bind(this) as (labels: LabelValues<T> | number, value?: number) => void;
    this.observe = ((labels: LabelValues<T> | number, value?: number) => {
      if (typeof labels !== 'object' || value === undefined || !Number.isFinite(value) || tooMany(labels, this.#names)) return slow(labels, value);
      const key = keyOf(this.#names, labels);
      const cell = this.#cells.get(key);
      if (cell === undefined) {
        slow(labels, value);
        this.#cells.set(key, { labels: { ...labels }, buckets: new Float64Array(this.#bounds.length), sum: 0, count: 0 });
        return;
      }
      // The first bound it does not exceed, as prom-client's findBound; above them all, only
      // the count and sum (the +Inf bucket is the count).
      const bounds = this.#bounds;
      for (let i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]!) {
          cell.buckets[i]!++;
          break;
        }
      }
      cell.sum += value;
      cell.count++;
    }) as Histogram<T>['observe'];
    keepCellsWithSeries(this, this.#cells, () => this.#fold());
  }

  #fold(): void {
    const records = () => Object.values((this as unknown as { hashMap: Record<string, PromHistogramEntry> }).hashMap);
    for (const cell of this.#cells.values()) {
      if (cell.count === 0) continue;
      const key = keyOf(this.#names, cell.labels);
      const find = () => records().find((e) => keyOf(this.#names, e.labels as LabelValues<T>) === key);
      // The cell was created by prom-client's observe, so its record exists; zero() makes it
      // again should it be gone.
      let entry = find();
      if (entry === undefined) {
        this.zero(cell.labels);
        entry = find();
      }
      if (entry === undefined) continue;
      this.#bounds.forEach((bound, i) => {
        entry.bucketValues[bound] = (entry.bucketValues[bound] ?? 0) + cell.buckets[i]!;
      });
      entry.sum += cell.sum;
      entry.count += cell.count;
      cell.buckets.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}
