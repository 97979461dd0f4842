import { join } from 'node:path';
import { writeFileAtomic } from '../core/write-file-atomic.js';
import type { ReporterFactory } from './reporter.js';

/** `results.json` is the canonical model verbatim: history and `compare` read it back. */
export const jsonReporter: ReporterFactory = ({ outputDir }) => ({
  name: 'json',
  async onRunEnd(result) {
    await writeFileAtomic(join(outputDir, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
  },
});
