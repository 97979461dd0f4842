import type { ImageDefinition } from './builder/definition.js';
import busybox from './busybox/image.js';
import fsio from './fsio/image.js';
import memstress from './memstress/image.js';
import net from './net/image.js';
import nginx from './nginx/image.js';
import probes from './probes/image.js';
import procs from './procs/image.js';

/** Every test image, by name. To add one: a folder with image.ts (and its .c), then a line here. */
export const IMAGE_DEFINITIONS = Object.freeze({ busybox, nginx, memstress, net, fsio, procs, probes } satisfies Record<string, Readonly<ImageDefinition>>);

export type ImageName = keyof typeof IMAGE_DEFINITIONS;
export const IMAGE_NAMES = Object.keys(IMAGE_DEFINITIONS) as ImageName[];
/** Images that only tsuite has (no upstream equivalent): always built and loaded locally. */
export const CUSTOM_IMAGES: readonly ImageName[] = ['memstress', 'net', 'fsio', 'procs', 'probes'];
