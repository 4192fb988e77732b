// The DNS server's UDP fast path: native threads that read queries in batches
// (recvmmsg), answer the ones whose encoded response is already known from a
// per-thread packet cache, and write the answers in batches (sendmmsg). Every
// other datagram goes to JavaScript (the `onMiss` callback on the main thread),
// which decides the answer, sends it with `reply` and, when the answer is
// stable, `install`s it for the thread that missed.
//
// Rotating answers (round robin, weighted) are a function of the host's
// rotation counter modulo the rotation's period. JavaScript keeps those
// counters in a SharedArrayBuffer (`open`'s last argument); `install_rotation`
// gives a thread the period's distinct answers and which one each position
// gives, and a hit adds one to the host's counter atomically, exactly as a miss
// answered in JavaScript does, so every thread and JavaScript continue one
// sequence per host.
//
// Why native: Node's dgram makes one syscall, one callback and two
// allocations per datagram; on loopback under dnsperf that path, not the
// DNS logic, bounded the server (docs/benchmarks.md). The cache semantics are
// the ones `DnsEngine` documents (src/traffic/dns.ts): a query's bytes after
// the ID key the encoded response, and a hit only patches the ID.
//
// Threads and locking: each thread owns one SO_REUSEPORT socket and one cache
// guarded by its own mutex. The thread holds the mutex while it answers one
// batch from the cache; `install`, `clear` and `stats` (main thread) take it
// briefly. `clear` therefore returns only once no thread can still answer
// from the old entries: a response sent after `clear` returns is either a new
// install or comes from JavaScript.
//
// Misses are queued to JavaScript through a thread-safe function with a
// bounded queue; when JavaScript falls behind, further misses are dropped and
// counted, as a full socket buffer would drop them.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define RECV_SLOT 4096      // larger datagrams are not DNS queries we answer
#define SEND_SLOT 4096      // cached responses are at most MAX_UDP_PAYLOAD (1232)
#define CACHE_SLOTS 16384   // open addressing, power of two
#define CACHE_LIMIT 10000   // entries per thread; a full cache is emptied
#define MAX_KEY 510         // queries up to 512 bytes are cacheable, as in JS
#define COUNTERS 1024       // distinct count keys (transport|strategy|rcode)
#define MISS_QUEUE 4096
#define ROTATION_BYTES (1u << 20)  // a rotation's responses, all together
#define HEADER 12

typedef struct {
  uint64_t hash;
  // One allocation: for a rotation its offsets (variants + 1) and sequence
  // (period) first, then the key bytes, then the response bytes.
  uint8_t *mem;
  const uint8_t *key;
  const uint8_t *resp;
  uint32_t key_len;
  uint32_t resp_len;  // all responses' bytes for a rotation
  uint32_t counter;
  // Rotations only (period 0 for a stable answer): position n answers
  // response seq[n % period], bytes offsets[i] .. offsets[i + 1] of resp.
  uint32_t period;
  int32_t *position;  // the host's rotation counter (shared memory)
  const uint32_t *offsets;
  const uint16_t *seq;
} entry_t;

typedef struct server server_t;

typedef struct {
  server_t *server;
  uint32_t index;
  int fd;
  pthread_t thread;
  pthread_mutex_t lock;
  entry_t *slots;  // CACHE_SLOTS
  uint8_t *rbuf;   // BATCH x RECV_SLOT
  uint8_t *sbuf;   // BATCH x SEND_SLOT
  uint32_t size;
  uint64_t received, runts, dropped;
  uint64_t hits[COUNTERS];
} worker_t;

struct server {
  uint32_t threads;
  // The rotation counters (a SharedArrayBuffer JavaScript keeps alive while
  // `counters_ref` holds it), or NULL: then no rotation is installed.
  int32_t *counters;
  size_t counter_slots;
  napi_ref counters_ref;
  int stop_fd;  // eventfd: readable once close() asked the threads to stop
  int family;
  napi_threadsafe_function on_miss;
  worker_t *workers;
  int closed;
};

