// Referrers index parsing: what registries really answer for "no referrers".
import t from 'tap';
import { parseReferrersIndex } from '../../src/facts/oci/referrers.ts';

const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const index = (manifests: unknown) => bytes({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests });

t.same(parseReferrersIndex(index([]), 'GET referrers', 'x'), [], 'an empty list');
t.same(parseReferrersIndex(index(null), 'GET referrers', 'x'), [], 'null, as olareg (Go) serialises an empty list, is no referrers');
t.same(parseReferrersIndex(bytes({ schemaVersion: 2 }), 'GET referrers', 'x'), [], 'no manifests key');
t.throws(() => parseReferrersIndex(index('nope'), 'GET referrers', 'x'), { code: 'AWS_ERROR' }, 'a string is not an index');
t.throws(() => parseReferrersIndex(bytes([1, 2]), 'GET referrers', 'x'), 'an array body is not an index');
