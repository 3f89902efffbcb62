/*
 * drv_trace: the "trace" capture driver, a thin layer over libtrace's single-threaded API.
 *
 * open() creates the trace from the URI, configures live sources (snap length, promiscuous
 * mode, BPF filter) and starts it. The handle owns a fixed array of libtrace packet objects,
 * one per burst slot: libtrace reads packet i of a burst into slot i, so each packet's buffer
 * stays where it is until that slot is read into again, in the next burst. Packets whose bytes
 * are not in the packet object's own buffer (ring: and dag: point into kernel or device memory,
 * pcap: and pcapint: into libpcap's read buffer) are copied into a per-slot buffer, because
 * that memory is reused while the burst is still being looked at.
 *
 * Files are read with trace_read_packet(), which never waits. Live sources are read with
 * trace_event(), which returns a packet or a descriptor to wait on (or a time to sleep); the
 * driver waits at most TRACE_WAIT_MS in total per call, so that the worker gets control back
 * to advance its clock and to notice stop().
 *
 * libtrace's per-packet accessors are mapped onto weir's conventions:
 *  - wire length: trace_get_wire_length() includes an Ethernet FCS that pcap and Linux
 *    captures do not record: libtrace adds 4 bytes for it. weir counts what the capture
 *    recorded, like the pcap driver, so pcap-based and Linux (int:, ring:) packets take the
 *    original length from their framing header, which also keeps clear of libtrace 3's
 *    assertion on wire lengths of 64 KiB and more, and the other formats that add the 4
 *    bytes get them taken off.
 *    ERF records keep their wlen as written: DAG cards count the FCS there, and so does
 *    weir's own ERF reader.
 *  - link type: pcap-based packets carry their file's LINKTYPE in libtrace's "rt type"
 *    (TRACE_RT_DATA_DLT + LINKTYPE); it is passed on as it is, masked to 16 bits like the
 *    pcap driver does, so link types libtrace does not know (BSD loopback, SLL2, ...) still
 *    reach the parser. That also keeps the driver away from libtrace 3's link-type lookup,
 *    which aborts the process on a link-type field with the upper (FCS) bits set. Other
 *    formats map libtrace_linktype_t.
 *  - time: the 32.32 ERF timestamp, rounded to the nearest nanosecond as pcapfile.c does.
 *    libtrace derives it from pcap's micro- or nanoseconds by truncation, which loses less
 *    than a quarter of a nanosecond, so the rounding gives the file's value back exactly.
 */
#include "drv_trace.h"

#include <errno.h>
#include <inttypes.h>
#include <libtrace.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "wr.h"

#define TRACE_BURST       64  /* packet objects per handle: the most one rx_burst returns */
#define TRACE_WAIT_MS     100 /* longest wait of one rx_burst on a quiet live source */
#define ETH_FCS_LEN       4
#define LINUX_SNAPLEN     65535  /* int:, ring: snap length cap: see linux_wire_len() */
#define FILTER_ACCEPT_LEN 262144 /* int:, ring: BPF accept length: see trace_configure() */

/* libtrace 3.0's ERF reader refuses every record type from TYPE_RAW_LINK (24) up, and any
 * type byte with the extension-header bit set. */
#define ERF_TYPE_EXT  0x80
#define ERF_TYPE_META 27
#define ERF_TYPE_PAD  48

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du

struct drv_trace {
	libtrace_t *trace;
	libtrace_filter_t *filter; /* ours: libtrace 3 does not free it with the trace */
	bool live;
	bool erf_file;  /* erf: or rawerf: file: unreadable records get a better message */
	bool linux_fmt; /* int: or ring: lengths from the framing header, drops as deltas */
	bool eof;
	bool pcap_big;      /* pcapfile: byte order of the last record header */
	int fatal;          /* -errno of a fatal error; returned by every later rx_burst */
	atomic_int stopped; /* set by stop(), possibly from another thread */
	uint16_t port;
	uint64_t drops; /* dropped count (int:, ring: the sum of what libtrace handed over) */
	libtrace_packet_t *slot[TRACE_BURST];
	uint8_t *copy[TRACE_BURST]; /* bytes of packets not in their own buffer (in_own_buffer) */
	uint32_t copy_cap[TRACE_BURST];
	struct capture_stats stats;
	char errmsg[CAPTURE_ERR_LEN];
};

