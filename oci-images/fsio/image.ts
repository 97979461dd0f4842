import { defineImage, dir, program } from '../builder/definition.js';
import { busyboxLayer } from '../busybox/image.js';

export default defineImage({
  name: 'fsio',
  description: '`fsio <dir> <MiB>`: writes pseudo-random data, fsyncs, reads it back and prints {"written","crc","verified"}',
  layers: [busyboxLayer, { name: 'fsio', contents: [program('fsio', 'fsio.c', '/usr/local/bin/fsio'), dir('/data')] }],
  config: { Entrypoint: ['/usr/local/bin/fsio'], Cmd: ['/data', '8'], WorkingDir: '/data' },
});
