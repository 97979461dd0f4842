import { defineImage, program } from '../builder/definition.js';
import { busyboxLayer } from '../busybox/image.js';

export default defineImage({
  name: 'net',
  description: '`net serve <port>`: TCP echo server printing {"listening":port}; `net call <host> <port> <msg>`: prints {"sent","received","ok"}',
  layers: [busyboxLayer, { name: 'net', contents: [program('net', 'net.c', '/usr/local/bin/net')] }],
  config: { Entrypoint: ['/usr/local/bin/net'], Cmd: ['serve', '7000'], ExposedPorts: ['7000/tcp'] },
});
