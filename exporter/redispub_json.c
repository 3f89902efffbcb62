/*
 * weir.alert.v1 messages: one alert event as a JSON object, built by a small bounded writer
 * into the caller's buffer. Pure: no I/O, no clock, no allocation.
 *
 * Strings are written byte for byte when they are valid UTF-8; quotes, backslashes and control
 * characters are escaped and every byte that does not start a valid UTF-8 sequence becomes
 * U+FFFD, so any link or key name gives a valid JSON text. Numbers that are not finite become
 * null. The fields and their order are those of docs/alert.schema.json.
 */
#include "redispub.h"
#include "redispub_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct jw {
	char *buf;
	size_t cap; /* bytes of buf usable before the NUL */
	size_t len;
	int full;
};

static void jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = 1;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void jw_lit(struct jw *w, const char *s)
{
	jw_raw(w, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (before end), 0 when there is none (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t left = (size_t)(end - p);
	unsigned lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return left >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if (p[0] == 0xe0)
			lo = 0xa0;
		if (p[0] == 0xed)
			hi = 0x9f;
		return left >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if (p[0] == 0xf0)
			lo = 0x90;
		if (p[0] == 0xf4)
			hi = 0x8f;
		if (left < 4 || p[1] < lo || p[1] > hi)
			return 0;
		return (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static void jw_strn(struct jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	char esc[8];

	jw_raw(w, "\"", 1);
	while (p < end) {
		size_t run = 0;

		/* plain ASCII in one copy */
		while (p + run < end && p[run] >= 0x20 && p[run] < 0x80 && p[run] != '"' &&
		       p[run] != '\\')
			run++;
		jw_raw(w, (const char *)p, run);
		p += run;
		if (p == end)
			break;
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			jw_raw(w, esc, 2);
			p++;
		} else if (*p < 0x20) {
			switch (*p) {
			case '\n':
				jw_lit(w, "\\n");
				break;
			case '\r':
				jw_lit(w, "\\r");
				break;
			case '\t':
				jw_lit(w, "\\t");
				break;
			case '\b':
				jw_lit(w, "\\b");
				break;
			case '\f':
				jw_lit(w, "\\f");
				break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				jw_lit(w, esc);
			}
			p++;
		} else {
			size_t u = utf8_len(p, end);

			if (u) {
				jw_raw(w, (const char *)p, u);
				p += u;
			} else {
				jw_lit(w, "\\ufffd");
				p++;
			}
		}
	}
	jw_raw(w, "\"", 1);
}

/* A string field of a fixed-size array that may lack its NUL. */
#define jw_field(w, arr) jw_strn((w), (arr), strnlen((arr), sizeof(arr)))

static void jw_str(struct jw *w, const char *s)
{
	jw_strn(w, s, strlen(s));
}

static void jw_key(struct jw *w, const char *k)
{
	/* keys are our own literals: no escaping needed */
	if (w->len == 0 || w->buf[w->len - 1] != '{')
		jw_raw(w, ",", 1);
	jw_raw(w, "\"", 1);
	jw_lit(w, k);
	jw_raw(w, "\":", 2);
}

static void jw_num(struct jw *w, double v)
{
	char b[32];

	if (!isfinite(v)) {
		jw_lit(w, "null");
		return;
	}
	snprintf(b, sizeof(b), "%.15g", v);
	jw_lit(w, b);
}

static void jw_u64(struct jw *w, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	jw_lit(w, b);
}

static void jw_time(struct jw *w, uint64_t ns)
{
	char b[40];

	redispub_time(ns, b, sizeof(b));
	jw_str(w, b);
}

/* Seconds from a to b, rounded to the millisecond; 0 when b is before a. */
static void jw_span(struct jw *w, uint64_t a_ns, uint64_t b_ns)
{
	uint64_t ms = b_ns > a_ns ? (b_ns - a_ns + 500000) / 1000000 : 0;

	jw_num(w, (double)ms / 1000.0);
}

static void jw_pair(struct jw *w, const char *k, double v)
{
	jw_key(w, k);
	jw_num(w, v);
}

/* The thresholds that decide this kind of alert, under the names docs/ALERTS.md explains. */
static void jw_thresholds(struct jw *w, int kind, const struct detect_params *dp)
{
	jw_raw(w, "{", 1);
	switch (kind) {
	case DETECT_RATE_DROP:
		jw_pair(w, "warning", dp->drop_warning);
		jw_pair(w, "critical", dp->drop_critical);
		jw_pair(w, "sig_z", dp->sig_z);
		jw_pair(w, "clear_low", dp->clear_low);
		jw_pair(w, "clear_high", dp->clear_high);
		break;
	case DETECT_RATE_SURGE:
		jw_pair(w, "warning", dp->surge_warning);
		jw_pair(w, "critical", dp->surge_critical);
		jw_pair(w, "floor_per_s", dp->surge_floor);
		jw_pair(w, "sig_z", dp->sig_z);
		jw_pair(w, "clear_low", dp->clear_low);
		jw_pair(w, "clear_high", dp->clear_high);
		break;
	case DETECT_LEVEL_SHIFT:
		jw_pair(w, "cusum_k", dp->cusum_k);
		jw_pair(w, "cusum_h", dp->cusum_h);
		jw_pair(w, "min_shift", dp->level_shift_min);
		break;
	case DETECT_FLAPPING:
		jw_pair(w, "raises", dp->flap_raises);
		jw_pair(w, "window_s", dp->flap_window_s);
		break;
	case DETECT_PROBE_DEGRADED:
		jw_pair(w, "clear_s", dp->clear_drop_s);
		break;
	}
	jw_raw(w, "}", 1);
}

uint64_t redispub_fingerprint(const struct redispub_alert *a, const char *probe_id)
{
	const char *parts[5] = {probe_id, a->link, a->family, a->key, a->metric};
	const size_t lens[5] = {strlen(probe_id), strnlen(a->link, sizeof(a->link)),
	                        strnlen(a->family, sizeof(a->family)),
	                        strnlen(a->key, sizeof(a->key)),
	                        strnlen(a->metric, sizeof(a->metric))};
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < 5; i++) {
		/* i < n + 1: the terminating NUL separates the parts */
		for (size_t k = 0; k < lens[i] + 1; k++) {
			h ^= k < lens[i] ? (unsigned char)parts[i][k] : 0;
			h *= 0x100000001b3ull;
		}
	}
	return h;
}

static void alert_id_of(const struct redispub_alert *a, uint64_t fingerprint, char *buf, size_t len)
{
	snprintf(buf, len, "%016" PRIx64 ":%" PRIu64 ":%" PRIu32, fingerprint, a->run_s,
	         a->ev.episode);
}

void redispub_alert_id(const struct redispub_alert *a, const char *probe_id, char *buf, size_t len)
{
	alert_id_of(a, redispub_fingerprint(a, probe_id), buf, len);
}

void redispub_time(uint64_t ns, char *buf, size_t len)
{
	time_t s = (time_t)(ns / 1000000000ull);
	unsigned ms = (unsigned)(ns / 1000000ull % 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

int redispub_format_with(const struct redispub_alert *a, const char *probe_id,
                         const struct detect_params *dp, char *buf, size_t len)
{
	const struct detect_event *ev;
	struct jw w = {.buf = buf, .cap = len ? len - 1 : 0};
	char alert_id[REDISPUB_ALERT_ID_MAX], id[REDISPUB_ALERT_ID_MAX + 16], fp[20];
	uint64_t fingerprint;
	int clear, attached;
	double score;

	if (!a || !probe_id || !dp || !buf)
		return -EINVAL;
	ev = &a->ev;
	if (ev->type < DETECT_RAISE || ev->type > DETECT_CLEAR || ev->kind < DETECT_RATE_DROP ||
	    ev->kind > DETECT_PROBE_DEGRADED || ev->severity < DETECT_WARNING ||
	    ev->severity > DETECT_CRITICAL || ev->detector < DETECT_BY_RATIO ||
	    ev->detector > DETECT_BY_HEALTH || ev->reason > DETECT_REASON_STABLE)
		return -EINVAL;
	if (len == 0)
		return -ENOSPC;
	clear = ev->type == DETECT_CLEAR;
	attached = a->parent_alert_id[0] != '\0';
	fingerprint = redispub_fingerprint(a, probe_id);
	alert_id_of(a, fingerprint, alert_id, sizeof(alert_id));
	snprintf(fp, sizeof(fp), "%016" PRIx64, fingerprint);
	snprintf(id, sizeof(id), "%s:%" PRIu32, alert_id, ev->seq);
	score = isfinite(ev->score) ? round(ev->score) : 0;
	score = score < 0 ? 0 : score > 100 ? 100 : score;

	jw_raw(&w, "{", 1);
	jw_key(&w, "schema");
	jw_str(&w, "weir.alert.v1");
	jw_key(&w, "event_id");
	jw_str(&w, id);
	jw_key(&w, "alert_id");
	jw_str(&w, alert_id);
	jw_key(&w, "fingerprint");
	jw_str(&w, fp);
	jw_key(&w, "seq");
	jw_u64(&w, ev->seq);
	jw_key(&w, "event");
	jw_str(&w, detect_event_type_name(ev->type));
	jw_key(&w, "kind");
	jw_str(&w, detect_kind_name(ev->kind));
	jw_key(&w, "severity");
	jw_str(&w, detect_severity_name(ev->severity));
	jw_key(&w, "score");
	jw_u64(&w, (uint64_t)score);
	jw_key(&w, "probe_id");
	jw_str(&w, probe_id);
	jw_key(&w, "link");
	jw_field(&w, a->link);
	jw_key(&w, "family");
	jw_field(&w, a->family);
	jw_key(&w, "key");
	jw_field(&w, a->key);
	jw_key(&w, "metric");
	jw_field(&w, a->metric);
	jw_pair(&w, "baseline", ev->baseline);
	jw_pair(&w, "observed", ev->observed);
	jw_pair(&w, "ratio", ev->ratio);
	jw_pair(&w, "window_s", ev->window_s);
	jw_key(&w, "detector");
	jw_str(&w, detect_detector_name(ev->detector));
	jw_key(&w, "thresholds");
	jw_thresholds(&w, ev->kind, dp);
	jw_key(&w, "started_at");
	jw_time(&w, ev->started_at_ns);
	jw_key(&w, "detected_at");
	jw_time(&w, ev->detected_at_ns);
	jw_key(&w, "cleared_at");
	if (clear)
		jw_time(&w, ev->cleared_at_ns);
	else
		jw_lit(&w, "null");
	jw_key(&w, "detection_delay_s");
	jw_span(&w, ev->started_at_ns, ev->detected_at_ns);
	/* raises and updates carry no time of their own: their duration runs to detection */
	jw_key(&w, "duration_s");
	jw_span(&w, ev->started_at_ns, clear ? ev->cleared_at_ns : ev->detected_at_ns);
	jw_key(&w, "group_id");
	if (attached)
		jw_field(&w, a->parent_alert_id);
	else
		jw_str(&w, alert_id);
	jw_key(&w, "parent_alert_id");
	if (attached)
		jw_field(&w, a->parent_alert_id);
	else
		jw_lit(&w, "null");
	jw_key(&w, "reason");
	if (clear && ev->reason != DETECT_REASON_NONE)
		jw_str(&w, detect_reason_name(ev->reason));
	else
		jw_lit(&w, "null");
	jw_key(&w, "capture_health");
	jw_str(&w, a->capture_degraded ? "degraded" : "ok");
	jw_raw(&w, "}", 1);

	if (w.full) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	buf[w.len] = '\0';
	return (int)w.len;
}

int redispub_format(const struct redispub_alert *a, const char *probe_id, char *buf, size_t len)
{
	struct detect_params dp;

	detect_params_default(&dp);
	return redispub_format_with(a, probe_id, &dp, buf, len);
}
