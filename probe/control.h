/*
 * control: what a running weir answers: weirctl's commands on a unix socket (stats, flows top
 * N, alerts, config) and Prometheus' scrape of /metrics over HTTP on a loopback address.
 * Read-only: nothing asked here changes what weir does. Private to probe/.
 */
#ifndef PROBE_CONTROL_H
#define PROBE_CONTROL_H

#include <stddef.h>
#include <sys/socket.h>

struct probe;

/* Parses ADDR:PORT (IPv4, or [IPv6]:PORT) of a loopback address. 0, or -1 with the reason. */
int probe_parse_loopback(const char *s, struct sockaddr_storage *ret, char *err, size_t errlen);

/* Binds the control socket and the metrics listener (those configured), before privileges
 * are dropped. 0 or -errno with a message in err. */
int probe_control_open(struct probe *pr, char *err, size_t errlen);

/* Starts answering (the metrics listener answers from its open). 0 or -errno. */
int probe_control_start(struct probe *pr, char *err, size_t errlen);

/* Stops answering and removes the socket. Safe when nothing was opened. */
void probe_control_close(struct probe *pr);

#endif /* PROBE_CONTROL_H */
