// Keeps chart/ecr-admission/values.schema.json's `policy` property equal to the server's own
// policy schema (src/policy/schema.ts), so `helm install` rejects exactly the policy files the
// server would, and the two can never drift apart silently.
//
//   node scripts/tools/chart-values-schema.ts --check   exit 1 if the file is out of date
//   node scripts/tools/chart-values-schema.ts --write   rewrite the policy property in place
//
// The rest of values.schema.json is written by hand.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PolicySchema } from '../../src/policy/schema.ts';

export const VALUES_SCHEMA_PATH = fileURLToPath(new URL('../../chart/ecr-admission/values.schema.json', import.meta.url));

type JsonSchema = { [key: string]: unknown };

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// The server fills in every property that has a default, so a values file may leave those out:
// they are not required in the chart's schema even where TypeBox lists them as required.
function relaxDefaulted(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(relaxDefaulted);
  if (!isObject(schema)) return schema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) out[key] = relaxDefaulted(value);
  const properties = out['properties'];
  if (Array.isArray(out['required']) && isObject(properties)) {
    const required = (out['required'] as string[]).filter((name) => {
      const property = properties[name];
      return !(isObject(property) && 'default' in property);
    });
    if (required.length > 0) out['required'] = required;
    else delete out['required'];
  }
  return out;
}

/** The `policy` property of the chart's values schema, derived from the server's PolicySchema. */
export function policyValuesSchema(): JsonSchema {
  // JSON round trip: TypeBox keeps its own bookkeeping under Symbol keys, which JSON drops.
  const plain = JSON.parse(JSON.stringify(PolicySchema)) as JsonSchema;
  return {
    ...(relaxDefaulted(plain) as JsonSchema),
    description: 'The policy file /etc/ecr-admission/policy.yaml (generated from src/policy/schema.ts; do not edit by hand).',
  };
}

/** values.schema.json text with its policy property replaced by the generated one. */
export function renderValuesSchema(current: string): string {
  const schema = JSON.parse(current) as JsonSchema;
  const properties = schema['properties'];
  if (!isObject(properties)) throw new Error(`${VALUES_SCHEMA_PATH}: no top-level properties`);
  properties['policy'] = policyValuesSchema();
  return `${JSON.stringify(schema, null, 2)}\n`;
}

function main(argv: readonly string[]): number {
  const mode = argv[0];
  const current = readFileSync(VALUES_SCHEMA_PATH, 'utf8');
  const wanted = renderValuesSchema(current);
  if (mode === '--write') {
    if (wanted !== current) writeFileSync(VALUES_SCHEMA_PATH, wanted);
    return 0;
  }
  if (mode === '--check') {
    if (wanted === current) return 0;
    console.error(`${VALUES_SCHEMA_PATH} is out of date with src/policy/schema.ts: run node scripts/tools/chart-values-schema.ts --write`);
    return 1;
  }
  console.error('usage: chart-values-schema.ts --check | --write');
  return 2;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
