/*
 * control: weirctl's unix socket and the /metrics endpoint.
 *
 * The socket answers one command per connection: the client sends a line, weir writes the
 * answer and closes. One thread serves the socket, a client at a time, each with a 2 s limit
 * to send its line, so a stuck client delays the next one by that much at most. /metrics is
 * served by libmicrohttpd (Debian libmicrohttpd-dev) on a loopback address, from a thread of
 * its own. Both read the same live counters as the status line (report.c).
 */
#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "options.h"
#include "probe.h"
#include "report.h"
#include "wr_log.h"

#define CLIENT_WAIT_MS 2000 /* a client has this long to send its command */

struct probe_control {
	int fd; /* the listening unix socket, -1: none */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_t thread;
	int started;
	atomic_int stop;
	struct MHD_Daemon *mhd;
};

/* ---------------------------------------------------------------------------------------- */
/* Commands                                                                                   */

/* An end of a record's key as text: "192.0.2.1:80" or "[2001:db8::1]:80". */
static const char *endpoint(const struct capture_flow_key *k, const uint8_t *a, uint16_t port,
                            char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	int v6 = k->ip_version == 6;

	if (inet_ntop(v6 ? AF_INET6 : AF_INET, a, addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, len, "%s%s%s:%u", v6 ? "[" : "", addr, v6 ? "]" : "", port);
	return buf;
}

static void cmd_top(struct probe *pr, FILE *f, unsigned n)
{
	struct flowcache_record *top = malloc((size_t)n * sizeof(*top));
	unsigned got;

	if (top == NULL) {
		fprintf(f, "error: out of memory\n");
		return;
	}
	got = probe_pipeline_top_flows(pr, top, n);
	fprintf(f, "# the %u largest active flows by octets of their current record\n", got);
	fprintf(f, "%-4s %-40s %-40s %5s %12s %16s %8s\n", "#", "source", "destination", "proto",
	        "packets", "octets", "age_s");
	for (unsigned i = 0; i < got; i++) {
		const struct flowcache_record *r = &top[i];
		char src[64], dst[64];

		fprintf(f, "%-4u %-40s %-40s %5u %12" PRIu64 " %16" PRIu64 " %8.1f\n", i + 1,
		        endpoint(&r->key, r->key.src, r->key.sport, src, sizeof(src)),
		        endpoint(&r->key, r->key.dst, r->key.dport, dst, sizeof(dst)), r->key.proto,
		        r->packets + r->rev_packets, r->octets + r->rev_octets,
		        (double)(r->last_ns - r->first_ns) / 1e9);
	}
	free(top);
}

/* Answers one parsed command into f (err: the message of PROBE_CONTROL_ERROR). */
static void answer(struct probe *pr, enum probe_control_cmd cmd, unsigned top, const char *err,
                   FILE *f)
{
	struct probe_totals t;
	unsigned n;

	switch (cmd) {
	case PROBE_CONTROL_STATS:
		probe_totals(pr, &t);
		probe_report_json(f, pr, &t);
		break;
	case PROBE_CONTROL_ALERTS: {
		/* the count first, so that an empty answer still says something */
		char *body = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&body, &len);

		if (m == NULL) {
			fprintf(f, "error: out of memory\n");
			return;
		}
		n = probe_alerts_firing(pr, m, NULL);
		fclose(m);
		fprintf(f, "# %u alert%s firing\n%s", n, n == 1 ? "" : "s", body ? body : "");
		free(body);
		break;
	}
	case PROBE_CONTROL_CONFIG:
		pthread_mutex_lock(&pr->cfg_mu); /* a reload swaps values under it */
		probe_options_print(f, &pr->cfg);
		pthread_mutex_unlock(&pr->cfg_mu);
		break;
	case PROBE_CONTROL_TOP:
		cmd_top(pr, f, top);
		break;
	default:
		fprintf(f, "error: %s\n", err);
		break;
	}
}

/* Reads one line from a client (up to CLIENT_WAIT_MS), answers it and closes. */
static void serve_client(struct probe *pr, int fd)
{
	char line[PROBE_CONTROL_LINE_MAX], err[2 * PROBE_CONTROL_LINE_MAX];
	enum probe_control_cmd cmd;
	unsigned top = 0;
	size_t used = 0;
	uint64_t deadline = wr_mono_ns() + CLIENT_WAIT_MS * WR_NS_PER_MS;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	while (used < sizeof(line) - 1 && memchr(line, '\n', used) == NULL) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = wr_mono_ns();
		ssize_t r;

		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / WR_NS_PER_MS) + 1) <= 0)
			break;
		r = read(fd, line + used, sizeof(line) - 1 - used);
		if (r <= 0)
			break;
		used += (size_t)r;
	}
	cmd = probe_control_parse(line, used, &top, err, sizeof(err));
	if (cmd == PROBE_CONTROL_NONE) {
		close(fd);
		return;
	}
	wr_log(WR_LOG_CONTROL, WR_LOG_DEBUG, "control socket: '%s'", line);
	f = open_memstream(&out, &len);
	if (f != NULL) {
		answer(pr, cmd, top, err, f);
		fclose(f);
		for (size_t off = 0; off < len;) {
			ssize_t w = write(fd, out + off, len - off);

			if (w <= 0)
				break;
			off += (size_t)w;
		}
		free(out);
	}
	close(fd);
}

