/*
 * The machine's floor for releasing held HTTP requests: no Node, no HTTP layer. Built and driven by
 * bench/origin.bench.ts to show what any server on this machine pays to write one response to each
 * of N held connections, so that the origin's wake-up figures can be read against it.
 *
 * Usage: hold-release <threads>. Listens on 127.0.0.1 (an ephemeral port, printed first as
 * `{"port":P}`), counts each incoming packet on a connection as one held request (the bench's client
 * sends one small GET per connection and waits), and reads commands on stdin, one per line:
 *   response <hex>  the complete response (status line, headers, body) to send from now on;
 *   count           prints `{"held":N}`;
 *   release         writes the response to every held connection, split over <threads> threads
 *                   (each writes its own slice; 1 = one event loop's floor) and prints
 *                   `{"t0":ms,"handed":[ms...],"cpuUs":us}` with CLOCK_MONOTONIC times, the clock
 *                   `process.hrtime` reads, so the bench compares them with its client's.
 *
 * Build: cc -O2 -pthread -o hold-release hold-release.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HELD 20000
#define MAX_THREADS 16

static int held[MAX_HELD];
static int held_count;
static double handed[MAX_HELD];
static char *response;
static size_t response_len;
static int thread_count;
static pthread_barrier_t start_barrier, done_barrier;

static double monotonic_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double process_cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

static void write_slice(int index) {
  for (int i = index; i < held_count; i += thread_count) {
    /* A held response fits an idle socket's buffer: one send, as the Node floors' one writev. */
    if (send(held[i], response, response_len, MSG_NOSIGNAL) < 0) perror("send");
    handed[i] = monotonic_ms();
  }
}

static void *writer(void *arg) {
  int index = (int)(long)arg;
  for (;;) {
    pthread_barrier_wait(&start_barrier);
    write_slice(index);
    pthread_barrier_wait(&done_barrier);
  }
  return NULL;
}

static int hex_value(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

static void handle_command(char *line) {
  if (strncmp(line, "response ", 9) == 0) {
    char *hex = line + 9;
    size_t n = strcspn(hex, "\r\n") / 2;
    free(response);
    response = malloc(n);
    for (size_t i = 0; i < n; i++) response[i] = (char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    response_len = n;
  } else if (strncmp(line, "count", 5) == 0) {
    printf("{\"held\":%d}\n", held_count);
  } else if (strncmp(line, "release", 7) == 0) {
    double cpu0 = process_cpu_us();
    double t0 = monotonic_ms();
    if (thread_count == 1) {
      write_slice(0);
    } else {
      pthread_barrier_wait(&start_barrier); /* helper threads write slices 1..n-1, this one slice 0 */
      write_slice(0);
      pthread_barrier_wait(&done_barrier);
    }
    double cpu = process_cpu_us() - cpu0;
    printf("{\"t0\":%.4f,\"cpuUs\":%.0f,\"handed\":[", t0, cpu);
    for (int i = 0; i < held_count; i++) printf(i ? ",%.4f" : "%.4f", handed[i]);
    printf("]}\n");
    held_count = 0;
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  thread_count = argc > 1 ? atoi(argv[1]) : 1;
  if (thread_count < 1 || thread_count > MAX_THREADS) return 2;
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t addr_len = sizeof addr;
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 4096)) return perror("listen"), 1;
  getsockname(listener, (struct sockaddr *)&addr, &addr_len);
  printf("{\"port\":%d}\n", ntohs(addr.sin_port));
  fflush(stdout);

  if (thread_count > 1) {
    pthread_barrier_init(&start_barrier, NULL, thread_count);
    pthread_barrier_init(&done_barrier, NULL, thread_count);
    for (long i = 1; i < thread_count; i++) {
      pthread_t t;
      pthread_create(&t, NULL, writer, (void *)i);
    }
  }

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  ev.data.fd = STDIN_FILENO;
  epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
  char line[1 << 20];
  size_t line_len = 0;
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    for (int e = 0; e < n; e++) {
      int fd = events[e].data.fd;
      if (fd == listener) {
        int c;
        while ((c = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
      } else if (fd == STDIN_FILENO) {
        ssize_t r = read(STDIN_FILENO, line + line_len, sizeof line - 1 - line_len);
        if (r <= 0) return 0; /* the bench closed stdin: done */
        line_len += (size_t)r;
        char *nl;
        while ((nl = memchr(line, '\n', line_len)) != NULL) {
          *nl = 0;
          handle_command(line);
          size_t used = (size_t)(nl - line) + 1;
          memmove(line, nl + 1, line_len - used);
          line_len -= used;
        }
      } else {
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0) {
          close(fd); /* closing removes it from the epoll set */
        } else if (held_count < MAX_HELD) {
          held[held_count++] = fd;
        }
      }
    }
  }
}
