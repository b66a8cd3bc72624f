// The JSON byte scanner: counts outside strings only, escapes honoured, and the same counts
// whether the text comes as one buffer or split at every possible point (string and escape
// state carried across chunks), with its early stop on depth and value count.
import t from 'tap';
import { JsonScanner, type JsonScanLimits } from '../../src/support/json-scan.ts';

const enc = new TextEncoder();

interface Counts {
  depth: number;
  maxDepth: number;
  values: number;
  separators: number;
  stopped: string | undefined;
}

function counts(scan: JsonScanner): Counts {
  return { depth: scan.depth, maxDepth: scan.maxDepth, values: scan.values, separators: scan.separators, stopped: scan.stopped };
}

function scanWhole(text: string, limits?: JsonScanLimits): Counts {
  const scan = new JsonScanner(limits);
  scan.feed(enc.encode(text));
  return counts(scan);
}

/** Every split of `text` into two chunks, and one chunk per byte. */
function splits(text: string): Uint8Array[][] {
  const bytes = enc.encode(text);
  const out: Uint8Array[][] = [];
  for (let at = 0; at <= bytes.length; at++) out.push([bytes.subarray(0, at), bytes.subarray(at)]);
  out.push(Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1)));
  return out;
}

// Brackets, commas, colons and escaped quotes and backslashes inside strings, and a non-ASCII
// string (its UTF-8 bytes are all >= 0x80).
const TRICKY = String.raw`{"a\"[{,:":[1,{"b\\":"]}\\\"x"},"é{ü[",[]],"c":{"d":"\\"}}`;

t.test('counts structure outside strings only', async (t) => {
  t.same(scanWhole(TRICKY), { depth: 0, maxDepth: 3, values: 9, separators: 13, stopped: undefined });
  t.same(scanWhole('[[[["[[[["]]]]'), { depth: 0, maxDepth: 4, values: 4, separators: 4, stopped: undefined });
  t.same(scanWhole('{"k":1,"l":[2,3]}'), { depth: 0, maxDepth: 2, values: 4, separators: 6, stopped: undefined });
  t.same(scanWhole('"\\"{[,:"'), { depth: 0, maxDepth: 0, values: 0, separators: 0, stopped: undefined });
  // An unclosed document leaves its depth open.
  t.same(scanWhole('{"a":[['), { depth: 3, maxDepth: 3, values: 3, separators: 4, stopped: undefined });
});

t.test('the same counts however the text is split into chunks', async (t) => {
  for (const text of [TRICKY, '["\\\\",["\\"]"]]', '{"x":"\\u0022[","y":[{}]}']) {
    const whole = scanWhole(text);
    for (const chunks of splits(text)) {
      const scan = new JsonScanner();
      for (const chunk of chunks) t.equal(scan.feed(chunk), true);
      t.same(counts(scan), whole, `${text} in ${chunks.length} chunks`);
    }
  }
});

t.test('an escape split from the quote it escapes keeps the string open', async (t) => {
  const scan = new JsonScanner();
  scan.feed(enc.encode('["a\\'));
  scan.feed(enc.encode('"],['));
  t.same(counts(scan), { depth: 1, maxDepth: 1, values: 1, separators: 1, stopped: undefined });
  scan.feed(enc.encode('"'));
  t.same(counts(scan), { depth: 1, maxDepth: 1, values: 1, separators: 1, stopped: undefined });
  scan.feed(enc.encode(',[]]'));
  t.same(counts(scan), { depth: 0, maxDepth: 2, values: 3, separators: 3, stopped: undefined });
});

t.test('stops at the byte that breaks a bound, and stays stopped', async (t) => {
  // Depth: the 4th bracket breaks maxDepth 3 and is not counted as a value.
  const deep = new JsonScanner({ maxDepth: 3 });
  t.equal(deep.feed(enc.encode('[[[')), true);
  t.equal(deep.feed(enc.encode('[1,2,3]]]]')), false);
  t.same(counts(deep), { depth: 4, maxDepth: 4, values: 3, separators: 3, stopped: 'depth' });
  t.equal(deep.feed(enc.encode('[')), false);
  t.equal(deep.values, 3, 'nothing is scanned after the stop');

  // Values: containers plus commas; exactly maxValues passes, one more stops.
  t.same(scanWhole('[1,2,3]', { maxValues: 3 }).stopped, undefined);
  t.same(scanWhole('[1,2,3,4]', { maxValues: 3 }), { depth: 1, maxDepth: 1, values: 4, separators: 4, stopped: 'values' });
  t.same(scanWhole('[[],[]]', { maxValues: 3 }).stopped, 'values');
  // Colons are separators but not values.
  t.same(scanWhole('{"a":1,"b":2}', { maxValues: 2 }), { depth: 0, maxDepth: 1, values: 2, separators: 4, stopped: undefined });
  // Depth is checked before the value count at the same bracket.
  t.same(scanWhole('[[', { maxDepth: 1, maxValues: 1 }).stopped, 'depth');
  // Brackets in strings break nothing.
  t.same(scanWhole('["[[[[,,,,"]', { maxDepth: 1, maxValues: 1 }).stopped, undefined);
});
