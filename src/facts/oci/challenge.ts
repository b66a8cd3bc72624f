// Parses WWW-Authenticate (RFC 9110 §11.6.1): one or more challenges, each a scheme and
// comma-separated auth-params whose values may be quoted strings containing commas
// (scope="repository:a:pull,push").

export interface Challenge {
  /** Lower-cased: 'basic', 'bearer'. */
  readonly scheme: string;
  /** Parameter names lower-cased. */
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const WHITESPACE = /[ \t]*/y;

export function parseChallenges(header: string | null): Challenge[] {
  if (!header) return [];
  const out: Array<{ scheme: string; params: Record<string, string> }> = [];
  let pos = 0;
  const skip = (re: RegExp): string => {
    re.lastIndex = pos;
    const m = re.exec(header);
    if (!m) return '';
    pos = re.lastIndex;
    return m[0];
  };
  const skipSeparators = () => {
    while (pos < header.length && (header[pos] === ',' || header[pos] === ' ' || header[pos] === '\t')) pos += 1;
  };
  const quoted = (): string => {
    let value = '';
    pos += 1; // opening quote
    while (pos < header.length && header[pos] !== '"') {
      if (header[pos] === '\\' && pos + 1 < header.length) pos += 1;
      value += header[pos];
      pos += 1;
    }
    pos += 1; // closing quote
    return value;
  };

  skipSeparators();
  while (pos < header.length) {
    const scheme = skip(TOKEN);
    if (!scheme) break; // not a challenge: stop rather than guess
    const challenge = { scheme: scheme.toLowerCase(), params: {} as Record<string, string> };
    out.push(challenge);
    skip(WHITESPACE);
    // auth-params until a token that is not followed by '=' (the next challenge's scheme)
    for (;;) {
      skipSeparators();
      const start = pos;
      const name = skip(TOKEN);
      if (!name) break;
      skip(WHITESPACE);
      if (header[pos] !== '=') {
        pos = start; // "Bearer" after "Basic realm=x," begins the next challenge
        break;
      }
      pos += 1;
      skip(WHITESPACE);
      const value = header[pos] === '"' ? quoted() : skip(TOKEN);
      challenge.params[name.toLowerCase()] = value;
    }
    skipSeparators();
  }
  return out;
}
