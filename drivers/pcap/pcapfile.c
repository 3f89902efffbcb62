/*
 * pcapfile: weir's own reader for capture files (pcap, pcapng, ERF); no libpcap involved.
 *
 * The file is read with read() into one large buffer (4 MiB, grown up to a hard cap of 16 MiB
 * when a single record needs it) and records are handed out in place: a capture_pkt points
 * into the buffer, so there is no copy per packet. The buffer is only refilled, and its
 * unread tail moved to the front, at the start of a burst before any packet of that burst has
 * been handed out; when the next record is not completely in the buffer in the middle of a
 * burst, the burst ends early instead. That keeps the pointers of a burst valid until the next
 * rx_burst call, as capture.h promises.
 *
 * The format is recognised from the content: a pcap magic (micro- or nanoseconds, either byte
 * order), a pcapng section header block, or else an ERF record header that looks plausible
 * (ERF has no magic). Each format has its own burst loop over the shared buffer. Broken
 * structure (a bad block length, a packet of an unknown interface, a record above the hard
 * cap) is a fatal error whose message names the file offset; a file that simply ends in the
 * middle of a record ends there, with stats.truncated_file set.
 */
#include "drv_pcap_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wr.h"

#define FILE_BUF_INITIAL (4u << 20)
#define FILE_BUF_MAX     (16u << 20) /* one record larger than this is a fatal error */
#define FILE_POLL_MS     100         /* pipes: longest wait before looking at stop() again */

#define PCAP_MAGIC_US     0xa1b2c3d4u
#define PCAP_MAGIC_NS     0xa1b23c4du
#define PCAP_FILE_HDR_LEN 24
#define PCAP_REC_HDR_LEN  16

#define PCAPNG_SHB          0x0a0d0d0au /* a palindrome: readable before the byte order is known */
#define PCAPNG_BOM          0x1a2b3c4du
#define PCAPNG_IDB          1
#define PCAPNG_PB           2 /* obsolete Packet Block */
#define PCAPNG_SPB          3
#define PCAPNG_EPB          6
#define PCAPNG_BLOCK_MIN    12 /* type, length, trailing length */
#define PCAPNG_SHB_MIN      28
#define PCAPNG_IDB_MIN      20
#define PCAPNG_EPB_MIN      32
#define PCAPNG_SPB_MIN      16
#define PCAPNG_OPT_TSRESOL  9
#define PCAPNG_OPT_TSOFFSET 14
#define PCAPNG_MAX_IFACES   65536 /* per section; bounds memory on hostile files */

#define ERF_HDR_LEN             16
#define ERF_EXT_LEN             8
#define ERF_TYPE_EXT            0x80 /* extension headers follow the record header */
#define ERF_TYPE_ETH            2
#define ERF_TYPE_COLOR_ETH      11
#define ERF_TYPE_DSM_COLOR_ETH  16
#define ERF_TYPE_COLOR_HASH_ETH 20
#define ERF_TYPE_IPV4           22
#define ERF_TYPE_IPV6           23
#define ERF_TYPE_META           27
#define ERF_TYPE_PAD            48
#define ERF_ETH_PAD             2 /* Ethernet records carry 2 bytes before the frame */

/* Delivered for record types the parser cannot decode, so they are counted, not dropped. */

enum file_format { FMT_PCAP, FMT_PCAPNG, FMT_ERF };

/* How a pcapng interface's timestamp units become nanoseconds (precomputed per interface so
 * the per-packet work is one multiplication, division or shift). */
enum ts_kind {
	TS_MUL,  /* 10^-v with v <= 9: ns = units * scale */
	TS_DIV,  /* 10^-v with 9 < v <= 28: ns = units / scale */
	TS_ZERO, /* 10^-v with v > 28: every 64-bit count is below one nanosecond */
	TS_BIN,  /* 2^-v: ns = units * 10^9 >> shift, exact in 128 bits */
};

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

struct pcapng_iface {
	uint64_t scale;    /* TS_MUL / TS_DIV factor */
	int64_t offset_s;  /* if_tsoffset: seconds added to every timestamp */
	uint32_t snaplen;  /* 0 = unlimited */
	uint16_t linktype; /* LINKTYPE_* of the interface */
	uint8_t kind;      /* enum ts_kind */
	uint8_t shift;     /* TS_BIN exponent */
};

