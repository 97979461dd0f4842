/*
 * net serve <port>: a TCP echo server (IPv4, any address); prints {"listening":port} once it
 * accepts connections, then echoes each connection until its peer closes, one after another.
 * net call <host> <port> <msg>: connects (retrying for 10 s while the name does not resolve or
 * the server is not up yet), sends msg, half-closes, reads the echo; prints
 * {"sent","received","reply","ok"} and exits 0 only when the echo equals msg.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int serve(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 16) < 0) {
    printf("{\"listening\":null,\"ok\":false,\"error\":\"bind/listen on %d: %s\"}\n", port, strerror(errno));
    return 1;
  }
  printf("{\"listening\":%d}\n", port);
  fflush(stdout);
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    char buf[4096];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0)
      if (write(c, buf, (size_t)n) != n) break;
    close(c);
  }
}

static int call(const char *host, const char *port, const char *msg) {
  const char *why = "no attempt";
  int s = -1;
  for (int attempt = 0; attempt < 100 && s < 0; attempt++) {
    if (attempt) usleep(100000);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
      why = gai_strerror(rc);
      continue;
    }
    s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, res->ai_addr, res->ai_addrlen) < 0) {
      why = strerror(errno);
      close(s);
      s = -1;
    }
    freeaddrinfo(res);
  }
  if (s < 0) {
    printf("{\"sent\":0,\"received\":0,\"ok\":false,\"error\":\"connect %s:%s: %s\"}\n", host, port, why);
    return 1;
  }
  struct timeval tv = {.tv_sec = 10};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t len = strlen(msg);
  ssize_t sent = write(s, msg, len);
  shutdown(s, SHUT_WR);
  char reply[4096];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof reply - 1 && (n = read(s, reply + got, sizeof reply - 1 - got)) > 0) got += (size_t)n;
  reply[got] = 0;
  int ok = sent == (ssize_t)len && got == len && memcmp(reply, msg, len) == 0;
  /* The reply is echoed as JSON only when it is plain text; a test compares the lengths otherwise. */
  int plain = 1;
  for (size_t i = 0; i < got; i++) plain &= reply[i] >= 0x20 && reply[i] != '"' && reply[i] != '\\' && reply[i] < 0x7f;
  printf("{\"sent\":%zd,\"received\":%zu,\"reply\":\"%s\",\"ok\":%s}\n", sent, got, plain ? reply : "", ok ? "true" : "false");
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]));
  if (argc == 5 && strcmp(argv[1], "call") == 0) return call(argv[2], argv[3], argv[4]);
  fprintf(stderr, "usage: net serve <port> | net call <host> <port> <msg>\n");
  return 2;
}
