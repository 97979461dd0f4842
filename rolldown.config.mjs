// The CLI, `dist/bundle/cli.js` (run by the bin, dist/src/cli/main.js), and the public index beside
// it (what `import 'tsuite'` resolves to), bundled from tsc's output. Why: Node 20 has no compile cache for ES modules, and a
// `tsuite run` loaded some 250 of them (95 of them zod's, 64 of those its error-message locales)
// before its first machine could start. One bundle drops the unused locales and the per-module
// cost. Both entries share their chunks, so a user's config, suites and reporters see the very
// classes the CLI checks for. Each command stays a chunk of its own, loaded when it runs.
//
// Only tsuite's own code, zod and commander go in: every other package (cloud SDKs, gRPC, jiti,
// ssh2...) is loaded from node_modules as it is, on the paths that need it.
//
// `npm run build` sends rolldown's table of the ~200 files it wrote to /dev/null; its warnings and
// errors go to stderr.
import { defineConfig } from 'rolldown';

const bundled = (id) => id.startsWith('.') || id.startsWith('/') || /^(zod|commander)(\/|$)/.test(id);

export default defineConfig({
  input: { cli: 'dist/src/cli/program.js', index: 'dist/src/index.js' },
  platform: 'node',
  external: (id) => !bundled(id),
  output: {
    dir: 'dist/bundle',
    // A chunk of an earlier build (its name is a hash) must not linger beside this one.
    cleanDir: true,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    // A stack trace in a bug report should still name the source file and line.
    sourcemap: true,
  },
});
