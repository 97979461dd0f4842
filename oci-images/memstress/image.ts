import { defineImage, program } from '../builder/definition.js';
import { busyboxLayer } from '../busybox/image.js';

export default defineImage({
  name: 'memstress',
  description: '`memstress <MiB>`: allocates and touches every page of N MiB, then prints {"allocated_mib","touched_pages","ok"}',
  layers: [busyboxLayer, { name: 'memstress', contents: [program('memstress', 'memstress.c', '/usr/local/bin/memstress')] }],
  config: { Entrypoint: ['/usr/local/bin/memstress'], Cmd: ['16'] },
});
