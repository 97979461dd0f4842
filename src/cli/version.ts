import { readFileSync } from 'node:fs';
import { assetPath } from '../core/paths.js';

/** tsuite's own version, from its package.json: a module of its own so `--version` loads nothing else. */
export const tsuiteVersion: string = (JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version;
