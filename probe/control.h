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

/* Parses ADDR:PORT (IPv4, or [IPv6]:PORT) of a loopback address. 0, or -1 with the reason.
 * (control_parse.c, like probe_control_parse: pure, no I/O) */
int probe_parse_loopback(const char *s, struct sockaddr_storage *ret, char *err, size_t errlen);

/* What a weirctl client asks for. */
enum probe_control_cmd {
	PROBE_CONTROL_NONE,   /* an empty line: nothing to answer */
	PROBE_CONTROL_STATS,  /* stats */
	PROBE_CONTROL_ALERTS, /* alerts */
	PROBE_CONTROL_CONFIG, /* config */
	PROBE_CONTROL_TOP,    /* flows top [N] */
	PROBE_CONTROL_ERROR,  /* anything else: the answer is "error: " and the message */
};

#define PROBE_CONTROL_LINE_MAX 256 /* bytes a client may send, the terminator included */

/*
 * Parses what a client sent: len bytes at buf (len < PROBE_CONTROL_LINE_MAX, and buf has room
 * for one more). The command is the first line: buf is cut there in place (NUL-terminated,
 * without its line end), so the caller can log it. For PROBE_CONTROL_TOP, *ret_top is N (10
 * when not given); for PROBE_CONTROL_ERROR, err holds the message naming the line.
 */
enum probe_control_cmd probe_control_parse(char *buf, size_t len, unsigned *ret_top, char *err,
                                           size_t errlen);

/* Binds the control socket and the metrics listener (those configured), before privileges
 * are dropped. 0 or -errno with a message in err. */
int probe_control_open(struct probe *pr, char *err, size_t errlen);

/* Starts answering (the metrics listener answers from its open). 0 or -errno. */
int probe_control_start(struct probe *pr, char *err, size_t errlen);

/* Stops answering and removes the socket. Safe when nothing was opened. */
void probe_control_close(struct probe *pr);

#endif /* PROBE_CONTROL_H */
