/*
 * pause: the first process of a pod (the CRI "sandbox" container). It holds the pod's namespaces
 * open while the pod's containers come and go, reaps any process orphaned into it (it is PID 1 of
 * the pod's PID namespace when the pod shares one), and exits 0 when asked to stop.
 * As PID 1 of a PID namespace it gets no default signal actions: without the handlers below,
 * SIGTERM and SIGINT would be ignored and the runtime would have to SIGKILL it.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int on(int sig, void (*handler)(int), int flags) {
  struct sigaction sa = {0};
  sa.sa_handler = handler;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  return sigaction(sig, &sa, NULL);
}

int main(void) {
  if (on(SIGINT, stop, 0) || on(SIGTERM, stop, 0) || on(SIGCHLD, reap, SA_NOCLDSTOP | SA_RESTART)) {
    static const char msg[] = "pause: sigaction failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    return 1;
  }
  for (;;) pause();
}
