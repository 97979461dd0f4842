import { defineImage, type LayerDef } from '../builder/definition.js';

/** The base layer of every tsuite image: a shell and the usual tools, so tests can look inside any container. */
export const busyboxLayer: LayerDef = Object.freeze<LayerDef>({ name: 'busybox', contents: [{ kind: 'busybox' }] });

export default defineImage({
  name: 'busybox',
  description: "Debian's busybox-static with an applet symlink per tool, and users root, nobody (65534), tsuite (1000)",
  layers: [busyboxLayer],
  config: { Cmd: ['sh'] },
});
