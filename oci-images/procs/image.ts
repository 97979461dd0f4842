import { defineImage, program } from '../builder/definition.js';
import { busyboxLayer } from '../busybox/image.js';

export default defineImage({
  name: 'procs',
  description: '`procs <n>`: spawns n children, SIGTERMs and reaps them, prints {"pid","spawned","signalled","reaped","visible_pids","hostname"}',
  layers: [busyboxLayer, { name: 'procs', contents: [program('procs', 'procs.c', '/usr/local/bin/procs')] }],
  config: { Entrypoint: ['/usr/local/bin/procs'], Cmd: ['4'] },
});