/* URI schemes of libtrace's live formats (libtrace 3 and 4); everything else is a file. */
static const char *const live_schemes[] = {
    "int",    "ring",      "pcapint",  "dag",  "bpf",      "dpdk", "dpdkndag", "rt",
    "pfring", "pfringold", "pfringzc", "ndag", "etsilive", "xdp",  "tzsplive",
};

/* The scheme of uri ("erf" of "erf:/x.erf") into buf, or "" when there is none (libtrace
 * then guesses the format of a file). */
static void uri_scheme(const char *uri, char *buf, size_t len)
{
	size_t n = strspn(uri, "abcdefghijklmnopqrstuvwxyz0123456789");

	buf[0] = '\0';
	if (uri[n] == ':' && n > 0 && n < len) {
		memcpy(buf, uri, n);
		buf[n] = '\0';
	}
}

static bool scheme_is_live(const char *scheme)
{
	size_t i;

	for (i = 0; i < WR_ARRAY_SIZE(live_schemes); i++)
		if (strcmp(scheme, live_schemes[i]) == 0)
			return true;
	return false;
}

/* Takes (and clears) libtrace's error: the text without its trailing newline into buf, and
 * an -errno for it. libtrace stores an errno where the cause was a system call, and one of
 * its own negative codes otherwise. */
static int trace_error(libtrace_t *trace, char *buf, size_t len)
{
	libtrace_err_t e = trace_get_err(trace);
	size_t n;

	snprintf(buf, len, "%s", e.problem[0] ? e.problem : "unknown libtrace error");
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (e.err_num > 0)
		return -e.err_num;
	switch (e.err_num) {
	case TRACE_ERR_BAD_FORMAT:
	case TRACE_ERR_BAD_FILTER:
	case TRACE_ERR_UNKNOWN_OPTION:
		return -EINVAL;
	case TRACE_ERR_UNSUPPORTED:
	case TRACE_ERR_OPTION_UNAVAIL:
	case TRACE_ERR_UNSUPPORTED_COMPRESS:
		return -ENOTSUP;
	case TRACE_ERR_BAD_PACKET:
		return -EBADMSG;
	default:
		break;
	}
	/* TRACE_ERR_INIT_FAILED covers every failure to open; the text tells them apart. */
	if (strstr(buf, "No such file") != NULL)
		return -ENOENT;
	if (strstr(buf, "No such device") != NULL ||
	    strstr(buf, "Failed to find interface") != NULL)
		return -ENODEV;
	if (strstr(buf, "ermission denied") != NULL || strstr(buf, "not permitted") != NULL)
		return -EPERM;
	if (strstr(buf, "BPF") != NULL || strstr(buf, "filter") != NULL)
		return -EINVAL;
	return -EIO;
}

/*
 * Sets live-capture options. An option the format does not offer is skipped (libtrace then
 * uses its default); a filter that does not compile is an error. The filter goes first: int:
 * compiles it at once, with the snap length configured at that moment as the filter's
 * accept length, and the kernel cuts an accepted packet to that length before libtrace
 * records its size; so the snap length is set to the largest frame for the compilation (its
 * default, 64 KiB, would make a 64 KiB datagram on lo 13 bytes short) and to its real value
 * afterwards.
 */
