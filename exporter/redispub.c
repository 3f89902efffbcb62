/*
 * Redis publisher: a bounded spool of formatted messages and one thread that sends it.
 *
 * The spool is a list of messages, oldest first, with the updates also on a list of their
 * own so a full spool can drop its oldest update at once. One mutex guards it; the submitter
 * (the detector thread) only formats, locks, links and signals, so it never waits for Redis.
 *
 * The publisher thread owns the hiredis connection (blocking API with I/O timeouts). It marks
 * a batch at the head of the spool as in flight, sends it pipelined without the lock (three
 * commands per message, then the heartbeat when one is due), reads the replies in order and
 * unlinks the messages whose replies were all OK. The submitter never drops a message in
 * flight, so the batch is still the head of the spool when the replies are in. On the first
 * error or error reply the connection is closed and the rest of the batch stays spooled; the
 * thread waits out the back-off and sends it again on a new connection, oldest first.
 *
 * The thread runs with every signal blocked: a write to a connection Redis has closed raises
 * SIGPIPE, which must not kill a process that has not ignored it.
 */
#include "redispub.h"
#include "redispub_internal.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "wr.h"

#define REDISPUB_IO_TIMEOUT_MS 2000 /* connect, and each blocking read or write */
#define REDISPUB_BATCH         128  /* messages per pipelined exchange */
#define REDISPUB_FREE_FLUSH_MS 2000
#define REDISPUB_HEALTH_MAXLEN "10000"
#define REDISPUB_PREFIX_MAX    64
#define REDISPUB_PROBE_ID_MAX  128

struct spool_msg {
	TAILQ_ENTRY(spool_msg) all; /* the spool, oldest first */
	TAILQ_ENTRY(spool_msg) upd; /* updates only, oldest first */
	uint8_t type;               /* enum detect_event_type */
	uint8_t in_flight;          /* sent, replies not yet read: not to be dropped */
	char alert_id[REDISPUB_ALERT_ID_MAX];
	size_t len;
	char json[];
};

TAILQ_HEAD(spool_list, spool_msg);

struct redispub {
	/* fixed at create */
	char host[256];
	char password[256];
	int port, db;
	char probe_id[REDISPUB_PROBE_ID_MAX + 1];
	char key_alerts[REDISPUB_PREFIX_MAX + 16];
	char key_active[REDISPUB_PREFIX_MAX + 16];
	char key_live[REDISPUB_PREFIX_MAX + 16];
	char key_health[REDISPUB_PREFIX_MAX + 16];
	char maxlen[16];
	struct detect_params dp;
	size_t spool_max;
	uint32_t retry_min_ms, retry_max_ms;
	uint64_t heartbeat_ns; /* 0: no heartbeats */
	uint64_t started_ns;   /* wall clock, reported in heartbeats */
	pthread_t thread;

	/* publisher thread only */
	redisContext *ctx;
	int ever_connected;

	/* under lock */
	pthread_mutex_t lock;
	pthread_cond_t wake;    /* publisher: new messages or stop */
	pthread_cond_t drained; /* flush: messages confirmed */
	struct spool_list spool, updates;
	char *health;
	int stop;
	struct redispub_stats st;
};

/* ---------------------------------------------------------------------------------------- */
/* URL                                                                                        */

static int url_err(char *err, size_t errlen, const char *fmt, ...) WR_PRINTF(3, 4);

static int url_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Copies s[0..n) into out with %XX decoded; -1 on a bad escape or a decoded NUL, -2 when it
 * does not fit. */
static int pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = hi * 16 + lo;
			i += 2;
		}
		if (o + 1 >= outlen)
			return -2;
		out[o++] = (char)c;
	}
	if (outlen == 0)
		return -2;
	out[o] = '\0';
	return 0;
}

