// Certificate identities (issuer, subject) as a policy names them: a string compared exactly,
// or a regular expression that must be anchored at both ends (^...$), so that a pattern written
// for one repository's workflow never matches a longer name that merely contains it.
import type { Matcher } from './types.ts';

const MAX_PATTERN = 1024;

export function exactMatcher(text: string): Matcher {
  return { text, test: (value) => value === text };
}

/** Throws an Error saying what is wrong with the pattern. */
export function regexMatcher(pattern: string): Matcher {
  if (pattern.length > MAX_PATTERN) throw new Error(`a pattern of ${pattern.length} characters is too long (at most ${MAX_PATTERN})`);
  if (!pattern.startsWith('^') || !pattern.endsWith('$') || pattern.endsWith('\\$'))
    throw new Error(`"${pattern.slice(0, 100)}" must be anchored at both ends (^...$)`);
  let re: RegExp;
  try {
    // 'u' flag: the strict Unicode syntax, so a stray escape is an error, not a literal; close
    // to the Go (RE2) syntax cosign's --certificate-identity-regexp takes.
    re = new RegExp(pattern, 'u');
  } catch (err) {
    throw new Error(`"${pattern.slice(0, 100)}" is not a regular expression (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  return { text: `/${pattern}/`, test: (value) => re.test(value) };
}
