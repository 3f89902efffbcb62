/*
 * wr_log: weir's log lines on stderr, with levels and per-module topics.
 *
 * A line reads "weir: [topic] message". Under systemd (stderr is the journal stream named by
 * $JOURNAL_STREAM) each line starts with its syslog priority ("<4>"), so the journal keeps
 * the level. What is logged is set by a spec: a default level and per-topic levels, e.g.
 * "info" or "warning,redis=debug,export=info". Levels: error, warning, info, debug. Any thread;
 * the levels can change while weir runs (a reload).
 */
#ifndef WR_LOG_H
#define WR_LOG_H

#include <stddef.h>

#include "wr.h"

enum wr_log_level { WR_LOG_ERROR, WR_LOG_WARNING, WR_LOG_INFO, WR_LOG_DEBUG };

enum wr_log_topic {
	WR_LOG_PROBE,   /* lifecycle, signals, reloads, privileges */
	WR_LOG_CAPTURE, /* inputs */
	WR_LOG_EXPORT,  /* IPFIX outputs */
	WR_LOG_DETECT,  /* rate alerts raised and cleared */
	WR_LOG_REDIS,   /* the Redis publisher's connection */
	WR_LOG_CONTROL, /* the control socket and /metrics */
	WR_LOG_N_TOPICS
};

/* Checks a spec without applying it: 0, or -1 with the reason (naming the bad word). */
int wr_log_check(const char *spec, char *err, size_t errlen);
/* Applies a spec (checked first): 0 or -1 with the reason, the levels then unchanged. */
int wr_log_set(const char *spec, char *err, size_t errlen);
/* True when a line of this topic and level would be written. */
int wr_log_on(enum wr_log_topic topic, enum wr_log_level level);
void wr_log(enum wr_log_topic topic, enum wr_log_level level, const char *fmt, ...) WR_PRINTF(3, 4);
const char *wr_log_topic_name(enum wr_log_topic topic);

#endif /* WR_LOG_H */
