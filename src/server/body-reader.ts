// The webhook's own request body reader: Fastify's content-type parsers for the two media types
// it reads (application/json, text/plain), which meter each chunk against the heap budget as it
// arrives (body-budget.ts) and refuse a body that comes too slowly, then hand the text to
// Fastify's own JSON parser, which removes `__proto__` keys and `constructor.prototype` (they can
// poison nothing once removed, and the webhook reads no key of a map the requester fills).
// Refusing them (400, as before) let a requester choose to make any review fail: a Pod carrying
// such a key in a map the API server does not validate (a CSI volume's volumeAttributes,
// flexVolume options) was admitted unchecked under failurePolicy Ignore (attacker review).
//
// Why not a preParsing hook with a metering stream (issue 18): a Transform piped between the
// request and Fastify's reader, two timers and four listeners per request cost about 100 µs of
// CPU per admission over TLS, more than the whole allow-all server (bench/README.md). Here the
// chunks are charged in the one 'data' listener that collects them, and the pace of every body
// in flight is watched by one shared interval instead of two timers per request.
//
// The charge is held as long as the parsed review can be: an onRequest hook reserves it and ties
// it to the response's 'close' (Node emits it once, when the answer is sent or the connection is
// gone), and a route handler holding the body (withParsedBody) keeps it past that until the
// handler settles, then returns it without waiting for the answer to drain.
import { errorCodes, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { BodyBudgetError, bodyDeadlineMs, FIRST_BODY_BYTE_MS, type BodyBudget, type BodyMeter } from './body-budget.ts';
import { ErrorCodes } from '../support/errors.ts';

/** How often the bodies in flight are checked against their pace deadlines: a slow body is
 *  refused at most this long after its deadline. */
export const PACE_SWEEP_MS = 100;

type Done = (err: Error | null, body?: unknown) => void;

declare module 'fastify' {
  interface FastifyRequest {
    /** The request body's account with the heap budget, while it holds one. */
    bodyReservation: BodyReservation | null;
  }
}

/** The request's Content-Length when it is a plain decimal number (Node's parser allows no other). */
function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header !== undefined && /^\d{1,16}$/.test(header) ? Number(header) : undefined;
}

/** One interval for every body still arriving, running only while there are some. */
class PaceWatch {
  readonly #bodies = new Set<ArrivingBody>();
  #timer: NodeJS.Timeout | undefined;

  add(body: ArrivingBody): void {
    this.#bodies.add(body);
    this.#timer ??= setInterval(() => this.#sweep(), PACE_SWEEP_MS).unref();
  }

  delete(body: ArrivingBody): void {
    this.#bodies.delete(body);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    for (const body of this.#bodies) body.checkPace(now);
    if (this.#bodies.size === 0) this.close();
  }
}

interface ArrivingBody {
  checkPace(now: number): void;
}

/** A body's charge from its headers on, watched for pace until it is read in full. */
class BodyReservation implements ArrivingBody {
  readonly started = performance.now();
  /** The reader's pace check, once a content-type parser reads the body. */
  reading: ArrivingBody | undefined;
  /** Returned unread: nothing took the body within FIRST_BODY_BYTE_MS. */
  expired = false;
  /** A route handler holds the parsed body (withParsedBody): its charge outlives the response. */
  handling = false;
  readonly meter: BodyMeter;
  readonly #watch: PaceWatch;

  constructor(meter: BodyMeter, watch: PaceWatch) {
    this.meter = meter;
    this.#watch = watch;
    watch.add(this);
  }

  checkPace(now: number): void {
    if (this.reading) return this.reading.checkPace(now);
    // Nothing reads this body (Fastify parses none for GET or HEAD, say), yet it holds a
    // reservation: returned once the first-byte deadline passes, whatever the answers queued
    // before it on its connection. A reader that starts later refuses it (408).
    if (now - this.started >= FIRST_BODY_BYTE_MS) {
      this.expired = true;
      this.end();
    }
  }