struct drv_pcap_file {
	int fd;
	bool close_fd; /* false for standard input */
	bool pollable; /* a pipe or socket: wait with poll() so that stop() is seen */
	bool eof;      /* read() returned 0: what is buffered is all there is */
	bool nowait;   /* bursts: a quiet pipe gives an empty burst after FILE_POLL_MS */
	bool big;      /* pcap file, or current pcapng section, is big-endian */
	bool nsec;     /* pcap: the fraction field counts nanoseconds */
	enum file_format format;
	uint16_t linktype; /* pcap: link type of every record */
	uint16_t port;
	int fatal;          /* -errno of a fatal error; every later rx_burst returns it */
	atomic_int stopped; /* set by stop(), possibly from another thread */
	uint8_t *buf;
	size_t cap;          /* bytes allocated at buf */
	size_t pos;          /* next unread byte */
	size_t end;          /* end of valid data */
	uint64_t buf_off;    /* file offset of buf[0], for error messages */
	uint64_t size;       /* a regular file's size (for progress), 0 if not one */
	uint64_t last_ts_ns; /* pcapng: given to Simple Packet Blocks, which carry no time */
	struct pcapng_iface *ifaces;
	uint32_t n_ifaces, cap_ifaces;
	struct capture_stats stats;
	char errmsg[CAPTURE_ERR_LEN];
};

static inline uint16_t rd16(bool big, const uint8_t *p)
{
	return big ? wr_be16(p) : wr_le16(p);
}

static inline uint32_t rd32(bool big, const uint8_t *p)
{
	return big ? wr_be32(p) : wr_le32(p);
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)wr_le32(p + 4) << 32 | wr_le32(p);
}

static inline uint64_t rd64(bool big, const uint8_t *p)
{
	return big ? (uint64_t)wr_be32(p) << 32 | wr_be32(p + 4) : le64(p);
}

/* File offset of the byte at buffer position pos. */
static inline uint64_t file_offset(const struct drv_pcap_file *f, size_t pos)
{
	return f->buf_off + pos;
}

/* Records a fatal error: rx_burst returns `err` from now on and last_error gives the text. */
static int WR_PRINTF(3, 4) file_fail(struct drv_pcap_file *f, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->errmsg, sizeof(f->errmsg), fmt, ap);
	va_end(ap);
	f->fatal = err;
	return err;
}

/*
 * Makes at least `need` (<= FILE_BUF_MAX) bytes available at f->pos, moving the unread tail to
 * the front of the buffer and growing it when needed. Moves data, so it may only be called
 * before the first packet of a burst is handed out. Returns 1 when the bytes are there, 0 when
 * the input ends first (or is stopped), 2 when a pipe had nothing for FILE_POLL_MS and
 * f->nowait is set (bursts: the thread gets back to its other work), or -errno on a read error.
 */
static int file_fill(struct drv_pcap_file *f, size_t need)
{
	if (f->end - f->pos >= need)
		return 1;
	if (f->eof)
		return 0;
	if (need > f->cap) {
		size_t cap = f->cap;
		uint8_t *buf;

		while (cap < need)
			cap *= 2;
		if (cap > FILE_BUF_MAX)
			cap = FILE_BUF_MAX;
		buf = malloc(cap);
		if (buf == NULL)
			return file_fail(f, -ENOMEM,
			                 "out of memory for a %zu-byte record at offset %" PRIu64,
			                 need, file_offset(f, f->pos));
		memcpy(buf, f->buf + f->pos, f->end - f->pos);
		free(f->buf);
		f->buf = buf;
		f->cap = cap;
		f->buf_off += f->pos;
		f->end -= f->pos;
		f->pos = 0;
	} else if (f->pos > 0) {
		/* Always compact before reading, so every read() can fill most of the buffer. */
		memmove(f->buf, f->buf + f->pos, f->end - f->pos);
		f->buf_off += f->pos;
		f->end -= f->pos;
		f->pos = 0;
	}
	while (f->end - f->pos < need) {
		ssize_t r;

		/* A quiet pipe must not hold the reader forever: wake up to notice stop(). */
		while (f->pollable) {
			struct pollfd pfd = {.fd = f->fd, .events = POLLIN};

			if (atomic_load_explicit(&f->stopped, memory_order_relaxed))
				return 0;
			if (poll(&pfd, 1, FILE_POLL_MS) != 0)
				break;
			if (f->nowait)
				return 2; /* nothing yet: the caller's thread gets to run */
		}
		r = read(f->fd, f->buf + f->end, f->cap - f->end);

		if (r > 0) {
			f->end += (size_t)r;
		} else if (r == 0) {
			f->eof = true;
			return 0;
		} else if (errno != EINTR) {
			int err = errno;

			return file_fail(f, -err, "read error at offset %" PRIu64 ": %s",
			                 file_offset(f, f->end), strerror(err));
		}
	}
	return 1;
}

