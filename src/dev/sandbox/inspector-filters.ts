// Inspector2 string filters: each criterion is a list of {comparison, value}. Positive
// comparisons (EQUALS, PREFIX) in one list are OR'ed; NOT_EQUALS entries must all hold;
// criteria are AND'ed. A criterion the sandbox does not model is refused, never ignored,
// so a test cannot pass on a filter that silently did nothing.
import { Reader } from './validate.ts';
import { ApiError } from './wire.ts';

export interface StringFilter {
  comparison: 'EQUALS' | 'PREFIX' | 'NOT_EQUALS';
  value: string;
}

export const inspectorValidation = (message: string): ApiError =>
  new ApiError(400, 'ValidationException', message, { fields: { reason: 'FIELD_VALIDATION_FAILED' } });

export function readStringFilters(r: Reader, field: string, comparisons: readonly string[]): StringFilter[] | undefined {
  const list = r.optionalObjectList(field, { min: 1, max: 10 });
  if (!list) return undefined;
  return list.map((f) => {
    const comparison = f.optionalEnum('comparison', comparisons);
    if (!comparison) throw inspectorValidation(`${field}: comparison is required`);
    const value = f.string('value', { max: 1024 });
    return { comparison: comparison as StringFilter['comparison'], value };
  });
}

/** Does any of `values` (a field may hold several, e.g. image tags) pass the filter list? */
export function matchesFilters(filters: StringFilter[] | undefined, values: string[]): boolean {
  if (!filters) return true;
  const positive = filters.filter((f) => f.comparison !== 'NOT_EQUALS');
  const negative = filters.filter((f) => f.comparison === 'NOT_EQUALS');
  const posOk = positive.length === 0 || positive.some((f) => values.some((v) => (f.comparison === 'EQUALS' ? v === f.value : v.startsWith(f.value))));
  const negOk = negative.every((f) => values.every((v) => v !== f.value));
  return posOk && negOk;
}

export type Accessors<T> = Record<string, (item: T) => string[]>;

/** Reads the criteria object and returns a predicate; unknown criteria are refused. */
export function compileCriteria<T>(criteria: Reader | undefined, accessors: Accessors<T>, comparisons: readonly string[], what: string): (item: T) => boolean {
  if (!criteria) return () => true;
  const compiled: Array<{ get: (item: T) => string[]; filters: StringFilter[] }> = [];
  for (const key of criteria.keys()) {
    const get = accessors[key];
    if (!get) {
      throw inspectorValidation(`${what}.${key} is not supported by the sandbox (supported: ${Object.keys(accessors).join(', ')})`);
    }
    const filters = readStringFilters(criteria, key, comparisons);
    if (filters) compiled.push({ get, filters });
  }
  return (item) => compiled.every((c) => matchesFilters(c.filters, c.get(item)));
}
