/*
 * fsio <dir> <MiB> [verify]: writes <dir>/fsio.dat with N MiB of pseudo-random data (a fixed
 * seed, so any later run knows what the file must hold), fsyncs it and its folder, asks the
 * kernel to drop its cached pages, reads it back and compares CRC-32s; prints
 * {"written","crc","verified"}. With `verify` it only reads an existing file and checks it
 * (a volume's data surviving its container). The file is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1u << 20)

static uint32_t crc_table[256];
static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n) {
  crc = ~crc;
  while (n--) crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}
/* xorshift64: the same bytes on every run and every arch. */
static void fill(unsigned char *buf, size_t n, uint64_t *state) {
  for (size_t i = 0; i < n; i += 8) {
    uint64_t x = *state;
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    *state = x;
    for (int b = 0; b < 8 && i + b < n; b++) buf[i + b] = (unsigned char)(x >> (8 * b));
  }
}

static int fail(const char *what, const char *path) {
  printf("{\"written\":0,\"verified\":false,\"error\":\"%s %s: %s\"}\n", what, path, strerror(errno));
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fsio <dir> <MiB> [verify]\n");
    return 2;
  }
  crc_init();
  char path[4096];
  snprintf(path, sizeof path, "%s/fsio.dat", argv[1]);
  long mib = strtol(argv[2], NULL, 10);
  int verify_only = argc > 3 && strcmp(argv[3], "verify") == 0;
  unsigned char *buf = malloc(CHUNK), *want = malloc(CHUNK);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  uint32_t crc_expected = 0, crc_read = 0;
  long long written = 0;

  if (!verify_only) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return fail("open", path);
    for (long i = 0; i < mib; i++) {
      fill(buf, CHUNK, &state);
      crc_expected = crc_update(crc_expected, buf, CHUNK);
      if (write(fd, buf, CHUNK) != (ssize_t)CHUNK) return fail("write", path);
      written += CHUNK;
    }
    if (fsync(fd) < 0) return fail("fsync", path);
    /* Drop the cached pages so the read below comes from the filesystem, not the page cache. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    int dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) fsync(dfd), close(dfd);
  } else {
    for (long i = 0; i < mib; i++) fill(buf, CHUNK, &state), crc_expected = crc_update(crc_expected, buf, CHUNK);
  }

  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail("open", path);
  long long got = 0;
  ssize_t n;
  while ((n = read(fd, want, CHUNK)) > 0) crc_read = crc_update(crc_read, want, (size_t)n), got += n;
  close(fd);
  int ok = got == (long long)mib * CHUNK && crc_read == crc_expected;
  printf("{\"written\":%lld,\"read\":%lld,\"crc\":\"%08x\",\"expected_crc\":\"%08x\",\"verified\":%s}\n", written, got, crc_read, crc_expected, ok ? "true" : "false");
  return ok ? 0 : 1;
}
