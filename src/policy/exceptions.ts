// checks.vulnerabilities.exceptions compiled once per load: image patterns into matchers, the
// expiry date into the instant it stops waiving. semantics.ts has already refused a file whose
// dates are not calendar dates or whose patterns do not compile.
import type { VulnerabilitiesCheckConfig } from './schema.ts';
import { imageMatcher, type Matcher } from './glob.ts';

export const DAY_MS = 86_400_000;

export interface VulnerabilityException {
  /** The finding id, upper case (Inspector's ids are compared case-insensitively). */
  readonly id: string;
  readonly images: readonly string[];
  readonly matches: Matcher;
  /** YYYY-MM-DD as written, for messages. */
  readonly expires: string;
  /** First instant it no longer waives: the day after `expires`, 00:00 UTC. */
  readonly endsAt: number;
}

export function compileExceptions(config: VulnerabilitiesCheckConfig | undefined): readonly VulnerabilityException[] {
  return Object.freeze(
    (config?.exceptions ?? []).map((e): VulnerabilityException => {
      const matchers = e.images.map(imageMatcher);
      return Object.freeze({
        id: e.id.toUpperCase(),
        images: e.images,
        matches: (ref: string) => matchers.some((m) => m(ref)),
        expires: e.expires,
        endsAt: Date.parse(`${e.expires}T00:00:00Z`) + DAY_MS,
      });
    }),
  );
}