static int trace_configure(struct drv_trace *t, const struct capture_open_params *params, char *err,
                           size_t errlen)
{
	char msg[CAPTURE_ERR_LEN];
	int promisc = 1, snaplen, rc;

	if (params->filter != NULL && params->filter[0] != '\0') {
		if (t->linux_fmt) {
			snaplen = FILTER_ACCEPT_LEN;
			(void)trace_config(t->trace, TRACE_OPTION_SNAPLEN, &snaplen);
		}
		t->filter = trace_create_filter(params->filter);
		if (t->filter == NULL) {
			snprintf(err, errlen, "bad filter \"%s\": out of memory", params->filter);
			return -ENOMEM;
		}
		/* int: and ring: report a compile failure as an error state while returning 0;
		 * pcapint: compiles the filter in trace_start(). */
		if (trace_config(t->trace, TRACE_OPTION_FILTER, t->filter) < 0 ||
		    trace_is_err(t->trace)) {
			rc = trace_error(t->trace, msg, sizeof(msg));
			snprintf(err, errlen, "bad filter \"%s\": %s", params->filter, msg);
			return rc == -EIO ? -EINVAL : rc;
		}
	}
	if (params->snaplen > 0 || t->linux_fmt) {
		snaplen = params->snaplen > INT32_MAX ? INT32_MAX : (int)params->snaplen;
		if (t->linux_fmt && (snaplen == 0 || snaplen > LINUX_SNAPLEN))
			snaplen = LINUX_SNAPLEN;
		if (trace_config(t->trace, TRACE_OPTION_SNAPLEN, &snaplen) < 0)
			(void)trace_error(t->trace, msg, sizeof(msg));
	}
	if (trace_config(t->trace, TRACE_OPTION_PROMISC, &promisc) < 0)
		(void)trace_error(t->trace, msg, sizeof(msg));
	return 0;
}

/*
 * libtrace 3 reads a pcap file of any version; libpcap, tshark and weir's own reader refuse
 * everything but 2.x, whose record layout is the only one known. Checked for the formats that
 * go through libtrace's own pcap reader (pcapfile:, and a file whose format libtrace guesses);
 * a compressed file or a pipe is left to libtrace. Returns 0 or -ENOTSUP with a message.
 */
static int pcap_version_check(const char *path, char *err, size_t errlen)
{
	uint8_t h[8];
	uint32_t le;
	bool big;
	FILE *fp;
	size_t n;

	fp = fopen(path, "rb");
	if (fp == NULL)
		return 0; /* libtrace reports it */
	n = fread(h, 1, sizeof(h), fp);
	fclose(fp);
	if (n < sizeof(h))
		return 0;
	le = wr_le32(h);
	if (le == PCAP_MAGIC_US || le == PCAP_MAGIC_NS)
		big = false;
	else if (wr_be32(h) == PCAP_MAGIC_US || wr_be32(h) == PCAP_MAGIC_NS)
		big = true;
	else
		return 0;
	if ((big ? wr_be16(h + 4) : wr_le16(h + 4)) == 2)
		return 0;
	snprintf(err, errlen, "unsupported pcap version %u.%u (only 2.x)",
	         big ? wr_be16(h + 4) : wr_le16(h + 4), big ? wr_be16(h + 6) : wr_le16(h + 6));
	return -ENOTSUP;
}

static void trace_handle_free(struct drv_trace *t)
{
	unsigned i;

	/* Packets first: a zero-copy packet is given back to its trace when destroyed. */
	for (i = 0; i < TRACE_BURST; i++) {
		if (t->slot[i])
			trace_destroy_packet(t->slot[i]);
		free(t->copy[i]);
	}
	if (t->trace)
		trace_destroy(t->trace);
	if (t->filter)
		trace_destroy_filter(t->filter);
	free(t);
}

