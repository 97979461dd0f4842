/**
 * Compiles the test device plugin (main.ts and what it imports) to JavaScript in a temp folder, once
 * per test file: node then starts it in a fraction of the time a TypeScript loader takes, which
 * matters when a test file starts it twenty times. The folder links this package's node_modules so
 * the plugin's imports (@grpc/grpc-js) resolve.
 */
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCES = ['main.ts', 'edu-plugin.ts', 'broken-rules.ts'];

export interface BuiltPlugin {
  /** The compiled entry: `node <main>`. */
  main: string;
  /** The API definition the plugin loads (DP_PROTO_FILE). */
  proto: string;
  dispose(): Promise<void>;
}

export async function buildEduPlugin(): Promise<BuiltPlugin> {
  const dir = await mkdtemp(join(tmpdir(), 'tsuite-edu-build-'));
  try {
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    for (const file of SOURCES) {
      const source = await readFile(join(HERE, file), 'utf8');
      const out = ts.transpileModule(source, { fileName: file, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } });
      await writeFile(join(dir, file.replace(/\.ts$/, '.js')), out.outputText);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    main: join(dir, 'main.js'),
    proto: join(ROOT, 'suites', 'gpu', 'device-plugin', 'deviceplugin-v1beta1.proto'),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
