import { defineImage, program } from '../builder/definition.js';

/**
 * The pod sandbox image a CRI runtime starts first in every pod (containerd's `sandbox_image`):
 * one static program and nothing else. No busybox layer: nothing ever runs inside it but /pause,
 * and a runtime pulls or imports it on every node before any pod starts. Not one of
 * IMAGE_DEFINITIONS: the Docker engines of the containers suite have no use for it.
 */
export default defineImage({
  name: 'pause',
  description: 'the pod sandbox: `/pause` holds the pod namespaces, reaps orphans, exits 0 on SIGINT/SIGTERM',
  layers: [{ name: 'pause', contents: [program('pause', 'pause.c', '/pause')] }],
  config: { Entrypoint: ['/pause'], StopSignal: 'SIGTERM' },
});