typedef struct {
  uint32_t thread;
  uint32_t len;
  socklen_t addr_len;
  struct sockaddr_storage addr;
  uint8_t bytes[];
} miss_t;

// FNV-1a, 64-bit: keys are short (a question and an OPT record).
static uint64_t hash_bytes(const uint8_t *p, uint32_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (uint32_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static entry_t *cache_find(worker_t *w, const uint8_t *key, uint32_t len, uint64_t h) {
  uint32_t mask = CACHE_SLOTS - 1;
  for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
    entry_t *e = &w->slots[i];
    if (e->mem == NULL) return NULL;
    if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0) return e;
  }
}

static void cache_clear(worker_t *w) {
  for (uint32_t i = 0; i < CACHE_SLOTS; i++) {
    free(w->slots[i].mem);
    w->slots[i].mem = NULL;
  }
  w->size = 0;
}

// A rotation to install: `variants` responses concatenated in `resp`
// (boundaries in `offsets`), and the response of each of `period` positions.
typedef struct {
  uint32_t variants;
  const uint32_t *offsets;
  uint32_t period;
  const uint16_t *seq;
  int32_t *position;
} rotation_t;

// Stores key -> response (rot NULL) or key -> rotation; resp_len is all responses' bytes.
static void cache_put(worker_t *w, const uint8_t *key, uint32_t key_len, const uint8_t *resp,
                      uint32_t resp_len, uint32_t counter, const rotation_t *rot) {
  uint64_t h = hash_bytes(key, key_len);
  entry_t *old = cache_find(w, key, key_len, h);
  if (old == NULL && w->size >= CACHE_LIMIT) cache_clear(w);
  size_t head = rot == NULL ? 0
                            : (size_t)(rot->variants + 1) * sizeof(uint32_t) +
                                  (size_t)rot->period * sizeof(uint16_t);
  uint8_t *mem = malloc(head + key_len + resp_len);
  if (mem == NULL) return;
  if (rot != NULL) {
    memcpy(mem, rot->offsets, (size_t)(rot->variants + 1) * sizeof(uint32_t));
    memcpy(mem + (size_t)(rot->variants + 1) * sizeof(uint32_t), rot->seq,
           (size_t)rot->period * sizeof(uint16_t));
  }
  memcpy(mem + head, key, key_len);
  memcpy(mem + head + key_len, resp, resp_len);
  entry_t *e = old;
  if (e == NULL) {
    uint32_t mask = CACHE_SLOTS - 1;
    uint32_t i = (uint32_t)h & mask;
    while (w->slots[i].mem != NULL) i = (i + 1) & mask;
    e = &w->slots[i];
    w->size++;
  } else {
    free(e->mem);
  }
  e->hash = h;
  e->mem = mem;
  e->key = mem + head;
  e->resp = mem + head + key_len;
  e->key_len = key_len;
  e->resp_len = resp_len;
  e->counter = counter;
  e->period = rot == NULL ? 0 : rot->period;
  e->position = rot == NULL ? NULL : rot->position;
  e->offsets = rot == NULL ? NULL : (const uint32_t *)mem;
  e->seq = rot == NULL ? NULL
                       : (const uint16_t *)(mem + (size_t)(rot->variants + 1) * sizeof(uint32_t));
}

static void queue_miss(worker_t *w, const uint8_t *bytes, uint32_t len,
                       const struct sockaddr_storage *addr, socklen_t addr_len) {
  miss_t *m = malloc(sizeof(miss_t) + len);
  if (m == NULL) {
    w->dropped++;
    return;
  }
  m->thread = w->index;
  m->len = len;
  m->addr_len = addr_len;
  memcpy(&m->addr, addr, addr_len);
  memcpy(m->bytes, bytes, len);
  if (napi_call_threadsafe_function(w->server->on_miss, m, napi_tsfn_nonblocking) != napi_ok) {
    free(m);
    pthread_mutex_lock(&w->lock);
    w->dropped++;
    pthread_mutex_unlock(&w->lock);
  }
}

