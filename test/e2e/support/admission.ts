// What a client sees of one write through the API server: admitted or not, the HTTP status and
// message of a refusal (the Status the API server returns, which carries the webhook's
// message), and the warnings (HTTP `Warning: 299 - "..."` headers, which webhooks' warnings
// become). The generated client does not surface response headers of a success, so a
// response middleware collects them.
import { ApiException, Observable, type ObservableMiddleware, type RequestContext, type ResponseContext } from '@kubernetes/client-node';

export interface Outcome {
  readonly allowed: boolean;
  /** HTTP status of a refusal (403 for a webhook denial, 500 for a failed webhook call). */
  readonly code?: number;
  /** The refusal's Status message. */
  readonly message?: string;
  readonly warnings: string[];
  /** Wall time of the call in ms. */
  readonly ms: number;
}

/** The per-call options of a generated client method that collect Warning headers. */
export interface CallOptions {
  middleware: ObservableMiddleware[];
  middlewareMergeStrategy: 'append';
}

export async function attempt(call: (options: CallOptions) => Promise<unknown>): Promise<Outcome> {
  const warnings: string[] = [];
  // The object-parameter API methods take the observable form of a middleware.
  const collect: ObservableMiddleware = {
    pre: (context: RequestContext) => new Observable(Promise.resolve(context)),
    post: (context: ResponseContext) => {
      warnings.push(...parseWarningHeader(context.headers.warning ?? context.headers.Warning));
      return new Observable(Promise.resolve(context));
    },
  };
  const started = performance.now();
  try {
    await call({ middleware: [collect], middlewareMergeStrategy: 'append' });
    return { allowed: true, warnings, ms: performance.now() - started };
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const ms = performance.now() - started;
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body);
    let message = body;
    try {
      message = (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      // not a Status object: keep the raw body
    }
    return { allowed: false, code: error.code, message, warnings, ms };
  }
}

/** `299 - "text", 299 - "other"` (fetch joins repeated headers with ", ") -> the texts. */
export function parseWarningHeader(value: string | undefined): string[] {
  if (!value) return [];
  return [...value.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)].map((m) => (m[1] ?? '').replace(/\\(.)/g, '$1'));
}