static int trace_open(const char *spec, const struct capture_open_params *params, void **ret_handle,
                      char *err, size_t errlen)
{
	static const struct capture_open_params no_params;
	char scheme[32], msg[CAPTURE_ERR_LEN];
	const char *path;
	struct drv_trace *t;
	struct stat st;
	unsigned i;
	int rc;

	if (spec == NULL || spec[0] == '\0') {
		snprintf(err, errlen,
		         "no libtrace URI given (e.g. erf:FILE, pcapfile:FILE, int:IFACE)");
		return -EINVAL;
	}
	if (params == NULL)
		params = &no_params;
	uri_scheme(spec, scheme, sizeof(scheme));
	/* libtrace 3 crashes reading a directory as an ERF file; refuse any directory. */
	path = scheme[0] ? spec + strlen(scheme) + 1 : spec;
	if (!scheme_is_live(scheme) && stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s is a directory", path);
			return -EISDIR;
		}
		if (S_ISREG(st.st_mode) && (scheme[0] == '\0' || strcmp(scheme, "pcapfile") == 0)) {
			rc = pcap_version_check(path, err, errlen);
			if (rc < 0)
				return rc;
		}
	}
	if (strcmp(scheme, "pcapint") == 0 && params->filter != NULL && params->filter[0] != '\0') {
		/* libtrace 3's pcapint: start reads and discards one packet after setting the
		 * filter, in blocking mode: the open would hang until a matching packet came. */
		snprintf(err, errlen,
		         "libtrace's pcapint: cannot take a filter (starting it would wait for "
		         "a matching packet); use int:%s or ring:%s, which filter in the kernel",
		         path, path);
		return -ENOTSUP;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_init(&t->stopped, 0);
	t->port = params->port;
	t->live = scheme_is_live(scheme);
	t->erf_file = strcmp(scheme, "erf") == 0 || strcmp(scheme, "rawerf") == 0;
	t->linux_fmt = strcmp(scheme, "int") == 0 || strcmp(scheme, "ring") == 0;
	for (i = 0; i < TRACE_BURST; i++) {
		t->slot[i] = trace_create_packet();
		if (t->slot[i] == NULL) {
			snprintf(err, errlen, "out of memory");
			trace_handle_free(t);
			return -ENOMEM;
		}
	}
	t->trace = trace_create(spec);
	if (t->trace == NULL) {
		snprintf(err, errlen, "out of memory");
		trace_handle_free(t);
		return -ENOMEM;
	}
	/* A trace with an error from trace_create() has no format: configuring or starting it
	 * would crash, only destroying it is safe. */
	if (trace_is_err(t->trace)) {
		libtrace_err_t e = trace_get_err(t->trace);

		if (e.err_num == TRACE_ERR_BAD_FORMAT)
			snprintf(err, errlen, "%s (a libtrace URI is FORMAT:TARGET, e.g. erf:FILE)",
			         e.problem);
		else
			snprintf(err, errlen, "%s", e.problem);
		rc = e.err_num > 0                        ? -e.err_num
		     : e.err_num == TRACE_ERR_UNSUPPORTED ? -ENOTSUP
		                                          : -EINVAL;
		trace_handle_free(t);
		return rc;
	}
	if (t->live) {
		rc = trace_configure(t, params, err, errlen);
		if (rc < 0) {
			trace_handle_free(t);
			return rc;
		}
	}
	if (trace_start(t->trace) < 0 || trace_is_err(t->trace)) {
		rc = trace_error(t->trace, msg, sizeof(msg));
		if (t->filter && (strstr(msg, "BPF") != NULL || strstr(msg, "filter") != NULL))
			snprintf(err, errlen, "bad filter \"%s\": %s", params->filter, msg);
		else
			snprintf(err, errlen, "%s", msg);
		trace_handle_free(t);
		return rc;
	}
	*ret_handle = t;
	return 0;
}

static uint32_t trace_caps(void *handle)
{
	const struct drv_trace *t = handle;

	return t->live ? CAPTURE_CAP_LIVE : CAPTURE_CAP_OFFLINE;
}

/* Nothing to do: open() already started the trace so that its errors surface there. */
static int trace_start_op(void *handle)
{
	(void)handle;
	return 0;
}

