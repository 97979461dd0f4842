/*
 * procs <n>: forks n children that wait for a signal, lists the pids it can see in /proc while
 * they live, sends each SIGTERM and reaps it; prints {"pid","spawned","signalled","reaped",
 * "visible_pids","hostname","ok"}. In a container with its own pid namespace, pid is 1 and
 * visible_pids holds only this program and its children.
 */
#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 256

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4;
  if (n < 0 || n > MAX_CHILDREN) {
    fprintf(stderr, "usage: procs <n>, 0 <= n <= %d\n", MAX_CHILDREN);
    return 2;
  }
  pid_t kids[MAX_CHILDREN];
  int spawned = 0, signalled = 0, reaped = 0;
  int ready[2];
  if (pipe(ready) < 0) return 1;
  for (int i = 0; i < n; i++) {
    pid_t p = fork();
    if (p == 0) {
      close(ready[0]);
      /* Tell the parent this child is up (and its SIGTERM disposition is the default), then wait. */
      if (write(ready[1], "x", 1) != 1) _exit(1);
      for (;;) pause();
    }
    if (p < 0) break;
    kids[spawned++] = p;
  }
  close(ready[1]);
  char c;
  for (int i = 0; i < spawned; i++)
    if (read(ready[0], &c, 1) != 1) break;

  printf("{\"pid\":%d,\"spawned\":%d,", (int)getpid(), spawned);
  /* Seen while the children live: a namespace that hides them, or shows others, is visible here. */
  printf("\"visible_pids\":[");
  DIR *d = opendir("/proc");
  int first = 1;
  for (struct dirent *e; d && (e = readdir(d));) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    printf("%s%s", first ? "" : ",", e->d_name);
    first = 0;
  }
  if (d) closedir(d);
  printf("],");

  for (int i = 0; i < spawned; i++) signalled += kill(kids[i], SIGTERM) == 0;
  for (int i = 0; i < spawned; i++) {
    int status;
    if (waitpid(kids[i], &status, 0) == kids[i] && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) reaped++;
  }
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  for (char *h = host; *h; h++)
    if (*h == '"' || *h == '\\' || (unsigned char)*h < 0x20) *h = '?';
  int ok = spawned == n && signalled == n && reaped == n;
  printf("\"signalled\":%d,\"reaped\":%d,\"hostname\":\"%s\",\"ok\":%s}\n", signalled, reaped, host, ok ? "true" : "false");
  return ok ? 0 : 1;
}
