/*
 * IPFIX exporter: one collector reached over UDP, TCP or a file, fed by the exporter thread.
 *
 * Records are encoded into one open message (ipfix_msg.c); the message leaves when the next
 * record does not fit, when it is older than flush_ms at a tick, or at flush. Every transport
 * session starts with the template set: the first message of a UDP socket, of a file and of
 * each TCP connection carries it (a templates-only message is sent first when the open message
 * was started without it). UDP re-sends templates by time and by message count and is paced
 * by a token bucket that sleeps this thread, never the capture path.
 *
 * TCP never blocks for long: connects are non-blocking and retried with a doubling back-off,
 * a send waits at most IPFIX_IO_WAIT_MS for room in a bounded socket buffer, and a message
 * that cannot be delivered is counted in records_lost (with its packets and octets). A new
 * connection is a new session: sequence numbers restart at 0.
 *
 * The statistics records (Metering Process Statistics, Metering and Exporting Process
 * Reliability Statistics) travel with every template set, at least every stats_refresh_s, and
 * in a last message at finish. A file may rotate by size or age: the file ends with its
 * statistics, is renamed PATH.YYYYMMDDTHHMMSSZ-NNNNNN (its start time, UTC, and its number),
 * and the next one is a new session that starts with the templates.
 *
 * Timers (flush, template refresh, reconnect) run on the now_ns the caller passes in, so tests
 * can drive them; only pacing reads the monotonic clock itself.
 */
#include "ipfix.h"
#include "ipfix_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wr.h"

#define IPFIX_STREAM_BUF      16384 /* TCP and file message buffer */
#define IPFIX_UDP_MAX         65507 /* largest UDP payload over IPv4 */
#define IPFIX_UDP_SNDBUF      (4 << 20)
#define IPFIX_BACKOFF_MAX_MS  30000
#define IPFIX_IO_WAIT_MS      1000 /* longest wait for socket room or a connect, per message */
#define IPFIX_CONNECT_TIMEOUT (5 * WR_NS_PER_S)
#define IPFIX_PACE_BURST      32 /* messages the pacer lets through back to back */
#define IPFIX_MAX_ADDRS       8

enum ipfix_transport {
	IPFIX_UDP,
	IPFIX_TCP,
	IPFIX_FILE,
};

enum ipfix_tcp_state {
	IPFIX_TCP_DOWN,
	IPFIX_TCP_CONNECTING,
	IPFIX_TCP_UP,
};

struct ipfix_exporter {
	enum ipfix_transport transport;
	struct ipfix_exporter_params params;
	char *url;
	int fd;

	/* TCP: resolved once at create, tried in turn */
	struct sockaddr_storage addrs[IPFIX_MAX_ADDRS];
	socklen_t addr_lens[IPFIX_MAX_ADDRS];
	unsigned n_addrs;
	unsigned next_addr;
	enum ipfix_tcp_state tcp_state;
	uint64_t retry_at_ns;
	uint64_t connect_start_ns;
	uint32_t backoff_ms; /* delay before the next attempt after a failure */

	/* the open message */
	uint8_t *buf;
	size_t cap;
	struct ipfix_msg msg;
	int msg_open;
	int msg_has_templates;
	uint64_t msg_start_ns;
	uint8_t *tmpl_buf; /* templates-only messages, so the open one can wait */
	size_t tmpl_cap;

	/* transport session */
	uint32_t seq;
	int need_templates; /* the session has not had the template set yet */
	uint64_t templates_ns;
	uint32_t msgs_since_templates; /* messages sent since the last template set, it included */

	/* UDP pacing: credit in nanoseconds of send time */
	uint64_t pace_interval_ns;
	uint64_t pace_burst_ns;
	uint64_t pace_credit_ns;
	uint64_t pace_last_ns;

	/* statistics records */
	uint32_t exporting_process_id;
	uint64_t stats_ns; /* when the statistics records last went out */
	int msg_has_stats;
	struct ipfix_metering_losses losses;
	uint64_t lost_first_ns, lost_last_ns; /* records this exporter could not send */
	int finished;

	/* file */
	char *path;
	uint64_t file_start_ns;
	uint64_t file_bytes;

	struct ipfix_exporter_stats stats;
};

