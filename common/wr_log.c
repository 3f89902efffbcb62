/*
 * wr_log: leveled, topic-tagged lines on stderr (see wr_log.h).
 */
#include "wr_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const topic_names[WR_LOG_N_TOPICS] = {"probe",  "capture", "export",
                                                         "detect", "redis",   "control"};
static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const int syslog_prio[] = {3, 4, 6, 7}; /* err, warning, info, debug */

static atomic_int levels[WR_LOG_N_TOPICS] = {WR_LOG_INFO, WR_LOG_INFO, WR_LOG_INFO,
                                             WR_LOG_INFO, WR_LOG_INFO, WR_LOG_INFO};
static int journal = -1; /* stderr is the journal: -1 not looked yet */

static int stderr_is_journal(void);

const char *wr_log_topic_name(enum wr_log_topic topic)
{
	return (unsigned)topic < WR_LOG_N_TOPICS ? topic_names[topic] : "?";
}

static int find(const char *const *names, unsigned n, const char *s, size_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
			return (int)i;
	return -1;
}

/* Parses spec into lv; 0 or -1 with the reason. */
static int parse(const char *spec, int lv[WR_LOG_N_TOPICS], char *err, size_t errlen)
{
	const char *p = spec;
	int any = 0;

	for (unsigned t = 0; t < WR_LOG_N_TOPICS; t++)
		lv[t] = WR_LOG_INFO;
	while (*p) {
		size_t len = strcspn(p, ","), klen = strcspn(p, "=,");
		int topic = -1, level;
		const char *v = p;
		size_t vlen = len;

		if (klen < len) { /* topic=level */
			topic = find(topic_names, WR_LOG_N_TOPICS, p, klen);
			if (topic < 0) {
				snprintf(
				    err, errlen,
				    "unknown topic '%.*s' (probe, capture, export, detect, redis, "
				    "control)",
				    (int)klen, p);
				return -1;
			}
			v = p + klen + 1;
			vlen = len - klen - 1;
		}
		level = find(level_names, WR_ARRAY_SIZE(level_names), v, vlen);
		if (level < 0) {
			snprintf(err, errlen, "unknown level '%.*s' (error, warning, info, debug)",
			         (int)vlen, v);
			return -1;
		}
		if (topic < 0) { /* a default: for every topic not named before it */
			for (unsigned t = 0; t < WR_LOG_N_TOPICS; t++)
				lv[t] = level;
		} else {
			lv[topic] = level;
		}
		any = 1;
		p += len;
		if (*p == ',')
			p++;
	}
	if (!any) {
		snprintf(err, errlen, "empty log level");
		return -1;
	}
	return 0;
}

int wr_log_check(const char *spec, char *err, size_t errlen)
{
	int lv[WR_LOG_N_TOPICS];

	return parse(spec, lv, err, errlen);
}

int wr_log_set(const char *spec, char *err, size_t errlen)
{
	int lv[WR_LOG_N_TOPICS];

	if (parse(spec, lv, err, errlen) < 0)
		return -1;
	for (unsigned t = 0; t < WR_LOG_N_TOPICS; t++)
		atomic_store_explicit(&levels[t], lv[t], memory_order_relaxed);
	if (journal < 0) /* first set at the start, before any thread logs */
		journal = stderr_is_journal();
	return 0;
}

int wr_log_on(enum wr_log_topic topic, enum wr_log_level level)
{
	return (unsigned)topic < WR_LOG_N_TOPICS &&
	       (int)level <= atomic_load_explicit(&levels[topic], memory_order_relaxed);
}

/* $JOURNAL_STREAM is "DEV:INODE" of the journal's socket when systemd connected stderr to it. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%lu:%lu", &dev, &ino) != 2 || fstat(2, &st) != 0)
		return 0;
	return (unsigned long)st.st_dev == dev && (unsigned long)st.st_ino == ino;
}

void wr_log(enum wr_log_topic topic, enum wr_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (!wr_log_on(topic, level))
		return;
	/* the journal takes the level from the priority; a terminal reads it in the line */
	if (journal > 0)
		n = snprintf(line, sizeof(line), "<%d>weir: [%s] ", syslog_prio[level],
		             topic_names[topic]);
	else
		n = snprintf(line, sizeof(line), "weir: [%s] %s%s", topic_names[topic],
		             level <= WR_LOG_WARNING ? level_names[level] : "",
		             level <= WR_LOG_WARNING ? ": " : "");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line); /* one write per line: threads do not interleave */
}