static uint16_t map_linktype(libtrace_linktype_t lt)
{
	switch (lt) {
	case TRACE_TYPE_ETH:
		return CAPTURE_LINK_ETHERNET;
	case TRACE_TYPE_NONE:
		return CAPTURE_LINK_RAW;
	case TRACE_TYPE_LINUX_SLL:
		return CAPTURE_LINK_SLL;
	case TRACE_TYPE_OPENBSD_LOOP:
		return CAPTURE_LINK_LOOP;
	default:
		return CAPTURE_LINK_UNKNOWN;
	}
}

/* Packets whose libtrace format keeps a pcap LINKTYPE in the rt type. */
static bool format_is_pcap(enum base_format_t f)
{
	return f == TRACE_FORMAT_PCAPFILE || f == TRACE_FORMAT_PCAP;
}

/* Other formats whose wire length libtrace raises by an FCS the capture did not record. */
static bool format_adds_fcs(enum base_format_t f)
{
	return f == TRACE_FORMAT_BPF || f == TRACE_FORMAT_DPDK;
}

/* libpcap's struct pcap_pkthdr, which libtrace's pcap: and pcapint: formats keep in front of
 * each packet (declared here to keep libpcap's header out of this module). */
struct pcap_hdr_mirror {
	struct timeval ts;
	uint32_t caplen;
	uint32_t len;
};

/*
 * Captured and original length of a pcap-based packet, from its record header.
 * trace_get_wire_length() would add the FCS, and libtrace 3 asserts (aborting the process)
 * when a length reaches 64 KiB, which pcap files of TSO/GRO or crafted traffic hold and
 * libpcap (pcap:, pcapint:) delivers. libtrace's own pcap reader (pcapfile:) refuses such
 * records itself, so its captured length is safe to ask for; its header is in the file's byte
 * order, which is the one under which the captured-length field says the same (both orders
 * do only for 0, which keeps the previous packet's order).
 */
static void pcap_lengths(struct drv_trace *t, const libtrace_packet_t *p, enum base_format_t fmt,
                         uint32_t *ret_caplen, uint64_t *ret_wire)
{
	const uint8_t *h = p->header;
	uint32_t caplen;

	if (h == NULL) {
		*ret_caplen = 0;
		*ret_wire = 0;
		return;
	}
	if (fmt == TRACE_FORMAT_PCAP) {
		struct pcap_hdr_mirror ph;

		memcpy(&ph, h, sizeof(ph));
		*ret_caplen = ph.caplen;
		*ret_wire = ph.len;
		return;
	}
	caplen = (uint32_t)trace_get_capture_length(p);
	if (wr_le32(h + 8) == caplen && wr_be32(h + 8) != caplen)
		t->pcap_big = false;
	else if (wr_be32(h + 8) == caplen && wr_le32(h + 8) != caplen)
		t->pcap_big = true;
	*ret_caplen = caplen;
	*ret_wire = t->pcap_big ? wr_be32(h + 12) : wr_le32(h + 12);
}

/* libtrace 3's framing header of int: packets (format_linux.c, libtrace_linuxnative_header). */
struct linuxnative_hdr_mirror {
	uint32_t tv_sec, tv_usec;
	uint32_t ts_sec, ts_nsec;
	uint8_t timestamptype;
	uint32_t wirelen;
	uint32_t caplen;
	struct sockaddr_ll sll;
};

/*
 * Original length of an int: or ring: packet. trace_get_wire_length() adds an FCS to
 * Ethernet frames and asserts (aborting the process) when the sum reaches 64 KiB, which a
 * single loopback datagram or TCP segment of 64 KiB, or a GRO frame, does. So the length is
 * read from the framing header libtrace keeps in front of the packet: the kernel's struct
 * tpacket2_hdr for ring:, libtrace 3's own header for int:. A header is believed only when
 * its captured-length field says what libtrace says; otherwise libtrace is asked after all.
 * (The capture length cannot trip libtrace's assertion: the snap length is capped below it.)
 */
