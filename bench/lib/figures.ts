// The figures `make bench` draws next to its results (issue 18): SVG files made with Vega-Lite
// and rendered headless by Vega (no browser, no canvas: renderer 'none' + toSVG()).
//   warm-latency.svg    latency distribution of the warm path against the allow-all baseline,
//                       per connection level (percentile on x, latency on a log scale on y)
//   cold-decisions.svg  each cold decision at 1 connection against the chain of dependent AWS
//                       calls and the targets (1.2x, 1.3x the chain)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import type { RunReport } from './report.ts';

interface Quantile {
  readonly p: number;
  readonly ms: number;
}
interface Level {
  readonly connections: number;
  readonly quantilesMs?: readonly Quantile[];
}

async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const FONT = { font: 'sans-serif', labelFont: 'sans-serif', titleFont: 'sans-serif' };

export function warmLatencySpec(webhook: readonly Level[], baseline: readonly Level[]): TopLevelSpec | undefined {
  const rows = [
    ...webhook.flatMap((l) => (l.quantilesMs ?? []).map((q) => ({ server: 'ecr-admission (warm)', connections: `${l.connections} conn.`, ...q }))),
    ...baseline.flatMap((l) => (l.quantilesMs ?? []).map((q) => ({ server: 'allow-all baseline', connections: `${l.connections} conn.`, ...q }))),
  ];
  if (rows.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Warm admissions: latency distribution against an allow-all server (same TLS)', ...FONT },
    data: { values: rows },
    facet: { column: { field: 'connections', type: 'ordinal', sort: { field: 'p' }, title: null } },
    spec: {
      width: 260,
      height: 220,
      layer: [
        {
          mark: { type: 'line', interpolate: 'step-after' },
          encoding: {
            x: { field: 'p', type: 'quantitative', title: 'percentile', scale: { domain: [0, 100] } },
            y: { field: 'ms', type: 'quantitative', title: 'latency (ms, log)', scale: { type: 'log' } },
            color: { field: 'server', type: 'nominal', title: null, scale: { range: ['#d95f02', '#7570b3'] } },
          },
        },
        {
          mark: { type: 'rule', strokeDash: [4, 3], color: '#999' },
          encoding: { y: { datum: 5 } },
        },
      ],
    },
    resolve: { scale: { y: 'independent' } },
    config: { legend: { orient: 'bottom', labelLimit: 400 } },
  };
}

export function coldDecisionsSpec(decisionsMs: readonly number[], chainMs: number, calls: number, latencyMs: number): TopLevelSpec | undefined {
  if (decisionsMs.length === 0) return undefined;
  const rows = decisionsMs.map((ms, i) => ({ admission: i + 1, ms }));
  const rules = [
    { label: `chain: ${calls} dependent calls x ${latencyMs} ms = ${chainMs} ms`, ms: chainMs },
    { label: `p50 target 1.2x = ${Math.round(chainMs * 1.2)} ms`, ms: chainMs * 1.2 },
    { label: `p99 target 1.3x = ${Math.round(chainMs * 1.3)} ms`, ms: chainMs * 1.3 },
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Cold decisions at 1 connection against the chain of dependent AWS calls', ...FONT },
    width: 640,
    height: 260,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'point', filled: true, size: 28, color: '#1b9e77' },
        encoding: {
          x: { field: 'admission', type: 'quantitative', title: 'admission (each a new image)' },
          y: { field: 'ms', type: 'quantitative', title: 'decision latency (ms)', scale: { zero: true } },
        },
      },
      {
        data: { values: rules },
        mark: { type: 'rule', strokeDash: [5, 3] },
        encoding: {
          y: { field: 'ms', type: 'quantitative' },
          color: { field: 'label', type: 'nominal', title: null, scale: { range: ['#444', '#e7298a', '#d95f02'] } },
        },
      },
    ],
    config: { legend: { orient: 'bottom', labelLimit: 400 } },
  };
}

/** Draws the figures the run has data for into `dir`; answers the files written. */
export async function drawFigures(report: RunReport, dir: string): Promise<string[]> {
  const scenario = (id: string) =>
    report.scenarios.find((s) => s.id === id) as { figures?: Record<string, unknown>; params?: Record<string, unknown> } | undefined;
  const written: string[] = [];
  const warm = scenario('warm')?.figures?.levels as Level[] | undefined;
  const baseline = scenario('baseline')?.figures?.levels as Level[] | undefined;
  const warmSpec = warm && baseline ? warmLatencySpec(warm, baseline) : undefined;
  if (warmSpec) {
    const path = join(dir, 'warm-latency.svg');
    writeFileSync(path, await toSvg(warmSpec));
    written.push(path);
  }
  const cold = scenario('cold');
  const serial = cold?.figures?.serial as { decisionsMs?: number[] } | undefined;
  const params = cold?.params as { chainMs?: number; chainCalls?: number; injectedLatencyMs?: number } | undefined;
  const coldSpec =
    serial?.decisionsMs && params?.chainMs !== undefined
      ? coldDecisionsSpec(serial.decisionsMs, params.chainMs, params.chainCalls ?? 0, params.injectedLatencyMs ?? 0)
      : undefined;
  if (coldSpec) {
    const path = join(dir, 'cold-decisions.svg');
    writeFileSync(path, await toSvg(coldSpec));
    written.push(path);
  }
  return written;
}
