// What one admission's log line holds: enough to answer "why was this denied?" without the
// object itself (which can carry secrets in env values) and without credentials.
import { pino, type Logger } from 'pino';
import type { AdmissionRequest } from '../admission/codec.ts';
import type { ReviewOutcome } from '../admission/pipeline.ts';
import { siteField } from '../decision/image-site.ts';

/** Fields whose values are JSON text already, written after the others, in their order. */
export type JsonTextFields = Readonly<Record<string, string>>;

/** One admission's line: its fields, then its images as JSON text. */
export interface AdmissionLogLine {
  readonly fields: Record<string, unknown>;
  readonly json: JsonTextFields;
}

/** The images part of each outcome's line, serialised once per images array: a remembered
 *  decision (admission/decision-memo.ts) hands every admission it answers the same array, so
 *  the warm path does not map and serialise the same verdicts again each time (issue 18).
 *  Weak: an array no decision holds any more takes its text with it. */
const imagesText = new WeakMap<ReviewOutcome['images'], string>();

function imagesJson(images: ReviewOutcome['images']): string {
  let text = imagesText.get(images);
  if (text === undefined) {
    text = JSON.stringify(
      images.map((i) => ({
        ...siteField(i.container),
        image: i.container.image,
        digest: i.digest,
        policy: i.policy.name,
        results: Object.fromEntries(i.results.map((r) => [r.check, r.reason !== undefined && r.status !== 'pass' ? `${r.status}: ${r.reason}` : r.status])),
      })),
    );
    imagesText.set(images, text);
  }
  return text;
}

export function admissionLogLine(req: AdmissionRequest, outcome: ReviewOutcome, seconds: number): AdmissionLogLine {
  return {
    fields: {
      uid: req.uid,
      kind: req.kind.kind,
      operation: req.operation,
      namespace: req.namespace,
      name: req.name,
      dryRun: req.dryRun === true,
      user: req.userInfo?.username,
      decision: outcome.result,
      ...(outcome.why !== undefined && { why: outcome.why }),
      durationMs: Math.round(seconds * 10_000) / 10,
    },
    json: { images: imagesJson(outcome.images) },
  };
}

/** Writes `logger.info(fields, message)`'s line: the same bytes, built with one native
 *  JSON.stringify instead of pino's per-key serialisation, which with its garbage cost the warm
 *  path about 20 µs per admission in the server (issue 18, bench/README.md). It is pino's
 *  format with pino's defaults (numeric level, epoch-ms "time", the logger's bindings, "msg"),
 *  which `serve` uses; it applies none of the options `serve` does not set (redact, formatters,
 *  mixin, timestamp, messageKey). A logger whose stream or bindings it cannot see gets
 *  logger.info. */
export function infoLineWriter(logger: Logger, message: string): (fields: Record<string, unknown>, json?: JsonTextFields) => void {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as { write?: (line: string) => unknown } | undefined;
  const bindings = internals[pino.symbols.chindingsSym];
  const fallback = (fields: Record<string, unknown>, json?: JsonTextFields) => {
    if (!logger.isLevelEnabled('info')) return;
    const parsed = json ? Object.fromEntries(Object.entries(json).map(([k, v]) => [k, JSON.parse(v) as unknown])) : {};
    logger.info({ ...fields, ...parsed }, message);
  };
  if (typeof stream?.write !== 'function' || typeof bindings !== 'string' || logger.levels.values.info !== 30) return fallback;
  const tail = `,"msg":${JSON.stringify(message)}}\n`;
  return (fields, json) => {
    if (!logger.isLevelEnabled('info')) return;
    let body = JSON.stringify(fields).slice(1, -1);
    // The keys of `json` are not among those of `fields` (a key twice would be ambiguous).
    if (json) for (const key in json) body += `${body === '' ? '' : ','}${JSON.stringify(key)}:${json[key]}`;
    // `{}` has no key to follow the bindings with a comma.
    stream.write!(`{"level":30,"time":${Date.now()}${bindings}${body === '' ? '' : `,${body}`}${tail}`);
  };
}