static void *serve(void *arg) {
  worker_t *w = arg;
  uint8_t *rbuf = w->rbuf, *sbuf = w->sbuf;
  struct mmsghdr rmsg[BATCH], smsg[BATCH];
  struct iovec riov[BATCH], siov[BATCH];
  struct sockaddr_storage raddr[BATCH];
  uint32_t missed[BATCH];
  for (int i = 0; i < BATCH; i++) {
    riov[i].iov_base = rbuf + (size_t)i * RECV_SLOT;
    riov[i].iov_len = RECV_SLOT;
    siov[i].iov_base = sbuf + (size_t)i * SEND_SLOT;
  }
  struct pollfd fds[2] = {{.fd = w->fd, .events = POLLIN}, {.fd = w->server->stop_fd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents != 0) break;
    // Drain the socket before polling again: under load a batch is rarely short.
    for (;;) {
      memset(rmsg, 0, sizeof(rmsg));
      for (int i = 0; i < BATCH; i++) {
        rmsg[i].msg_hdr.msg_iov = &riov[i];
        rmsg[i].msg_hdr.msg_iovlen = 1;
        rmsg[i].msg_hdr.msg_name = &raddr[i];
        rmsg[i].msg_hdr.msg_namelen = sizeof(raddr[i]);
      }
      int n = recvmmsg(w->fd, rmsg, BATCH, MSG_DONTWAIT, NULL);
      if (n <= 0) break;
      int out = 0, misses = 0;
      pthread_mutex_lock(&w->lock);
      w->received += (uint64_t)n;
      for (int i = 0; i < n; i++) {
        uint32_t len = rmsg[i].msg_len;
        const uint8_t *q = rbuf + (size_t)i * RECV_SLOT;
        if (len < HEADER || (rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
          w->runts++;
          continue;
        }
        entry_t *e = NULL;
        if (len - 2 <= MAX_KEY) e = cache_find(w, q + 2, len - 2, hash_bytes(q + 2, len - 2));
        if (e == NULL) {
          missed[misses++] = (uint32_t)i;
          continue;
        }
        const uint8_t *resp = e->resp;
        uint32_t resp_len = e->resp_len;
        if (e->period != 0) {
          // Relaxed: the counter orders nothing else, as Atomics.add in JavaScript.
          uint32_t n = (uint32_t)__atomic_fetch_add(e->position, 1, __ATOMIC_RELAXED);
          uint16_t v = e->seq[n % e->period];
          resp = e->resp + e->offsets[v];
          resp_len = e->offsets[v + 1] - e->offsets[v];
        }
        uint8_t *r = sbuf + (size_t)out * SEND_SLOT;
        memcpy(r + 2, resp + 2, resp_len - 2);
        r[0] = q[0];
        r[1] = q[1];
        w->hits[e->counter]++;
        siov[out].iov_len = resp_len;
        memset(&smsg[out], 0, sizeof(smsg[out]));
        smsg[out].msg_hdr.msg_iov = &siov[out];
        smsg[out].msg_hdr.msg_iovlen = 1;
        smsg[out].msg_hdr.msg_name = &raddr[i];
        smsg[out].msg_hdr.msg_namelen = rmsg[i].msg_hdr.msg_namelen;
        out++;
      }
      pthread_mutex_unlock(&w->lock);
      for (int sent = 0; sent < out;) {
        int k = sendmmsg(w->fd, smsg + sent, (unsigned)(out - sent), 0);
        if (k <= 0) {
          if (k < 0 && errno == EINTR) continue;
          // A datagram the kernel refuses (e.g. an unreachable sender) is
          // skipped, as dgram would drop it.
          k = 1;
        }
        sent += k;
      }
      for (int j = 0; j < misses; j++) {
        uint32_t i = missed[j];
        queue_miss(w, rbuf + (size_t)i * RECV_SLOT, rmsg[i].msg_len, &raddr[i], rmsg[i].msg_hdr.msg_namelen);
      }
      if (n < BATCH) break;
    }
  }
  return NULL;
}

// ---------------------------------------------------------------- JavaScript

#define CHECK(env, call)                                      \
  do {                                                        \
    if ((call) != napi_ok) {                                  \
      napi_throw_error((env), "EUDPFAST", "udp-fastpath: " #call " failed"); \
      return NULL;                                            \
    }                                                         \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[256];
  snprintf(msg, sizeof(msg), "udp-fastpath: %s: %s", what, strerror(errno));
  napi_throw_error(env, "EUDPFAST", msg);
  return NULL;
}

static void call_on_miss(napi_env env, napi_value fn, void *context, void *data) {
  (void)context;
  miss_t *m = data;
  if (env != NULL && fn != NULL) {
    char host[INET6_ADDRSTRLEN] = "";
    if (m->addr.ss_family == AF_INET)
      inet_ntop(AF_INET, &((struct sockaddr_in *)&m->addr)->sin_addr, host, sizeof(host));
    else
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&m->addr)->sin6_addr, host, sizeof(host));
    // An IPv4 sender on a dual-stack socket reads as ::ffff:a.b.c.d; JavaScript
    // (and the geo table) see it as a.b.c.d, as dgram reports it.
    const char *shown = strncmp(host, "::ffff:", 7) == 0 && strchr(host + 7, '.') ? host + 7 : host;
    napi_value args[4], undefined, bytes_ab;
    void *copy;
    if (napi_create_buffer_copy(env, m->len, m->bytes, &copy, &args[0]) == napi_ok &&
        napi_create_uint32(env, m->thread, &args[1]) == napi_ok &&
        napi_create_string_utf8(env, shown, NAPI_AUTO_LENGTH, &args[2]) == napi_ok &&
        napi_create_buffer_copy(env, m->addr_len, &m->addr, &copy, &bytes_ab) == napi_ok &&
        napi_get_undefined(env, &undefined) == napi_ok) {
      args[3] = bytes_ab;
      // An exception from the callback stays pending and reaches the process's
      // uncaughtException like any other callback's; the JavaScript side catches its own.
      napi_call_function(env, undefined, fn, 4, args, NULL);
    }
  }
  free(m);
}