  /** Returns the charge and stops watching (idempotent). */
  end(): void {
    this.#watch.delete(this);
    this.meter.release();
  }
}

export interface BodyReaderOptions {
  readonly budget: BodyBudget;
  /** Bodies over this many bytes are refused 413 (Fastify's FST_ERR_CTP_BODY_TOO_LARGE). */
  readonly bodyLimit: number;
}

/** Replaces Fastify's body parsers with metered ones for application/json and text/plain (other
 *  media types keep Fastify's 415, unread). */
export function registerBodyReader(app: FastifyInstance, options: BodyReaderOptions): void {
  const { budget, bodyLimit } = options;
  const watch = new PaceWatch();
  const parseJson = app.getDefaultJsonParser('remove', 'remove') as (request: FastifyRequest, body: string, done: Done) => void;
  const parseText = (_request: FastifyRequest, body: string, done: Done) => done(null, body);

  app.decorateRequest('bodyReservation', null);
  app.addHook('onRequest', (request, reply, next) => {
    // The response's 'close' returns the charge, unless a handler still holds the parsed body
    // (a client that drops the connection during a review does not free the review's body):
    // then withParsedBody returns it when the handler settles.
    reply.raw.once('close', () => {
      const reservation = request.bodyReservation;
      if (reservation && !reservation.handling) reservation.end();
    });
    // The base cost (2 x Content-Length) is reserved as the request arrives, before a byte of
    // its body is read: a refusal here (413 alone over the budget, 503 beside what others hold)
    // is answered through the error handler and Node reads and drops the unread body, so the
    // API server's persistent connection stays usable. (A refusal from the content-type parser
    // would be answered with `connection: close` while the client still writes: EPIPE.)
    // A Content-Length over bodyLimit is refused 413 by the reader, unreserved.
    const declared = declaredLength(request);
    if (declared !== undefined && declared <= bodyLimit) {
      try {
        request.bodyReservation = new BodyReservation(budget.meter(declared), watch);
      } catch (err) {
        return next(err as Error);
      }
    }
    next();
  });
  app.addHook('onClose', (_instance, done) => {
    watch.close();
    done();
  });

  const reader = (parse: typeof parseJson) => (request: FastifyRequest, payload: IncomingMessage, done: Done) => {
    const declared = declaredLength(request);
    if (declared !== undefined && declared > bodyLimit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    let reservation = request.bodyReservation;
    if (!reservation) {
      // No Content-Length (chunked): nothing was reserved, the body is charged as it streams.
      reservation = new BodyReservation(budget.meter(), watch);
      request.bodyReservation = reservation;
    } else if (reservation.expired) {
      return done(new BodyBudgetError(408, ErrorCodes.BODY_TOO_SLOW, `request body not read within ${FIRST_BODY_BYTE_MS} ms of the headers`));
    }
    readBody(payload, reservation, declared, (err, text) => (err ? done(err) : parse(request, text!, done)));
  };

  // A body arrives in chunks, each charged before it is kept; it must arrive at the pace
  // body-budget.ts asks (first byte within FIRST_BODY_BYTE_MS, the whole within
  // bodyDeadlineMs(its length)), or it is refused 408 and its charge returned.
  function readBody(
    payload: IncomingMessage,
    reservation: BodyReservation,
    declared: number | undefined,
    done: (err: Error | null, text?: string) => void,
  ): void {
    const { meter, started } = reservation;
    const deadline = bodyDeadlineMs(declared ?? bodyLimit);
    const chunks: Buffer[] = [];
    let finished = false;
    const finish = (err: Error | null, text?: string) => {
      if (finished) return;
      finished = true;
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      reservation.reading = undefined;
      // A refused body's charge is returned now; the rest of it is not read (Fastify answers
      // with `connection: close`). A body read in full keeps its charge, unwatched, until the
      // answer is sent.
      if (err) reservation.end();
      else watch.delete(reservation);
      done(err, text);
    };
    const arriving: ArrivingBody = {
      checkPace(now) {
        const elapsed = now - started;
        if (meter.received() === 0 && elapsed >= FIRST_BODY_BYTE_MS) {
          finish(new BodyBudgetError(408, ErrorCodes.BODY_TOO_SLOW, `no request body within ${FIRST_BODY_BYTE_MS} ms of the headers`));
        } else if (elapsed >= deadline) {
          finish(new BodyBudgetError(408, ErrorCodes.BODY_TOO_SLOW, `request body not complete within ${deadline} ms (${meter.received()} bytes received)`));
        }
      },
    };
    function onData(chunk: Buffer) {
      if (meter.received() + chunk.length > bodyLimit) return finish(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      const refused = meter.feed(chunk);
      if (refused) return finish(refused);
      chunks.push(chunk);
    }
    function onEnd() {
      const received = meter.received();
      if (declared !== undefined && received !== declared) return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      // Decoded once, whole: a multi-byte character split across chunks stays intact.
      finish(null, chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, received).toString('utf8'));
    }
    function onError(err: Error & { statusCode?: number }) {
      // The connection failed under the body (aborted): answered 400 if anything still listens.
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      finish(err);
    }
    reservation.reading = arriving;
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.resume();
  }

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', reader(parseJson));
  app.addContentTypeParser('text/plain', reader(parseText));
}

/** Runs a route's handler on its parsed body. The body's charge is returned when the handler
 *  settles, and the body dropped from the request then: not when the response drains (a client
 *  that never reads its answers would otherwise keep bodies charged for as long as it keeps the
 *  connection), nor when the connection closes while the handler still holds the body (its heap
 *  would be in use, uncharged). Without a handler (a refused or unparsable body) the response's
 *  'close' or the reader returns it. `handle` sends its answer on `reply` and returns nothing:
 *  a Fastify reply is a thenable that settles when the response is sent, so awaiting one here
 *  would hold the charge until the answer drains. */
export async function withParsedBody(request: FastifyRequest, reply: FastifyReply, handle: () => Promise<void>): Promise<FastifyReply> {
  const reservation = request.bodyReservation;
  if (reservation) reservation.handling = true;
  try {
    await handle();
  } finally {
    if (reservation) {
      reservation.handling = false;
      request.body = undefined;
      reservation.end();
    }
  }
  return reply;
}