static void *control_main(void *arg)
{
	struct probe *pr = arg;
	struct probe_control *c = pr->control;

	while (!atomic_load(&c->stop)) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int fd;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			/* a client that does not read its answer holds the socket 2 s at most */
			struct timeval tv = {CLIENT_WAIT_MS / 1000, 0};

			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			serve_client(pr, fd);
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* /metrics                                                                                   */

static enum MHD_Result metrics_answer(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version, const char *upload,
                                      size_t *upload_len, void **state)
{
	struct probe *pr = cls;
	struct MHD_Response *resp;
	struct probe_totals t;
	enum MHD_Result rc;
	unsigned status = MHD_HTTP_OK;
	char *body = NULL;
	size_t len = 0;
	FILE *f;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	f = open_memstream(&body, &len);
	if (f == NULL)
		return MHD_NO;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		fprintf(f, "only GET\n");
	} else if (strcmp(url, "/metrics") != 0) {
		status = MHD_HTTP_NOT_FOUND;
		fprintf(f, "weir serves /metrics\n");
	} else {
		probe_totals(pr, &t);
		probe_report_metrics(f, pr, &t);
	}
	if (fclose(f) != 0) {
		free(body);
		return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
	                        status == MHD_HTTP_OK ? "text/plain; version=0.0.4; charset=utf-8"
	                                              : "text/plain; charset=utf-8");
	rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Lifecycle                                                                                  */

/* Binds the unix socket at path; a stale socket (nobody answers on it) is replaced, anything
 * else at the path is an error. */
static int bind_socket(struct probe_control *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int rc;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "--control-socket '%s': longer than %zu bytes", path,
		         sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		int probe_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (!S_ISSOCK(st.st_mode)) {
			if (probe_fd >= 0)
				close(probe_fd);
			snprintf(err, errlen, "--control-socket '%s': exists and is not a socket",
			         path);
			return -EEXIST;
		}
		if (probe_fd >= 0 && connect(probe_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe_fd);
			snprintf(err, errlen, "--control-socket '%s': another weir answers on it",
			         path);
			return -EADDRINUSE;
		}
		if (probe_fd >= 0)
			close(probe_fd);
		unlink(path); /* stale: its weir is gone */
	}
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(c->fd, 16) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--control-socket '%s': %s", path, strerror(errno));
		return rc;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	/* owner and group only: the counters and flows are not for every local user */
	if (chmod(path, 0660) < 0) {
		rc = -errno;
		snprintf(err, errlen, "--control-socket '%s': chmod: %s", path, strerror(errno));
		return rc;
	}
	return 0;
}

int probe_control_open(struct probe *pr, char *err, size_t errlen)
{
	struct probe_control *c;
	int rc;

	if (pr->cfg.control_socket == NULL && pr->cfg.metrics == NULL)
		return 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->fd = -1;
	pr->control = c;
	if (pr->cfg.control_socket &&
	    (rc = bind_socket(c, pr->cfg.control_socket, err, errlen)) < 0)
		return rc;
	if (pr->cfg.metrics) {
		struct sockaddr_storage sa;
		unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

		if (probe_parse_loopback(pr->cfg.metrics, &sa, err, errlen) < 0)
			return -EINVAL;
		if (sa.ss_family == AF_INET6)
			flags |= MHD_USE_IPv6;
		c->mhd = MHD_start_daemon(
		    flags, 0, NULL, NULL, metrics_answer, pr, MHD_OPTION_SOCK_ADDR,
		    (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
		    MHD_OPTION_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_END);
		if (c->mhd == NULL) {
			rc = errno ? -errno : -EADDRINUSE;
			snprintf(err, errlen, "--metrics %s: cannot listen: %s", pr->cfg.metrics,
			         strerror(-rc));
			return rc;
		}
		wr_log(WR_LOG_CONTROL, WR_LOG_INFO, "metrics at http://%s/metrics",
		       pr->cfg.metrics);
	}
	return 0;
}

int probe_control_start(struct probe *pr, char *err, size_t errlen)
{
	struct probe_control *c = pr->control;
	int rc;

	if (c == NULL || c->fd < 0)
		return 0;
	rc = pthread_create(&c->thread, NULL, control_main, pr);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(rc));
		return -rc;
	}
	pthread_setname_np(c->thread, "weir-control");
	c->started = 1;
	wr_log(WR_LOG_CONTROL, WR_LOG_INFO, "control socket %s", c->path);
	return 0;
}

void probe_control_close(struct probe *pr)
{
	struct probe_control *c = pr->control;

	if (c == NULL)
		return;
	if (c->started) {
		atomic_store(&c->stop, 1);
		pthread_join(c->thread, NULL);
	}
	if (c->mhd)
		MHD_stop_daemon(c->mhd);
	if (c->fd >= 0) {
		close(c->fd);
		/* after --user, its directory may be root's: the socket stays, and the next
		 * start finds it stale and replaces it */
		if (unlink(c->path) < 0 && errno != ENOENT)
			wr_log(WR_LOG_CONTROL,
			       errno == EACCES || errno == EPERM ? WR_LOG_INFO : WR_LOG_WARNING,
			       "%s stays (%s); the next start replaces it", c->path,
			       strerror(errno));
	}
	free(c);
	pr->control = NULL;
}
