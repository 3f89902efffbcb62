/*
 * redispub: alert events published to Redis as weir.alert.v1 JSON messages.
 *
 * Each event from detect/ becomes one JSON message (redispub_format(), pure) that goes to
 * three places, pipelined on one persistent connection and in this order:
 *  - XADD <prefix>:alerts MAXLEN ~ <stream_maxlen> * event <json>: the durable log that
 *    subscribers read with consumer groups (XREADGROUP / XACK);
 *  - HSET <prefix>:active <alert_id> <json> on raise and update, HDEL on clear: the alerts
 *    firing now;
 *  - PUBLISH <prefix>:alerts:live <json>: for dashboards that only want the live feed.
 * A heartbeat goes to <prefix>:health every heartbeat_s with the publisher's counters and the
 * probe's own (redispub_set_health()). docs/ALERTS.md documents the message, the keys and
 * how to subscribe; docs/alert.schema.json is the message's JSON Schema.
 *
 * Delivery: redispub_submit() formats the message and puts it in a bounded spool; a publisher
 * thread sends the spool in order and removes a message only once every one of its replies
 * came back OK. On any error it closes the connection, backs off (doubling from retry_min_ms
 * to retry_max_ms), reconnects and sends again from the first unconfirmed message, so raises
 * and clears of one alert keep their order. A connection lost after Redis ran a command but
 * before its reply arrived makes that message go out twice: delivery is at least once, and
 * subscribers deduplicate by event_id. When the spool is full, updates are dropped before any
 * raise or clear, and everything dropped is counted.
 *
 * Threading: submit, set_health, stats and flush may be called from any thread; create and
 * free from one owner thread. Nothing here logs; failures are counted in the stats.
 */
#ifndef REDISPUB_H
#define REDISPUB_H

#include <stddef.h>
#include <stdint.h>

#include "detect.h"

/* One message: the event plus who the series is. Strings are NUL-terminated; any bytes are
 * accepted (the JSON escapes control characters and replaces invalid UTF-8 with U+FFFD). */
struct redispub_alert {
	struct detect_event ev;
	char link[64];             /* input/port name, e.g. "pcap:/x.pcap" or "dpdk:0" */
	char family[16];           /* link, prefix, vlan, proto, dport, asn */
	char key[96];              /* "10.1.2.0/24", "100", "tcp", "443", "AS64500" or the link */
	char metric[16];           /* packets, bits, flows */
	char parent_alert_id[128]; /* "" when none: a child attached to a firing parent */
	uint64_t run_s;            /* the run: its first bin's start, s of packet time */
	int capture_degraded;      /* the capture health gate was on */
};

struct redispub_params {
	const char *url;        /* redis://[:PASSWORD@]HOST[:PORT][/DB] (port 6379, db 0) */
	const char *prefix;     /* key prefix, default "weir"; 1..64 bytes */
	const char *probe_id;   /* this probe's name; NULL: the host name; 1..128 bytes */
	size_t spool_max;       /* messages held while Redis is away, in flight included (10000) */
	uint32_t stream_maxlen; /* XADD MAXLEN ~ of the alerts stream (100000) */
	uint32_t retry_min_ms;  /* first reconnect delay after an error (100) */
	uint32_t retry_max_ms;  /* the delay doubles up to this (5000) */
	double heartbeat_s;     /* period of the health stream, 0: none (10) */
	/* thresholds reported in messages; NULL: detect_params_default(). Copied at create. */
	const struct detect_params *detect;
};

struct redispub_stats {
	uint64_t submitted; /* redispub_submit() calls */
	uint64_t published; /* messages whose replies all came back OK */
	uint64_t
	    updates_dropped;  /* updates dropped from a full spool (oldest first, or the new one) */
	uint64_t lost;        /* raises and clears refused by a spool full of raises and clears */
	uint64_t spooled_now; /* messages in the spool, in flight included */
	uint64_t reconnects;  /* connections made after the first one */
	uint64_t errors;      /* failed connects (AUTH, SELECT included) and failed exchanges */
	int connected;        /* a connection is up */
};

/* Defaults as in the comments of struct redispub_params; url is NULL. */
void redispub_params_default(struct redispub_params *p);