void ipfix_exporter_params_default(struct ipfix_exporter_params *params)
{
	memset(params, 0, sizeof(*params));
	params->odid = 1;
	params->template_refresh_s = 20;
	params->template_refresh_msgs = 0;
	params->udp_max_msg = 1400;
	params->udp_pace_mps = 20000;
	params->flush_ms = 500;
	params->tcp_retry_ms = 500;
	params->stats_refresh_s = 60;
	params->tcp_sndbuf = 1u << 20;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) WR_PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------------------------- */
/* url parsing and address resolution                                                         */

struct ipfix_url {
	enum ipfix_transport transport;
	char host[256];
	int host_bracketed;
	const char *port; /* points into the url */
	const char *path; /* file: only */
};

static int parse_url(const char *url, struct ipfix_url *ret, char *err, size_t errlen)
{
	const char *rest, *host, *host_end, *colon;
	size_t host_len;
	uint64_t port;

	memset(ret, 0, sizeof(*ret));
	if (strncmp(url, "file:", 5) == 0) {
		ret->transport = IPFIX_FILE;
		ret->path = url + 5;
		if (*ret->path == '\0') {
			set_err(err, errlen, "missing path in '%s'", url);
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(url, "udp://", 6) == 0) {
		ret->transport = IPFIX_UDP;
	} else if (strncmp(url, "tcp://", 6) == 0) {
		ret->transport = IPFIX_TCP;
	} else {
		set_err(err, errlen,
		        "unknown scheme in '%s' (expected udp://HOST:PORT, tcp://HOST:PORT or "
		        "file:PATH)",
		        url);
		return -EINVAL;
	}
	rest = url + 6;
	if (*rest == '[') {
		host = rest + 1;
		host_end = strchr(host, ']');
		if (host_end == NULL) {
			set_err(err, errlen, "missing ']' after the IPv6 address in '%s'", url);
			return -EINVAL;
		}
		colon = host_end + 1;
		if (*colon != ':') {
			set_err(err, errlen, "missing port in '%s' (expected [ADDRESS]:PORT)", url);
			return -EINVAL;
		}
		ret->host_bracketed = 1;
	} else {
		host = rest;
		colon = strrchr(rest, ':');
		if (colon == NULL) {
			set_err(err, errlen, "missing port in '%s' (expected HOST:PORT)", url);
			return -EINVAL;
		}
		host_end = colon;
		if (memchr(host, ':', (size_t)(host_end - host)) != NULL) {
			set_err(err, errlen,
			        "IPv6 address must be in brackets in '%s' ([ADDRESS]:PORT)", url);
			return -EINVAL;
		}
	}
	host_len = (size_t)(host_end - host);
	if (host_len == 0) {
		set_err(err, errlen, "missing host in '%s'", url);
		return -EINVAL;
	}
	if (host_len >= sizeof(ret->host)) {
		set_err(err, errlen, "host name too long in '%s'", url);
		return -EINVAL;
	}
	memcpy(ret->host, host, host_len);
	ret->host[host_len] = '\0';
	ret->port = colon + 1;
	if (*ret->port == '\0') {
		set_err(err, errlen, "missing port in '%s'", url);
		return -EINVAL;
	}
	if (wr_parse_u64(ret->port, 1, 65535, &port) < 0) {
		set_err(err, errlen, "bad port '%s' in '%s' (expected 1..65535)", ret->port, url);
		return -EINVAL;
	}
	return 0;
}

static int resolve(const struct ipfix_url *u, const char *url, struct addrinfo **ret, char *err,
                   size_t errlen)
{
	struct addrinfo hints;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = u->transport == IPFIX_UDP ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (u->host_bracketed ? AI_NUMERICHOST : 0);
	r = getaddrinfo(u->host, u->port, &hints, ret);
	if (r == 0)
		return 0;
	set_err(err, errlen, "cannot resolve '%s' in '%s': %s", u->host, url,
	        r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	if (r == EAI_SYSTEM)
		return errno ? -errno : -EIO;
	if (r == EAI_MEMORY)
		return -ENOMEM;
	return -EHOSTUNREACH;
}

/* ---------------------------------------------------------------------------------------- */
/* raw output                                                                                 */

static uint64_t mono_ms_left(uint64_t deadline_ns)
{
	uint64_t now = wr_mono_ns();

	return now >= deadline_ns ? 0 : (deadline_ns - now + WR_NS_PER_MS - 1) / WR_NS_PER_MS;
}

/* Writes all len bytes (a UDP datagram goes whole or not at all), waiting at most
 * IPFIX_IO_WAIT_MS for socket room. 0 or -errno. */
static int write_all(struct ipfix_exporter *ex, const uint8_t *p, size_t len)
{
	uint64_t deadline = 0;
	size_t off = 0;
	int refused = 0;

	while (off < len) {
		struct pollfd pfd = {.fd = ex->fd, .events = POLLOUT};
		ssize_t n;
		uint64_t left;

		if (ex->transport == IPFIX_FILE)
			n = write(ex->fd, p + off, len - off);
		else
			n = send(ex->fd, p + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			return -EIO;
		if (errno == EINTR)
			continue;
		/* A connected UDP socket reports an earlier datagram's ICMP port unreachable on
		 * the next send, which itself was not sent: count the refusal (the collector was
		 * down) and try once more (it may be back). A collector that comes back knows no
		 * templates: the next message carries them, not the one of the periodic refresh. */
		if (errno == ECONNREFUSED && ex->transport == IPFIX_UDP && !refused++) {
			ex->stats.send_errors++;
			ex->need_templates = 1;
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (deadline == 0)
			deadline = wr_mono_ns() + IPFIX_IO_WAIT_MS * WR_NS_PER_MS;
		left = mono_ms_left(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* Sleeps this thread until the token bucket allows one more UDP message. */
static void udp_pace(struct ipfix_exporter *ex)
{
	if (ex->pace_interval_ns == 0)
		return;
	for (;;) {
		uint64_t now = wr_mono_ns();
		struct timespec ts;
		uint64_t wait;

		ex->pace_credit_ns += now - ex->pace_last_ns;
		ex->pace_last_ns = now;
		if (ex->pace_credit_ns > ex->pace_burst_ns)
			ex->pace_credit_ns = ex->pace_burst_ns;
		if (ex->pace_credit_ns >= ex->pace_interval_ns) {
			ex->pace_credit_ns -= ex->pace_interval_ns;
			return;
		}
		wait = ex->pace_interval_ns - ex->pace_credit_ns;
		ts.tv_sec = (time_t)(wait / WR_NS_PER_S);
		ts.tv_nsec = (long)(wait % WR_NS_PER_S);
		nanosleep(&ts, NULL);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* TCP connection                                                                             */

static void tcp_close(struct ipfix_exporter *ex, uint64_t now_ns)
{
	if (ex->fd >= 0)
		close(ex->fd);
	ex->fd = -1;
	ex->tcp_state = IPFIX_TCP_DOWN;
	ex->retry_at_ns = now_ns + (uint64_t)ex->backoff_ms * WR_NS_PER_MS;
	ex->backoff_ms =
	    ex->backoff_ms >= IPFIX_BACKOFF_MAX_MS / 2 ? IPFIX_BACKOFF_MAX_MS : ex->backoff_ms * 2;
	ex->need_templates = 1;
	ex->seq = 0;
}

static void tcp_connect_failed(struct ipfix_exporter *ex, uint64_t now_ns)
{
	/* Another address of the name may answer. */
	ex->next_addr = (ex->next_addr + 1) % ex->n_addrs;
	tcp_close(ex, now_ns);
}

static void tcp_connected(struct ipfix_exporter *ex)
{
	int one = 1;

	/* Partial messages sent at flush should not wait for Nagle. */
	setsockopt(ex->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ex->tcp_state = IPFIX_TCP_UP;
	ex->stats.connects++;
	ex->backoff_ms = ex->params.tcp_retry_ms ? ex->params.tcp_retry_ms : 1;
	ex->seq = 0;
	ex->need_templates = 1;
}

static void tcp_connect_start(struct ipfix_exporter *ex, uint64_t now_ns)
{
	const struct sockaddr_storage *sa = &ex->addrs[ex->next_addr];

	int size = (int)ex->params.tcp_sndbuf;

	ex->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ex->fd < 0) {
		tcp_connect_failed(ex, now_ns);
		return;
	}
	/* A bounded buffer: what the collector cannot take within IPFIX_IO_WAIT_MS is lost and
	 * counted, rather than piling up in the kernel. */
	if (size > 0)
		setsockopt(ex->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	ex->connect_start_ns = now_ns;
	if (connect(ex->fd, (const struct sockaddr *)sa, ex->addr_lens[ex->next_addr]) == 0) {
		tcp_connected(ex);
		return;
	}
	if (errno == EINPROGRESS || errno == EINTR) {
		ex->tcp_state = IPFIX_TCP_CONNECTING;
		return;
	}
	tcp_connect_failed(ex, now_ns);
}

/* A collector never sends on an IPFIX TCP session, so a readable socket means it closed (or
 * reset) the connection: notice that before sending into it. */
static int tcp_peer_gone(struct ipfix_exporter *ex)
{
	struct pollfd pfd = {.fd = ex->fd, .events = POLLIN};
	uint8_t junk[256];
	ssize_t n;

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	if (pfd.revents & (POLLERR | POLLHUP))
		return 1;
	n = recv(ex->fd, junk, sizeof(junk), MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Moves the connection along: notices a lost peer, starts a due attempt, completes a pending
 * one (waiting at most wait_ms for it). */
static void tcp_progress(struct ipfix_exporter *ex, uint64_t now_ns, int wait_ms)
{
	if (ex->tcp_state == IPFIX_TCP_UP && tcp_peer_gone(ex))
		tcp_close(ex, now_ns);
	if (ex->tcp_state == IPFIX_TCP_DOWN) {
		/* A clock stepped back must not postpone the retry by the size of the step. */
		if (ex->retry_at_ns > now_ns + IPFIX_BACKOFF_MAX_MS * WR_NS_PER_MS)
			ex->retry_at_ns = now_ns;
		if (now_ns < ex->retry_at_ns)
			return;
		tcp_connect_start(ex, now_ns);
	}
	if (ex->tcp_state == IPFIX_TCP_CONNECTING) {
		struct pollfd pfd = {.fd = ex->fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (poll(&pfd, 1, wait_ms) <= 0) {
			if (now_ns - ex->connect_start_ns >= IPFIX_CONNECT_TIMEOUT &&
			    now_ns >= ex->connect_start_ns)
				tcp_connect_failed(ex, now_ns);
			return;
		}
		if (getsockopt(ex->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0)
			tcp_connect_failed(ex, now_ns);
		else
			tcp_connected(ex);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* messages                                                                                   */

static int udp_refresh_time_due(const struct ipfix_exporter *ex, uint64_t now_ns)
{
	uint64_t every = (uint64_t)ex->params.template_refresh_s * WR_NS_PER_S;

	if (ex->transport != IPFIX_UDP || every == 0)
		return 0;
	/* A clock stepped back re-sends rather than waiting out the step. */
	return now_ns < ex->templates_ns || now_ns - ex->templates_ns >= every;
}

static int templates_due(const struct ipfix_exporter *ex, uint64_t now_ns)
{
	if (ex->need_templates)
		return 1;
	if (ex->transport != IPFIX_UDP)
		return 0;
	if (ex->params.template_refresh_msgs != 0 &&
	    ex->msgs_since_templates >= ex->params.template_refresh_msgs)
		return 1;
	return udp_refresh_time_due(ex, now_ns);
}

/* Records that will never reach the collector: counted with their packets and octets. */
static void lose(struct ipfix_exporter *ex, uint64_t records, uint64_t packets, uint64_t octets,
                 uint64_t now_ns)
{
	if (records == 0)
		return;
	ex->stats.records_lost += records;
	ex->stats.packets_lost += packets;
	ex->stats.octets_lost += octets;
	if (ex->lost_first_ns == 0)
		ex->lost_first_ns = now_ns;
	ex->lost_last_ns = now_ns;
}

/* Sends one finished message. Its flow records and options records both count in the
 * sequence number (RFC 7011 3.1), only flow records in the statistics. 0 or -errno. */
static int transmit(struct ipfix_exporter *ex, const struct ipfix_msg *m, int has_templates,
                    int has_stats, uint64_t now_ns)
{
	int r;

	if (ex->transport == IPFIX_UDP)
		udp_pace(ex);
	r = write_all(ex, m->buf, m->len);
	if (r < 0) {
		ex->stats.send_errors++;
		lose(ex, m->records, m->packets, m->octets, now_ns);
		if (ex->transport == IPFIX_TCP) {
			/* Part of the message may be on the wire: the stream is unusable. */
			tcp_close(ex, now_ns);
		} else {
			/* A file (disk full) keeps whole messages only: cut what part of this one
			 * was written, so the file stays readable and writing goes on from there
			 * once there is room again. */
			if (ex->transport == IPFIX_FILE && ex->fd >= 0 &&
			    (ftruncate(ex->fd, (off_t)ex->file_bytes) < 0 ||
			     lseek(ex->fd, (off_t)ex->file_bytes, SEEK_SET) < 0))
				ex->stats.send_errors++;
			/* The records keep their numbers, so the collector sees the gap. */
			ex->seq += m->records + m->option_records;
		}
		return r;
	}
	ex->stats.messages++;
	ex->stats.records += m->records;
	ex->stats.bytes += m->len;
	ex->file_bytes += m->len;
	ex->seq += m->records + m->option_records;
	if (has_templates) {
		ex->stats.template_sets++;
		ex->need_templates = 0;
		ex->templates_ns = now_ns;
		ex->msgs_since_templates = 1;
	} else {
		ex->msgs_since_templates++;
	}
	if (has_stats) {
		ex->stats.stats_sent++;
		ex->stats_ns = now_ns;
	}
	return 0;
}

static unsigned msg_flags(const struct ipfix_exporter *ex)
{
	return (ex->params.biflow ? IPFIX_MSG_BIFLOW : 0) | (ex->params.time_ns ? IPFIX_MSG_NS : 0);
}

static uint64_t min_nonzero(uint64_t a, uint64_t b)
{
	return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* The statistics records as they stand before the message being built. */
static void stats_report(const struct ipfix_exporter *ex, struct ipfix_stats_report *r)
{
	const struct ipfix_metering_losses *l = &ex->losses;

	memset(r, 0, sizeof(*r));
	r->odid = ex->params.odid;
	r->exporting_process_id = ex->exporting_process_id;
	r->exported_messages = ex->stats.messages;
	r->exported_records = ex->stats.records;
	r->exported_octets = ex->stats.bytes;
	r->ignored_packets = l->ignored_packets;
	r->ignored_octets = l->ignored_octets;
	r->ignored_first_ns = l->ignored_first_ns;
	r->ignored_last_ns = l->ignored_last_ns;
	r->not_sent_flows = ex->stats.records_lost + l->dropped_flows;
	r->not_sent_packets = ex->stats.packets_lost + l->dropped_packets;
	r->not_sent_octets = ex->stats.octets_lost + l->dropped_octets;
	r->not_sent_first_ns = min_nonzero(ex->lost_first_ns, l->dropped_first_ns);
	r->not_sent_last_ns =
	    ex->lost_last_ns > l->dropped_last_ns ? ex->lost_last_ns : l->dropped_last_ns;
}

static int stats_due(const struct ipfix_exporter *ex, uint64_t now_ns)
{
	uint64_t every = (uint64_t)ex->params.stats_refresh_s * WR_NS_PER_S;

	return every != 0 && (now_ns < ex->stats_ns || now_ns - ex->stats_ns >= every);
}

/* A message of templates (when the session needs them or with_templates) and statistics
 * only, sent at once from the small buffer so that the open message can wait. */
static int send_control(struct ipfix_exporter *ex, int with_templates, uint64_t now_ns)
{
	struct ipfix_stats_report rep;
	struct ipfix_msg m;

	with_templates |= ex->need_templates;
	ipfix_msg_begin(&m, ex->tmpl_buf, ex->tmpl_cap, &ex->params.sampling, msg_flags(ex));
	if (with_templates)
		ipfix_msg_add_templates(&m);
	stats_report(ex, &rep);
	ipfix_msg_add_stats(&m, &rep);
	ipfix_msg_finish(&m, (uint32_t)(now_ns / WR_NS_PER_S), ex->seq, ex->params.odid);
	return transmit(ex, &m, with_templates, 1, now_ns);
}

static void msg_begin(struct ipfix_exporter *ex, uint64_t now_ns)
{
	ipfix_msg_begin(&ex->msg, ex->buf, ex->cap, &ex->params.sampling, msg_flags(ex));
	ex->msg_open = 1;
	ex->msg_start_ns = now_ns;
	ex->msg_has_templates = 0;
	ex->msg_has_stats = 0;
	/* Cannot fail: create checked that the buffer holds templates, statistics and a
	 * record. */
	if (templates_due(ex, now_ns) && ipfix_msg_add_templates(&ex->msg) == 0)
		ex->msg_has_templates = 1;
	if (ex->msg_has_templates || stats_due(ex, now_ns)) {
		struct ipfix_stats_report rep;

		stats_report(ex, &rep);
		ex->msg_has_stats = ipfix_msg_add_stats(&ex->msg, &rep) == 0;
	}
}

static void file_rotate(struct ipfix_exporter *ex, uint64_t now_ns);

static int file_rotate_due(const struct ipfix_exporter *ex, uint64_t now_ns)
{
	uint64_t every = (uint64_t)ex->params.file_rotate_s * WR_NS_PER_S;

	if (ex->transport != IPFIX_FILE || ex->finished)
		return 0;
	if (ex->params.file_rotate_bytes && ex->file_bytes >= ex->params.file_rotate_bytes)
		return 1;
	return every != 0 && now_ns >= ex->file_start_ns && now_ns - ex->file_start_ns >= every;
}

/* Sends the open message, if it holds anything, and closes it. 0 or -errno. */
static int msg_send(struct ipfix_exporter *ex, uint64_t now_ns)
{
	int r;

	if (!ex->msg_open)
		return 0;
	ex->msg_open = 0;
	if (ex->msg.records == 0 && !ex->msg_has_templates && !ex->msg_has_stats)
		return 0;
	if (ex->transport == IPFIX_TCP) {
		tcp_progress(ex, now_ns, IPFIX_IO_WAIT_MS);
		if (ex->tcp_state != IPFIX_TCP_UP) {
			lose(ex, ex->msg.records, ex->msg.packets, ex->msg.octets, now_ns);
			return -ENOTCONN;
		}
	}
	if (ex->need_templates && !ex->msg_has_templates) {
		/* The session changed since the message began (a new TCP connection): its
		 * templates go first. */
		r = send_control(ex, 1, now_ns);
		if (r < 0 && ex->transport == IPFIX_TCP) {
			lose(ex, ex->msg.records, ex->msg.packets, ex->msg.octets, now_ns);
			return r;
		}
	}
	ipfix_msg_finish(&ex->msg, (uint32_t)(now_ns / WR_NS_PER_S), ex->seq, ex->params.odid);
	r = transmit(ex, &ex->msg, ex->msg_has_templates, ex->msg_has_stats, now_ns);
	if (file_rotate_due(ex, now_ns))
		file_rotate(ex, now_ns);
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* files                                                                                      */

static int file_open(struct ipfix_exporter *ex, uint64_t now_ns, char *err, size_t errlen)
{
	ex->fd = open(ex->path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (ex->fd < 0) {
		int e = errno;

		set_err(err, errlen, "cannot open '%s' for '%s': %s", ex->path, ex->url,
		        strerror(e));
		return -e;
	}
	ex->file_start_ns = now_ns;
	ex->file_bytes = 0;
	ex->stats.files++;
	/* Every file is a session of its own: it starts with the templates, numbered from 0. */
	ex->seq = 0;
	ex->need_templates = 1;
	return 0;
}

/* Closes the current file and, with rotation, gives it its final name. */
static void file_close(struct ipfix_exporter *ex)
{
	char name[4096], stamp[32];
	time_t t = (time_t)(ex->file_start_ns / WR_NS_PER_S);
	struct tm tm;

	if (ex->fd < 0)
		return;
	if (close(ex->fd) < 0)
		ex->stats.send_errors++;
	ex->fd = -1;
	if (ex->params.file_rotate_bytes == 0 && ex->params.file_rotate_s == 0)
		return;
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if ((size_t)snprintf(name, sizeof(name), "%s.%s-%06" PRIu64, ex->path, stamp,
	                     ex->stats.files) >= sizeof(name) ||
	    rename(ex->path, name) < 0)
		ex->stats.send_errors++;
}

/* Ends the current file with its statistics and starts the next. */
static void file_rotate(struct ipfix_exporter *ex, uint64_t now_ns)
{
	send_control(ex, 0, now_ns);
	file_close(ex);
	/* A file that cannot be opened leaves fd -1: the records are counted lost until a
	 * later rotation succeeds. */
	file_open(ex, now_ns, NULL, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* public                                                                                     */

static int open_udp(struct ipfix_exporter *ex, const struct addrinfo *ai, const char *url,
                    char *err, size_t errlen)
{
	int last = EHOSTUNREACH;

	for (; ai != NULL; ai = ai->ai_next) {
		int size = IPFIX_UDP_SNDBUF;

		ex->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (ex->fd < 0) {
			last = errno;
			continue;
		}
		if (connect(ex->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			last = errno;
			close(ex->fd);
			ex->fd = -1;
			continue;
		}
		/* A burst of messages must not overflow a default-sized buffer; the FORCE variant
		 * works past wmem_max when privileged. */
		if (setsockopt(ex->fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
			setsockopt(ex->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
		return 0;
	}
	set_err(err, errlen, "cannot open a UDP socket for '%s': %s", url, strerror(last));
	return -last;
}

static int check_params(const struct ipfix_exporter_params *p, enum ipfix_transport t,
                        const char *url, char *err, size_t errlen)
{
	size_t min = IPFIX_HEADER_LEN + ipfix_template_set_len(p->sampling.n_selectors, p->biflow) +
	             ipfix_stats_len() + IPFIX_SET_HEADER_LEN + ipfix_record_max_len();

	if (p->sampling.n_selectors > IPFIX_MAX_SELECTORS) {
		set_err(err, errlen, "%u selectors for '%s': at most %d", p->sampling.n_selectors,
		        url, IPFIX_MAX_SELECTORS);
		return -EINVAL;
	}
	if (t == IPFIX_UDP && (p->udp_max_msg < min || p->udp_max_msg > IPFIX_UDP_MAX)) {
		set_err(err, errlen, "udp_max_msg %u out of range %zu..%u for '%s'", p->udp_max_msg,
		        min, IPFIX_UDP_MAX, url);
		return -EINVAL;
	}
	return 0;
}

/* Closes and frees an exporter without sending anything; NULL is a no-op. */
static void exporter_release(struct ipfix_exporter *ex)
{
	if (ex == NULL)
		return;
	if (ex->fd >= 0)
		close(ex->fd);
	free(ex->url);
	free(ex->path);
	free(ex->buf);
	free(ex->tmpl_buf);
	free(ex);
}

struct ipfix_exporter *ipfix_exporter_create(const char *url,
                                             const struct ipfix_exporter_params *params, char *err,
                                             size_t errlen)
{
	struct ipfix_exporter *ex = NULL;
	struct addrinfo *ai = NULL;
	struct ipfix_url u;
	int r;

	if (url == NULL || params == NULL) {
		set_err(err, errlen, "no url");
		errno = EINVAL;
		return NULL;
	}
	r = parse_url(url, &u, err, errlen);
	if (r == 0)
		r = check_params(params, u.transport, url, err, errlen);
	if (r < 0)
		goto fail;
	ex = calloc(1, sizeof(*ex));
	if (ex == NULL)
		goto nomem;
	ex->fd = -1;
	ex->transport = u.transport;
	ex->params = *params;
	ex->params.sampling.odid = params->odid;
	ex->url = strdup(url);
	ex->cap = u.transport == IPFIX_UDP ? params->udp_max_msg : IPFIX_STREAM_BUF;
	ex->buf = malloc(ex->cap);
	ex->tmpl_cap = IPFIX_HEADER_LEN +
	               ipfix_template_set_len(params->sampling.n_selectors, params->biflow) +
	               ipfix_stats_len();
	ex->tmpl_buf = malloc(ex->tmpl_cap);
	if (ex->url == NULL || ex->buf == NULL || ex->tmpl_buf == NULL)
		goto nomem;
	ex->need_templates = 1;
	ex->exporting_process_id = (uint32_t)getpid();
	ex->backoff_ms = params->tcp_retry_ms ? params->tcp_retry_ms : 1;

	switch (u.transport) {
	case IPFIX_FILE:
		ex->path = strdup(u.path);
		if (ex->path == NULL)
			goto nomem;
		r = file_open(ex, wr_wall_ns(), err, errlen);
		if (r < 0)
			goto fail;
		break;
	case IPFIX_UDP:
		r = resolve(&u, url, &ai, err, errlen);
		if (r == 0)
			r = open_udp(ex, ai, url, err, errlen);
		if (r < 0)
			goto fail;
		if (params->udp_pace_mps != 0) {
			ex->pace_interval_ns = WR_NS_PER_S / params->udp_pace_mps;
			if (ex->pace_interval_ns == 0)
				ex->pace_interval_ns = 1;
			ex->pace_burst_ns = ex->pace_interval_ns * IPFIX_PACE_BURST;
			ex->pace_credit_ns = ex->pace_burst_ns;
			ex->pace_last_ns = wr_mono_ns();
		}
		break;
	case IPFIX_TCP:
		r = resolve(&u, url, &ai, err, errlen);
		if (r < 0)
			goto fail;
		for (const struct addrinfo *a = ai; a != NULL && ex->n_addrs < IPFIX_MAX_ADDRS;
		     a = a->ai_next) {
			if (a->ai_addrlen > sizeof(ex->addrs[0]))
				continue;
			memcpy(&ex->addrs[ex->n_addrs], a->ai_addr, a->ai_addrlen);
			ex->addr_lens[ex->n_addrs++] = a->ai_addrlen;
		}
		if (ex->n_addrs == 0) {
			r = -EHOSTUNREACH;
			set_err(err, errlen, "no usable address for '%s'", url);
			goto fail;
		}
		/* A collector that is down is retried from tick/add, not an error. */
		tcp_progress(ex, wr_wall_ns(), 0);
		break;
	}
	if (ai != NULL)
		freeaddrinfo(ai);
	return ex;

nomem:
	r = -ENOMEM;
	set_err(err, errlen, "out of memory for '%s'", url);
fail:
	if (ai != NULL)
		freeaddrinfo(ai);
	exporter_release(ex);
	errno = -r;
	return NULL;
}

unsigned ipfix_exporter_add(struct ipfix_exporter *ex, const struct flowcache_record *recs,
                            unsigned n, uint64_t now_ns)
{
	for (unsigned i = 0; i < n; i++) {
		if (!ex->msg_open)
			msg_begin(ex, now_ns);
		if (ipfix_msg_add_record(&ex->msg, &recs[i]) == 0)
			continue;
		msg_send(ex, now_ns);
		msg_begin(ex, now_ns);
		/* Cannot fail: an empty message holds templates and the longest record. */
		if (ipfix_msg_add_record(&ex->msg, &recs[i]) < 0)
			lose(ex, 1, recs[i].packets + recs[i].rev_packets,
			     recs[i].octets + recs[i].rev_octets, now_ns);
	}
	return n;
}

void ipfix_exporter_tick(struct ipfix_exporter *ex, uint64_t now_ns)
{
	if (ex->transport == IPFIX_TCP)
		tcp_progress(ex, now_ns, 0);
	if (ex->msg_open &&
	    (now_ns < ex->msg_start_ns ||
	     now_ns - ex->msg_start_ns >= (uint64_t)ex->params.flush_ms * WR_NS_PER_MS))
		msg_send(ex, now_ns);
	if (ex->msg_open || ex->finished)
		return;
	/* An idle UDP exporter still refreshes, so a restarted collector learns the templates;
	 * and every exporter sends its statistics on time. */
	if (!ex->need_templates && udp_refresh_time_due(ex, now_ns))
		send_control(ex, 1, now_ns);
	else if (stats_due(ex, now_ns) &&
	         (ex->transport != IPFIX_TCP || ex->tcp_state == IPFIX_TCP_UP))
		send_control(ex, 0, now_ns);
	if (file_rotate_due(ex, now_ns))
		file_rotate(ex, now_ns);
}

int ipfix_exporter_flush(struct ipfix_exporter *ex, uint64_t now_ns)
{
	return msg_send(ex, now_ns);
}

void ipfix_exporter_set_losses(struct ipfix_exporter *ex, const struct ipfix_metering_losses *l)
{
	ex->losses = *l;
}

void ipfix_exporter_finish(struct ipfix_exporter *ex, uint64_t now_ns)
{
	if (ex->finished)
		return;
	ex->finished = 1; /* no rotation from here: the last file ends with these records */
	msg_send(ex, now_ns);
	if (ex->transport != IPFIX_TCP || ex->tcp_state == IPFIX_TCP_UP)
		send_control(ex, 0, now_ns);
	if (ex->transport == IPFIX_FILE)
		file_close(ex);
}

void ipfix_exporter_get_stats(const struct ipfix_exporter *ex, struct ipfix_exporter_stats *ret)
{
	*ret = ex->stats;
}

const char *ipfix_exporter_url(const struct ipfix_exporter *ex)
{
	return ex->url;
}

void ipfix_exporter_free(struct ipfix_exporter *ex)
{
	if (ex == NULL)
		return;
	ipfix_exporter_finish(ex, wr_wall_ns());
	exporter_release(ex);
}