static server_t *unwrap(napi_env env, napi_value v) {
  server_t *s = NULL;
  if (napi_get_value_external(env, v, (void **)&s) != napi_ok || s == NULL) {
    napi_throw_type_error(env, "EUDPFAST", "udp-fastpath: not a server handle");
    return NULL;
  }
  if (s->closed) {
    napi_throw_error(env, "EUDPFAST", "udp-fastpath: server is closed");
    return NULL;
  }
  return s;
}

static void stop_threads(server_t *s) {
  if (s->closed) return;
  s->closed = 1;
  uint64_t one = 1;
  if (write(s->stop_fd, &one, sizeof(one)) < 0) { /* the threads also stop on close below */ }
  for (uint32_t i = 0; i < s->threads; i++) {
    worker_t *w = &s->workers[i];
    if (w->fd >= 0) {
      pthread_join(w->thread, NULL);
      close(w->fd);
      w->fd = -1;
    }
    cache_clear(w);
    free(w->slots);
    free(w->rbuf);
    free(w->sbuf);
    w->slots = NULL;
    pthread_mutex_destroy(&w->lock);
  }
  close(s->stop_fd);
  napi_release_threadsafe_function(s->on_miss, napi_tsfn_abort);
}

static void finalize_server(napi_env env, void *data, void *hint) {
  (void)hint;
  server_t *s = data;
  stop_threads(s);
  if (s->counters_ref != NULL) napi_delete_reference(env, s->counters_ref);
  free(s->workers);
  free(s);
}

static int parse_address(int family, const char *host, uint32_t port, struct sockaddr_storage *out,
                         socklen_t *len) {
  memset(out, 0, sizeof(*out));
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)out;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    *len = sizeof(*a);
    return inet_pton(AF_INET6, host, &a->sin6_addr) == 1;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)out;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  *len = sizeof(*a);
  return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