int redispub_parse_url(const char *url, char *host, size_t hostlen, int *port, char *password,
                       size_t pwlen, int *db, char *err, size_t errlen)
{
	static const char scheme[] = "redis://";
	const char *p, *at, *h, *he, *rest;
	char num[16];
	uint64_t v;
	size_t n;

	if (!url)
		return url_err(err, errlen, "no redis url");
	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return url_err(err, errlen, "redis url must start with redis:// (got \"%.*s...\")",
		               (int)strcspn(url, ":/@"), url);
	p = url + sizeof(scheme) - 1;
	*port = 6379;
	*db = 0;
	if (pwlen)
		password[0] = '\0';

	/* userinfo: only ":PASSWORD"; a password with '@' or '/' must be %-escaped */
	at = strrchr(p, '@');
	if (at) {
		int rc;

		if (p[0] != ':')
			return url_err(err, errlen,
			               "redis url: a user name is not supported, write "
			               "redis://:PASSWORD@HOST");
		rc = pct_decode(p + 1, (size_t)(at - p - 1), password, pwlen);
		if (rc != 0 && pwlen)
			password[0] = '\0';
		if (rc == -1)
			return url_err(err, errlen, "redis url: bad %%-escape in the password");
		if (rc == -2)
			return url_err(err, errlen, "redis url: password longer than %zu bytes",
			               pwlen ? pwlen - 1 : 0);
		p = at + 1;
	}

	/* host: a name, an IPv4 address or [IPv6] */
	if (*p == '[') {
		h = p + 1;
		he = strchr(h, ']');
		if (!he)
			return url_err(err, errlen,
			               "redis url: no ']' after the IPv6 host \"%.*s\"",
			               (int)strcspn(h, "/"), h);
		rest = he + 1;
	} else {
		h = p;
		he = h + strcspn(h, ":/");
		rest = he;
	}
	n = (size_t)(he - h);
	if (n == 0)
		return url_err(err, errlen, "redis url has no host");
	if (n >= hostlen)
		return url_err(err, errlen, "redis url: host \"%.*s\" too long (max %zu bytes)",
		               (int)n, h, hostlen - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		/* names, IPv4, and IPv6 with a zone ("fe80::1%eth0") */
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    !strchr(".-_:%", c))
			return url_err(err, errlen, "redis url: bad character in the host \"%.*s\"",
			               (int)n, h);
	}
	memcpy(host, h, n);
	host[n] = '\0';

	if (*rest == ':') {
		const char *ps = rest + 1;

		n = strcspn(ps, "/");
		if (n > 0 && n < sizeof(num)) {
			memcpy(num, ps, n);
			num[n] = '\0';
		}
		if (n == 0 || n >= sizeof(num) || wr_parse_u64(num, 1, 65535, &v) != 0)
			return url_err(err, errlen, "redis url: bad port \"%.*s\" (want 1..65535)",
			               (int)n, ps);
		*port = (int)v;
		rest = ps + n;
	} else if (*rest != '/' && *rest != '\0') {
		return url_err(err, errlen, "redis url: unexpected \"%s\" after the host", rest);
	}

	if (*rest == '/' && rest[1] != '\0') {
		const char *ds = rest + 1;

		n = strlen(ds);
		if (n < sizeof(num))
			memcpy(num, ds, n + 1);
		if (n >= sizeof(num) || wr_parse_u64(num, 0, 2147483647, &v) != 0)
			return url_err(err, errlen,
			               "redis url: bad database \"%s\" (want 0..2147483647)", ds);
		*db = (int)v;
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* spool                                                                                      */

static void spool_unlink(struct redispub *r, struct spool_msg *m)
{
	TAILQ_REMOVE(&r->spool, m, all);
	if (m->type == DETECT_UPDATE)
		TAILQ_REMOVE(&r->updates, m, upd);
	r->st.spooled_now--;
}

int redispub_submit(struct redispub *r, const struct redispub_alert *a)
{
	char buf[REDISPUB_JSON_MAX];

	return redispub_submit_json(r, a, buf,
	                            redispub_format_with(a, r->probe_id, &r->dp, buf, sizeof(buf)));
}

int redispub_submit_json(struct redispub *r, const struct redispub_alert *a, const char *buf, int n)
{
	struct spool_msg *m = NULL, *victim;
	int rc = 0;

	if (n >= 0) {
		m = malloc(sizeof(*m) + (size_t)n + 1);
		if (m) {
			m->type = a->ev.type;
			m->in_flight = 0;
			m->len = (size_t)n;
			memcpy(m->json, buf, (size_t)n + 1);
			redispub_alert_id(a, r->probe_id, m->alert_id, sizeof(m->alert_id));
		}
	}

	pthread_mutex_lock(&r->lock);
	r->st.submitted++;
	if (!m) {
		if (a && a->ev.type == DETECT_UPDATE)
			r->st.updates_dropped++;
		else
			r->st.lost++;
		pthread_mutex_unlock(&r->lock);
		return n < 0 ? n : -ENOMEM;
	}
	if (r->st.spooled_now >= r->spool_max) {
		/* in-flight messages are the head of the spool, so of the update list too */
		victim = TAILQ_FIRST(&r->updates);
		while (victim && victim->in_flight)
			victim = TAILQ_NEXT(victim, upd);
		if (victim) {
			spool_unlink(r, victim);
			free(victim);
			r->st.updates_dropped++;
			rc = -ENOBUFS;
		} else {
			if (m->type == DETECT_UPDATE)
				r->st.updates_dropped++;
			else
				r->st.lost++;
			pthread_mutex_unlock(&r->lock);
			free(m);
			return -ENOBUFS;
		}
	}
	TAILQ_INSERT_TAIL(&r->spool, m, all);
	if (m->type == DETECT_UPDATE)
		TAILQ_INSERT_TAIL(&r->updates, m, upd);
	r->st.spooled_now++;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* connection                                                                                 */

static int reply_ok(redisContext *c)
{
	redisReply *rep = NULL;
	int ok;

	if (redisGetReply(c, (void **)&rep) != REDIS_OK || !rep)
		return 0;
	ok = rep->type != REDIS_REPLY_ERROR;
	freeReplyObject(rep);
	return ok;
}

static int command_ok(redisContext *c, int argc, const char **argv)
{
	redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
	int ok = rep && rep->type != REDIS_REPLY_ERROR;

	if (rep)
		freeReplyObject(rep);
	return ok;
}

/* Connects, authenticates and selects the database; NULL on any failure. */
static redisContext *session_open(const struct redispub *r)
{
	struct timeval tv = {.tv_sec = REDISPUB_IO_TIMEOUT_MS / 1000,
	                     .tv_usec = REDISPUB_IO_TIMEOUT_MS % 1000 * 1000};
	redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
	char db[16];

	if (!c)
		return NULL;
	if (c->err || redisSetTimeout(c, tv) != REDIS_OK)
		goto fail;
	(void)redisEnableKeepAlive(c);
	if (r->password[0]) {
		const char *argv[] = {"AUTH", r->password};

		if (!command_ok(c, 2, argv))
			goto fail;
	}
	if (r->db) {
		const char *argv[] = {"SELECT", db};

		snprintf(db, sizeof(db), "%d", r->db);
		if (!command_ok(c, 2, argv))
			goto fail;
	}
	return c;
fail:
	redisFree(c);
	return NULL;
}

#define HB_COUNTERS 7

struct heartbeat {
	char ts[40], since[40];
	char num[HB_COUNTERS][24];
	char *health; /* a copy, or NULL */
};

static void heartbeat_take(struct redispub *r, struct heartbeat *hb)
{
	const uint64_t v[HB_COUNTERS] = {r->st.published,       r->st.spooled_now, r->st.lost,
	                                 r->st.updates_dropped, r->st.submitted,   r->st.reconnects,
	                                 r->st.errors};

	redispub_time(wr_wall_ns(), hb->ts, sizeof(hb->ts));
	redispub_time(r->started_ns, hb->since, sizeof(hb->since));
	for (int i = 0; i < HB_COUNTERS; i++)
		snprintf(hb->num[i], sizeof(hb->num[i]), "%" PRIu64, v[i]);
	hb->health = r->health ? strdup(r->health) : NULL;
}

static int heartbeat_append(struct redispub *r, redisContext *c, const struct heartbeat *hb)
{
	static const char *const names[HB_COUNTERS] = {
	    "published", "spooled", "lost", "updates_dropped", "submitted", "reconnects", "errors"};
	const char *argv[14 + 2 * HB_COUNTERS];
	int argc = 0;

	argv[argc++] = "XADD";
	argv[argc++] = r->key_health;
	argv[argc++] = "MAXLEN";
	argv[argc++] = "~";
	argv[argc++] = REDISPUB_HEALTH_MAXLEN;
	argv[argc++] = "*";
	argv[argc++] = "probe_id";
	argv[argc++] = r->probe_id;
	argv[argc++] = "ts";
	argv[argc++] = hb->ts;
	argv[argc++] = "since";
	argv[argc++] = hb->since;
	for (int i = 0; i < HB_COUNTERS; i++) {
		argv[argc++] = names[i];
		argv[argc++] = hb->num[i];
	}
	if (hb->health) {
		argv[argc++] = "probe";
		argv[argc++] = hb->health;
	}
	return redisAppendCommandArgv(c, argc, argv, NULL);
}

static int message_append(struct redispub *r, redisContext *c, const struct spool_msg *m)
{
	const char *xadd[] = {"XADD",    r->key_alerts, "MAXLEN", "~",
	                      r->maxlen, "*",           "event",  m->json};
	const size_t xlen[] = {4, strlen(r->key_alerts), 6, 1, strlen(r->maxlen), 1, 5, m->len};
	const char *hset[] = {m->type == DETECT_CLEAR ? "HDEL" : "HSET", r->key_active, m->alert_id,
	                      m->json};
	const size_t hlen[] = {4, strlen(r->key_active), strlen(m->alert_id), m->len};
	const char *pub[] = {"PUBLISH", r->key_live, m->json};
	const size_t plen[] = {7, strlen(r->key_live), m->len};

	if (redisAppendCommandArgv(c, 8, xadd, xlen) != REDIS_OK ||
	    redisAppendCommandArgv(c, m->type == DETECT_CLEAR ? 3 : 4, hset, hlen) != REDIS_OK ||
	    redisAppendCommandArgv(c, 3, pub, plen) != REDIS_OK)
		return REDIS_ERR;
	return REDIS_OK;
}

/* Sends the batch and the heartbeat (when hb) pipelined; *ret_confirmed: the messages, from
 * the first, whose replies were all OK. Returns 0, or -1 when the connection must go. */
static int exchange(struct redispub *r, struct spool_msg **batch, unsigned n,
                    const struct heartbeat *hb, unsigned *ret_confirmed)
{
	redisContext *c = r->ctx;

	*ret_confirmed = 0;
	for (unsigned i = 0; i < n; i++)
		if (message_append(r, c, batch[i]) != REDIS_OK)
			return -1;
	if (hb && heartbeat_append(r, c, hb) != REDIS_OK)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if (!reply_ok(c) || !reply_ok(c) || !reply_ok(c))
			return -1;
		(*ret_confirmed)++;
	}
	if (hb && !reply_ok(c))
		return -1;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* publisher thread                                                                           */

/* Waits on cond until the monotonic deadline (0: none), the lock held. */
static void wait_until(struct redispub *r, pthread_cond_t *cond, uint64_t deadline_ns)
{
	struct timespec ts;

	if (!deadline_ns) {
		pthread_cond_wait(cond, &r->lock);
		return;
	}
	ts.tv_sec = (time_t)(deadline_ns / WR_NS_PER_S);
	ts.tv_nsec = (long)(deadline_ns % WR_NS_PER_S);
	pthread_cond_timedwait(cond, &r->lock, &ts);
}

static uint32_t backoff_next(const struct redispub *r, uint32_t delay_ms)
{
	if (delay_ms == 0)
		return r->retry_min_ms;
	return delay_ms >= r->retry_max_ms / 2 ? r->retry_max_ms : delay_ms * 2;
}

static void connection_close(struct redispub *r)
{
	redisFree(r->ctx);
	r->ctx = NULL;
	r->st.connected = 0;
}

static void *publisher_main(void *arg)
{
	struct redispub *r = arg;
	struct spool_msg *batch[REDISPUB_BATCH];
	uint32_t delay_ms = 0; /* back-off before the next connect, 0 after a good exchange */
	uint64_t next_hb = 0;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		struct heartbeat hb;
		struct spool_msg *m;
		unsigned n = 0, confirmed;
		uint64_t now;
		int hb_due, rc;

		if (!r->ctx) {
			redisContext *c;

			if (delay_ms) {
				uint64_t until = wr_mono_ns() + delay_ms * WR_NS_PER_MS;

				while (!r->stop && wr_mono_ns() < until)
					wait_until(r, &r->wake, until);
				if (r->stop)
					break;
			}
			pthread_mutex_unlock(&r->lock);
			c = session_open(r);
			pthread_mutex_lock(&r->lock);
			if (!c) {
				r->st.errors++;
				delay_ms = backoff_next(r, delay_ms);
				continue;
			}
			r->ctx = c;
			r->st.connected = 1;
			if (r->ever_connected)
				r->st.reconnects++;
			r->ever_connected = 1;
			next_hb = wr_mono_ns(); /* a heartbeat tells subscribers we are back */
		}

		now = wr_mono_ns();
		hb_due = r->heartbeat_ns && now >= next_hb;
		if (!hb_due && TAILQ_EMPTY(&r->spool)) {
			wait_until(r, &r->wake, r->heartbeat_ns ? next_hb : 0);
			continue;
		}
		TAILQ_FOREACH(m, &r->spool, all)
		{
			if (n == REDISPUB_BATCH)
				break;
			m->in_flight = 1;
			batch[n++] = m;
		}
		if (hb_due)
			heartbeat_take(r, &hb);
		pthread_mutex_unlock(&r->lock);

		rc = exchange(r, batch, n, hb_due ? &hb : NULL, &confirmed);

		pthread_mutex_lock(&r->lock);
		if (hb_due)
			free(hb.health);
		for (unsigned i = 0; i < n; i++) {
			if (i < confirmed) {
				spool_unlink(r, batch[i]);
				free(batch[i]);
			} else {
				batch[i]->in_flight = 0;
			}
		}
		r->st.published += confirmed;
		if (confirmed)
			pthread_cond_broadcast(&r->drained);
		if (rc < 0) {
			r->st.errors++;
			connection_close(r);
			delay_ms = backoff_next(r, delay_ms);
		} else {
			delay_ms = 0;
			if (hb_due)
				next_hb = now + r->heartbeat_ns;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* lifecycle                                                                                  */

void redispub_params_default(struct redispub_params *p)
{
	*p = (struct redispub_params){
	    .url = NULL,
	    .prefix = "weir",
	    .probe_id = NULL,
	    .spool_max = 10000,
	    .stream_maxlen = 100000,
	    .retry_min_ms = 100,
	    .retry_max_ms = 5000,
	    .heartbeat_s = 10,
	    .detect = NULL,
	};
}

static struct redispub *create_fail(struct redispub *r, int e, char *err, size_t errlen,
                                    const char *msg)
{
	if (msg && err && errlen)
		snprintf(err, errlen, "%s", msg);
	free(r);
	errno = e;
	return NULL;
}

struct redispub *redispub_create(const struct redispub_params *p, char *err, size_t errlen)
{
	struct redispub *r;
	const char *prefix;
	pthread_condattr_t ca;
	sigset_t all, old;
	char msg[160];
	size_t n;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!p)
		return create_fail(NULL, EINVAL, err, errlen, "no redis params");
	r = calloc(1, sizeof(*r));
	if (!r)
		return create_fail(NULL, ENOMEM, err, errlen, "out of memory");
	if (redispub_parse_url(p->url, r->host, sizeof(r->host), &r->port, r->password,
	                       sizeof(r->password), &r->db, err, errlen) != 0)
		return create_fail(r, EINVAL, err, errlen, NULL);

	prefix = p->prefix ? p->prefix : "weir";
	n = strlen(prefix);
	if (n == 0 || n > REDISPUB_PREFIX_MAX) {
		snprintf(msg, sizeof(msg), "redis prefix \"%.*s\" must be 1..%d bytes",
		         (int)(n > 80 ? 80 : n), prefix, REDISPUB_PREFIX_MAX);
		return create_fail(r, EINVAL, err, errlen, msg);
	}
	if (p->probe_id) {
		n = strlen(p->probe_id);
		if (n == 0 || n > REDISPUB_PROBE_ID_MAX) {
			snprintf(msg, sizeof(msg), "probe id \"%.*s\" must be 1..%d bytes",
			         (int)(n > 80 ? 80 : n), p->probe_id, REDISPUB_PROBE_ID_MAX);
			return create_fail(r, EINVAL, err, errlen, msg);
		}
		memcpy(r->probe_id, p->probe_id, n + 1);
	} else if (gethostname(r->probe_id, sizeof(r->probe_id) - 1) != 0 || !r->probe_id[0]) {
		return create_fail(r, EINVAL, err, errlen,
		                   "no probe id given and the host name is unknown");
	}
	if (p->spool_max < 1)
		return create_fail(r, EINVAL, err, errlen, "redis spool_max must be at least 1");
	if (p->stream_maxlen < 1)
		return create_fail(r, EINVAL, err, errlen,
		                   "redis stream_maxlen must be at least 1");
	if (p->retry_min_ms < 1 || p->retry_max_ms < p->retry_min_ms) {
		snprintf(msg, sizeof(msg),
		         "redis retry_min_ms %" PRIu32 " / retry_max_ms %" PRIu32
		         ": want 1 <= min <= max",
		         p->retry_min_ms, p->retry_max_ms);
		return create_fail(r, EINVAL, err, errlen, msg);
	}
	if (!(p->heartbeat_s >= 0 && p->heartbeat_s <= 86400)) {
		snprintf(msg, sizeof(msg), "redis heartbeat_s %g: want 0 (none) .. 86400",
		         p->heartbeat_s);
		return create_fail(r, EINVAL, err, errlen, msg);
	}

	snprintf(r->key_alerts, sizeof(r->key_alerts), "%s:alerts", prefix);
	snprintf(r->key_active, sizeof(r->key_active), "%s:active", prefix);
	snprintf(r->key_live, sizeof(r->key_live), "%s:alerts:live", prefix);
	snprintf(r->key_health, sizeof(r->key_health), "%s:health", prefix);
	snprintf(r->maxlen, sizeof(r->maxlen), "%" PRIu32, p->stream_maxlen);
	if (p->detect)
		r->dp = *p->detect;
	else
		detect_params_default(&r->dp);
	r->spool_max = p->spool_max;
	r->retry_min_ms = p->retry_min_ms;
	r->retry_max_ms = p->retry_max_ms;
	r->heartbeat_ns = (uint64_t)llround(p->heartbeat_s * 1e9);
	r->started_ns = wr_wall_ns();
	TAILQ_INIT(&r->spool);
	TAILQ_INIT(&r->updates);

	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_cond_init(&r->drained, &ca);
	pthread_condattr_destroy(&ca);

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&r->thread, NULL, publisher_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&r->wake);
		pthread_cond_destroy(&r->drained);
		pthread_mutex_destroy(&r->lock);
		return create_fail(r, rc, err, errlen, "cannot start the redis publisher thread");
	}
	return r;
}

void redispub_set_health(struct redispub *r, const char *json_fields)
{
	char *copy = json_fields ? strdup(json_fields) : NULL;

	pthread_mutex_lock(&r->lock);
	free(r->health);
	r->health = copy;
	pthread_mutex_unlock(&r->lock);
}

void redispub_stats(struct redispub *r, struct redispub_stats *ret)
{
	pthread_mutex_lock(&r->lock);
	*ret = r->st;
	pthread_mutex_unlock(&r->lock);
}

int redispub_flush(struct redispub *r, int timeout_ms)
{
	uint64_t deadline =
	    wr_mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * WR_NS_PER_MS;
	int rc;

	pthread_mutex_lock(&r->lock);
	while (!TAILQ_EMPTY(&r->spool) && wr_mono_ns() < deadline)
		wait_until(r, &r->drained, deadline);
	rc = TAILQ_EMPTY(&r->spool) ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void redispub_free(struct redispub *r)
{
	struct spool_msg *m;

	if (!r)
		return;
	(void)redispub_flush(r, REDISPUB_FREE_FLUSH_MS);
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);

	if (r->ctx)
		redisFree(r->ctx);
	while ((m = TAILQ_FIRST(&r->spool)) != NULL) {
		spool_unlink(r, m);
		free(m);
	}
	free(r->health);
	pthread_cond_destroy(&r->wake);
	pthread_cond_destroy(&r->drained);
	pthread_mutex_destroy(&r->lock);
	explicit_bzero(r->password, sizeof(r->password));
	free(r);
}
