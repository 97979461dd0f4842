import { defineImage } from '../builder/definition.js';
import { busyboxLayer } from '../busybox/image.js';

/** Where the syscall probes live in the image: the same folder the reference guest uses. */
export const PROBES_IN_IMAGE = '/opt/tsuite/probes';

export default defineImage({
  name: 'probes',
  description: 'The syscall probes (fixtures/probes, static) at /opt/tsuite/probes/<family>, on busybox',
  layers: [busyboxLayer, { name: 'probes', contents: [{ kind: 'probes', to: PROBES_IN_IMAGE }] }],
  config: { WorkingDir: '/tmp', Cmd: ['sh'] },
});