static uint64_t linux_wire_len(const libtrace_packet_t *p, enum base_format_t fmt,
                               libtrace_linktype_t lt, uint32_t caplen)
{
	const uint8_t *h = p->header;
	uint64_t wire;

	if (h != NULL && fmt == TRACE_FORMAT_LINUX_RING) {
		struct tpacket2_hdr th;

		memcpy(&th, h, sizeof(th));
		if (th.tp_snaplen == caplen)
			return th.tp_len;
	} else if (h != NULL && (const uint8_t *)p->payload - h ==
	                            (ptrdiff_t)sizeof(struct linuxnative_hdr_mirror)) {
		struct linuxnative_hdr_mirror nh;

		memcpy(&nh, h, sizeof(nh));
		if (nh.caplen == caplen)
			return nh.wirelen;
	}
	wire = trace_get_wire_length(p);
	return lt == TRACE_TYPE_ETH && wire >= ETH_FCS_LEN ? wire - ETH_FCS_LEN : wire;
}

/* True when the bytes lie in memory the packet object owns, which nothing but the next read
 * into the same object changes. Zero-copy formats (ring:, dag:) point into device or kernel
 * memory instead, and libtrace's pcap: and pcapint: into libpcap's single read buffer. */
static bool in_own_buffer(const libtrace_packet_t *p, const uint8_t *data, uint32_t len)
{
	uintptr_t buf = (uintptr_t)p->buffer, at = (uintptr_t)data;

	return p->buf_control == TRACE_CTRL_PACKET && buf != 0 && at >= buf &&
	       at - buf + len <= LIBTRACE_PACKET_BUFSIZE;
}

/* Copies an external packet's bytes into the slot's own buffer. Returns the copy, or NULL
 * when out of memory. */
static const uint8_t *slot_copy(struct drv_trace *t, unsigned i, const void *data, uint32_t len)
{
	if (len > t->copy_cap[i] || t->copy[i] == NULL) {
		uint32_t cap = len < 2048 ? 2048 : len;
		uint8_t *buf = malloc(cap);

		if (buf == NULL)
			return NULL;
		free(t->copy[i]);
		t->copy[i] = buf;
		t->copy_cap[i] = cap;
	}
	memcpy(t->copy[i], data, len);
	return t->copy[i];
}

/* Fills *pkt from the packet in slot i. Returns 0, or -ENOMEM. */
static int fill_pkt(struct drv_trace *t, unsigned i, struct capture_pkt *pkt)
{
	static const uint8_t empty[1];
	libtrace_packet_t *p = t->slot[i];
	enum base_format_t fmt = trace_get_format(p);
	const uint8_t *data;
	uint32_t caplen = 0;
	uint64_t ts, wire;

	if (format_is_pcap(fmt)) {
		/* See the top of the file: no link-type lookup for pcap-based packets. */
		uint32_t type = (uint32_t)p->type - TRACE_RT_DATA_DLT;

		pkt->linktype = (uint16_t)(type & 0xFFFF);
		data = p->payload;
		pcap_lengths(t, p, fmt, &caplen, &wire);
	} else {
		libtrace_linktype_t lt = TRACE_TYPE_UNKNOWN;

		if (fmt == TRACE_FORMAT_LINUX_NATIVE || fmt == TRACE_FORMAT_LINUX_RING) {
			/* trace_get_packet_buffer() would ask for the wire length */
			lt = trace_get_link_type(p);
			data = p->payload;
			caplen = (uint32_t)trace_get_capture_length(p);
			wire = linux_wire_len(p, fmt, lt, caplen);
		} else {
			data = trace_get_packet_buffer(p, &lt, &caplen);
			wire = trace_get_wire_length(p);
			if (format_adds_fcs(fmt) && lt == TRACE_TYPE_ETH && wire >= ETH_FCS_LEN)
				wire -= ETH_FCS_LEN;
		}
		pkt->linktype = map_linktype(lt);
	}
	if (data == NULL) {
		data = empty;
		caplen = 0;
	} else if (caplen > 0 && !in_own_buffer(p, data, caplen)) {
		data = slot_copy(t, i, data, caplen);
		if (data == NULL)
			return -ENOMEM;
	}
	ts = trace_get_erf_timestamp(p);
	pkt->data = data;
	pkt->caplen = caplen;
	pkt->wirelen = wire > caplen ? (wire > UINT32_MAX ? UINT32_MAX : (uint32_t)wire) : caplen;
	pkt->ts_ns = capture_erf_ts_ns(ts);
	pkt->port = t->port;
	return 0;
}