// open(host, port, threads, onMiss(query, thread, address, sender), counters?: Int32Array) -> handle
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t *counters = NULL;
  size_t counter_slots = 0;
  bool have_counters = false;
  if (argc >= 5) CHECK(env, napi_is_typedarray(env, argv[4], &have_counters));
  if (have_counters) {
    napi_typedarray_type type;
    void *data;
    CHECK(env, napi_get_typedarray_info(env, argv[4], &type, &counter_slots, &data, NULL, NULL));
    if (type != napi_int32_array || counter_slots == 0) {
      napi_throw_type_error(env, "EUDPFAST", "udp-fastpath: counters must be a non-empty Int32Array");
      return NULL;
    }
    counters = data;
  }
  char host[INET6_ADDRSTRLEN];
  uint32_t port, threads;
  CHECK(env, napi_get_value_string_utf8(env, argv[0], host, sizeof(host), NULL));
  CHECK(env, napi_get_value_uint32(env, argv[1], &port));
  CHECK(env, napi_get_value_uint32(env, argv[2], &threads));
  if (threads < 1 || threads > 256 || port > 65535) {
    napi_throw_range_error(env, "EUDPFAST", "udp-fastpath: threads must be 1-256, port 0-65535");
    return NULL;
  }
  int family = strchr(host, ':') != NULL ? 6 : 4;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  if (!parse_address(family, host, port, &addr, &addr_len)) {
    napi_throw_error(env, "EUDPFAST", "udp-fastpath: host is not an IP address");
    return NULL;
  }
  server_t *s = calloc(1, sizeof(server_t));
  worker_t *ws = calloc(threads, sizeof(worker_t));
  if (s == NULL || ws == NULL) {
    free(s);
    free(ws);
    return throw_errno(env, "calloc");
  }
  s->threads = threads;
  s->family = family;
  s->workers = ws;
  s->counters = counters;
  s->counter_slots = counter_slots;
  s->stop_fd = eventfd(0, EFD_CLOEXEC);
  for (uint32_t i = 0; i < threads; i++) ws[i].fd = -1;
  napi_value name;
  CHECK(env, napi_create_string_utf8(env, "udp-fastpath miss", NAPI_AUTO_LENGTH, &name));
  if (s->stop_fd < 0 ||
      napi_create_threadsafe_function(env, argv[3], NULL, name, MISS_QUEUE, 1, NULL, NULL, NULL,
                                      call_on_miss, &s->on_miss) != napi_ok) {
    if (s->stop_fd >= 0) close(s->stop_fd);
    free(ws);
    free(s);
    return throw_errno(env, "setup");
  }
  // Bind every socket before starting any thread, so a failure leaves nothing behind.
  const char *failed = NULL;
  for (uint32_t i = 0; i < threads && failed == NULL; i++) {
    worker_t *w = &ws[i];
    w->server = s;
    w->index = i;
    int one = 1;
    w->fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (w->fd < 0) failed = "socket";
    else if (setsockopt(w->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) failed = "SO_REUSEPORT";
    else if (bind(w->fd, (struct sockaddr *)&addr, addr_len) < 0) failed = "bind";
    else if (port == 0) {
      // The first socket picks the port; the others join it.
      struct sockaddr_storage bound;
      socklen_t bl = sizeof(bound);
      getsockname(w->fd, (struct sockaddr *)&bound, &bl);
      port = ntohs(family == 6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                               : ((struct sockaddr_in *)&bound)->sin_port);
      parse_address(family, host, port, &addr, &addr_len);
    }
  }
  if (failed != NULL) {
    int saved = errno;
    for (uint32_t i = 0; i < threads; i++)
      if (ws[i].fd >= 0) close(ws[i].fd);
    close(s->stop_fd);
    napi_release_threadsafe_function(s->on_miss, napi_tsfn_abort);
    free(ws);
    free(s);
    errno = saved;
    return throw_errno(env, failed);
  }
  for (uint32_t i = 0; i < threads; i++) {
    worker_t *w = &ws[i];
    w->slots = calloc(CACHE_SLOTS, sizeof(entry_t));
    w->rbuf = malloc((size_t)BATCH * RECV_SLOT);
    w->sbuf = malloc((size_t)BATCH * SEND_SLOT);
    if (w->slots == NULL || w->rbuf == NULL || w->sbuf == NULL) abort();
    pthread_mutex_init(&w->lock, NULL);
    if (pthread_create(&w->thread, NULL, serve, w) != 0) abort();
  }
  // Misses alone do not keep the process alive; the JavaScript server object does.
  napi_unref_threadsafe_function(env, s->on_miss);
  if (counters != NULL) CHECK(env, napi_create_reference(env, argv[4], 1, &s->counters_ref));
  napi_value handle;
  CHECK(env, napi_create_external(env, s, finalize_server, NULL, &handle));
  return handle;
}