/* The input ended while reading the next record: a partial record left over means the file
 * was cut short (tcpdump killed, disk full, transfer broken). */
static int file_end(struct drv_pcap_file *f)
{
	if (f->end > f->pos)
		f->stats.truncated_file = 1;
	return -ENODATA;
}

/*
 * Makes `need` bytes of the record at f->pos available, n packets into a burst. Returns 1 when
 * they are there (at f->buf + f->pos), 0 when the burst must end before this record (filling
 * would move the packets already handed out), or, only when n == 0, the burst's own negative
 * result: -ENODATA at the end of the input, or a read error.
 */
static int record_ready(struct drv_pcap_file *f, size_t need, unsigned n)
{
	int rc;

	if (WR_LIKELY(f->end - f->pos >= need))
		return 1;
	if (n > 0)
		return 0;
	rc = file_fill(f, need);
	if (rc == 2)
		return 0; /* a quiet pipe: an empty burst, the record is read by a later one */
	if (rc <= 0)
		return rc < 0 ? rc : file_end(f);
	return 1;
}

/* Burst return value: the packets found so far, or the fatal error when there are none (a
 * fatal error after some packets is returned by the next call). */
static int burst_result(struct drv_pcap_file *f, unsigned n, uint64_t bytes, int rc)
{
	f->stats.packets += n;
	f->stats.bytes += bytes;
	if (n > 0)
		return (int)n;
	return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------------------------------- */
/* pcap                                                                                     */

static int pcap_burst(struct drv_pcap_file *f, struct capture_pkt *pkts, unsigned max)
{
	const bool big = f->big;
	const uint64_t frac_ns = f->nsec ? 1 : WR_NS_PER_US;
	uint64_t bytes = 0;
	unsigned n = 0;
	int rc = 0;

	while (n < max) {
		const uint8_t *h = f->buf + f->pos;
		struct capture_pkt *pkt = &pkts[n];
		uint32_t incl, orig;
		size_t need;

		rc = record_ready(f, PCAP_REC_HDR_LEN, n);
		if (WR_UNLIKELY(rc <= 0)) {
			if (rc < 0)
				return rc;
			break;
		}
		h = f->buf + f->pos;
		incl = rd32(big, h + 8);
		if (WR_UNLIKELY(incl > FILE_BUF_MAX - PCAP_REC_HDR_LEN)) {
			rc = file_fail(f, -EBADMSG,
			               "pcap record at offset %" PRIu64
			               " has captured length %" PRIu32 " (limit %u)",
			               file_offset(f, f->pos), incl,
			               FILE_BUF_MAX - PCAP_REC_HDR_LEN);
			break;
		}
		need = PCAP_REC_HDR_LEN + (size_t)incl;
		rc = record_ready(f, need, n);
		if (WR_UNLIKELY(rc <= 0)) {
			if (rc < 0)
				return rc;
			break;
		}
		h = f->buf + f->pos;
		orig = rd32(big, h + 12);
		pkt->data = h + PCAP_REC_HDR_LEN;
		pkt->caplen = incl;
		pkt->wirelen = orig > incl ? orig : incl;
		pkt->ts_ns =
		    (uint64_t)rd32(big, h) * WR_NS_PER_S + (uint64_t)rd32(big, h + 4) * frac_ns;
		pkt->linktype = f->linktype;
		pkt->port = f->port;
		bytes += pkt->wirelen;
		f->pos += need;
		n++;
	}
	return burst_result(f, n, bytes, rc);
}

static int pcap_open_header(struct drv_pcap_file *f, bool big, bool nsec, char *err, size_t errlen)
{
	const uint8_t *h = f->buf;
	unsigned major, minor;

	if (f->end < PCAP_FILE_HDR_LEN) {
		snprintf(err, errlen, "truncated pcap file header (%zu of %u bytes)", f->end,
		         PCAP_FILE_HDR_LEN);
		return -EINVAL;
	}
	major = rd16(big, h + 4);
	minor = rd16(big, h + 6);
	if (major != 2) {
		snprintf(err, errlen, "unsupported pcap version %u.%u (only 2.x)", major, minor);
		return -ENOTSUP;
	}
	f->format = FMT_PCAP;
	f->big = big;
	f->nsec = nsec;
	/* The upper 16 bits hold FCS-length and reserved flags, not part of the link type. */
	f->linktype = (uint16_t)(rd32(big, h + 20) & 0xFFFF);
	f->pos = PCAP_FILE_HDR_LEN;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* pcapng                                                                                   */

static uint64_t pow10_u64(unsigned e)
{
	uint64_t v = 1;

	while (e-- > 0)
		v *= 10;
	return v;
}

static void pcapng_iface_set_tsresol(struct pcapng_iface *ifc, uint8_t v)
{
	unsigned e = v & 0x7f;

	if (v & 0x80) {
		ifc->kind = TS_BIN;
		ifc->shift = (uint8_t)e;
	} else if (e <= 9) {
		ifc->kind = TS_MUL;
		ifc->scale = pow10_u64(9 - e);
	} else if (e - 9 <= 19) {
		ifc->kind = TS_DIV;
		ifc->scale = pow10_u64(e - 9);
	} else {
		ifc->kind = TS_ZERO;
	}
}

/* Timestamp units of interface ifc to nanoseconds since the epoch, saturating at both ends
 * (a timestamp past 2554 or before 1970 after if_tsoffset is not worth an error). */
static uint64_t pcapng_ts_ns(const struct pcapng_iface *ifc, uint64_t units)
{
	u128 ns;

	switch (ifc->kind) {
	case TS_MUL:
		ns = (u128)units * ifc->scale;
		break;
	case TS_DIV:
		ns = units / ifc->scale;
		break;
	case TS_BIN:
		/* units < 2^64 and 10^9 < 2^30, so the product fits and the shift is exact floor.
		 */
		ns = ((u128)units * WR_NS_PER_S) >> ifc->shift;
		break;
	default:
		ns = 0;
		break;
	}
	if (WR_UNLIKELY(ifc->offset_s != 0)) {
		i128 s = (i128)ns + (i128)ifc->offset_s * (i128)WR_NS_PER_S;

		if (s < 0)
			return 0;
		ns = (u128)s;
	}
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* Section Header Block (length already validated): checks the version and starts a new
 * interface list, since interface ids are numbered per section. */
static int pcapng_shb(struct drv_pcap_file *f, const uint8_t *b, uint32_t len)
{
	unsigned major, minor;

	if (len < PCAPNG_SHB_MIN)
		return file_fail(f, -EBADMSG,
		                 "pcapng section header at offset %" PRIu64
		                 " is too short (%" PRIu32 " bytes)",
		                 file_offset(f, f->pos), len);
	major = rd16(f->big, b + 12);
	minor = rd16(f->big, b + 14);
	if (major != 1)
		return file_fail(f, -ENOTSUP,
		                 "pcapng section at offset %" PRIu64
		                 " has unsupported version %u.%u",
		                 file_offset(f, f->pos), major, minor);
	f->n_ifaces = 0;
	return 0;
}

/* Interface Description Block: link type, snap length and the timestamp options. */
static int pcapng_idb(struct drv_pcap_file *f, const uint8_t *b, uint32_t len)
{
	const bool big = f->big;
	const uint8_t *p = b + 16, *end = b + len - 4;
	struct pcapng_iface ifc = {0};

	if (len < PCAPNG_IDB_MIN)
		return file_fail(f, -EBADMSG,
		                 "pcapng interface block at offset %" PRIu64
		                 " is too short (%" PRIu32 " bytes)",
		                 file_offset(f, f->pos), len);
	ifc.linktype = rd16(big, b + 8);
	ifc.snaplen = rd32(big, b + 12);
	pcapng_iface_set_tsresol(&ifc, 6); /* default: microseconds */
	while (end - p >= 4) {
		unsigned code = rd16(big, p), olen = rd16(big, p + 2);

		if (code == 0)
			break;
		if (olen > (size_t)(end - p) - 4)
			return file_fail(f, -EBADMSG,
			                 "pcapng interface block at offset %" PRIu64
			                 " has option %u of length %u beyond its end",
			                 file_offset(f, f->pos), code, olen);
		if (code == PCAPNG_OPT_TSRESOL && olen >= 1)
			pcapng_iface_set_tsresol(&ifc, p[4]);
		else if (code == PCAPNG_OPT_TSOFFSET && olen >= 8)
			ifc.offset_s = (int64_t)rd64(big, p + 4);
		p += 4 + ((olen + 3u) & ~3u);
	}
	if (f->n_ifaces == f->cap_ifaces) {
		uint32_t cap = f->cap_ifaces ? f->cap_ifaces * 2 : 8;
		struct pcapng_iface *ifaces;

		if (f->n_ifaces >= PCAPNG_MAX_IFACES)
			return file_fail(f, -EBADMSG,
			                 "pcapng interface block at offset %" PRIu64
			                 ": more than %u interfaces in one section",
			                 file_offset(f, f->pos), PCAPNG_MAX_IFACES);
		ifaces = realloc(f->ifaces, cap * sizeof(*ifaces));
		if (ifaces == NULL)
			return file_fail(f, -ENOMEM, "out of memory for pcapng interfaces");
		f->ifaces = ifaces;
		f->cap_ifaces = cap;
	}
	f->ifaces[f->n_ifaces++] = ifc;
	return 0;
}

/* Enhanced, Simple or obsolete Packet Block (length already validated) into *pkt. */
static int pcapng_packet(struct drv_pcap_file *f, uint32_t type, const uint8_t *b, uint32_t len,
                         struct capture_pkt *pkt)
{
	const bool big = f->big;
	const struct pcapng_iface *ifc;
	uint32_t ifid, caplen, orig;

	if (type == PCAPNG_SPB) {
		uint32_t body;

		if (len < PCAPNG_SPB_MIN)
			goto too_short;
		body = len - PCAPNG_SPB_MIN;
		ifid = 0;
		orig = rd32(big, b + 8);
		if (f->n_ifaces == 0)
			goto bad_iface;
		ifc = &f->ifaces[0];
		/* No captured length field: the packet is cut by the snap length, and the block
		 * body ends in padding. */
		caplen = orig < body ? orig : body;
		if (ifc->snaplen != 0 && caplen > ifc->snaplen)
			caplen = ifc->snaplen;
		pkt->data = b + 12;
		pkt->ts_ns = f->last_ts_ns;
	} else {
		if (len < PCAPNG_EPB_MIN)
			goto too_short;
		ifid = type == PCAPNG_EPB ? rd32(big, b + 8) : rd16(big, b + 8);
		if (ifid >= f->n_ifaces)
			goto bad_iface;
		ifc = &f->ifaces[ifid];
		caplen = rd32(big, b + 20);
		orig = rd32(big, b + 24);
		if (caplen > len - PCAPNG_EPB_MIN)
			return file_fail(f, -EBADMSG,
			                 "pcapng packet block at offset %" PRIu64
			                 " has captured length %" PRIu32 " beyond its end",
			                 file_offset(f, f->pos), caplen);
		pkt->data = b + 28;
		pkt->ts_ns =
		    pcapng_ts_ns(ifc, (uint64_t)rd32(big, b + 12) << 32 | rd32(big, b + 16));
		f->last_ts_ns = pkt->ts_ns;
	}
	pkt->caplen = caplen;
	pkt->wirelen = orig > caplen ? orig : caplen;
	pkt->linktype = ifc->linktype;
	pkt->port = f->port;
	return 0;

too_short:
	return file_fail(f, -EBADMSG,
	                 "pcapng packet block at offset %" PRIu64 " is too short (%" PRIu32
	                 " bytes)",
	                 file_offset(f, f->pos), len);
bad_iface:
	return file_fail(f, -EBADMSG,
	                 "pcapng packet block at offset %" PRIu64 " names interface %" PRIu32
	                 " but the section defines %" PRIu32,
	                 file_offset(f, f->pos), ifid, f->n_ifaces);
}

static int pcapng_burst(struct drv_pcap_file *f, struct capture_pkt *pkts, unsigned max)
{
	uint64_t bytes = 0;
	unsigned n = 0;
	int rc = 0;

	while (n < max) {
		const uint8_t *b = f->buf + f->pos;
		uint32_t type, len;

		rc = record_ready(f, PCAPNG_BLOCK_MIN, n);
		if (WR_UNLIKELY(rc <= 0)) {
			if (rc < 0)
				return rc;
			break;
		}
		b = f->buf + f->pos;
		type = rd32(f->big, b);
		if (type == PCAPNG_SHB) {
			/* A new section may switch the byte order; the magic after the length says
			 * which, before the length itself can be read. */
			uint32_t bom = wr_le32(b + 8);

			if (bom == PCAPNG_BOM) {
				f->big = false;
			} else if (bom == __builtin_bswap32(PCAPNG_BOM)) {
				f->big = true;
			} else {
				rc = file_fail(f, -EBADMSG,
				               "pcapng section header at offset %" PRIu64
				               " has bad byte-order magic 0x%08" PRIx32,
				               file_offset(f, f->pos), wr_be32(b + 8));
				break;
			}
		}
		len = rd32(f->big, b + 4);
		if (len < PCAPNG_BLOCK_MIN || len % 4 != 0 || len > FILE_BUF_MAX) {
			rc = file_fail(f, -EBADMSG,
			               "pcapng block at offset %" PRIu64 " has bad length %" PRIu32,
			               file_offset(f, f->pos), len);
			break;
		}
		rc = record_ready(f, len, n);
		if (WR_UNLIKELY(rc <= 0)) {
			if (rc < 0)
				return rc;
			break;
		}
		b = f->buf + f->pos;
		if (rd32(f->big, b + len - 4) != len) {
			rc = file_fail(f, -EBADMSG,
			               "pcapng block at offset %" PRIu64 " has length %" PRIu32
			               " but trailing length %" PRIu32,
			               file_offset(f, f->pos), len, rd32(f->big, b + len - 4));
			break;
		}
		switch (type) {
		case PCAPNG_EPB:
		case PCAPNG_SPB:
		case PCAPNG_PB:
			rc = pcapng_packet(f, type, b, len, &pkts[n]);
			if (rc == 0) {
				bytes += pkts[n].wirelen;
				n++;
			}
			break;
		case PCAPNG_SHB:
			rc = pcapng_shb(f, b, len);
			break;
		case PCAPNG_IDB:
			rc = pcapng_idb(f, b, len);
			break;
		default:
			/* NRB, ISB, DSB, custom blocks, ...: nothing a flow probe needs. */
			break;
		}
		if (rc < 0)
			break;
		f->pos += len;
	}
	return burst_result(f, n, bytes, rc);
}

static int pcapng_open_header(struct drv_pcap_file *f, char *err, size_t errlen)
{
	const uint8_t *b = f->buf;
	uint32_t bom;
	bool big;

	if (f->end < 16) {
		snprintf(err, errlen, "truncated pcapng section header (%zu bytes)", f->end);
		return -EINVAL;
	}
	bom = wr_le32(b + 8);
	if (bom != PCAPNG_BOM && bom != __builtin_bswap32(PCAPNG_BOM)) {
		snprintf(err, errlen, "pcapng section header has bad byte-order magic 0x%08" PRIx32,
		         wr_be32(b + 8));
		return -EINVAL;
	}
	big = bom != PCAPNG_BOM;
	if (rd16(big, b + 12) != 1) {
		snprintf(err, errlen, "unsupported pcapng version %u.%u (only 1.x)",
		         rd16(big, b + 12), rd16(big, b + 14));
		return -ENOTSUP;
	}
	/* The burst loop reads this SHB again like any other: that sets the byte order. */
	f->format = FMT_PCAPNG;
	f->big = big;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* ERF                                                                                      */

static bool erf_type_known(uint8_t type)
{
	unsigned t = type & 0x7f;

	return (t >= 1 && t <= ERF_TYPE_META) || t == ERF_TYPE_PAD;
}

/* ERF has no magic: a record header is believed when its length and type make sense. */
static bool erf_header_plausible(const uint8_t *h)
{
	unsigned type = h[8] & 0x7f, rlen = wr_be16(h + 10), wlen = wr_be16(h + 14);
	unsigned min = ERF_HDR_LEN + ((h[8] & ERF_TYPE_EXT) ? ERF_EXT_LEN : 0);

	if (rlen < min || !erf_type_known(h[8]))
		return false;
	/* A packet record with wire length 0 is not something a DAG card writes. */
	return type == ERF_TYPE_META || type == ERF_TYPE_PAD || wlen > 0;
}

static int erf_burst(struct drv_pcap_file *f, struct capture_pkt *pkts, unsigned max)
{
	uint64_t bytes = 0;
	unsigned n = 0;
	int rc = 0;

	while (n < max) {
		const uint8_t *h = f->buf + f->pos;
		struct capture_pkt *pkt = &pkts[n];
		unsigned rlen, wlen, off = ERF_HDR_LEN, present;
		uint64_t ts;
		uint8_t type;

		rc = record_ready(f, ERF_HDR_LEN, n);
		if (WR_UNLIKELY(rc <= 0)) {
			if (rc < 0)
				return rc;
			break;
		}
		h = f->buf + f->pos;
		rlen = wr_be16(h + 10);
		if (rlen < ERF_HDR_LEN) {
			rc = file_fail(f, -EBADMSG,
			               "ERF record at offset %" PRIu64 " has bad length %u",
			               file_offset(f, f->pos), rlen);
			break;
		}
		rc = record_ready(f, rlen, n);
		if (WR_UNLIKELY(rc <= 0)) {
			if (rc < 0)
				return rc;
			break;
		}
		h = f->buf + f->pos;
		type = h[8];
		wlen = wr_be16(h + 14);
		f->stats.dropped +=
		    wr_be16(h + 12); /* loss counter: records lost before this one */
		if (type & ERF_TYPE_EXT) {
			bool more;

			do {
				if (off + ERF_EXT_LEN > rlen) {
					rc =
					    file_fail(f, -EBADMSG,
					              "ERF record at offset %" PRIu64
					              " has extension headers beyond its length %u",
					              file_offset(f, f->pos), rlen);
					goto out;
				}
				more = h[off] & 0x80;
				off += ERF_EXT_LEN;
			} while (more);
		}
		switch (type & 0x7f) {
		case ERF_TYPE_META:
		case ERF_TYPE_PAD:
			f->pos += rlen;
			continue;
		case ERF_TYPE_ETH:
		case ERF_TYPE_COLOR_ETH:
		case ERF_TYPE_DSM_COLOR_ETH:
		case ERF_TYPE_COLOR_HASH_ETH:
			off += ERF_ETH_PAD;
			pkt->linktype = CAPTURE_LINK_ETHERNET;
			break;
		case ERF_TYPE_IPV4:
		case ERF_TYPE_IPV6:
			pkt->linktype = CAPTURE_LINK_RAW;
			break;
		default:
			pkt->linktype = CAPTURE_LINK_UNKNOWN;
			break;
		}
		if (off > rlen)
			off = rlen;
		present = rlen - off;
		ts = le64(h);
		pkt->data = h + off;
		pkt->caplen = present < wlen ? present : wlen;
		pkt->wirelen = wlen;
		pkt->ts_ns = capture_erf_ts_ns(ts);
		pkt->port = f->port;
		bytes += wlen;
		f->pos += rlen;
		n++;
	}
out:
	return burst_result(f, n, bytes, rc);
}

static int erf_open_header(struct drv_pcap_file *f)
{
	size_t rlen;
	int rc;

	if (f->end < ERF_HDR_LEN || !erf_header_plausible(f->buf))
		return -EINVAL;
	/* One plausible header is weak evidence: when a second record follows, it must be
	 * plausible too. */
	rlen = wr_be16(f->buf + 10);
	rc = file_fill(f, rlen + ERF_HDR_LEN);
	if (rc < 0)
		return rc;
	if (f->end >= rlen + ERF_HDR_LEN && !erf_header_plausible(f->buf + rlen))
		return -EINVAL;
	f->format = FMT_ERF;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Handle                                                                                   */

static int file_detect(struct drv_pcap_file *f, char *err, size_t errlen)
{
	uint32_t le, be;
	int rc;

	rc = file_fill(f, PCAP_FILE_HDR_LEN);
	if (rc < 0) {
		snprintf(err, errlen, "%s", f->errmsg);
		return rc;
	}
	if (f->end == 0) {
		snprintf(err, errlen, "empty file");
		return -EINVAL;
	}
	if (f->end < 4) {
		snprintf(err, errlen, "not a pcap, pcapng or ERF file (only %zu bytes)", f->end);
		return -EINVAL;
	}
	le = wr_le32(f->buf);
	be = wr_be32(f->buf);
	if (le == PCAP_MAGIC_US || le == PCAP_MAGIC_NS)
		return pcap_open_header(f, false, le == PCAP_MAGIC_NS, err, errlen);
	if (be == PCAP_MAGIC_US || be == PCAP_MAGIC_NS)
		return pcap_open_header(f, true, be == PCAP_MAGIC_NS, err, errlen);
	if (le == PCAPNG_SHB)
		return pcapng_open_header(f, err, errlen);
	rc = erf_open_header(f);
	if (rc == 0)
		return 0;
	if (rc != -EINVAL) {
		snprintf(err, errlen, "%s", f->errmsg);
		return rc;
	}
	snprintf(err, errlen, "not a pcap, pcapng or ERF file (starts with 0x%08" PRIx32 ")", be);
	return -EINVAL;
}

int drv_pcap_file_open(const char *path, const struct capture_open_params *params,
                       struct drv_pcap_file **ret_file, char *err, size_t errlen)
{
	struct drv_pcap_file *f;
	int rc;

	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->buf = malloc(FILE_BUF_INITIAL)) == NULL) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->cap = FILE_BUF_INITIAL;
	f->port = params ? params->port : 0;
	atomic_init(&f->stopped, 0);
	if (strcmp(path, "-") == 0) {
		f->fd = STDIN_FILENO;
	} else {
		f->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot open: %s", strerror(errno));
			drv_pcap_file_close(f);
			return rc;
		}
		f->close_fd = true;
		/* Read-ahead hint only; a pipe or device refuses it and that is fine. */
		(void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	}
	{
		struct stat st;

		f->pollable =
		    fstat(f->fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
		if (!f->pollable && S_ISREG(st.st_mode) && st.st_size > 0)
			f->size = (uint64_t)st.st_size;
	}
	rc = file_detect(f, err, errlen);
	if (rc < 0) {
		drv_pcap_file_close(f);
		return rc;
	}
	f->errmsg[0] = '\0';
	f->nowait = true; /* the header was waited for; packets are not */
	*ret_file = f;
	return 0;
}

int drv_pcap_file_rx_burst(struct drv_pcap_file *f, struct capture_pkt *pkts, unsigned max)
{
	if (atomic_load_explicit(&f->stopped, memory_order_relaxed))
		return -ENODATA;
	if (f->fatal)
		return f->fatal;
	if (max > INT_MAX)
		max = INT_MAX;
	switch (f->format) {
	case FMT_PCAP:
		return pcap_burst(f, pkts, max);
	case FMT_PCAPNG:
		return pcapng_burst(f, pkts, max);
	default:
		return erf_burst(f, pkts, max);
	}
}

void drv_pcap_file_stats(const struct drv_pcap_file *f, struct capture_stats *ret)
{
	*ret = f->stats;
}

const char *drv_pcap_file_last_error(const struct drv_pcap_file *f)
{
	return f->errmsg;
}

void drv_pcap_file_stop(struct drv_pcap_file *f)
{
	atomic_store_explicit(&f->stopped, 1, memory_order_relaxed);
}

void drv_pcap_file_close(struct drv_pcap_file *f)
{
	if (f == NULL)
		return;
	if (f->close_fd)
		close(f->fd);
	free(f->ifaces);
	free(f->buf);
	free(f);
}

int drv_pcap_file_progress(const struct drv_pcap_file *f, uint64_t *done, uint64_t *total)
{
	/* read by another thread while the reader moves on: whole words, a lagging figure */
	uint64_t off = __atomic_load_n(&f->buf_off, __ATOMIC_RELAXED) +
	               __atomic_load_n(&f->pos, __ATOMIC_RELAXED);

	if (f->size == 0)
		return -1;
	*total = f->size;
	*done = off < f->size ? off : f->size;
	return 0;
}
