// The floor under any userspace RTP relay on this machine: what one relayed packet costs in
// the kernel with nothing else around it (no epoll, hot caches). K relay sockets each get one
// packet from their peer; then every relay socket receives its packet and sends it back, (a)
// with one recv and one send system call per packet, (b) with all the receives and then all
// the sends batched through io_uring (one io_uring_enter each). Reported per packet, the
// time of the relay's part only (the peers' sends and receives are not counted).
//
//   apt-get install liburing-dev
//   gcc -O2 benches/udp_floor.c -o /tmp/udp_floor -luring && /tmp/udp_floor
//
// docs/performance.md has the result: (a) and (b) cost the same here, so batching system
// calls is not where a relay's time goes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define K 64
#define ROUNDS 20000
#define BASE_RELAY 41000
#define BASE_PEER 42000

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

static int bound(int port) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = loopback(port);
  if (s < 0 || bind(s, (void *)&a, sizeof a) < 0) {
    perror("socket/bind");
    _exit(1);
  }
  fcntl(s, F_SETFL, O_NONBLOCK);
  return s;
}

static void connect_to(int s, int port) {
  struct sockaddr_in a = loopback(port);
  connect(s, (void *)&a, sizeof a);
}

static int relay[K], peer[K];
static char bufs[K][2048];

static void feed(void) {
  static char p[172];
  p[0] = (char)0x80;
  for (int i = 0; i < K; i++) send(peer[i], p, sizeof p, 0);
}

static void drain_peers(void) {
  char b[2048];
  for (int i = 0; i < K; i++)
    while (recv(peer[i], b, sizeof b, 0) > 0) {
    }
}

static int complete(struct io_uring *ring, int n, int *lens) {
  struct io_uring_cqe *c;
  int got = 0;
  while (got < n && io_uring_peek_cqe(ring, &c) == 0) {
    if (lens && c->user_data < K) lens[c->user_data] = c->res;
    io_uring_cqe_seen(ring, c);
    got++;
  }
  return got;
}

int main(void) {
  for (int i = 0; i < K; i++) {
    relay[i] = bound(BASE_RELAY + i);
    peer[i] = bound(BASE_PEER + i);
    connect_to(peer[i], BASE_RELAY + i);
    connect_to(relay[i], BASE_PEER + i);
  }
  double t_sys = 0, t_ring = 0;
  for (int r = 0; r < ROUNDS; r++) {
    feed();
    double t = now();
    for (int i = 0; i < K; i++) {
      int n = recv(relay[i], bufs[i], sizeof bufs[i], 0);
      if (n > 0) send(relay[i], bufs[i], n, 0);
    }
    t_sys += now() - t;
    drain_peers();
  }
  struct io_uring ring;
  if (io_uring_queue_init(4 * K, &ring, 0) < 0) {
    fprintf(stderr, "io_uring unavailable\n");
    return 1;
  }
  for (int r = 0; r < ROUNDS; r++) {
    feed();
    double t = now();
    int lens[K];
    for (int i = 0; i < K; i++) {
      struct io_uring_sqe *s = io_uring_get_sqe(&ring);
      io_uring_prep_recv(s, relay[i], bufs[i], sizeof bufs[i], MSG_DONTWAIT);
      s->user_data = i;
    }
    io_uring_submit_and_wait(&ring, K);
    complete(&ring, K, lens);
    int sends = 0;
    for (int i = 0; i < K; i++) {
      if (lens[i] <= 0) continue;
      struct io_uring_sqe *s = io_uring_get_sqe(&ring);
      io_uring_prep_send(s, relay[i], bufs[i], lens[i], 0);
      s->user_data = K + i;
      sends++;
    }
    io_uring_submit_and_wait(&ring, sends);
    complete(&ring, sends, NULL);
    t_ring += now() - t;
    drain_peers();
  }
  printf("recv + send system calls: %.3f us per packet; io_uring batches: %.3f us per packet\n",
         t_sys / ROUNDS / K * 1e6, t_ring / ROUNDS / K * 1e6);
  return 0;
}