static napi_value js_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  struct sockaddr_storage bound;
  socklen_t bl = sizeof(bound);
  if (getsockname(s->workers[0].fd, (struct sockaddr *)&bound, &bl) < 0) return throw_errno(env, "getsockname");
  uint32_t port = ntohs(s->family == 6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                       : ((struct sockaddr_in *)&bound)->sin_port);
  CHECK(env, napi_create_uint32(env, port, &out));
  return out;
}

// reply(handle, thread, response, sender): one datagram from the thread's socket, never blocking.
static napi_value js_reply(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  uint32_t thread;
  void *resp, *addr;
  size_t resp_len, addr_len;
  CHECK(env, napi_get_value_uint32(env, argv[1], &thread));
  CHECK(env, napi_get_buffer_info(env, argv[2], &resp, &resp_len));
  CHECK(env, napi_get_buffer_info(env, argv[3], &addr, &addr_len));
  if (thread >= s->threads || addr_len > sizeof(struct sockaddr_storage)) {
    napi_throw_range_error(env, "EUDPFAST", "udp-fastpath: bad thread or sender");
    return NULL;
  }
  // A full socket buffer drops the answer, as a lost datagram would.
  sendto(s->workers[thread].fd, resp, resp_len, MSG_DONTWAIT, (struct sockaddr *)addr, (socklen_t)addr_len);
  return NULL;
}

