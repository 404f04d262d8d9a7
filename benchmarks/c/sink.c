/* A byte sink for benchmarks/relay_vs_socat.py: reads and discards.
 *
 *     cc -O2 -o build/bench/sink benchmarks/c/sink.c
 *     build/bench/sink PORT        (0 picks a free port)
 *
 * Prints "listening on 127.0.0.1:PORT" (flushed), then serves one connection at a time,
 * reading into a 1 MiB buffer until end of stream, and prints one JSON line per connection:
 * the bytes received, the seconds from accept(2) to end of stream, and an FNV-1a hash of
 * a sample of the stream (every 4096th byte) so the sender's pattern can be checked.
 * Runs until killed.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned char buf[1 << 20];

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  if (listen(lfd, 64) < 0) { perror("listen"); return 1; }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) { perror("accept"); continue; }
    double start = now();
    unsigned long long total = 0;
    uint64_t hash = 1469598103934665603ull;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      /* the stream offsets that are multiples of 4096 */
      unsigned long long first = (total + 4095) / 4096 * 4096;
      for (unsigned long long off = first; off < total + (unsigned long long)n; off += 4096) {
        hash = (hash ^ buf[off - total]) * 1099511628211ull;
      }
      total += (unsigned long long)n;
    }
    double seconds = now() - start;
    close(fd);
    printf("{\"bytes\": %llu, \"seconds\": %.6f, \"sample_hash\": %llu, \"error\": %s}\n", total,
           seconds, (unsigned long long)hash, n < 0 ? "true" : "false");
    fflush(stdout);
  }
}
