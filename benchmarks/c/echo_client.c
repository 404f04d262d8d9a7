/* A minimal epoll echo client: the C reference for benchmarks/echo_vs_c.py.
 *
 *     cc -O2 -o build/bench/echo_client benchmarks/c/echo_client.c
 *     build/bench/echo_client PORT CONNECTIONS SECONDS [SIZE=64] [PAD_LINES=0]
 *
 * One thread, closed loop: each of CONNECTIONS connections to 127.0.0.1:PORT has one
 * SIZE-byte message outstanding and sends the next as soon as the reply is complete. Every
 * message differs (connection and sequence number go into its bytes) and every byte of every
 * reply is compared with what was sent. The clock starts before the first connect, as the
 * netlab load generator's does. Prints one JSON line: requests, responses, requests_per_s
 * (responses / elapsed seconds), errors, and the process's CPU time from getrusage(2).
 * Exits 1 when a reply was wrong or a connection failed.
 *
 * PAD_LINES (benchmarks/footprint_c.py) gives each connection that many more 64-byte cache
 * lines, in a block of its own, written on every event: a client with a larger per-connection
 * footprint between the same system calls, as netlab's load generator has (its LoadClient and
 * Stream are about 750 bytes in several blocks, against this program's one 300-byte struct).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  uint32_t id, seq;
  size_t sent, got; /* bytes of the current message written / echoed back */
  unsigned char msg[256];
  int want_out;
  unsigned char *pad; /* PAD_LINES * 64 bytes, or null */
};

static size_t size = 64;
static int pad_lines;
static long long requests, responses, errors;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fill(struct conn *c) {
  for (size_t i = 0; i < size; i++) c->msg[i] = (unsigned char)(c->id * 131u + c->seq * 31u + i);
  c->sent = c->got = 0;
}

static void set_events(int ep, struct conn *c, int want_out) {
  if (c->want_out == want_out) return;
  struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = want_out;
}

static int send_rest(int ep, struct conn *c) {
  ssize_t w = write(c->fd, c->msg + c->sent, size - c->sent);
  if (w < 0) {
    if (errno != EAGAIN && errno != EINTR) return -1;
    w = 0;
  }
  c->sent += (size_t)w;
  set_events(ep, c, c->sent < size);
  return 0;
}

static void fail(int ep, struct conn *c, const char *why) {
  if (errors++ < 5) fprintf(stderr, "echo_client: connection %u: %s\n", c->id, why);
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s PORT CONNECTIONS SECONDS [SIZE] [PAD_LINES]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int n = atoi(argv[2]);
  double seconds = atof(argv[3]);
  if (argc > 4) size = (size_t)atoi(argv[4]);
  if (argc > 5) pad_lines = atoi(argv[5]);
  if (size < 1 || size > sizeof((struct conn *)0)->msg) { fprintf(stderr, "bad size\n"); return 2; }
  if (pad_lines < 0 || pad_lines > 1024) { fprintf(stderr, "bad pad lines\n"); return 2; }
  signal(SIGPIPE, SIG_IGN);
  struct rlimit lim;
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);

  struct conn *conns = calloc((size_t)n, sizeof *conns);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  double start = now(), deadline = start + seconds;
  int one = 1;
  for (int i = 0; i < n; i++) {
    struct conn *c = &conns[i];
    c->id = (uint32_t)i;
    if (pad_lines > 0 && !(c->pad = malloc((size_t)pad_lines * 64))) { perror("malloc"); return 1; }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
      perror("connect");
      return 1;
    }
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  for (int i = 0; i < n; i++) {
    fill(&conns[i]);
    requests++;
    if (send_rest(ep, &conns[i]) < 0) fail(ep, &conns[i], "write failed");
  }

  struct epoll_event events[1024];
  unsigned char buf[65536];
  double t = now();
  while (t < deadline) {
    int timeout = (int)((deadline - t) * 1000) + 1;
    int k = epoll_wait(ep, events, 1024, timeout);
    if (k < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
    for (int i = 0; i < k; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->fd < 0) continue;
      for (int j = 0; j < pad_lines; j++) c->pad[j * 64] = (unsigned char)c->seq;
      if ((events[i].events & EPOLLOUT) && c->sent < size && send_rest(ep, c) < 0) {
        fail(ep, c, "write failed");
        continue;
      }
      if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) { fail(ep, c, r == 0 ? "closed by the server" : "read failed"); continue; }
      if ((size_t)r > c->sent - c->got || memcmp(buf, c->msg + c->got, (size_t)r) != 0) {
        fail(ep, c, "reply differs from the request");
        continue;
      }
      c->got += (size_t)r;
      if (c->got == size) {
        responses++;
        c->seq++;
        fill(c);
        requests++;
        if (send_rest(ep, c) < 0) fail(ep, c, "write failed");
      }
    }
    t = now();
  }
  double elapsed = t - start;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  printf("{\"connections\": %d, \"size\": %zu, \"duration\": %.6f, \"requests\": %lld, "
         "\"responses\": %lld, \"requests_per_s\": %.1f, \"errors\": %lld, "
         "\"cpu_seconds\": %.6f, \"cpu_user\": %.6f, \"cpu_system\": %.6f}\n",
         n, size, elapsed, requests, responses, (double)responses / elapsed, errors, cpu,
         (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
  fflush(stdout);
  return errors ? 1 : 0;
}