// install(handle, thread, query, response, counter): the thread answers these query bytes from now on.
static napi_value js_install(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  uint32_t thread, counter;
  void *query, *resp;
  size_t query_len, resp_len;
  CHECK(env, napi_get_value_uint32(env, argv[1], &thread));
  CHECK(env, napi_get_buffer_info(env, argv[2], &query, &query_len));
  CHECK(env, napi_get_buffer_info(env, argv[3], &resp, &resp_len));
  CHECK(env, napi_get_value_uint32(env, argv[4], &counter));
  if (thread >= s->threads || counter >= COUNTERS || query_len < HEADER || query_len - 2 > MAX_KEY ||
      resp_len < HEADER || resp_len > SEND_SLOT) {
    napi_throw_range_error(env, "EUDPFAST", "udp-fastpath: install out of range");
    return NULL;
  }
  worker_t *w = &s->workers[thread];
  pthread_mutex_lock(&w->lock);
  cache_put(w, (uint8_t *)query + 2, (uint32_t)query_len - 2, resp, (uint32_t)resp_len, counter, NULL);
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

// install_rotation(handle, thread, query, responses: Buffer (concatenated),
//   offsets: Uint32Array (variants + 1), sequence: Uint16Array, slot, counter):
// the thread answers these query bytes from the rotation, advancing counters[slot].
static napi_value js_install_rotation(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  uint32_t thread, slot, counter;
  void *query, *resp, *offsets_data, *seq_data;
  size_t query_len, resp_len, variants_plus_one, period;
  napi_typedarray_type offsets_type, seq_type;
  CHECK(env, napi_get_value_uint32(env, argv[1], &thread));
  CHECK(env, napi_get_buffer_info(env, argv[2], &query, &query_len));
  CHECK(env, napi_get_buffer_info(env, argv[3], &resp, &resp_len));
  CHECK(env, napi_get_typedarray_info(env, argv[4], &offsets_type, &variants_plus_one, &offsets_data, NULL, NULL));
  CHECK(env, napi_get_typedarray_info(env, argv[5], &seq_type, &period, &seq_data, NULL, NULL));
  CHECK(env, napi_get_value_uint32(env, argv[6], &slot));
  CHECK(env, napi_get_value_uint32(env, argv[7], &counter));
  if (s->counters == NULL || thread >= s->threads || counter >= COUNTERS || slot >= s->counter_slots ||
      query_len < HEADER || query_len - 2 > MAX_KEY || offsets_type != napi_uint32_array ||
      seq_type != napi_uint16_array || variants_plus_one < 2 || variants_plus_one > 65537 ||
      period == 0 || resp_len > ROTATION_BYTES) {
    napi_throw_range_error(env, "EUDPFAST", "udp-fastpath: install_rotation out of range");
    return NULL;
  }
  // Every response within the send slot, every position naming one: a hit never checks.
  const uint32_t *offsets = offsets_data;
  const uint16_t *seq = seq_data;
  uint32_t variants = (uint32_t)variants_plus_one - 1;
  int ok = offsets[0] == 0 && offsets[variants] == resp_len;
  for (uint32_t v = 0; ok && v < variants; v++)
    ok = offsets[v + 1] >= offsets[v] + HEADER && offsets[v + 1] - offsets[v] <= SEND_SLOT;
  for (size_t n = 0; ok && n < period; n++) ok = seq[n] < variants;
  if (!ok) {
    napi_throw_range_error(env, "EUDPFAST", "udp-fastpath: install_rotation: inconsistent rotation");
    return NULL;
  }
  rotation_t rot = {variants, offsets, (uint32_t)period, seq, &s->counters[slot]};
  worker_t *w = &s->workers[thread];
  pthread_mutex_lock(&w->lock);
  cache_put(w, (uint8_t *)query + 2, (uint32_t)query_len - 2, resp, (uint32_t)resp_len, counter, &rot);
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

static napi_value js_clear(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  for (uint32_t i = 0; i < s->threads; i++) {
    worker_t *w = &s->workers[i];
    pthread_mutex_lock(&w->lock);
    cache_clear(w);
    pthread_mutex_unlock(&w->lock);
  }
  return NULL;
}

// stats(handle) -> { received, runts, dropped, hits: Float64Array(COUNTERS) }, totals over threads.
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out, v, ab, hits;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = unwrap(env, argv[0]);
  if (s == NULL) return NULL;
  double *sum;
  CHECK(env, napi_create_arraybuffer(env, COUNTERS * sizeof(double), (void **)&sum, &ab));
  memset(sum, 0, COUNTERS * sizeof(double));
  double received = 0, runts = 0, dropped = 0;
  for (uint32_t i = 0; i < s->threads; i++) {
    worker_t *w = &s->workers[i];
    pthread_mutex_lock(&w->lock);
    received += (double)w->received;
    runts += (double)w->runts;
    dropped += (double)w->dropped;
    for (int c = 0; c < COUNTERS; c++) sum[c] += (double)w->hits[c];
    pthread_mutex_unlock(&w->lock);
  }
  CHECK(env, napi_create_object(env, &out));
  CHECK(env, napi_create_double(env, received, &v));
  CHECK(env, napi_set_named_property(env, out, "received", v));
  CHECK(env, napi_create_double(env, runts, &v));
  CHECK(env, napi_set_named_property(env, out, "runts", v));
  CHECK(env, napi_create_double(env, dropped, &v));
  CHECK(env, napi_set_named_property(env, out, "dropped", v));
  CHECK(env, napi_create_typedarray(env, napi_float64_array, COUNTERS, ab, 0, &hits));
  CHECK(env, napi_set_named_property(env, out, "hits", hits));
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  server_t *s = NULL;
  CHECK(env, napi_get_value_external(env, argv[0], (void **)&s));
  if (s != NULL) stop_threads(s);
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  const napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"port", NULL, js_port, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reply", NULL, js_reply, NULL, NULL, NULL, napi_enumerable, NULL},
      {"install", NULL, js_install, NULL, NULL, NULL, napi_enumerable, NULL},
      {"installRotation", NULL, js_install_rotation, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clear", NULL, js_clear, NULL, NULL, NULL, napi_enumerable, NULL},
      {"stats", NULL, js_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
