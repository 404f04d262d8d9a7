/* A minimal epoll echo server: the C reference for benchmarks/echo_vs_c.py.
 *
 *     cc -O2 -o build/bench/echo_server benchmarks/c/echo_server.c
 *     build/bench/echo_server PORT [TIMEOUT_MS [et]]   (PORT 0 picks a free port)
 *
 * TIMEOUT_MS (default -1, none) is passed to every epoll_wait, as an event loop with timers
 * would: benchmarks/wait_timeout_c.py measures what that costs. `et` registers connections
 * edge-triggered (EPOLLET | EPOLLRDHUP): a read that fills the buffer, or one after the peer
 * hung up, is followed by another until a short one; benchmarks/edge_triggered.py measures
 * what that saves.
 *
 * One thread, level-triggered epoll unless `et`, non-blocking sockets from accept4(2). On each readable
 * event: one read(2) into a 64 KiB stack buffer and one write(2) of what was read. What a
 * short write leaves behind is kept in a per-connection buffer; the connection then stops
 * being read and waits for EPOLLOUT, and is read again once that buffer is drained.
 * Prints "listening on 127.0.0.1:PORT" (flushed) once it accepts; runs until killed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
  char *pending; /* bytes a short write left behind */
  size_t len, off, cap;
};

static struct conn *conns; /* indexed by fd */
static size_t nconns;
static uint32_t edge; /* 0, or EPOLLET | EPOLLRDHUP */

static struct conn *conn_of(int fd) {
  if ((size_t)fd >= nconns) {
    size_t n = nconns ? nconns : 1024;
    while (n <= (size_t)fd) n *= 2;
    conns = realloc(conns, n * sizeof *conns);
    if (!conns) { perror("realloc"); exit(1); }
    memset(conns + nconns, 0, (n - nconns) * sizeof *conns);
    nconns = n;
  }
  return &conns[fd];
}

static void close_conn(int ep, int fd) {
  struct conn *c = conn_of(fd);
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  free(c->pending);
  memset(c, 0, sizeof *c);
}

static void watch(int ep, int fd, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.fd = fd};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0) { perror("epoll_ctl MOD"); exit(1); }
}

/* Keeps data[0..n) for EPOLLOUT and stops reading the connection. */
static void keep(int ep, int fd, const char *data, size_t n) {
  struct conn *c = conn_of(fd);
  if (c->cap < n) {
    free(c->pending);
    c->pending = malloc(n);
    if (!c->pending) { perror("malloc"); exit(1); }
    c->cap = n;
  }
  memcpy(c->pending, data, n);
  c->len = n;
  c->off = 0;
  watch(ep, fd, EPOLLOUT | edge);
}

/* Returns whether the socket may hold more input (edge-triggered only). */
static int read_once(int ep, int fd, int hung_up) {
  char buf[65536];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n == 0) { close_conn(ep, fd); return 0; }
  if (n < 0) {
    if (errno == EINTR) return 1;
    if (errno != EAGAIN) close_conn(ep, fd);
    return 0;
  }
  ssize_t w = write(fd, buf, (size_t)n);
  if (w < 0) {
    if (errno != EAGAIN && errno != EINTR) { close_conn(ep, fd); return 0; }
    w = 0;
  }
  if (w < n) { keep(ep, fd, buf + w, (size_t)(n - w)); return 0; }
  return (size_t)n == sizeof buf || hung_up;
}

static void on_readable(int ep, int fd, uint32_t e) {
  int hung_up = (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  while (read_once(ep, fd, hung_up) && edge) {
  }
}

static void on_writable(int ep, int fd) {
  struct conn *c = conn_of(fd);
  ssize_t w = write(fd, c->pending + c->off, c->len - c->off);
  if (w < 0) {
    if (errno != EAGAIN && errno != EINTR) close_conn(ep, fd);
    return;
  }
  c->off += (size_t)w;
  if (c->off == c->len) {
    c->len = c->off = 0;
    watch(ep, fd, EPOLLIN | edge);
  }
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int timeout_ms = -1;
  if (argc > 2) {
    char *end;
    long t = strtol(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || t < -1 || t > 86400000) {
      fprintf(stderr, "TIMEOUT_MS must be -1 (none) or 0 to 86400000 milliseconds\n");
      return 2;
    }
    timeout_ms = (int)t;
  }
  if (argc > 3) {
    if (strcmp(argv[3], "et") != 0) {
      fprintf(stderr, "the third argument can only be et (edge-triggered)\n");
      return 2;
    }
    edge = EPOLLET | EPOLLRDHUP;
  }
  signal(SIGPIPE, SIG_IGN);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
  if (listen(lfd, 4096) < 0) { perror("listen"); return 1; }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event events[1024];
  for (;;) {
    int n = epoll_wait(ep, events, 1024, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      uint32_t e = events[i].events;
      if (fd == lfd) {
        for (;;) {
          int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (cfd < 0) break; /* EAGAIN, or a transient error: try again on the next event */
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn_of(cfd);
          struct epoll_event cev = {.events = EPOLLIN | edge, .data.fd = cfd};
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
        }
      } else if (conn_of(fd)->len > 0) {
        if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_writable(ep, fd);
      } else if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        on_readable(ep, fd, e);
      }
    }
  }
}
