// Wildcard patterns for namespaces and images. `*` matches any run of characters, `?` one.
// For images, a pattern with a "/" is matched in two parts, registry host and the rest, so
// "*.example.com/*" can never match "evil.com/x.example.com/y": the host is never decided by a
// wildcard that spilled over from the path.

import { ecrHost, parseEcrHost } from '../image/ecr-host.ts';

export type Matcher = (value: string) => boolean;

const MAX_PATTERN = 512;

export function validatePattern(pattern: string): string | undefined {
  if (pattern.length === 0) return 'empty pattern';
  if (pattern.length > MAX_PATTERN) return `pattern longer than ${MAX_PATTERN} characters`;
  if (/\s/.test(pattern)) return 'pattern contains whitespace';
  if (/\*\*\*/.test(pattern)) return 'pattern has "***"';
  return undefined;
}

/** An image pattern is "*" (every image) or "<host pattern>/<path pattern>". Without a "/",
 *  a wildcard would run over the whole reference, host and path alike, so "*.example.com"
 *  would admit "evil.com/x.example.com": such patterns are refused at load. */
export function validateImagePattern(pattern: string): string | undefined {
  const why = validatePattern(pattern);
  if (why) return why;
  if (pattern !== '*' && !pattern.includes('/')) {
    return `image pattern "${pattern}" needs a registry host and a path, such as "*.example.com/*" or "docker.io/library/nginx:*" (or is "*")`;
  }
  // References are matched with an ECR registry's canonical host (image/reference.ts
  // policyNameOf): a pattern naming a FIPS or dual-stack endpoint would match nothing.
  const host = pattern.slice(0, pattern.indexOf('/')).toLowerCase();
  const ecr = /[*?]/.test(host) ? undefined : parseEcrHost(host);
  if (ecr && host !== ecrHost(ecr.accountId, ecr.region)) {
    return `image pattern "${pattern}" names ECR registry host ${host}: write its canonical host ${ecrHost(ecr.accountId, ecr.region)} (references through the FIPS and dual-stack endpoints are matched as the canonical host)`;
  }
  return undefined;
}

function toRegExp(pattern: string): RegExp {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

export function globMatcher(pattern: string): Matcher {
  if (pattern === '*') return () => true;
  if (!/[*?]/.test(pattern)) return (value) => value === pattern;
  const re = toRegExp(pattern);
  return (value) => re.test(value);
}

/** Matches a normalized image reference (host/path[:tag][@digest]). */
export function imageMatcher(pattern: string): Matcher {
  const slash = pattern.indexOf('/');
  if (pattern === '*') return () => true;
  // Refused at load (validateImagePattern); should one get here, it matches nothing.
  if (slash === -1) return () => false;
  const host = globMatcher(pattern.slice(0, slash).toLowerCase());
  const rest = globMatcher(pattern.slice(slash + 1));
  return (value) => {
    const i = value.indexOf('/');
    return i !== -1 && host(value.slice(0, i)) && rest(value.slice(i + 1));
  };
}

export function anyOf(matchers: readonly Matcher[]): Matcher {
  if (matchers.length === 0) return () => false;
  return (value) => matchers.some((m) => m(value));
}