/* libtrace's error after a failed read: a record cut short at the end of a file ends the
 * input like the pcap driver's reader does; anything else is fatal. Returns the burst's
 * negative result. */
static int read_failed(struct drv_trace *t, unsigned i)
{
	char msg[CAPTURE_ERR_LEN];
	int rc = trace_error(t->trace, msg, sizeof(msg));

	if (!t->live && (strncmp(msg, "Truncated packet", 16) == 0 ||
	                 strncmp(msg, "Incomplete pcap packet", 22) == 0)) {
		t->stats.truncated_file = 1;
		t->eof = true;
		return -ENODATA;
	}
	t->fatal = rc;
	if (t->erf_file && strncmp(msg, "Corrupt or Unknown ERF type", 27) == 0 &&
	    t->slot[i]->buffer != NULL) {
		/* libtrace read the record header into the packet before refusing it. */
		unsigned type = ((const uint8_t *)t->slot[i]->buffer)[8];

		snprintf(t->errmsg, sizeof(t->errmsg),
		         "ERF record %" PRIu64 " has type %u%s%s, which libtrace %d.%d.%d cannot "
		         "read (it reads ERF types 1-23 without extension headers); weir's own "
		         "reader does (pcap:FILE)",
		         t->stats.packets + i + 1, type & 0x7f,
		         (type & 0x7f) == ERF_TYPE_META  ? " (META)"
		         : (type & 0x7f) == ERF_TYPE_PAD ? " (PAD)"
		                                         : "",
		         type & ERF_TYPE_EXT ? " with extension headers" : "",
		         LIBTRACE_API_VERSION >> 16, (LIBTRACE_API_VERSION >> 8) & 0xff,
		         LIBTRACE_API_VERSION & 0xff);
	} else {
		snprintf(t->errmsg, sizeof(t->errmsg), "%s", msg);
	}
	return rc;
}

/* Files: trace_read_packet() never waits. */
static int read_file_burst(struct drv_trace *t, struct capture_pkt *pkts, unsigned max,
                           unsigned *ret_n)
{
	unsigned n = 0;
	int rc = 0;

	while (n < max) {
		int r = trace_read_packet(t->trace, t->slot[n]);

		if (r > 0) {
			rc = fill_pkt(t, n, &pkts[n]);
			if (rc < 0)
				break;
			n++;
		} else if (r == 0) {
			t->eof = true;
			rc = -ENODATA;
			break;
		} else {
			rc = read_failed(t, n);
			break;
		}
	}
	*ret_n = n;
	return rc;
}

/* Live sources: trace_event() either delivers a packet or says what to wait for. The wait
 * happens only while the burst is empty, and for at most TRACE_WAIT_MS in all. */
