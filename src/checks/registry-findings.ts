// Registry-level findings of `audit`: the scanning configuration, pull-through-cache rules no
// repository creation template governs, and creation templates that would create repositories
// below the baseline (practices 8 and 10: repositories ECR creates by itself, on a pull
// through the cache or a replication, get their settings from a template or none at all).
// Also ECR.2 per repository, which the posture check leaves to the immutability check.
import type { RepositoryFacts } from '../facts/ecr/images.ts';
import type { CreationTemplateFact, PullThroughCacheRuleFact } from '../facts/ecr/registry-walk.ts';
import type { RegistryScanning } from '../facts/ecr/scan.ts';
import type { ItemVerdict, RepositoryLocation } from './posture-items.ts';
import { analyzeRepositoryPolicy } from './repository-policy.ts';

export interface RegistryFinding {
  readonly kind: 'scanning' | 'pull-through-cache' | 'creation-template';
  /** The rule's or template's prefix; "registry" for the scanning configuration. */
  readonly subject: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly fix?: string;
}

interface Registry {
  readonly accountId: string;
  readonly region: string;
}

const TEMPLATE_FIX =
  '--image-tag-mutability IMMUTABLE --encryption-configuration encryptionType=KMS,kmsKey=<key ARN> --lifecycle-policy file://lifecycle-policy.json';

/** ECR.2: IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION (its exclusions named: the immutability check
 *  judges each tag against them at admission). */
export function tagImmutabilityVerdict(repo: RepositoryFacts, loc: RepositoryLocation): ItemVerdict {
  if (repo.tagMutability === 'IMMUTABLE') return { item: 'tagImmutability', control: 'ECR.2', ok: true, detail: 'IMMUTABLE' };
  if (repo.tagMutability === 'IMMUTABLE_WITH_EXCLUSION') {
    return { item: 'tagImmutability', control: 'ECR.2', ok: true, detail: `IMMUTABLE except ${repo.exclusionFilters.join(', ')}` };
  }
  const fix = `aws ecr put-image-tag-mutability --repository-name ${loc.repository} --image-tag-mutability IMMUTABLE --registry-id ${loc.accountId} --region ${loc.region}`;
  return {
    item: 'tagImmutability',
    control: 'ECR.2',
    ok: false,
    detail: `repository ${loc.repository} has ${repo.tagMutability} tags`,
    fix,
    fixCommand: 'aws ecr put-image-tag-mutability',
  };
}

export function scanningFinding(scanning: RegistryScanning, registry: Registry, uncovered: readonly string[]): RegistryFinding {
  const rules = scanning.rules ?? [];
  const described = rules.map((r) => `${r.scanFrequency} ${r.filters.join(' ')}`).join('; ');
  const fix = `aws ecr put-registry-scanning-configuration --scan-type ${scanning.scanType} --rules file://scanning-rules.json --region ${registry.region} (in account ${registry.accountId})`;
  if (rules.length === 0)
    return {
      kind: 'scanning',
      subject: 'registry',
      ok: false,
      detail: `${scanning.scanType} scanning with no rule: no repository is scanned on push or continuously`,
      fix,
    };
  if (uncovered.length > 0) {
    const names = uncovered.slice(0, 5).join(', ') + (uncovered.length > 5 ? `, +${uncovered.length - 5} more` : '');
    return {
      kind: 'scanning',
      subject: 'registry',
      ok: false,
      detail: `${scanning.scanType} (${described}) leaves ${uncovered.length} repositories unscanned: ${names}`,
      fix,
    };
  }
  return { kind: 'scanning', subject: 'registry', ok: true, detail: `${scanning.scanType} (${described}) covers every repository` };
}

/** A template governs a pull-through-cache rule's repositories when it applies to
 *  PULL_THROUGH_CACHE and its prefix is ROOT (every repository), the rule's prefix, or a
 *  path above it (ECR User Guide, "Templates to control repositories created during a pull
 *  through cache, create on push, or replication action"). */
export function templateFor(rule: PullThroughCacheRuleFact, templates: readonly CreationTemplateFact[]): CreationTemplateFact | undefined {
  const applies = templates.filter((t) => t.appliedFor.includes('PULL_THROUGH_CACHE'));
  const covering = applies.filter((t) => t.prefix === rule.prefix || rule.prefix.startsWith(`${t.prefix}/`));
  // The longest (most specific) prefix wins over ROOT.
  return covering.sort((a, b) => b.prefix.length - a.prefix.length)[0] ?? applies.find((t) => t.prefix === 'ROOT');
}

export function pullThroughCacheFindings(
  rules: readonly PullThroughCacheRuleFact[],
  templates: readonly CreationTemplateFact[],
  registry: Registry,
): RegistryFinding[] {
  return rules.map((rule) => {
    const template = templateFor(rule, templates);
    if (template)
      return { kind: 'pull-through-cache', subject: rule.prefix, ok: true, detail: `${rule.upstream}: governed by creation template ${template.prefix}` };
    return {
      kind: 'pull-through-cache',
      subject: rule.prefix,
      ok: false,
      detail: `${rule.upstream}: no repository creation template covers prefix ${rule.prefix}, so its repositories are created MUTABLE, AES256, without a lifecycle policy`,
      fix: `aws ecr create-repository-creation-template --prefix ${rule.prefix} --applied-for PULL_THROUGH_CACHE ${TEMPLATE_FIX} --region ${registry.region}`,
    };
  });
}

export function templateFindings(templates: readonly CreationTemplateFact[], registry: Registry): RegistryFinding[] {
  return templates.map((t) => {
    const wrong: string[] = [];
    if (t.tagMutability !== 'IMMUTABLE' && t.tagMutability !== 'IMMUTABLE_WITH_EXCLUSION') wrong.push(`${t.tagMutability} tags`);
    if (t.encryptionType !== 'KMS' && t.encryptionType !== 'KMS_DSSE') wrong.push(`${t.encryptionType} encryption`);
    if (!t.lifecyclePolicy) wrong.push('no lifecycle policy');
    const policy = t.repositoryPolicy !== undefined ? analyzeRepositoryPolicy(t.repositoryPolicy, registry.accountId).problems[0] : undefined;
    if (policy) wrong.push(`repository policy: ${policy.statement}: ${policy.detail}`);
    const applied = `for ${t.appliedFor.join(', ') || 'nothing'}`;
    if (wrong.length === 0)
      return { kind: 'creation-template', subject: t.prefix, ok: true, detail: `${applied}: IMMUTABLE, ${t.encryptionType}, lifecycle policy` };
    return {
      kind: 'creation-template',
      subject: t.prefix,
      ok: false,
      detail: `${applied}: ${wrong.join('; ')}`,
      fix: `aws ecr update-repository-creation-template --prefix ${t.prefix} ${TEMPLATE_FIX}${policy ? ' --repository-policy file://policy.json' : ''} --region ${registry.region}`,
    };
  });
}