/*
 * Splits redis://[:PASSWORD@]HOST[:PORT][/DB]. HOST may be a name, an IPv4 address or an
 * IPv6 address in brackets; PASSWORD may hold %XX escapes (for '@', '/' or ':'). Fills host,
 * *port (6379 when absent), password ("" when absent) and *db (0 when absent). Returns 0, or
 * -EINVAL with a message in err naming the part that is wrong (never quoting the password).
 */
int redispub_parse_url(const char *url, char *host, size_t hostlen, int *port, char *password,
                       size_t pwlen, int *db, char *err, size_t errlen);

/*
 * Checks the params and starts the publisher thread, which connects in the background: Redis
 * being away is not an error (the spool fills and the thread retries). Returns the publisher,
 * or NULL with errno set and a message in err (bad url or params, out of memory, no thread).
 */
struct redispub *redispub_create(const struct redispub_params *p, char *err, size_t errlen);

/*
 * Formats the alert and puts it at the end of the spool; never waits for the network. When the
 * spool is full: the oldest update not in flight is dropped (updates_dropped); failing that, a
 * new update is dropped (updates_dropped) and a new raise or clear is refused (lost). Returns
 * 0, or -ENOBUFS when a message was dropped (this one or an older update); -ENOMEM, or -EINVAL
 * for an alert redispub_format() refuses, with the message counted as dropped or lost.
 */
int redispub_submit(struct redispub *r, const struct redispub_alert *a);

/* The same with the alert already formatted by redispub_format_with() with this publisher's
 * probe id and parameters: json is its NUL-terminated output and n its return value (< 0: the
 * alert was refused, and is counted as dropped or lost). For a caller that also writes the
 * message elsewhere, so it is formatted once. */
int redispub_submit_json(struct redispub *r, const struct redispub_alert *a, const char *json,
                         int n);

/* Sets the JSON object (e.g. "{\"packets\":12}") sent as the "probe" field of heartbeats;
 * the string is copied; NULL removes it. */
void redispub_set_health(struct redispub *r, const char *json_fields);

/* A consistent snapshot of the counters. */
void redispub_stats(struct redispub *r, struct redispub_stats *ret);

/* Waits until the spool is empty (everything published) or timeout_ms has passed.
 * Returns 0 or -ETIMEDOUT. */
int redispub_flush(struct redispub *r, int timeout_ms);

/* Tries to flush for up to 2 s, stops the thread (at most one more I/O timeout), closes the
 * connection and frees everything, unsent messages included. NULL is a no-op. */
void redispub_free(struct redispub *r);

/*
 * Pure: writes the alert id of a's series, run and episode ("<fingerprint>:<run>:<episode>",
 * the fingerprint as 16 hex digits) into buf, truncated to len - 1 bytes. Only the link,
 * family, key, metric, run_s and ev.episode of a are read: a child can name its parent's alert
 * with it. The run keeps ids apart across restarts of the probe, where episodes count from 1
 * again, and keeps them equal across replays of one file. probe_id must be the publisher's.
 * REDISPUB_ALERT_ID_MAX bytes are always enough.
 */
#define REDISPUB_ALERT_ID_MAX 64
void redispub_alert_id(const struct redispub_alert *a, const char *probe_id, char *buf, size_t len);

/*
 * Pure: writes the weir.alert.v1 JSON of one event into buf, NUL-terminated, with the
 * thresholds of detect_params_default(). Returns the length (without the NUL), or -ENOSPC
 * when it does not fit (REDISPUB_JSON_MAX is enough for a probe_id of up to 128 bytes),
 * -EINVAL on a NULL argument or an enum out of range.
 */
#define REDISPUB_JSON_MAX 8192
int redispub_format(const struct redispub_alert *a, const char *probe_id, char *buf, size_t len);

/* redispub_format() with the thresholds of dp (NULL: the defaults), as the publisher writes
 * them when its params name the same detect_params. */
int redispub_format_with(const struct redispub_alert *a, const char *probe_id,
                         const struct detect_params *dp, char *buf, size_t len);

#endif /* REDISPUB_H */
