/*
 * drv_pcap: the "pcap" capture driver, the ops table in front of two halves.
 *
 * open() decides what SPEC names: "-" is standard input, an existing path (stat() succeeds)
 * is a capture file read by pcapfile.c, and anything else is an interface captured with
 * libpcap by pcap_live.c, when weir was built with libpcap. Every other op forwards to the
 * half the handle was opened with; the only per-burst cost of the indirection is one branch.
 */
#include "drv_pcap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "drv_pcap_internal.h"
#include "weir_config.h"

/* Exactly one of file and live is set. */
struct drv_pcap {
	struct drv_pcap_file *file;
	struct drv_pcap_live *live;
};

/* True when spec should be opened as a file: "-", anything stat() finds, and names that can
 * only be paths (a '/' or a stat() failure other than "not there"), so that opening them
 * reports the file error rather than "no such interface". */
static int spec_is_file(const char *spec)
{
	struct stat st;

	if (strcmp(spec, "-") == 0 || strchr(spec, '/') != NULL)
		return 1;
	if (stat(spec, &st) == 0)
		return 1;
	return errno != ENOENT && errno != ENOTDIR;
}

static int drv_pcap_open(const char *spec, const struct capture_open_params *params,
                         void **ret_handle, char *err, size_t errlen)
{
	struct drv_pcap *h;
	int rc;

	if (spec == NULL || spec[0] == '\0') {
		snprintf(err, errlen, "no file or interface given");
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (spec_is_file(spec)) {
		rc = drv_pcap_file_open(spec, params, &h->file, err, errlen);
	} else {
#if WEIR_HAVE_PCAP
		rc = drv_pcap_live_open(spec, params, &h->live, err, errlen);
#else
		snprintf(err, errlen, "no such file (live capture needs libpcap)");
		rc = -ENOENT;
#endif
	}
	if (rc < 0) {
		free(h);
		return rc;
	}
	*ret_handle = h;
	return 0;
}

static uint32_t drv_pcap_caps(void *handle)
{
	struct drv_pcap *h = handle;

	return h->file ? CAPTURE_CAP_OFFLINE : CAPTURE_CAP_LIVE;
}

/* Nothing to do: open() already activated a live capture so that its errors surface there. */
static int drv_pcap_start(void *handle)
{
	(void)handle;
	return 0;
}

static int drv_pcap_rx_burst(void *handle, struct capture_pkt *pkts, unsigned max)
{
	struct drv_pcap *h = handle;

	if (h->file)
		return drv_pcap_file_rx_burst(h->file, pkts, max);
#if WEIR_HAVE_PCAP
	return drv_pcap_live_rx_burst(h->live, pkts, max);
#else
	return -ENODATA;
#endif
}

static void drv_pcap_stats(void *handle, struct capture_stats *ret)
{
	struct drv_pcap *h = handle;

	memset(ret, 0, sizeof(*ret));
	if (h->file)
		drv_pcap_file_stats(h->file, ret);
#if WEIR_HAVE_PCAP
	else
		drv_pcap_live_stats(h->live, ret);
#endif
}

static const char *drv_pcap_last_error(void *handle)
{
	struct drv_pcap *h = handle;

	if (h->file)
		return drv_pcap_file_last_error(h->file);
#if WEIR_HAVE_PCAP
	return drv_pcap_live_last_error(h->live);
#else
	return "";
#endif
}

static void drv_pcap_stop(void *handle)
{
	struct drv_pcap *h = handle;

	if (h->file)
		drv_pcap_file_stop(h->file);
#if WEIR_HAVE_PCAP
	else
		drv_pcap_live_stop(h->live);
#endif
}

static int drv_pcap_progress(void *handle, uint64_t *done, uint64_t *total)
{
	struct drv_pcap *h = handle;

	return h->file ? drv_pcap_file_progress(h->file, done, total) : -1;
}

static void drv_pcap_close(void *handle)
{
	struct drv_pcap *h = handle;

	if (h == NULL)
		return;
	drv_pcap_file_close(h->file);
#if WEIR_HAVE_PCAP
	drv_pcap_live_close(h->live);
#endif
	free(h);
}

const struct capture_driver_ops drv_pcap_ops = {
    .name = "pcap",
    .open = drv_pcap_open,
    .caps = drv_pcap_caps,
    .start = drv_pcap_start,
    .rx_burst = drv_pcap_rx_burst,
    .stats = drv_pcap_stats,
    .last_error = drv_pcap_last_error,
    .stop = drv_pcap_stop,
    .progress = drv_pcap_progress,
    .close = drv_pcap_close,
};
