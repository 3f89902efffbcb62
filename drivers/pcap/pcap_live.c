/*
 * pcap_live: capture from an ordinary interface with libpcap.
 *
 * The handle is created and activated in open() (immediate mode, a large kernel ring,
 * nanosecond timestamps where the kernel offers them, optional BPF filter), so that a missing
 * interface, a permission problem or a bad filter is reported when the input is opened. The
 * handle is non-blocking and rx_burst waits for packets itself, with poll() on the selectable
 * descriptor for at most LIVE_TIMEOUT_MS: libpcap's own read timeout does not end a wait on a
 * quiet TPACKET_V3 ring (it polls again until a packet comes), and the worker must get control
 * back to advance its clock and to stop. rx_burst runs pcap_dispatch() and copies each packet into
 * a per-handle burst buffer: with TPACKET_V3 libpcap hands its ring block back to the kernel when
 * the callback returns, so its pointers cannot be kept until the next rx_burst call. The buffer is
 * sized for a whole burst of snaplen-sized packets but only touched as far as the real packets
 * reach, so its resident size follows the traffic rather than the snaplen.
 */
#include "drv_pcap_internal.h"

#include <errno.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wr.h"

#define LIVE_SNAPLEN_DEFAULT 262144
#define LIVE_SNAPLEN_MAX     (1u << 20)
#define LIVE_BUFFER_MB       64
#define LIVE_TIMEOUT_MS      100
#define LIVE_BURST_BUF_MAX   (64u << 20) /* bounds the burst buffer; fewer packets per call */

struct drv_pcap_live {
	pcap_t *p;
	uint16_t port;
	uint16_t linktype; /* CAPTURE_LINK_* of the interface */
	bool nsec;         /* tv_usec of pcap_pkthdr holds nanoseconds */
	int fd;            /* selectable descriptor to wait on, or -1 */
	atomic_int stopped;
	uint32_t slot; /* bytes reserved per packet in buf: snaplen rounded up to 8 */
	uint8_t *buf;  /* packets of the current burst */
	size_t buf_cap;
	/* callback state of the current pcap_dispatch() */
	struct capture_pkt *out;
	unsigned n, max;
	size_t used;
	uint64_t bytes;
	struct capture_stats stats;
	char errmsg[CAPTURE_ERR_LEN];
};

/* DLT_ values to LINKTYPE_ values. They are equal for everything the parser decodes except
 * DLT_RAW, which is 12 on most systems and 14 on OpenBSD. */
static uint16_t live_linktype(int dlt)
{
	if (dlt == 12 || dlt == 14)
		return CAPTURE_LINK_RAW;
	if (dlt < 0 || dlt > 0xFFFF)
		return CAPTURE_LINK_UNKNOWN;
	return (uint16_t)dlt;
}

static void live_packet(u_char *user, const struct pcap_pkthdr *hdr, const u_char *bytes)
{
	struct drv_pcap_live *l = (struct drv_pcap_live *)user;
	struct capture_pkt *pkt;
	uint32_t caplen = hdr->caplen;

	if (WR_UNLIKELY(l->n >= l->max))
		return;
	/* libpcap never exceeds the snap length; the check keeps the buffer safe regardless. */
	if (WR_UNLIKELY(caplen > l->slot))
		caplen = l->slot;
	memcpy(l->buf + l->used, bytes, caplen);
	pkt = &l->out[l->n++];
	pkt->data = l->buf + l->used;
	pkt->caplen = caplen;
	pkt->wirelen = hdr->len > caplen ? hdr->len : caplen;
	pkt->ts_ns = (uint64_t)hdr->ts.tv_sec * WR_NS_PER_S +
	             (uint64_t)hdr->ts.tv_usec * (l->nsec ? 1 : WR_NS_PER_US);
	pkt->linktype = l->linktype;
	pkt->port = l->port;
	l->used += (caplen + 7u) & ~7u;
	l->bytes += pkt->wirelen;
}

int drv_pcap_live_rx_burst(struct drv_pcap_live *l, struct capture_pkt *pkts, unsigned max)
{
	unsigned cnt = max;
	size_t need;
	int rc;

	if (atomic_load_explicit(&l->stopped, memory_order_relaxed))
		return -ENODATA;
	if (cnt > LIVE_BURST_BUF_MAX / l->slot)
		cnt = LIVE_BURST_BUF_MAX / l->slot;
	if (cnt == 0)
		return 0;
	need = (size_t)cnt * l->slot;
	if (need > l->buf_cap) {
		/* Growing only between bursts: the previous burst's packets are released now. */
		free(l->buf);
		l->buf = malloc(need);
		l->buf_cap = l->buf ? need : 0;
		if (l->buf == NULL) {
			snprintf(l->errmsg, sizeof(l->errmsg),
			         "out of memory for the burst buffer");
			return -ENOMEM;
		}
	}
	l->out = pkts;
	l->n = 0;
	l->max = cnt;
	l->used = 0;
	l->bytes = 0;
	rc = pcap_dispatch(l->p, (int)cnt, live_packet, (u_char *)l);
	if (rc == 0) {
		struct pollfd pfd = {.fd = l->fd, .events = POLLIN};

		if (poll(&pfd, 1, LIVE_TIMEOUT_MS) > 0)
			rc = pcap_dispatch(l->p, (int)cnt, live_packet, (u_char *)l);
	}
	l->stats.packets += l->n;
	l->stats.bytes += l->bytes;
	if (rc == PCAP_ERROR_BREAK)
		return l->n > 0 ? (int)l->n : -ENODATA;
	if (rc < 0) {
		snprintf(l->errmsg, sizeof(l->errmsg), "capture failed: %s", pcap_geterr(l->p));
		return l->n > 0 ? (int)l->n : -EIO;
	}
	return (int)l->n;
}

