// How one shared fact is written in Valkey/Redis, and read back. A record is one string:
//
//   <mac>.<json>     json = { k: key, f: fact, v: value, g: { group: version }, x: expiresAt }
//
// - k and f bind the record to the key it sits under: a record copied under another key (a
//   clean report moved onto a vulnerable digest) is a miss.
// - g holds the version each invalidation group had when the value was loaded: an event bumps
//   the version, so a value loaded before the event (even one stored after it) is a miss.
// - mac is HMAC-SHA256 of the json under the fleet's key (cache.shared.hmacKeyEnv), or "-"
//   without one: with a key, only a process that holds it can write a fact the others accept;
//   without one, the shapes of shapes.ts are what stands between a writer and a decision.
// Redis keys hash the fact's key: they stay short and free of what an image name contains.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SHARED_FACTS } from './shapes.ts';

/** A record larger than this is not read (a vulnerability report with 10,000 findings is ~3 MB
 *  at most; anything larger was not written by us). */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

export interface SharedRecord {
  readonly value: unknown;
  readonly groups: Readonly<Record<string, number>>;
  readonly expiresAt: number;
}

export class RecordCodec {
  readonly #prefix: string;
  readonly #hmacKey: Buffer | undefined;

  constructor(prefix: string, hmacKey: Buffer | undefined) {
    this.#prefix = prefix;
    this.#hmacKey = hmacKey;
  }

  #hash(fact: string, key: string): string {
    return createHash('sha256').update(fact).update('\u0000').update(key).digest('base64url');
  }

  factKey(fact: string, key: string): string {
    return `${this.#prefix}f:${this.#hash(fact, key)}`;
  }

  lockKey(fact: string, key: string): string {
    return `${this.#prefix}l:${this.#hash(fact, key)}`;
  }

  versionKey(group: string): string {
    return `${this.#prefix}v:${createHash('sha256').update(group).digest('base64url')}`;
  }

  /** Channel of "this fact is there now (or its loader gave up)": wakes the processes waiting. */
  get readyChannel(): string {
    return `${this.#prefix}ready`;
  }

  /** Channel of "these groups changed": every process drops its local copies. */
  get dropChannel(): string {
    return `${this.#prefix}drop`;
  }

  #mac(json: string): string {
    return this.#hmacKey ? createHmac('sha256', this.#hmacKey).update(json).digest('base64url') : '-';
  }

  encode(fact: string, key: string, value: unknown, groups: Record<string, number>, expiresAt: number): string {
    const json = JSON.stringify({ k: key, f: fact, v: value, g: groups, x: expiresAt });
    return `${this.#mac(json)}.${json}`;
  }

  /** The record under (fact, key), or why it is not one: every failure is a miss. */
  decode(fact: string, key: string, raw: string): SharedRecord | { invalid: string } {
    if (raw.length > MAX_RECORD_BYTES) return { invalid: 'too large' };
    const dot = raw.indexOf('.');
    if (dot < 0) return { invalid: 'no MAC' };
    const mac = raw.slice(0, dot);
    const json = raw.slice(dot + 1);
    const expected = this.#mac(json);
    if (mac.length !== expected.length || !timingSafeEqual(Buffer.from(mac), Buffer.from(expected))) return { invalid: 'MAC mismatch' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      return { invalid: 'not JSON' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { invalid: 'not an object' };
    const r = parsed as { k?: unknown; f?: unknown; v?: unknown; g?: unknown; x?: unknown };
    if (r.k !== key || r.f !== fact) return { invalid: 'record of another key' };
    if (!Number.isSafeInteger(r.x)) return { invalid: 'no expiry' };
    if (typeof r.g !== 'object' || r.g === null || Array.isArray(r.g)) return { invalid: 'no group versions' };
    const groups = r.g as Record<string, unknown>;
    if (Object.keys(groups).length > 1024 || !Object.values(groups).every((v) => Number.isSafeInteger(v))) return { invalid: 'bad group versions' };
    const shape = SHARED_FACTS.get(fact);
    if (!shape?.valid(r.v, key)) return { invalid: 'value of the wrong shape' };
    return { value: r.v, groups: groups as Record<string, number>, expiresAt: r.x as number };
  }
}
