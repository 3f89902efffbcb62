/*
 * redispub internals shared by the JSON formatter (redispub_json.c) and the publisher
 * (redispub.c): the identifiers of an alert and the time format of messages and heartbeats.
 */
#ifndef REDISPUB_INTERNAL_H
#define REDISPUB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "detect.h"
#include "redispub.h"

/* FNV-1a 64 over probe_id, link, family, key and metric, each followed by a NUL byte so that
 * ("ab", "c") and ("a", "bc") differ. The kind is left out: it may change within an alert. */
uint64_t redispub_fingerprint(const struct redispub_alert *a, const char *probe_id);

/* RFC 3339 UTC with milliseconds, e.g. "2026-11-22T07:49:41.123Z"; buf of 32 bytes or more. */
void redispub_time(uint64_t ns, char *buf, size_t len);

#endif /* REDISPUB_INTERNAL_H */
