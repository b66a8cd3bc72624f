// Writes a run's results: JSON (everything) and a markdown table (what a reader compares).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo } from './machine.ts';
import type { BenchSettings, ScenarioResult } from '../scenarios/context.ts';

export interface RunReport {
  readonly machine: MachineInfo;
  readonly run: {
    readonly date: string;
    readonly commit: string;
    readonly settings: BenchSettings;
    readonly fixture: { images: number; buildMs: number };
    readonly seconds: number;
    readonly loadAverage: { start: number; end: number };
  };
  readonly scenarios: ScenarioResult[];
}

const num = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? '' : x.toFixed(digits));
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function toMarkdown(report: RunReport): string {
  const { machine: m, run } = report;
  const s = run.settings;
  const lines: string[] = [
    '# ecr-admission benchmark results',
    '',
    `${run.date} · commit ${run.commit} · ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB · Node ${m.node} · Linux ${m.kernel}`,
    '',
    `Webhook: ${s.webhook === 'dist' ? 'compiled JavaScript (node main.js, as the container runs it)' : 'node src/main.ts (type stripping)'}${s.webhookNodeFlags.length > 0 ? ` with ${s.webhookNodeFlags.join(' ')}` : ''} · ` +
      `injected AWS latency ${s.latencyMs} ms per call · admission budget ${s.budgetMs} ms · API server timeout ${s.timeoutSeconds} s · scale ${s.scale} · ` +
      `${run.fixture.images} images in the sandbox · ${run.seconds} s in all · 1-minute load average ${run.loadAverage.start} at start, ${run.loadAverage.end} at end (${m.cores} cores).`,
    '',
    '## Targets',
    '',
    '| target | required | measured | met |',
    '|---|---|---|---|',
    ...report.scenarios.flatMap((sc) => sc.targets.map((t) => `| ${cell(t.name)} | ${cell(t.target)} | ${cell(t.value)} | ${t.met ? 'yes' : '**no**'} |`)),
    '',
    '## Scenarios',
    '',
    '| scenario | measure | admissions | req/s | p50 ms | p99 ms | max ms | AWS calls | CPU ms/admission | peak RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const sc of report.scenarios) {
    const rss = Object.entries(sc.peakRssMiB)
      .map(([who, v]) => (Object.keys(sc.peakRssMiB).length > 1 ? `${who} ${num(v)}` : num(v)))
      .join(', ');
    sc.rows.forEach((r, i) => {
      lines.push(
        `| ${i === 0 ? cell(sc.title) : ''} | ${cell(r.measure)} | ${r.admissions} | ${num(r.requestsPerSecond, 0)} | ${num(r.p50, 2)} | ${num(r.p99, 2)} | ${num(r.max, 1)} | ${r.awsCalls ?? ''} | ${num(r.cpuMsPerAdmission, 2)} | ${i === 0 ? rss : ''} |`,
      );
    });
  }
  lines.push('', '## Notes', '');
  for (const sc of report.scenarios) {
    if (sc.notes.length === 0) continue;
    lines.push(`**${sc.title}** (load average ${sc.loadAverage.start} → ${sc.loadAverage.end})`, '', ...sc.notes.map((n) => `- ${n}`), '');
  }
  return `${lines.join('\n')}\n`;
}

/** Writes latest.json and latest.md (committed: git keeps the history). */
export function writeReport(report: RunReport, dir: string): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const markdown = join(dir, 'latest.md');
  const text = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(json, text);
  writeFileSync(markdown, toMarkdown(report));
  return { json, markdown };
}
