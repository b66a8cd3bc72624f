// `audit`'s two outputs: a table a person reads in a terminal, and JSON that scripts can rely
// on (fixed key order, repositories sorted by name, registries in the policy's order).
import type { RegistryFinding } from '../checks/registry-findings.ts';

export interface AuditCell {
  /** none: the repository has no policy (a pass to review). */
  readonly status: 'pass' | 'fail' | 'error' | 'none';
  readonly detail: string;
  readonly fix?: string;
}

export const AUDIT_COLUMNS = ['ECR.1', 'ECR.2', 'ECR.3', 'ECR.5', 'policy'] as const;
export type AuditColumn = (typeof AUDIT_COLUMNS)[number];

export type AuditRow = { readonly repository: string } & { readonly [C in AuditColumn]: AuditCell };

export interface AuditRegistry {
  readonly accountId: string;
  readonly region: string;
  readonly scanType?: string;
  readonly repositories: readonly AuditRow[];
  readonly findings: readonly RegistryFinding[];
}

export interface AuditReport {
  readonly registries: readonly AuditRegistry[];
}

const SHOWN: Readonly<Record<AuditCell['status'], string>> = { pass: 'ok', fail: 'FAIL', error: 'ERROR', none: 'none' };
const HEADERS: Readonly<Record<AuditColumn, string>> = {
  'ECR.1': 'ECR.1 scan',
  'ECR.2': 'ECR.2 immutable',
  'ECR.3': 'ECR.3 lifecycle',
  'ECR.5': 'ECR.5 KMS',
  policy: 'policy',
};

function summary(report: AuditReport) {
  let repositories = 0;
  let failing = 0;
  let errors = 0;
  let noPolicy = 0;
  let findings = 0;
  for (const r of report.registries) {
    repositories += r.repositories.length;
    for (const row of r.repositories) {
      const cells = AUDIT_COLUMNS.map((c) => row[c]);
      if (cells.some((c) => c.status === 'fail')) failing++;
      if (cells.some((c) => c.status === 'error')) errors++;
      if (row.policy.status === 'none') noPolicy++;
    }
    findings += r.findings.filter((f) => !f.ok).length;
  }
  return { repositories, failing, errors, noPolicy, registryFindings: findings };
}

export function formatAuditText(report: AuditReport): string {
  const out: string[] = [];
  for (const r of report.registries) {
    out.push(`Registry ${r.accountId} ${r.region}${r.scanType ? ` (${r.scanType} scanning)` : ''}: ${r.repositories.length} repositories`);
    const width = Math.max(10, ...r.repositories.map((row) => row.repository.length));
    const widths = AUDIT_COLUMNS.map((c) => HEADERS[c].length);
    const line = (first: string, cells: readonly string[]) => `  ${first.padEnd(width)}  ${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd();
    out.push(
      line(
        'REPOSITORY',
        AUDIT_COLUMNS.map((c) => HEADERS[c]),
      ),
    );
    for (const row of r.repositories)
      out.push(
        line(
          row.repository,
          AUDIT_COLUMNS.map((c) => SHOWN[row[c].status]),
        ),
      );
    const problems = r.repositories.flatMap((row) =>
      AUDIT_COLUMNS.filter((c) => row[c].status === 'fail' || row[c].status === 'error').map(
        (c) =>
          `  ${row.repository} ${c}: ${row[c].status === 'error' ? `not verified: ${row[c].detail}` : row[c].detail}${row[c].fix ? `. Fix: ${row[c].fix}` : ''}`,
      ),
    );
    if (problems.length > 0) out.push('', 'What to fix:', ...problems);
    out.push('', 'Registry findings:');
    for (const f of r.findings) out.push(`  ${f.ok ? 'ok  ' : 'FAIL'}  ${f.kind} ${f.subject}: ${f.detail}${f.fix ? `. Fix: ${f.fix}` : ''}`);
    out.push('');
  }
  const s = summary(report);
  out.push(
    `${s.repositories} repositories: ${s.failing} failing, ${s.errors} not verified, ${s.noPolicy} without a repository policy (review their IAM access); ${s.registryFindings} registry findings`,
  );
  return out.join('\n');
}

const cellJson = (c: AuditCell) => ({ status: c.status, detail: c.detail, ...(c.fix !== undefined && { fix: c.fix }) });

export function formatAuditJson(report: AuditReport): string {
  const stable = {
    version: 1,
    summary: summary(report),
    registries: report.registries.map((r) => ({
      accountId: r.accountId,
      region: r.region,
      scanType: r.scanType ?? null,
      repositories: r.repositories.map((row) => ({
        repository: row.repository,
        checks: Object.fromEntries(AUDIT_COLUMNS.map((c) => [c, cellJson(row[c])])),
      })),
      findings: r.findings.map((f) => ({
        kind: f.kind,
        subject: f.subject,
        status: f.ok ? 'pass' : 'fail',
        detail: f.detail,
        ...(f.fix !== undefined && { fix: f.fix }),
      })),
    })),
  };
  return JSON.stringify(stable, null, 2);
}
