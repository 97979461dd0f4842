/*
 * memstress <MiB> [hold-seconds]: maps N MiB of anonymous memory and writes one byte in every
 * page, so the kernel really backs it (a memory limit below N MiB then ends in the OOM killer),
 * prints one JSON line, then optionally holds the memory (for stats) before exiting.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: memstress <MiB> [hold-seconds]\n");
    return 2;
  }
  long mib = strtol(argv[1], NULL, 10);
  long hold = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
  long page = sysconf(_SC_PAGESIZE);
  size_t bytes = (size_t)mib << 20;
  char *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mib <= 0 || mem == MAP_FAILED) {
    printf("{\"allocated_mib\":0,\"touched_pages\":0,\"ok\":false,\"error\":\"mmap %ld MiB: %s\"}\n", mib, mib <= 0 ? "bad size" : strerror(errno));
    return 1;
  }
  long touched = 0;
  for (size_t off = 0; off < bytes; off += (size_t)page, touched++) mem[off] = (char)(touched | 1);
  /* Read back one byte per page: the writes must all have landed. */
  long ok = 1;
  for (size_t off = 0, i = 0; off < bytes; off += (size_t)page, i++) ok &= mem[off] == (char)(i | 1);
  printf("{\"allocated_mib\":%ld,\"touched_pages\":%ld,\"page_size\":%ld,\"ok\":%s}\n", mib, touched, page, ok ? "true" : "false");
  fflush(stdout);
  if (hold > 0) sleep((unsigned)hold);
  return ok ? 0 : 1;
}
