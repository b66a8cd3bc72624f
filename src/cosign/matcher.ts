// Certificate identities (issuer, subject) as a policy names them: a string compared exactly,
// or a regular expression that must be anchored at both ends (^...$), so that a pattern written
// for one repository's workflow never matches a longer name that merely contains it.
import type { Matcher } from './types.ts';

const MAX_PATTERN = 1024;
/** Longest certificate issuer or subject tested against a pattern. Identities are URLs and
 *  e-mail addresses well under this; the value comes from the signer's certificate, so a cap
 *  keeps a backtracking-prone pattern from running long on a subject built for it. */
const MAX_VALUE = 1024;

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
    // Compiled as ^(?:inner)$, not as written: the text check above sees the anchors, but a
    // top-level alternation would leave each half anchored at one end only ("^a|b$" matches
    // "a" followed by anything), so the whole pattern is grouped under both anchors.
    re = new RegExp(`^(?:${pattern.slice(1, -1)})$`, 'u');
  } catch (err) {
    throw new Error(`"${pattern.slice(0, 100)}" is not a regular expression (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  return { text: `/${pattern}/`, test: (value) => value.length <= MAX_VALUE && re.test(value) };
}
