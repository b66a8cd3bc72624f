// The layer rules of src/ (issue 13), checked by `make layers` (part of `make test`).
//
// One direction of dependency, top to bottom. A folder may import its own files and any
// folder BELOW it, never one above:
//
//   cli → server → admission → decision → checks → facts → policy → image, notation → support
//
// src/main.ts is the product's entry (above cli). src/dev/ is development support (the AWS
// sandbox, the demo, test signing chains): it may import the product, the product never
// imports it, and the container image does not carry it.
/** Layers from the top; each entry is a folder under src/. */
const LAYERS = ['cli', 'controller', 'server', 'admission', 'events', 'decision', 'checks', 'facts', 'policy', 'image|notation|cosign', 'support'];

const folder = (names) => `^src/(${names})/`;

/** For each layer, a rule forbidding imports of every layer above it. */
const upward = LAYERS.slice(1).map((layer, i) => ({
  name: `no-upward-from-${layer.replace('|', '-or-')}`,
  comment: `src/${layer}/ sits below ${LAYERS.slice(0, i + 1).join(', ')}: it must not import them (one direction of dependency)`,
  severity: 'error',
  from: { path: folder(layer) },
  to: { path: folder(LAYERS.slice(0, i + 1).join('|')) },
}));

module.exports = {
  forbidden: [
    ...upward,
    {
      name: 'no-sideways-image-notation',
      comment: 'image/, notation/ and cosign/ share a layer and stay independent of each other',
      severity: 'error',
      from: { path: '^src/(image|notation|cosign)/' },
      to: { path: '^src/(image|notation|cosign)/', pathNot: '^src/$1/' },
    },
    {
      name: 'product-never-imports-dev',
      comment: 'src/dev/ (sandbox, demo, test chains) is development support the product build does not carry',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/dev/' },
      to: { path: '^src/dev/' },
    },
    {
      name: 'nothing-imports-the-entry',
      comment: 'src/main.ts is the product entry; nothing in src/ imports it',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/main\\.ts$' },
    },
    {
      name: 'no-files-outside-a-layer',
      comment: 'every product file lives in a layer folder (src/main.ts aside), so its place says which way is down',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$', pathNot: '^src/main\\.ts$' },
      to: {},
    },
    {
      name: 'no-folder-outside-the-layers',
      comment: 'a folder of src/ is a layer (or dev/): a new folder is placed in the order above first',
      severity: 'error',
      from: { path: `^src/(?!(${LAYERS.join('|')}|dev)/)[^/]+/` },
      to: {},
    },
    {
      name: 'no-circular',
      comment: 'no import cycles, between folders or files',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'product-not-to-dev-dependencies',
      comment: 'the product runs with dependencies only (npm prune --omit=dev in the image); type-only imports are erased',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/dev/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
