import { defineImage, dir, file } from '../builder/definition.js';
import { busyboxLayer } from '../busybox/image.js';

/** The text the served page carries, so a test can tell this page from any other server's. */
export const NGINX_MARKER = 'tsuite-nginx-page-7f3a';

/** In the foreground, logs to stdout/stderr (`docker logs`), workers as nobody, no modules, no includes. */
const NGINX_CONF = `daemon off;
user nobody nogroup;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
  types { text/html html; text/plain txt; }
  default_type application/octet-stream;
  access_log /dev/stdout;
  server {
    listen 80;
    root /usr/share/nginx/html;
    index index.html;
  }
}
`;

const INDEX_HTML = `<!doctype html>
<html><head><title>tsuite nginx</title></head>
<body><p>${NGINX_MARKER}</p></body></html>
`;

export default defineImage({
  name: 'nginx',
  description: "Debian's nginx with the libraries it needs, serving /usr/share/nginx/html/index.html on port 80 in the foreground",
  layers: [
    busyboxLayer,
    {
      name: 'nginx',
      contents: [
        { kind: 'debian', package: 'nginx', binaries: ['/usr/sbin/nginx'] },
        file('/etc/nginx/nginx.conf', NGINX_CONF),
        file('/usr/share/nginx/html/index.html', INDEX_HTML),
        // Debian's build writes its early error log and temp files here before reading the config.
        dir('/var/log/nginx'),
        dir('/var/lib/nginx'),
      ],
    },
  ],
  config: { Entrypoint: ['/usr/sbin/nginx', '-c', '/etc/nginx/nginx.conf'], ExposedPorts: ['80/tcp'], StopSignal: 'SIGQUIT' },
});
