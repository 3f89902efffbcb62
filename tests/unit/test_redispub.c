/*
 * Unit tests for the Redis alert publisher: URL parsing, the weir.alert.v1 JSON, and the
 * publisher against real redis-server processes that the tests start on free loopback ports
 * (never a system instance): publish and read back (stream, active hash, live channel,
 * heartbeats), AUTH and a database number, a spool filled while Redis is away (the dropping
 * rules, then delivery in order once it comes up), and Redis stopped with messages in flight,
 * killed and restarted (every message once, in order).
 *
 * The expected messages are formatted by redispub_format() and compared byte for byte with
 * what Redis holds; the fingerprint is recomputed here from its definition. Every JSON text
 * produced or read back is written to a file that tests/integration/redispub_test.py validates
 * against docs/alert.schema.json at the end (WEIR_SOURCE_ROOT locates both). Waits on Redis
 * or the publisher are polls with generous deadlines that only guard against hangs.
 */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redispub.h"
#include "t.h"
#include "wr.h"

#define GUARD_MS 30000                  /* failure guard for anything that waits */
#define T0_NS    1795333781123000000ull /* 2026-11-22T07:49:41.123Z */

static FILE *g_json; /* every message JSON seen, one per line, for the schema check */
static unsigned g_json_n;

static void note_json(const char *s)
{
	if (g_json && s) {
		fprintf(g_json, "%s\n", s);
		g_json_n++;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* helpers                                                                                    */

struct strv {
	char **v;
	size_t n;
};

static void strv_push(struct strv *s, const char *str)
{
	s->v = realloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = strdup(str);
}

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static uint64_t deadline_ms(unsigned ms)
{
	return wr_mono_ns() + (uint64_t)ms * WR_NS_PER_MS;
}

static void mk_alert(struct redispub_alert *a, int type, const char *key, uint32_t seq)
{
	memset(a, 0, sizeof(*a));
	a->ev.type = (uint8_t)type;
	a->ev.kind = DETECT_RATE_DROP;
	a->ev.severity = DETECT_CRITICAL;
	a->ev.detector = DETECT_BY_RATIO;
	a->ev.reason = type == DETECT_CLEAR ? DETECT_REASON_RECOVERED : DETECT_REASON_NONE;
	a->ev.episode = 1;
	a->ev.seq = seq;
	a->ev.baseline = 1000;
	a->ev.observed = 20;
	a->ev.ratio = 0.02;
	a->ev.window_s = 1;
	a->ev.score = 90;
	a->ev.started_at_ns = T0_NS;
	a->ev.detected_at_ns = T0_NS + 3 * WR_NS_PER_S;
	a->ev.cleared_at_ns = type == DETECT_CLEAR ? T0_NS + 60 * WR_NS_PER_S : 0;
	snprintf(a->link, sizeof(a->link), "pcap:/t.pcap");
	snprintf(a->family, sizeof(a->family), "prefix");
	snprintf(a->key, sizeof(a->key), "%s", key);
	snprintf(a->metric, sizeof(a->metric), "packets");
}

static void fmt(const struct redispub_alert *a, const char *probe, char *buf)
{
	int n = redispub_format(a, probe, buf, REDISPUB_JSON_MAX);

	CHECK(n > 0);
	note_json(buf);
}

/* The value of a string field of a message we wrote ourselves (no escapes in it). */
static void jfield(const char *json, const char *field, char *out, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", field);
	out[0] = '\0';
	p = strstr(json, pat);
	if (!p)
		return;
	p += strlen(pat);
	e = strchr(p, '"');
	if (e && (size_t)(e - p) < len) {
		memcpy(out, p, (size_t)(e - p));
		out[e - p] = '\0';
	}
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Starts redis-server (from PATH) on 127.0.0.1:port and waits until it answers. */
static pid_t redis_start(int port, const char *password)
{
	char ps[16];
	pid_t pid;
	uint64_t until = deadline_ms(GUARD_MS);

	snprintf(ps, sizeof(ps), "%d", port);
	pid = fork();
	if (pid == 0) {
		const char *argv[16] = {"redis-server", "--port",     ps,       "--bind",
		                        "127.0.0.1",    "--save",     "",       "--appendonly",
		                        "no",           "--loglevel", "warning"};
		int argc = 11;
		FILE *null = freopen("/dev/null", "w", stdout);

		(void)null;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (password) {
			argv[argc++] = "--requirepass";
			argv[argc++] = password;
		}
		argv[argc] = NULL;
		execvp("redis-server", (char *const *)argv);
		fprintf(stderr, "cannot run redis-server: %s\n", strerror(errno));
		_exit(127);
	}
	CHECK(pid > 0);
	while (pid > 0 && wr_mono_ns() < until) {
		struct timeval tv = {.tv_sec = 1};
		redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
		redisReply *rep = c && !c->err ? redisCommand(c, "PING") : NULL;
		int status;

		if (c)
			redisFree(c);
		if (rep) {
			/* NOAUTH also proves the server is up */
			freeReplyObject(rep);
			return pid;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "redis-server on port %d exited (status %d)\n", port,
			        status);
			CHECK(0);
			return -1;
		}
		sleep_ms(20);
	}
	fprintf(stderr, "redis-server on port %d did not come up\n", port);
	CHECK(0);
	return -1;
}

static void redis_kill(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Waits until the process is in the stopped state (after SIGSTOP). */
static int wait_stopped(pid_t pid)
{
	char path[64], buf[512];
	uint64_t until = deadline_ms(GUARD_MS);

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (wr_mono_ns() < until) {
		FILE *f = fopen(path, "r");
		const char *p;

		if (!f)
			return 0;
		p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
		fclose(f);
		if (p && p[1] == ' ' && p[2] == 'T')
			return 1;
		sleep_ms(5);
	}
	return 0;
}

static redisContext *reader(int port, const char *password, int db)
{
	struct timeval tv = {.tv_sec = 10};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *rep;

	CHECK(c && !c->err);
	if (!c || c->err)
		return c;
	redisSetTimeout(c, tv);
	if (password) {
		rep = redisCommand(c, "AUTH %s", password);
		CHECK(rep && rep->type == REDIS_REPLY_STATUS);
		if (rep)
			freeReplyObject(rep);
	}
	if (db) {
		rep = redisCommand(c, "SELECT %d", db);
		CHECK(rep && rep->type == REDIS_REPLY_STATUS);
		if (rep)
			freeReplyObject(rep);
	}
	return c;
}

static long long rint_cmd(redisContext *c, const char *fmt_, ...)
{
	va_list ap;
	redisReply *rep;
	long long v = -1;

	va_start(ap, fmt_);
	rep = redisvCommand(c, fmt_, ap);
	va_end(ap);
	if (rep && rep->type == REDIS_REPLY_INTEGER)
		v = rep->integer;
	if (rep)
		freeReplyObject(rep);
	return v;
}

/* The "event" values of a stream, oldest first. */
static void stream_events(redisContext *c, const char *key, struct strv *out)
{
	redisReply *rep = redisCommand(c, "XRANGE %s - +", key);

	CHECK(rep && rep->type == REDIS_REPLY_ARRAY);
	for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		redisReply *fv = rep->element[i]->element[1];

		CHECK_EQ(fv->elements, 2);
		if (fv->elements == 2 && strcmp(fv->element[0]->str, "event") == 0) {
			strv_push(out, fv->element[1]->str);
			note_json(fv->element[1]->str);
		}
	}
	if (rep)
		freeReplyObject(rep);
}

static int same_list(const struct strv *got, const struct strv *want)
{
	if (got->n != want->n) {
		fprintf(stderr, "got %zu messages, want %zu\n", got->n, want->n);
		return 0;
	}
	for (size_t i = 0; i < got->n; i++) {
		if (strcmp(got->v[i], want->v[i]) != 0) {
			fprintf(stderr, "message %zu differs:\n got  %s\n want %s\n", i, got->v[i],
			        want->v[i]);
			return 0;
		}
	}
	return 1;
}

/* Sorted field names of a hash. */
static void hash_keys(redisContext *c, const char *key, struct strv *out)
{
	redisReply *rep = redisCommand(c, "HKEYS %s", key);

	for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
		strv_push(out, rep->element[i]->str);
	if (rep)
		freeReplyObject(rep);
	for (size_t i = 1; i < out->n; i++)
		for (size_t k = i; k > 0 && strcmp(out->v[k - 1], out->v[k]) > 0; k--) {
			char *t = out->v[k];

			out->v[k] = out->v[k - 1];
			out->v[k - 1] = t;
		}
}

static struct redispub *pub_create(int port, const char *auth, const char *prefix,
                                   const char *probe, size_t spool_max, double hb)
{
	struct redispub_params p;
	char url[256], err[256];
	struct redispub *r;

	redispub_params_default(&p);
	snprintf(url, sizeof(url), "redis://%s127.0.0.1:%d%s", auth ? auth : "", port,
	         auth ? "/5" : "");
	p.url = url;
	p.prefix = prefix;
	p.probe_id = probe;
	p.spool_max = spool_max;
	p.retry_min_ms = 10;
	p.retry_max_ms = 100;
	p.heartbeat_s = hb;
	r = redispub_create(&p, err, sizeof(err));
	if (!r)
		fprintf(stderr, "redispub_create: %s\n", err);
	CHECK(r != NULL);
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* URL                                                                                        */

static void test_url(void)
{
	char host[64], pw[32], err[256];
	int port, db;
	static const struct {
		const char *url, *host, *pw;
		int port, db;
	} good[] = {
	    {"redis://127.0.0.1:6380", "127.0.0.1", "", 6380, 0},
	    {"redis://localhost", "localhost", "", 6379, 0},
	    {"redis://localhost/", "localhost", "", 6379, 0},
	    {"redis://:secret@redis.example:1234/3", "redis.example", "secret", 1234, 3},
	    {"redis://[::1]:6381/2", "::1", "", 6381, 2},
	    {"redis://[::1]", "::1", "", 6379, 0},
	    {"redis://:p%40ss%2Fw%3a@h:1/0", "h", "p@ss/w:", 1, 0},
	    {"redis://:@h:65535", "h", "", 65535, 0},
	};
	static const struct {
		const char *url, *word;
	} bad[] = {
	    {"http://h:1", "redis://"},
	    {"rediss://:topsecret@h:1", "redis://"},
	    {"redis://", "no host"},
	    {"redis://:topsecret@:1", "no host"},
	    {"redis://h:0", "port"},
	    {"redis://h:65536", "port"},
	    {"redis://h:", "port"},
	    {"redis://:topsecret@h:12x", "port"},
	    {"redis://h:1/x", "database"},
	    {"redis://h:1/1/2", "database"},
	    {"redis://h:1/-1", "database"},
	    {"redis://h:1/99999999999", "database"},
	    {"redis://user:topsecret@h:1", "user name"},
	    {"redis://:top%4gsecret@h:1", "escape"},
	    {"redis://:top%00secret@h:1", "escape"},
	    {"redis://:topsecret%4@h:1", "escape"},
	    {"redis://:topsecrettopsecrettopsecrettopsecret@h:1", "password"},
	    {"redis://[::1:6379", "]"},
	    {"redis://[::1]x", "after the host"},
	    {"redis://ho st:1", "bad character in the host"},
	    {"redis://[::1 ]:1", "bad character in the host"},
	    {"redis://a-very-long-host-name-that-does-not-fit-in-the-sixty-four-bytes.example:1",
	     "too long"},
	};

	for (size_t i = 0; i < WR_ARRAY_SIZE(good); i++) {
		int rc = redispub_parse_url(good[i].url, host, sizeof(host), &port, pw, sizeof(pw),
		                            &db, err, sizeof(err));

		CHECK_EQ(rc, 0);
		if (rc != 0)
			fprintf(stderr, "  %s: %s\n", good[i].url, err);
		CHECK_STR(host, good[i].host);
		CHECK_STR(pw, good[i].pw);
		CHECK_EQ(port, good[i].port);
		CHECK_EQ(db, good[i].db);
	}
	for (size_t i = 0; i < WR_ARRAY_SIZE(bad); i++) {
		int rc;

		err[0] = '\0';
		rc = redispub_parse_url(bad[i].url, host, sizeof(host), &port, pw, sizeof(pw), &db,
		                        err, sizeof(err));
		CHECK_EQ(rc, -EINVAL);
		CHECK(strstr(err, bad[i].word) != NULL);
		CHECK(strstr(err, "topsecret") == NULL && strstr(err, "secret") == NULL);
		if (!strstr(err, bad[i].word))
			fprintf(stderr, "  %s: \"%s\" lacks \"%s\"\n", bad[i].url, err,
			        bad[i].word);
	}
	CHECK_EQ(redispub_parse_url(NULL, host, sizeof(host), &port, pw, sizeof(pw), &db, err,
	                            sizeof(err)),
	         -EINVAL);
	CHECK(strstr(err, "no redis url") != NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* JSON                                                                                       */

/* FNV-1a 64 as docs/ALERTS.md defines the fingerprint, written independently. */
static uint64_t fnv_parts(const char *const *parts, int n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)parts[i];

		do {
			h ^= *p;
			h *= 0x100000001b3ull;
		} while (*p++);
	}
	return h;
}

static void test_format_golden(void)
{
	struct redispub_alert a;
	char buf[REDISPUB_JSON_MAX], want[REDISPUB_JSON_MAX], fp[20];
	const char *parts[] = {"probe-1", "pcap:/x.pcap", "prefix", "10.1.2.0/24", "packets"};
	int n;

	memset(&a, 0, sizeof(a));
	a.ev.type = DETECT_RAISE;
	a.ev.kind = DETECT_RATE_DROP;
	a.ev.severity = DETECT_CRITICAL;
	a.ev.detector = DETECT_BY_RATIO;
	a.ev.episode = 7;
	a.run_s = 1795333700;
	a.ev.baseline = 1000;
	a.ev.observed = 50;
	a.ev.ratio = 0.05;
	a.ev.window_s = 1;
	a.ev.score = 87.6;
	a.ev.started_at_ns = T0_NS;
	a.ev.detected_at_ns = T0_NS + 3250 * WR_NS_PER_MS;
	strcpy(a.link, "pcap:/x.pcap");
	strcpy(a.family, "prefix");
	strcpy(a.key, "10.1.2.0/24");
	strcpy(a.metric, "packets");
	snprintf(fp, sizeof(fp), "%016" PRIx64, fnv_parts(parts, 5));
	snprintf(want, sizeof(want),
	         "{\"schema\":\"weir.alert.v1\",\"event_id\":\"%s:1795333700:7:0\","
	         "\"alert_id\":\"%s:1795333700:7\","
	         "\"fingerprint\":\"%s\",\"seq\":0,\"event\":\"raise\",\"kind\":\"rate_drop\","
	         "\"severity\":\"critical\",\"score\":88,\"probe_id\":\"probe-1\","
	         "\"link\":\"pcap:/x.pcap\",\"family\":\"prefix\",\"key\":\"10.1.2.0/24\","
	         "\"metric\":\"packets\",\"baseline\":1000,\"observed\":50,\"ratio\":0.05,"
	         "\"window_s\":1,\"detector\":\"ratio\",\"thresholds\":{\"warning\":0.5,"
	         "\"critical\":0.1,\"sig_z\":5,\"clear_low\":0.8,\"clear_high\":1.25},"
	         "\"started_at\":\"2026-11-22T07:49:41.123Z\","
	         "\"detected_at\":\"2026-11-22T07:49:44.373Z\",\"cleared_at\":null,"
	         "\"detection_delay_s\":3.25,\"duration_s\":3.25,\"group_id\":\"%s:1795333700:7\","
	         "\"parent_alert_id\":null,\"reason\":null,\"capture_health\":\"ok\"}",
	         fp, fp, fp, fp);
	n = redispub_format(&a, "probe-1", buf, sizeof(buf));
	CHECK_EQ(n, strlen(want));
	CHECK_STR(buf, want);
	if (strcmp(buf, want) != 0)
		fprintf(stderr, " got  %s\n want %s\n", buf, want);
	note_json(buf);

	/* exactly fitting, one byte short */
	CHECK_EQ(redispub_format(&a, "probe-1", buf, (size_t)n + 1), n);
	CHECK_EQ(redispub_format(&a, "probe-1", buf, (size_t)n), -ENOSPC);
	CHECK_EQ(redispub_format(&a, "probe-1", buf, 1), -ENOSPC);
	CHECK_EQ(redispub_format(&a, "probe-1", buf, 0), -ENOSPC);
	CHECK_EQ(redispub_format(NULL, "probe-1", buf, sizeof(buf)), -EINVAL);
	CHECK_EQ(redispub_format(&a, NULL, buf, sizeof(buf)), -EINVAL);
	a.ev.kind = 0;
	CHECK_EQ(redispub_format(&a, "probe-1", buf, sizeof(buf)), -EINVAL);
	a.ev.kind = DETECT_RATE_DROP;
	a.ev.type = 9;
	CHECK_EQ(redispub_format(&a, "probe-1", buf, sizeof(buf)), -EINVAL);
}

static void test_format_events(void)
{
	struct redispub_alert a;
	char buf[REDISPUB_JSON_MAX], id1[64], id2[64], fp1[32], fp2[32];

	/* clear: cleared_at, reason, duration to the clear */
	mk_alert(&a, DETECT_CLEAR, "10.0.0.0/8", 4);
	a.ev.cleared_at_ns = T0_NS + 90500 * WR_NS_PER_MS;
	a.ev.reason = DETECT_REASON_REBASELINED;
	fmt(&a, "p", buf);
	CHECK(strstr(buf, "\"event\":\"clear\"") != NULL);
	CHECK(strstr(buf, "\"cleared_at\":\"2026-11-22T07:51:11.623Z\"") != NULL);
	CHECK(strstr(buf, "\"reason\":\"rebaselined\"") != NULL);
	CHECK(strstr(buf, "\"detection_delay_s\":3,") != NULL);
	CHECK(strstr(buf, "\"duration_s\":90.5,") != NULL);
	CHECK(strstr(buf, "\"seq\":4,") != NULL);
	jfield(buf, "event_id", id1, sizeof(id1));
	jfield(buf, "alert_id", id2, sizeof(id2));
	jfield(buf, "fingerprint", fp1, sizeof(fp1));
	CHECK_EQ(strlen(fp1), 16);
	{
		char want[96];

		snprintf(want, sizeof(want), "%s:0:1", fp1);
		CHECK_STR(id2, want);
		snprintf(want, sizeof(want), "%s:0:1:4", fp1);
		CHECK_STR(id1, want);
	}

	/* redispub_alert_id() names the same alert, from the series and the episode alone */
	{
		struct redispub_alert parent;
		char pid[REDISPUB_ALERT_ID_MAX];

		memset(&parent, 0, sizeof(parent));
		strcpy(parent.link, a.link);
		strcpy(parent.family, a.family);
		strcpy(parent.key, a.key);
		strcpy(parent.metric, a.metric);
		parent.ev.episode = 1;
		redispub_alert_id(&parent, "p", pid, sizeof(pid));
		CHECK_STR(pid, id2);
		/* another run of the probe: the same series and episode are another alert */
		parent.run_s = 1795333700;
		redispub_alert_id(&parent, "p", pid, sizeof(pid));
		CHECK(strcmp(pid, id2) != 0);
		CHECK(strstr(pid, ":1795333700:1") != NULL);
	}

	/* update attached to a parent, capture degraded, numbers that are not finite */
	mk_alert(&a, DETECT_UPDATE, "10.0.0.0/8", 1);
	a.ev.kind = DETECT_RATE_SURGE;
	a.ev.severity = DETECT_WARNING;
	a.ev.escalated = 1;
	a.ev.ratio = NAN;
	a.ev.baseline = INFINITY;
	a.ev.observed = -INFINITY;
	a.ev.score = 150;
	a.capture_degraded = 1;
	strcpy(a.parent_alert_id, "0123456789abcdef:3");
	fmt(&a, "p", buf);
	CHECK(strstr(buf, "\"event\":\"update\"") != NULL);
	CHECK(strstr(buf, "\"kind\":\"rate_surge\"") != NULL);
	CHECK(strstr(buf, "\"group_id\":\"0123456789abcdef:3\"") != NULL);
	CHECK(strstr(buf, "\"parent_alert_id\":\"0123456789abcdef:3\"") != NULL);
	CHECK(strstr(buf, "\"capture_health\":\"degraded\"") != NULL);
	CHECK(strstr(buf, "\"baseline\":null,\"observed\":null,\"ratio\":null,") != NULL);
	CHECK(strstr(buf, "\"score\":100,") != NULL);
	CHECK(strstr(buf, "\"cleared_at\":null") != NULL);
	CHECK(strstr(buf, "\"reason\":null") != NULL);
	CHECK(strstr(buf, "\"thresholds\":{\"warning\":3,\"critical\":10,\"floor_per_s\":10,") !=
	      NULL);
	/* the kind is not part of the fingerprint */
	jfield(buf, "fingerprint", fp2, sizeof(fp2));
	CHECK_STR(fp1, fp2);

	/* a NaN score is 0; a different key is a different series */
	mk_alert(&a, DETECT_RAISE, "10.0.0.0/9", 0);
	a.ev.score = NAN;
	fmt(&a, "p", buf);
	CHECK(strstr(buf, "\"score\":0,") != NULL);
	jfield(buf, "fingerprint", fp2, sizeof(fp2));
	CHECK(strcmp(fp1, fp2) != 0);

	/* the separators: ("ab", "c") and ("a", "bc") are different series */
	mk_alert(&a, DETECT_RAISE, "k", 0);
	strcpy(a.link, "ab");
	strcpy(a.family, "c");
	fmt(&a, "p", buf);
	jfield(buf, "fingerprint", fp1, sizeof(fp1));
	strcpy(a.link, "a");
	strcpy(a.family, "bc");
	fmt(&a, "p", buf);
	jfield(buf, "fingerprint", fp2, sizeof(fp2));
	CHECK(strcmp(fp1, fp2) != 0);

	/* every kind, with its thresholds: each message names its kind and detector and opens
	 * its thresholds with the kind's first one */
	for (int kind = DETECT_RATE_DROP; kind <= DETECT_PROBE_DEGRADED; kind++) {
		static const char *const first[] = {
		    [DETECT_RATE_DROP] = "\"thresholds\":{\"warning\":",
		    [DETECT_RATE_SURGE] = "\"thresholds\":{\"warning\":",
		    [DETECT_LEVEL_SHIFT] = "\"thresholds\":{\"cusum_k\":",
		    [DETECT_FLAPPING] = "\"thresholds\":{\"raises\":",
		    [DETECT_PROBE_DEGRADED] = "\"thresholds\":{\"clear_s\":"};

		for (int type = DETECT_RAISE; type <= DETECT_CLEAR; type++) {
			char want[96];

			mk_alert(&a, type, "k", type == DETECT_RAISE ? 0 : (uint32_t)type);
			a.ev.kind = (uint8_t)kind;
			a.ev.detector = kind == DETECT_LEVEL_SHIFT      ? DETECT_BY_CUSUM
			                : kind == DETECT_FLAPPING       ? DETECT_BY_FLAPPING
			                : kind == DETECT_PROBE_DEGRADED ? DETECT_BY_HEALTH
			                                                : DETECT_BY_RATIO;
			if (type == DETECT_CLEAR && kind == DETECT_FLAPPING)
				a.ev.reason = DETECT_REASON_STABLE;
			fmt(&a, "p", buf);
			snprintf(want, sizeof(want), "\"kind\":\"%s\"", detect_kind_name(kind));
			CHECK(strstr(buf, want) != NULL);
			snprintf(want, sizeof(want), "\"detector\":\"%s\"",
			         detect_detector_name(a.ev.detector));
			CHECK(strstr(buf, want) != NULL);
			CHECK(strstr(buf, first[kind]) != NULL);
			CHECK((strstr(buf, "\"floor_per_s\"") != NULL) ==
			      (kind == DETECT_RATE_SURGE));
		}
	}
	CHECK(strstr(buf, "\"kind\":\"probe_degraded\"") != NULL);
	CHECK(strstr(buf, "\"detector\":\"capture_health\"") != NULL);
	CHECK(strstr(buf, "\"thresholds\":{\"clear_s\":30}") != NULL);
	mk_alert(&a, DETECT_RAISE, "k", 0);
	a.ev.kind = DETECT_FLAPPING;
	fmt(&a, "p", buf);
	CHECK(strstr(buf, "\"thresholds\":{\"raises\":5,\"window_s\":600}") != NULL);
	a.ev.kind = DETECT_LEVEL_SHIFT;
	fmt(&a, "p", buf);
	CHECK(strstr(buf, "\"thresholds\":{\"cusum_k\":0.5,\"cusum_h\":5,\"min_shift\":0.2}") !=
	      NULL);
}

static void test_format_escaping(void)
{
	struct redispub_alert a;
	char buf[REDISPUB_JSON_MAX];

	mk_alert(&a, DETECT_RAISE, "", 0);
	/* quote, backslash, newline, tab, control, invalid byte, valid 2- and 3-byte UTF-8 */
	strcpy(a.key, "a\"b\\c\nd\te\x01"
	              "f\xff"
	              "g\xc3\xa9h\xe2\x82\xac");
	/* overlong '/', a surrogate, a cut sequence at the end */
	strcpy(a.metric, "\xc0\xaf\xed\xa0\x80\xe2\x82");
	/* a 4-byte sequence, then one above U+10FFFF */
	strcpy(a.link, "L\xf0\x9f\x98\x80\xf4\x90\x80\x80");
	/* a field with no NUL in its array */
	memset(a.family, 'x', sizeof(a.family));
	fmt(&a, "pr\"obe", buf);
	CHECK(strstr(buf, "\"key\":\"a\\\"b\\\\c\\nd\\te\\u0001f\\ufffdg\xc3\xa9h\xe2\x82\xac\"") !=
	      NULL);
	CHECK(strstr(buf, "\"metric\":\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"") !=
	      NULL);
	CHECK(strstr(buf, "\"link\":\"L\xf0\x9f\x98\x80\\ufffd\\ufffd\\ufffd\\ufffd\"") != NULL);
	CHECK(strstr(buf, "\"family\":\"xxxxxxxxxxxxxxxx\",") != NULL);
	CHECK(strstr(buf, "\"probe_id\":\"pr\\\"obe\"") != NULL);

	/* the largest message fits REDISPUB_JSON_MAX */
	memset(a.link, 1, sizeof(a.link));
	memset(a.family, 1, sizeof(a.family));
	memset(a.key, 1, sizeof(a.key));
	memset(a.metric, 1, sizeof(a.metric));
	memset(a.parent_alert_id, 1, sizeof(a.parent_alert_id));
	{
		char probe[129];

		memset(probe, 1, 128);
		probe[128] = '\0';
		a.ev.baseline = -1.2345678901234567e-300;
		a.ev.observed = 1.2345678901234567e300;
		CHECK(redispub_format(&a, probe, buf, sizeof(buf)) > 4000);
		note_json(buf);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* params                                                                                     */

static void test_params(void)
{
	struct redispub_params p;
	char err[256], url[64];
	struct redispub *r;

	redispub_params_default(&p);
	CHECK_STR(p.prefix, "weir");
	CHECK_EQ(p.spool_max, 10000);
	CHECK_EQ(p.stream_maxlen, 100000);
	CHECK_EQ(p.retry_min_ms, 100);
	CHECK_EQ(p.retry_max_ms, 5000);
	CHECK(p.heartbeat_s == 10);

	errno = 0;
	CHECK(redispub_create(&p, err, sizeof(err)) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(strstr(err, "no redis url") != NULL);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", free_port());
	p.url = url;
	p.spool_max = 0;
	CHECK(redispub_create(&p, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "spool_max") != NULL);
	p.spool_max = 10;
	p.retry_min_ms = 200;
	p.retry_max_ms = 100;
	CHECK(redispub_create(&p, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "retry") != NULL);
	p.retry_min_ms = 100;
	p.heartbeat_s = -1;
	CHECK(redispub_create(&p, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "heartbeat_s") != NULL);
	p.heartbeat_s = NAN;
	CHECK(redispub_create(&p, err, sizeof(err)) == NULL);
	p.heartbeat_s = 10;
	p.prefix = "";
	CHECK(redispub_create(&p, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "prefix") != NULL);
	p.prefix = "weir";
	p.probe_id = "";
	CHECK(redispub_create(&p, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "probe id") != NULL);
	p.probe_id = NULL;
	p.stream_maxlen = 0;
	CHECK(redispub_create(&p, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "stream_maxlen") != NULL);

	/* nothing listens there: created anyway, nothing to flush, freed at once */
	p.stream_maxlen = 100;
	r = redispub_create(&p, err, sizeof(err));
	CHECK(r != NULL);
	CHECK_EQ(redispub_flush(r, 0), 0);
	redispub_free(r);
	redispub_free(NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* publishing                                                                                 */

static void test_publish(void)
{
	int port = free_port();
	pid_t pid = redis_start(port, NULL);
	redisContext *c = reader(port, NULL, 0), *sub = reader(port, NULL, 0);
	struct redispub *r;
	struct redispub_alert a;
	struct redispub_stats st;
	struct strv want = {0}, got = {0};
	char host[256] = "", buf[REDISPUB_JSON_MAX], id[64];
	redisReply *rep;
	uint64_t until;
	int types[3] = {DETECT_RAISE, DETECT_UPDATE, DETECT_CLEAR}, ok = 0;

	gethostname(host, sizeof(host) - 1);
	rep = redisCommand(sub, "SUBSCRIBE t1:alerts:live");
	CHECK(rep && rep->type == REDIS_REPLY_ARRAY);
	if (rep)
		freeReplyObject(rep);

	r = pub_create(port, NULL, "t1", NULL, 100, 0.05);
	if (!r)
		goto out;
	redispub_set_health(r, "{\"packets\":5,\"note\":\"a b\"}");
	for (int i = 0; i < 3; i++) {
		mk_alert(&a, types[i], "10.1.2.0/24", (uint32_t)i);
		fmt(&a, host, buf);
		strv_push(&want, buf);
		jfield(buf, "alert_id", id, sizeof(id));
		CHECK_EQ(redispub_submit(r, &a), 0);
		CHECK_EQ(redispub_flush(r, GUARD_MS), 0);
		rep = redisCommand(c, "HGET t1:active %s", id);
		if (types[i] == DETECT_CLEAR) {
			CHECK(rep && rep->type == REDIS_REPLY_NIL);
		} else {
			CHECK(rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, buf) == 0);
			if (rep && rep->type == REDIS_REPLY_STRING)
				note_json(rep->str);
		}
		if (rep)
			freeReplyObject(rep);
	}
	CHECK_EQ(rint_cmd(c, "HLEN t1:active"), 0);
	stream_events(c, "t1:alerts", &got);
	CHECK(same_list(&got, &want));

	/* the live channel got the same messages in the same order */
	for (size_t i = 0; i < want.n; i++) {
		rep = NULL;
		CHECK_EQ(redisGetReply(sub, (void **)&rep), REDIS_OK);
		CHECK(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3);
		if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3) {
			CHECK_STR(rep->element[0]->str, "message");
			CHECK_STR(rep->element[1]->str, "t1:alerts:live");
			CHECK_STR(rep->element[2]->str, want.v[i]);
			note_json(rep->element[2]->str);
		}
		if (rep)
			freeReplyObject(rep);
	}

	/* heartbeats: the probe id defaults to the host name; counters; the probe's fields */
	until = deadline_ms(GUARD_MS);
	while (!ok && wr_mono_ns() < until) {
		rep = redisCommand(c, "XREVRANGE t1:health + - COUNT 1");
		if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1) {
			redisReply *fv = rep->element[0]->element[1];
			const char *published = NULL, *probe_id = NULL, *probe = NULL, *ts = NULL;

			for (size_t k = 0; k + 1 < fv->elements; k += 2) {
				const char *f = fv->element[k]->str, *v = fv->element[k + 1]->str;

				if (!strcmp(f, "published"))
					published = v;
				else if (!strcmp(f, "probe_id"))
					probe_id = v;
				else if (!strcmp(f, "probe"))
					probe = v;
				else if (!strcmp(f, "ts"))
					ts = v;
			}
			if (published && !strcmp(published, "3")) {
				ok = 1;
				CHECK(probe_id && !strcmp(probe_id, host));
				CHECK(probe && !strcmp(probe, "{\"packets\":5,\"note\":\"a b\"}"));
				CHECK(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z');
			}
		}
		if (rep)
			freeReplyObject(rep);
		if (!ok)
			sleep_ms(20);
	}
	CHECK(ok);
	CHECK(rint_cmd(c, "XLEN t1:health") >= 2);

	redispub_stats(r, &st);
	CHECK_EQ(st.submitted, 3);
	CHECK_EQ(st.published, 3);
	CHECK_EQ(st.spooled_now, 0);
	CHECK_EQ(st.lost, 0);
	CHECK_EQ(st.updates_dropped, 0);
	CHECK_EQ(st.reconnects, 0);
	CHECK_EQ(st.connected, 1);
	redispub_free(r);
out:
	strv_free(&want);
	strv_free(&got);
	redisFree(sub);
	redisFree(c);
	redis_kill(pid);
}

static void test_auth_db(void)
{
	static const char pw[] = "pa@ss/w:rd";
	int port = free_port();
	pid_t pid = redis_start(port, pw);
	redisContext *c = reader(port, pw, 5);
	struct redispub *r;
	struct redispub_alert a;
	struct redispub_stats st;
	struct strv want = {0}, got = {0};
	char buf[REDISPUB_JSON_MAX];
	uint64_t until;

	r = pub_create(port, ":pa%40ss%2Fw%3Ard@", "t2", "p-auth", 100, 10);
	mk_alert(&a, DETECT_RAISE, "AS64500", 0);
	fmt(&a, "p-auth", buf);
	strv_push(&want, buf);
	CHECK_EQ(redispub_submit(r, &a), 0);
	CHECK_EQ(redispub_flush(r, GUARD_MS), 0);
	stream_events(c, "t2:alerts", &got);
	CHECK(same_list(&got, &want));
	CHECK_EQ(rint_cmd(c, "HLEN t2:active"), 1);
	CHECK(rint_cmd(c, "XLEN t2:health") >= 1);
	/* nothing went to database 0 */
	redisFree(c);
	c = reader(port, pw, 0);
	CHECK_EQ(rint_cmd(c, "EXISTS t2:alerts"), 0);
	CHECK_EQ(rint_cmd(c, "EXISTS t2:active"), 0);
	redispub_free(r);

	/* a wrong password: counted errors, never connected, nothing published */
	r = pub_create(port, ":wrong@", "t2", "p-auth", 100, 10);
	CHECK_EQ(redispub_submit(r, &a), 0);
	until = deadline_ms(GUARD_MS);
	do {
		redispub_stats(r, &st);
		if (st.errors < 2)
			sleep_ms(10);
	} while (st.errors < 2 && wr_mono_ns() < until);
	CHECK(st.errors >= 2);
	CHECK_EQ(st.connected, 0);
	CHECK_EQ(st.published, 0);
	CHECK_EQ(st.spooled_now, 1);
	CHECK_EQ(redispub_flush(r, 1), -ETIMEDOUT);
	redispub_free(r); /* gives up after its flush attempt, frees the spooled message */

	strv_free(&want);
	strv_free(&got);
	redisFree(c);
	redis_kill(pid);
}

/* Redis away from the start: the spool keeps raises and clears, drops updates oldest first. */
static void test_spool_down(void)
{
	static const struct {
		int type;
		const char *key;
		uint32_t seq;
		int rc;
	} steps[] = {
	    {DETECT_RAISE, "a", 0, 0},         /* 0 */
	    {DETECT_UPDATE, "a", 1, 0},        /* 1 */
	    {DETECT_UPDATE, "a", 2, 0},        /* 2 */
	    {DETECT_RAISE, "b", 0, 0},         /* 3 */
	    {DETECT_UPDATE, "b", 1, 0},        /* 4 */
	    {DETECT_CLEAR, "a", 3, 0},         /* 5 */
	    {DETECT_UPDATE, "b", 2, 0},        /* 6 */
	    {DETECT_RAISE, "c", 0, 0},         /* 7: the spool is full */
	    {DETECT_UPDATE, "c", 1, -ENOBUFS}, /* 8: drops 1 */
	    {DETECT_CLEAR, "b", 3, -ENOBUFS},  /* 9: drops 2 */
	    {DETECT_CLEAR, "c", 2, -ENOBUFS},  /* 10: drops 4 */
	    {DETECT_RAISE, "d", 0, -ENOBUFS},  /* 11: drops 6 */
	    {DETECT_RAISE, "e", 0, -ENOBUFS},  /* 12: drops 8; only raises and clears left */
	    {DETECT_UPDATE, "d", 1, -ENOBUFS}, /* 13: dropped itself */
	    {DETECT_CLEAR, "d", 2, -ENOBUFS},  /* 14: lost */
	};
	static const int kept[] = {0, 3, 5, 7, 9, 10, 11, 12};
	int port = free_port();
	pid_t pid;
	redisContext *c;
	struct redispub *r;
	struct redispub_alert a;
	struct redispub_stats st;
	struct strv want = {0}, got = {0}, keys = {0}, want_keys = {0};
	char buf[REDISPUB_JSON_MAX], jsons[WR_ARRAY_SIZE(steps)][REDISPUB_JSON_MAX / 4];
	uint64_t until;

	r = pub_create(port, NULL, "t3", "p-down", 8, 0);
	if (!r)
		return;
	for (size_t i = 0; i < WR_ARRAY_SIZE(steps); i++) {
		mk_alert(&a, steps[i].type, steps[i].key, steps[i].seq);
		fmt(&a, "p-down", buf);
		CHECK(strlen(buf) < sizeof(jsons[i]));
		memcpy(jsons[i], buf, sizeof(jsons[i]) - 1);
		jsons[i][sizeof(jsons[i]) - 1] = '\0';
		CHECK_EQ(redispub_submit(r, &a), steps[i].rc);
	}
	for (size_t i = 0; i < WR_ARRAY_SIZE(kept); i++)
		strv_push(&want, jsons[kept[i]]);
	for (const char *k = "de"; *k; k++) {
		char key[2] = {*k, 0}, id[64];

		mk_alert(&a, DETECT_RAISE, key, 0);
		fmt(&a, "p-down", buf);
		jfield(buf, "alert_id", id, sizeof(id));
		strv_push(&want_keys, id);
	}
	if (strcmp(want_keys.v[0], want_keys.v[1]) > 0) {
		char *t = want_keys.v[0];

		want_keys.v[0] = want_keys.v[1];
		want_keys.v[1] = t;
	}

	/* connection attempts fail and are counted; nothing leaves the spool */
	until = deadline_ms(GUARD_MS);
	do {
		redispub_stats(r, &st);
		if (st.errors < 1)
			sleep_ms(10);
	} while (st.errors < 1 && wr_mono_ns() < until);
	CHECK(st.errors >= 1);
	CHECK_EQ(st.connected, 0);
	CHECK_EQ(st.submitted, WR_ARRAY_SIZE(steps));
	CHECK_EQ(st.updates_dropped, 6);
	CHECK_EQ(st.lost, 1);
	CHECK_EQ(st.spooled_now, 8);
	CHECK_EQ(st.published, 0);
	CHECK_EQ(redispub_flush(r, 1), -ETIMEDOUT);

	/* Redis comes up: everything kept arrives, in order */
	pid = redis_start(port, NULL);
	c = reader(port, NULL, 0);
	CHECK_EQ(redispub_flush(r, GUARD_MS), 0);
	stream_events(c, "t3:alerts", &got);
	CHECK(same_list(&got, &want));
	hash_keys(c, "t3:active", &keys);
	CHECK(same_list(&keys, &want_keys));
	redispub_stats(r, &st);
	CHECK_EQ(st.published, 8);
	CHECK_EQ(st.spooled_now, 0);
	CHECK_EQ(st.connected, 1);
	CHECK_EQ(st.reconnects, 0);
	CHECK_EQ(rint_cmd(c, "EXISTS t3:health"), 0); /* heartbeat_s 0: none */
	redispub_free(r);

	strv_free(&want);
	strv_free(&got);
	strv_free(&keys);
	strv_free(&want_keys);
	redisFree(c);
	redis_kill(pid);
}

/* 3n messages for n alerts: R0, then for each i: R(i), U(i-1), C(i-1); the last U and C. */
static void gen(struct redispub *r, const char *tag, int n, struct strv *want)
{
	struct redispub_alert a;
	char buf[REDISPUB_JSON_MAX], key[32];

	for (int i = 0; i <= n; i++) {
		if (i < n) {
			snprintf(key, sizeof(key), "%s%d", tag, i);
			mk_alert(&a, DETECT_RAISE, key, 0);
			fmt(&a, "p-kill", buf);
			strv_push(want, buf);
			CHECK_EQ(redispub_submit(r, &a), 0);
		}
		if (i > 0) {
			snprintf(key, sizeof(key), "%s%d", tag, i - 1);
			for (int t = DETECT_UPDATE; t <= DETECT_CLEAR; t++) {
				mk_alert(&a, t, key, (uint32_t)(t - 1));
				fmt(&a, "p-kill", buf);
				strv_push(want, buf);
				CHECK_EQ(redispub_submit(r, &a), 0);
			}
		}
	}
}

/* Redis stopped with a batch in flight, killed, restarted on the same port: the new instance
 * gets every message not confirmed by the old one, in order, once. */
static void test_kill_restart(void)
{
	int port = free_port();
	pid_t pid = redis_start(port, NULL);
	redisContext *c = reader(port, NULL, 0);
	struct redispub *r;
	struct redispub_stats st;
	struct strv want_a = {0}, want_b = {0}, got = {0};
	uint64_t until;

	r = pub_create(port, NULL, "t4", "p-kill", 10000, 0.2);
	if (!r)
		return;
	gen(r, "a", 20, &want_a);
	CHECK_EQ(redispub_flush(r, GUARD_MS), 0);
	stream_events(c, "t4:alerts", &got);
	CHECK(same_list(&got, &want_a));
	strv_free(&got);
	redisFree(c);

	/* stopped: the publisher sends and waits; nothing can be confirmed */
	kill(pid, SIGSTOP);
	CHECK(wait_stopped(pid));
	gen(r, "b", 70, &want_b);
	CHECK_EQ(redispub_flush(r, 300), -ETIMEDOUT);
	redis_kill(pid);
	gen(r, "c", 20, &want_b);
	until = deadline_ms(GUARD_MS);
	do {
		redispub_stats(r, &st);
		if (st.connected)
			sleep_ms(10);
	} while (st.connected && wr_mono_ns() < until);
	CHECK_EQ(st.connected, 0);
	CHECK(st.errors >= 1);
	CHECK_EQ(st.spooled_now, want_b.n);

	pid = redis_start(port, NULL);
	c = reader(port, NULL, 0);
	CHECK_EQ(redispub_flush(r, GUARD_MS), 0);
	stream_events(c, "t4:alerts", &got);
	CHECK(same_list(&got, &want_b));
	CHECK_EQ(rint_cmd(c, "HLEN t4:active"), 0);
	redispub_stats(r, &st);
	CHECK_EQ(st.published, want_a.n + want_b.n);
	CHECK_EQ(st.submitted, want_a.n + want_b.n);
	CHECK_EQ(st.lost, 0);
	CHECK_EQ(st.updates_dropped, 0);
	CHECK(st.reconnects >= 1);
	CHECK_EQ(st.connected, 1);

	/* heartbeats resume on the new instance */
	until = deadline_ms(GUARD_MS);
	while (rint_cmd(c, "XLEN t4:health") < 1 && wr_mono_ns() < until)
		sleep_ms(10);
	CHECK(rint_cmd(c, "XLEN t4:health") >= 1);
	redispub_free(r);

	strv_free(&want_a);
	strv_free(&want_b);
	strv_free(&got);
	redisFree(c);
	redis_kill(pid);
}

/* ---------------------------------------------------------------------------------------- */
/* schema                                                                                     */

static const char *g_json_path;

/* Every message seen above validates against docs/alert.schema.json. */
static void test_schema(void)
{
	const char *path = g_json_path;
	const char *root = getenv("WEIR_SOURCE_ROOT");
	char cmd[4096];
	int status;

	CHECK(root != NULL);
	if (!root) {
		fprintf(stderr,
		        "WEIR_SOURCE_ROOT is not set: cannot find docs/alert.schema.json\n");
		return;
	}
	CHECK(g_json_n > 0);
	snprintf(cmd, sizeof(cmd),
	         "python3 '%s/tests/integration/redispub_test.py' --schema "
	         "'%s/docs/alert.schema.json' '%s'",
	         root, root, path);
	fprintf(stderr, "schema check of %u messages\n", g_json_n);
	fflush(stderr);
	status = system(cmd);
	CHECK(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	char path[] = "/tmp/weir-redispub-XXXXXX";
	int fd;

	signal(SIGPIPE, SIG_IGN);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	g_json = fd >= 0 ? fdopen(fd, "w") : NULL;

	T_RUN(test_url);
	T_RUN(test_format_golden);
	T_RUN(test_format_events);
	T_RUN(test_format_escaping);
	T_RUN(test_params);
	T_RUN(test_publish);
	T_RUN(test_auth_db);
	T_RUN(test_spool_down);
	T_RUN(test_kill_restart);

	if (g_json) {
		fclose(g_json);
		g_json = NULL;
		g_json_path = path;
		T_RUN(test_schema);
		unlink(path);
	}
	return t_done();
}
