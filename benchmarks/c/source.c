/* A byte source for benchmarks/relay_vs_socat.py: writes BYTES as fast as it can.
 *
 *     cc -O2 -o build/bench/source benchmarks/c/source.c
 *     build/bench/source PORT BYTES
 *
 * Connects to 127.0.0.1:PORT, writes BYTES from a 1 MiB buffer holding a fixed pattern
 * (byte at stream offset i is (i * 7 + i / 4096) mod 256, period 1 MiB), half-closes, and
 * waits for the peer's end of stream. Prints one JSON line: bytes written, seconds, and the
 * FNV-1a hash of every 4096th byte (the sink computes the same over what it received).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned char pattern(unsigned long long i) {
  return (unsigned char)(i * 7 + i / 4096);
}

static unsigned char buf[CHUNK];

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s PORT BYTES\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int port = atoi(argv[1]);
  unsigned long long want = strtoull(argv[2], NULL, 10);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  double start = now();
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("connect"); return 1; }
  for (size_t i = 0; i < CHUNK; i++) buf[i] = pattern(i);
  unsigned long long sent = 0;
  uint64_t hash = 1469598103934665603ull;
  int err = 0;
  while (sent < want) {
    /* The pattern's period is CHUNK and every chunk starts at a multiple of CHUNK, so the
     * buffer, filled once, holds the pattern for stream offsets [sent, sent + len). */
    size_t len = want - sent < CHUNK ? (size_t)(want - sent) : CHUNK;
    for (unsigned long long off = (sent + 4095) / 4096 * 4096; off < sent + len; off += 4096) {
      hash = (hash ^ pattern(off)) * 1099511628211ull;
    }
    size_t done = 0;
    while (done < len) {
      ssize_t w = write(fd, buf + done, len - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        perror("write");
        err = 1;
        break;
      }
      done += (size_t)w;
    }
    sent += done;
    if (err) break;
  }
  double wrote = now() - start;
  shutdown(fd, SHUT_WR);
  while (read(fd, buf, sizeof buf) > 0) {
  }
  double seconds = now() - start;
  printf("{\"bytes\": %llu, \"write_seconds\": %.6f, \"seconds\": %.6f, \"sample_hash\": %llu, "
         "\"error\": %s}\n", sent, wrote, seconds, (unsigned long long)hash,
         err ? "true" : "false");
  return err;
}