/* Maps a pcap_activate() failure to -errno and a message. */
static int live_activate_error(pcap_t *p, int rc, char *err, size_t errlen)
{
	switch (rc) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		snprintf(err, errlen, "no such interface (nor a file of that name)");
		return -ENODEV;
	case PCAP_ERROR_PERM_DENIED:
		snprintf(err, errlen,
		         "permission denied (live capture needs root or CAP_NET_RAW): %s",
		         pcap_geterr(p));
		return -EPERM;
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		snprintf(err, errlen, "permission denied for promiscuous mode");
		return -EPERM;
	case PCAP_ERROR_IFACE_NOT_UP:
		snprintf(err, errlen, "interface is down");
		return -ENETDOWN;
	default:
		snprintf(err, errlen, "cannot capture: %s (%s)", pcap_statustostr(rc),
		         pcap_geterr(p));
		return -EIO;
	}
}

static int live_set_filter(pcap_t *p, const char *filter, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
		snprintf(err, errlen, "bad filter \"%s\": %s", filter, pcap_geterr(p));
		return -EINVAL;
	}
	if (pcap_setfilter(p, &prog) != 0) {
		snprintf(err, errlen, "cannot set filter \"%s\": %s", filter, pcap_geterr(p));
		pcap_freecode(&prog);
		return -EINVAL;
	}
	pcap_freecode(&prog);
	return 0;
}

int drv_pcap_live_open(const char *ifname, const struct capture_open_params *params,
                       struct drv_pcap_live **ret_live, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	uint32_t snaplen = params && params->snaplen ? params->snaplen : LIVE_SNAPLEN_DEFAULT;
	uint64_t buffer =
	    (uint64_t)(params && params->buffer_mb ? params->buffer_mb : LIVE_BUFFER_MB) << 20;
	struct drv_pcap_live *l;
	int rc, snap;

	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&l->stopped, 0);
	l->port = params ? params->port : 0;
	l->p = pcap_create(ifname, ebuf);
	if (l->p == NULL) {
		snprintf(err, errlen, "cannot capture: %s", ebuf);
		free(l);
		return -ENODEV;
	}
	/* libpcap caps the snap length at 256 KiB anyway; this keeps a burst buffer slot sane. */
	if (snaplen > LIVE_SNAPLEN_MAX)
		snaplen = LIVE_SNAPLEN_MAX;
	if (buffer > INT_MAX)
		buffer = INT_MAX;
	/* These only fail on an activated handle, which this one is not yet. */
	(void)pcap_set_snaplen(l->p, (int)snaplen);
	(void)pcap_set_promisc(l->p, 1);
	(void)pcap_set_immediate_mode(l->p, 1);
	(void)pcap_set_buffer_size(l->p, (int)buffer);
	(void)pcap_set_timeout(l->p, LIVE_TIMEOUT_MS);
#ifdef PCAP_TSTAMP_PRECISION_NANO
	/* Refused where the platform cannot do it; microseconds are used then. */
	(void)pcap_set_tstamp_precision(l->p, PCAP_TSTAMP_PRECISION_NANO);
#endif
	rc = pcap_activate(l->p);
	if (rc < 0) {
		rc = live_activate_error(l->p, rc, err, errlen);
		drv_pcap_live_close(l);
		return rc;
	}
#ifdef PCAP_TSTAMP_PRECISION_NANO
	l->nsec = pcap_get_tstamp_precision(l->p) == PCAP_TSTAMP_PRECISION_NANO;
#endif
	if (pcap_setnonblock(l->p, 1, ebuf) < 0) {
		snprintf(err, errlen, "cannot make the capture non-blocking: %s", ebuf);
		drv_pcap_live_close(l);
		return -EIO;
	}
	l->fd = pcap_get_selectable_fd(l->p);
	if (l->fd < 0) {
		/* Without a descriptor to wait on, rx_burst could only spin. */
		snprintf(err, errlen, "the capture has no selectable descriptor to wait on");
		drv_pcap_live_close(l);
		return -ENOTSUP;
	}
	l->linktype = live_linktype(pcap_datalink(l->p));
	snap = pcap_snapshot(l->p);
	if (snap <= 0 || (uint32_t)snap > snaplen)
		snap = (int)snaplen;
	l->slot = ((uint32_t)snap + 7u) & ~7u;
	if (params && params->filter && params->filter[0] != '\0') {
		rc = live_set_filter(l->p, params->filter, err, errlen);
		if (rc < 0) {
			drv_pcap_live_close(l);
			return rc;
		}
	}
	*ret_live = l;
	return 0;
}

void drv_pcap_live_stats(struct drv_pcap_live *l, struct capture_stats *ret)
{
	struct pcap_stat ps;

	*ret = l->stats;
	if (pcap_stats(l->p, &ps) == 0) {
		ret->dropped = ps.ps_drop;
		ret->if_dropped = ps.ps_ifdrop;
	}
}

const char *drv_pcap_live_last_error(const struct drv_pcap_live *l)
{
	return l->errmsg;
}

void drv_pcap_live_stop(struct drv_pcap_live *l)
{
	atomic_store_explicit(&l->stopped, 1, memory_order_relaxed);
	pcap_breakloop(l->p);
}

void drv_pcap_live_close(struct drv_pcap_live *l)
{
	if (l == NULL)
		return;
	if (l->p)
		pcap_close(l->p);
	free(l->buf);
	free(l);
}