static int read_live_burst(struct drv_trace *t, struct capture_pkt *pkts, unsigned max,
                           unsigned *ret_n)
{
	const uint64_t deadline = wr_mono_ns() + TRACE_WAIT_MS * WR_NS_PER_MS;
	unsigned n = 0;
	int rc = 0;

	while (n < max && !atomic_load_explicit(&t->stopped, memory_order_relaxed)) {
		libtrace_eventobj_t ev = trace_event(t->trace, t->slot[n]);
		uint64_t now, left_ms;

		if (ev.type == TRACE_EVENT_PACKET) {
			if (ev.size < 0) {
				rc = read_failed(t, n);
				break;
			}
			rc = fill_pkt(t, n, &pkts[n]);
			if (rc < 0)
				break;
			n++;
			continue;
		}
		if (ev.type == TRACE_EVENT_TERMINATE) {
			if (trace_is_err(t->trace)) {
				rc = read_failed(t, n);
			} else {
				t->eof = true;
				rc = -ENODATA;
			}
			break;
		}
		now = wr_mono_ns();
		if (n > 0 || now >= deadline)
			break;
		left_ms = (deadline - now + WR_NS_PER_MS - 1) / WR_NS_PER_MS;
		if (ev.type == TRACE_EVENT_IOWAIT) {
			struct pollfd pfd = {.fd = ev.fd, .events = POLLIN};

			if (poll(&pfd, 1, (int)left_ms) < 0 && errno != EINTR) {
				rc = -errno;
				t->fatal = rc;
				snprintf(t->errmsg, sizeof(t->errmsg), "poll: %s", strerror(errno));
				break;
			}
		} else {
			/* TRACE_EVENT_SLEEP: devices polled by time (dag:) */
			double ms = ev.seconds * 1e3;
			struct timespec ts;

			if (ms > (double)left_ms)
				ms = (double)left_ms;
			if (ms < 0)
				ms = 0;
			ts.tv_sec = (time_t)(ms / 1e3);
			ts.tv_nsec = (long)((ms - (double)ts.tv_sec * 1e3) * 1e6);
			nanosleep(&ts, NULL);
		}
	}
	*ret_n = n;
	return rc;
}

static int trace_rx_burst(void *handle, struct capture_pkt *pkts, unsigned max)
{
	struct drv_trace *t = handle;
	uint64_t bytes = 0;
	unsigned n, i;
	int rc;

	if (atomic_load_explicit(&t->stopped, memory_order_relaxed))
		return -ENODATA;
	if (t->fatal)
		return t->fatal;
	if (t->eof)
		return -ENODATA;
	if (max > TRACE_BURST)
		max = TRACE_BURST;
	if (max == 0)
		return 0;
	rc = t->live ? read_live_burst(t, pkts, max, &n) : read_file_burst(t, pkts, max, &n);
	if (rc == -ENOMEM && t->fatal == 0) {
		t->fatal = rc;
		snprintf(t->errmsg, sizeof(t->errmsg), "out of memory for a packet copy");
	}
	for (i = 0; i < n; i++)
		bytes += pkts[i].wirelen;
	t->stats.packets += n;
	t->stats.bytes += bytes;
	if (n > 0)
		return (int)n;
	if (atomic_load_explicit(&t->stopped, memory_order_relaxed))
		return -ENODATA;
	return rc < 0 ? rc : 0;
}

static void trace_stats(void *handle, struct capture_stats *ret)
{
	struct drv_trace *t = handle;
	uint64_t dropped = trace_get_dropped_packets(t->trace);

	if (dropped != UINT64_MAX) {
		if (t->linux_fmt)
			t->drops += dropped;
		else
			t->drops = dropped;
	} else if (trace_is_err(t->trace)) {
		/* pcap: files: pcap_stats() fails and libtrace keeps that as the trace's error,
		 * which would turn the end of the input into a fatal error later. */
		(void)trace_get_err(t->trace);
	}
	*ret = t->stats;
	ret->dropped = t->drops;
}

static const char *trace_last_error(void *handle)
{
	const struct drv_trace *t = handle;

	return t->errmsg;
}

static void trace_stop(void *handle)
{
	struct drv_trace *t = handle;

	atomic_store_explicit(&t->stopped, 1, memory_order_relaxed);
}

static void trace_close(void *handle)
{
	if (handle != NULL)
		trace_handle_free(handle);
}

const struct capture_driver_ops drv_trace_ops = {
    .name = "trace",
    .open = trace_open,
    .caps = trace_caps,
    .start = trace_start_op,
    .rx_burst = trace_rx_burst,
    .stats = trace_stats,
    .last_error = trace_last_error,
    .stop = trace_stop,
    .close = trace_close,
};
