// Wildcard patterns for namespaces and images. `*` matches any run of characters, `?` one.
// For images, a pattern with a "/" is matched in two parts, registry host and the rest, so
// "*.example.com/*" can never match "evil.com/x.example.com/y": the host is never decided by a
// wildcard that spilled over from the path.

import { policyHost } from '../image/reference.ts';

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
  // References are matched with one host per registry (image/reference.ts policyHost): a
  // pattern naming another spelling of a registry would match nothing.
  const host = pattern.slice(0, pattern.indexOf('/')).toLowerCase();
  if (/[*?]/.test(host)) {
    if (OTHER_SPELLINGS.test(host)) {
      return `image pattern "${pattern}" names ECR FIPS or dual-stack endpoints, or port 443: references are matched with the registry's canonical host (ACCOUNT.dkr.ecr.REGION.amazonaws.com), so write that`;
    }
  } else if (policyHost(host) !== host) {
    return `image pattern "${pattern}" names registry host ${host}: write ${policyHost(host)}, the host references through it are matched as`;
  }
  return undefined;
}

/** Host patterns that could only match spellings policyHost rewrites. */
const OTHER_SPELLINGS = /dkr-ecr|ecr-fips|:443$/;

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

/** Matches a reference's policy name (host/path[:tag][@digest], image/reference.ts policyNameOf). */
export function imageMatcher(pattern: string): Matcher {
  const slash = pattern.indexOf('/');
  if (pattern === '*') return () => true;
  // Refused at load (validateImagePattern); should one get here, it matches nothing.
  if (slash === -1) return () => false;
  const host = globMatcher(pattern.slice(0, slash).toLowerCase());
  const rest = globMatcher(withPulledTag(pattern.slice(slash + 1)));
  return (value) => {
    const i = value.indexOf('/');
    return i !== -1 && host(value.slice(0, i)) && rest(value.slice(i + 1));
  };
}

/** A pattern naming a repository exactly, with neither tag, digest nor wildcard, names what a
 *  reference without a tag pulls: its `latest`, the form that reference is matched as. */
function withPulledTag(path: string): string {
  if (/[*?@]/.test(path) || (path.split('/').pop() ?? '').includes(':')) return path;
  return `${path}:latest`;
}

export function anyOf(matchers: readonly Matcher[]): Matcher {
  if (matchers.length === 0) return () => false;
  return (value) => matchers.some((m) => m(value));
}
