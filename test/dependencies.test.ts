// Every package src/ imports is declared in package.json, so it is installed because we asked
// for it, not because some other package happens to bring it along (a transitive dependency can
// vanish or change major version in any update of its parent).
//
// The imports are read with the TypeScript parser, not a regular expression, so multi-line
// imports, `export ... from`, dynamic `import('x')` and type-only imports are all seen as what
// they are.
//
// Rules:
// - product code (all of src/ but the development-support folders below): a runtime import
//   must name a package in `dependencies`, since the container image is pruned to those
//   (`npm prune --omit=dev` in the Dockerfile). A type-only import (`import type`, `export
//   type`, `import('x').T` in a type) is erased by Node's type stripping and by tsc, so it is
//   needed only to type-check and build: `dependencies` or `devDependencies` will do.
// - development support (src/dev/, src/dev/sandbox/, src/dev/demo/: the AWS sandbox, the demo, test
//   chains) runs only from a checkout, where devDependencies are installed: it may import from
//   `dependencies` or `devDependencies`.
import { readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative, sep } from 'node:path';
import t from 'tap';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Top-level folders of src/ that hold development support, not product code. */
const DEV_FOLDERS = new Set(['dev', 'sandbox', 'demo']);

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

interface Import {
  file: string; // relative to src/
  specifier: string;
  typeOnly: boolean;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** The bare module specifiers one source file imports or re-exports. */
function importsOf(path: string): Import[] {
  const file = relative(SRC, path);
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (node: ts.Node | undefined, typeOnly: boolean): void => {
    if (node && ts.isStringLiteralLike(node)) found.push({ file, specifier: node.text, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      const allNamedTypeOnly =
        clause !== undefined &&
        clause.name === undefined &&
        named !== undefined &&
        ts.isNamedImports(named) &&
        named.elements.length > 0 &&
        named.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, clause?.phaseModifier === ts.SyntaxKind.TypeKeyword || allNamedTypeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause;
      const allNamedTypeOnly = named !== undefined && ts.isNamedExports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, node.isTypeOnly || allNamedTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      // `import('x').T` in a type position.
      const argument = node.argument;
      if (ts.isLiteralTypeNode(argument)) add(argument.literal, true);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found.filter((i) => isBare(i.specifier));
}

function isBare(specifier: string): boolean {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('#')) return false;
  return !specifier.startsWith('node:') && !isBuiltin(specifier);
}

/** The package a bare specifier names: `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

function isDevSupport(file: string): boolean {
  return DEV_FOLDERS.has(file.split(sep)[0] ?? '');
}

/** Each import that names a package the manifest does not declare where it must be. */
function undeclared(imports: Import[], manifest: Manifest): string[] {
  const runtime = new Set(Object.keys(manifest.dependencies ?? {}));
  const any = new Set([...runtime, ...Object.keys(manifest.devDependencies ?? {})]);
  const problems: string[] = [];
  for (const i of imports) {
    const name = packageOf(i.specifier);
    if (isDevSupport(i.file) || i.typeOnly) {
      if (!any.has(name)) problems.push(`${i.file}: '${i.specifier}' is in neither dependencies nor devDependencies`);
    } else if (!runtime.has(name)) {
      const where = any.has(name) ? 'only in devDependencies' : 'not declared';
      problems.push(`${i.file}: '${i.specifier}' is ${where}; product code needs it in dependencies`);
    }
  }
  return problems;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
const files = tsFiles(SRC);
const imports = files.flatMap(importsOf);

t.test('every bare import of src/ names a package package.json declares where it must', async (t) => {
  t.same(undeclared(imports, manifest), [], 'no undeclared import');
  // The scan really saw the imports it is about: a parser that found nothing would pass above.
  t.ok(files.length > 50, `${files.length} files scanned`);
  const seen = new Set(imports.map((i) => packageOf(i.specifier)));
  for (const name of ['fastify', '@aws-sdk/client-ecr', '@peculiar/asn1-x509', '@peculiar/asn1-schema', '@smithy/types']) {
    t.ok(seen.has(name), `src/ imports ${name}`);
  }
  t.ok(
    imports.some((i) => i.specifier === '@smithy/types' && i.typeOnly),
    '@smithy/types is seen as a type-only import',
  );
  t.ok(
    imports.some((i) => i.specifier === 'fastify' && !i.typeOnly),
    'fastify is seen as a runtime import',
  );
});

t.test('the check fails when a package is not declared', async (t) => {
  const without = (section: 'dependencies' | 'devDependencies', name: string): Manifest => {
    const copy = structuredClone(manifest);
    delete copy[section]?.[name];
    return copy;
  };
  const refusesOnly = (problems: string[], pattern: RegExp): boolean => problems.length > 0 && problems.every((p) => pattern.test(p));
  t.ok(
    refusesOnly(
      undeclared(imports, without('dependencies', '@peculiar/asn1-x509')),
      /^[^:]+\.ts: '@peculiar\/asn1-x509' is not declared; product code needs it in dependencies$/,
    ),
    'a runtime import that is not declared',
  );
  t.ok(
    refusesOnly(undeclared(imports, without('dependencies', '@smithy/types')), /^[^:]+\.ts: '@smithy\/types' is in neither dependencies nor devDependencies$/),
    'a type-only import that is not declared',
  );
  // A runtime import of a devDependency is refused in product code.
  const moved = structuredClone(manifest);
  moved.devDependencies = { ...moved.devDependencies, fastify: moved.dependencies?.fastify ?? '*' };
  delete moved.dependencies?.fastify;
  const problems = undeclared(imports, moved);
  t.ok(
    refusesOnly(problems, /^[^:]+\.ts: 'fastify' is only in devDependencies; product code needs it in dependencies$/),
    'a runtime import of a devDependency',
  );
});

t.test('development support may import devDependencies, and nothing undeclared', async (t) => {
  // src/dev/sandbox/ and src/dev/demo/ import only node: builtins today, so the rule is shown on
  // imports written here.
  const at = (file: string, specifier: string): Import => ({ file: join(...file.split('/')), specifier, typeOnly: false });
  t.same(undeclared([at('sandbox/server.ts', 'tap'), at('demo/run.ts', 'fast-check'), at('dev/sandbox/x.ts', 'cbor2/lib')], manifest), []);
  t.same(undeclared([at('server/app.ts', 'tap'), at('sandbox/server.ts', 'left-pad')], manifest), [
    "server/app.ts: 'tap' is only in devDependencies; product code needs it in dependencies",
    "sandbox/server.ts: 'left-pad' is in neither dependencies nor devDependencies",
  ]);
});

t.test('import forms: each is read, with its type-only flag', async (t) => {
  const dir = t.testdir({
    'forms.ts': [
      "import a from 'pkg-default';",
      "import type { B } from 'pkg-type';",
      "import { type C, type D } from 'pkg-all-named-types';",
      "import { type E, f } from 'pkg-mixed';",
      "import {\n  g,\n  h,\n} from '@scope/multi-line/sub/path';",
      "import 'pkg-side-effect';",
      "export { i } from 'pkg-reexport';",
      "export type { J } from 'pkg-reexport-type';",
      "export * from 'pkg-star';",
      "const k = await import('pkg-dynamic');",
      "let l: import('pkg-import-type').L;",
      "import { readFileSync } from 'node:fs';",
      "import { join } from 'path';",
      "import m from './local.ts';",
      '// import n from "pkg-in-a-comment";',
      'const o = \'from "pkg-in-a-string"\';',
    ].join('\n'),
  });
  const found = importsOf(join(dir, 'forms.ts')).map((i) => [i.specifier, i.typeOnly]);
  t.same(found, [
    ['pkg-default', false],
    ['pkg-type', true],
    ['pkg-all-named-types', true],
    ['pkg-mixed', false],
    ['@scope/multi-line/sub/path', false],
    ['pkg-side-effect', false],
    ['pkg-reexport', false],
    ['pkg-reexport-type', true],
    ['pkg-star', false],
    ['pkg-dynamic', false],
    ['pkg-import-type', true],
  ]);
  t.equal(packageOf('@scope/multi-line/sub/path'), '@scope/multi-line');
  t.equal(packageOf('yaml/util'), 'yaml');
});
