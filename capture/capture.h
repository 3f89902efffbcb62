/*
 * capture: the backend-neutral side of packet capture.
 *
 * Three things live here:
 *  - struct capture_pkt and the driver ops table that every capture driver (pcap files and
 *    interfaces, DPDK, libtrace, the synthetic source) implements, so probe/ can run any of
 *    them through one burst loop;
 *  - the parser: outside bytes in, a flow key and per-packet metadata out. It never reads past
 *    the captured length and never fails per packet: every packet gets a verdict, and the
 *    caller counts verdicts;
 *  - the fragment table that lets non-first IP fragments join the flow of their first fragment.
 *
 * Nothing here does I/O or logs.
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------- */
/* Link types (the LINKTYPE_ numbers of pcap/pcapng files).                                  */

#define CAPTURE_LINK_NULL     0 /* BSD loopback: 4-byte address family, host byte order */
#define CAPTURE_LINK_ETHERNET 1
#define CAPTURE_LINK_RAW      101 /* starts at the IPv4 or IPv6 header */
#define CAPTURE_LINK_LOOP     108 /* OpenBSD loopback: 4-byte address family, big-endian */
#define CAPTURE_LINK_SLL      113 /* Linux cooked capture v1 */
#define CAPTURE_LINK_IPV4     228
#define CAPTURE_LINK_IPV6     229
#define CAPTURE_LINK_SLL2     276    /* Linux cooked capture v2 */
#define CAPTURE_LINK_UNKNOWN  0xFFFF /* a record type no parser decodes (counted, not dropped) */

/* One captured packet as a driver hands it over. The bytes belong to the driver and stay valid
 * until the next rx_burst() call on the same handle. */
struct capture_pkt {
	const uint8_t *data; /* first captured byte (start of the link-layer header) */
	uint32_t caplen;     /* bytes at data */
	uint32_t wirelen;    /* length of the packet on the wire (>= caplen) */
	uint64_t ts_ns;      /* capture time, nanoseconds since the Unix epoch; a record format
	                        without one (pcapng simple packet block) repeats the previous
	                        packet's time */
	uint16_t linktype;   /* CAPTURE_LINK_* of this packet (pcapng interfaces may differ) */
	uint16_t port;       /* input index within the probe, for per-port counters */
};

/* An ERF (and libtrace) timestamp, 32.32 fixed-point seconds, in nanoseconds: the fraction is
 * rounded to the nearest nanosecond, so every reader of ERF gives the same times. */
static inline uint64_t capture_erf_ts_ns(uint64_t ts)
{
	return (ts >> 32) * 1000000000ULL +
	       (((ts & 0xffffffffu) * 1000000000ULL + 0x80000000u) >> 32);
}

/* ---------------------------------------------------------------------------------------- */
/* Flow key and parse result.                                                                 */

#define CAPTURE_VLAN_MAX 4 /* tags kept in the key; deeper stacks are parsed but not keyed */

/*
 * The unidirectional flow key. Fixed layout, zero-initialised by the parser and compared as
 * bytes, so padding is always zero. Addresses are in network byte order; an IPv4 address
 * occupies the first 4 bytes and the rest stay zero. Ports are host order and 0 where the
 * protocol has none or its header was not captured.
 */
struct capture_flow_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;      /* upper-layer protocol after the IPv6 extension-header walk */
	uint8_t ip_version; /* 4 or 6 */
	uint8_t vlan_depth; /* tags in front of the IP header (may exceed CAPTURE_VLAN_MAX) */
	uint8_t pad;
	uint16_t vlan[CAPTURE_VLAN_MAX]; /* VLAN IDs, outermost first; unused entries 0 */
};
_Static_assert(sizeof(struct capture_flow_key) == 48, "flow key layout");

/* What the parser decided about one packet. CAPTURE_OK packets carry a flow key; the others
 * are counted under their verdict by the caller. */
enum capture_verdict {
	CAPTURE_OK = 0,
	/* not IP: skipped, not an error */
	CAPTURE_NON_IP,           /* ARP, STP, LLDP, IPX, MPLS pseudowires, ... */
	CAPTURE_UNSUPPORTED_LINK, /* link type the parser does not decode */
	/* malformed: the frame claims IP but no flow key can be read */
	CAPTURE_L2_TRUNCATED,      /* link-layer, VLAN, MPLS or PPPoE header cut short */
	CAPTURE_IP_TRUNCATED,      /* IPv4/IPv6 fixed header cut short */
	CAPTURE_IP_BAD_VERSION,    /* version nibble disagrees with the link layer */
	CAPTURE_IP_BAD_HEADER_LEN, /* IPv4 IHL below 5 */
	CAPTURE_VERDICT_MAX
};

/* Per-packet flag bits in capture_meta.flags. */
#define CAPTURE_F_FRAGMENT         0x01 /* an IP fragment (first or not) */
#define CAPTURE_F_NONFIRST_FRAG    0x02 /* offset != 0: ports come from the fragment table */
#define CAPTURE_F_FRAG_UNMATCHED   0x04 /* non-first fragment whose first fragment was not seen */
#define CAPTURE_F_L4_TRUNCATED     0x08 /* the L4 header was cut short; ports/flags are 0 */
#define CAPTURE_F_LENGTH_FROM_WIRE 0x10 /* IP length field was 0 (TSO/jumbo); taken from frame */

struct capture_meta {
	struct capture_flow_key key;
	uint64_t ts_ns;     /* copied from the packet */
	uint32_t l3_octets; /* IP total length as written (IPFIX octetDeltaCount convention) */
	uint16_t tcp_flags; /* TCP flags incl. NS (0x100); 0 when not TCP */
	uint8_t tos;        /* IPv4 TOS / IPv6 traffic class */
	uint8_t flags;      /* CAPTURE_F_* */
	uint32_t hash;      /* hash of the key, direction-symmetric (see capture_flow_hash) */
	uint16_t port;      /* copied from the packet */
	uint16_t ip_id;     /* IPv4 identification (0 for IPv6): an invariant for sampling */
	uint8_t ttl;        /* IPv4 TTL / IPv6 hop limit */
	uint8_t pad;
	uint16_t icmp;     /* ICMP / ICMPv6 type << 8 | code; 0 for other protocols */
	uint32_t mpls_top; /* top MPLS label stack entry >> 8 (label, TC, S); 0 without MPLS */
};

struct capture_frag_table;

/*
 * Parses one packet of link type pkt->linktype and fills *ret_meta (only meaningful when
 * CAPTURE_OK is returned). frags may be NULL, in which case non-first fragments keep ports 0.
 * Pure apart from the fragment table: the same bytes always give the same answer.
 */
enum capture_verdict capture_parse(const struct capture_pkt *pkt, struct capture_frag_table *frags,
                                   struct capture_meta *ret_meta);

/* Short stable name of a verdict for counters and summaries ("non_ip", "ip_truncated", ...). */
const char *capture_verdict_name(enum capture_verdict v);

/* True for verdicts that mean malformed input (as opposed to OK or skipped non-IP). */
int capture_verdict_is_malformed(enum capture_verdict v);

/* Direction-symmetric 32-bit hash of a key: a flow and its reverse hash alike. */
uint32_t capture_flow_hash(const struct capture_flow_key *key);

/* ---------------------------------------------------------------------------------------- */
/* Fragment table: maps (src, dst, proto, IP id) of first fragments to their ports.           */

struct capture_frag_stats {
	uint64_t first_seen; /* first fragments recorded */
	uint64_t matched;    /* non-first fragments given the ports of their first fragment */
	uint64_t unmatched;  /* non-first fragments with no first fragment in the table */
	uint64_t replaced;   /* live entries overwritten because their bucket was full */
};

/* Creates a table of at least `entries` slots (bounded: it never grows). Entries older than
 * timeout_ns (packet time) are ignored. Returns NULL with errno on failure. */
struct capture_frag_table *capture_frag_create(uint32_t entries, uint64_t timeout_ns);
void capture_frag_free(struct capture_frag_table *t); /* NULL is a no-op */
void capture_frag_stats(const struct capture_frag_table *t, struct capture_frag_stats *ret);

/* ---------------------------------------------------------------------------------------- */
/* Packet selection (sampling) before the flow table: RFC 5475 selectors.                     */

/* selectorAlgorithm values of the IANA IPFIX registry (RFC 5477) where one applies. */
enum capture_sample_algo {
	CAPTURE_SAMPLE_NONE = 0,
	CAPTURE_SAMPLE_COUNT = 1,  /* systematic count-based: 1 out of every N, the first */
	CAPTURE_SAMPLE_RANDOM = 3, /* random n-out-of-N with n = 1: one random packet per N */
	CAPTURE_SAMPLE_PROB = 4,   /* uniform probabilistic: each packet with probability p */
	CAPTURE_SAMPLE_HASH = 6,   /* hash-based filtering on invariant header fields */
	CAPTURE_SAMPLE_FLOW = 100, /* whole flows, by a hash of the flow key (no IANA number:
	                              reported as hash-based filtering on the key fields) */
};

struct capture_sampler_params {
	enum capture_sample_algo algo;
	uint32_t interval;    /* N for COUNT, RANDOM, HASH and FLOW (select 1/N) */
	double probability;   /* p for PROB */
	uint64_t seed;        /* RANDOM and PROB: generator seed; HASH and FLOW: hash initialiser,
	                         the same on every probe so that they select the same packets */
	uint32_t selector_id; /* IPFIX selectorId */
};

/* A selector's state; one per worker (no sharing). */
struct capture_sampler {
	struct capture_sampler_params p;
	uint64_t observed; /* packets offered */
	uint64_t selected; /* packets passed on */
	uint64_t rng;
	uint32_t countdown; /* COUNT/RANDOM: packets left in the current window */
	uint32_t pick;      /* RANDOM: position selected in the current window */
	uint32_t threshold; /* HASH/FLOW/PROB: select when the 32-bit value is below it */
};

/*
 * Parses a selector spec: "count:N", "random:N", "prob:P", "hash:N" or "flow:N", with an
 * optional ",seed=S". Returns 0, or -EINVAL with a message in err.
 */
int capture_sampler_parse(const char *spec, struct capture_sampler_params *ret, char *err,
                          size_t errlen);

/* Initialises a selector from params (validated by capture_sampler_parse). */
void capture_sampler_init(struct capture_sampler *s, const struct capture_sampler_params *p);

/* True when the packet parsed into m is selected (flow sampling uses m->hash, the parser's key
 * hash). */
int capture_sampler_select(struct capture_sampler *s, const struct capture_meta *m);

/* ---------------------------------------------------------------------------------------- */
/* Capture driver ops.                                                                        */

/* Capability bits of a driver handle. */
#define CAPTURE_CAP_OFFLINE                                                             \
	0x1                  /* finite input (a file): rx_burst ends with -ENODATA; the \
	                        consumer may wait for downstream space instead of dropping */
#define CAPTURE_CAP_LIVE 0x2 /* live source: the clock runs while no packets arrive */
/* Several RX queues and a symmetric hash behind them (checked at open): every packet of a
 * conversation, in both directions, arrives on the same queue, so each queue can feed its own
 * flow cache. Without it the probe steers packets to workers by its own hash. */
#define CAPTURE_CAP_SYMMETRIC_RSS 0x4

/* Counters a driver keeps about itself. */
struct capture_stats {
	uint64_t packets;        /* packets handed out by rx_burst */
	uint64_t bytes;          /* sum of their wire lengths */
	uint64_t dropped;        /* lost before weir saw them (kernel/NIC), where known */
	uint64_t if_dropped;     /* dropped by the interface/driver, where known */
	uint64_t truncated_file; /* 1 if a file ended in the middle of a record */
	uint64_t errors;         /* received with errors by the NIC (DPDK ierrors) */
	uint64_t nombuf;         /* lost for want of receive buffers (DPDK rx_nombuf) */
};

#define CAPTURE_ERR_LEN 256

struct capture_open_params {
	uint16_t port;      /* index stamped into every packet */
	uint32_t snaplen;   /* live capture: bytes per packet to capture */
	uint32_t buffer_mb; /* live capture: kernel ring size */
	const char *filter; /* live capture: BPF filter, or NULL */
	uint16_t queues;    /* RX queues wanted (multi-queue drivers; 0 means 1) */
	uint32_t mbufs;     /* DPDK: packet buffers in the pool (0: the driver's default) */
	uint16_t mtu;       /* DPDK: MTU to set (0: leave as it is) */
	int eal_argc;       /* DPDK: EAL arguments (after "--" on the command line), used by */
	char **eal_argv;    /* the first DPDK input to initialise the EAL */
};

struct capture_driver_ops {
	const char *name; /* the INPUT scheme, e.g. "pcap" */
	/* Opens `spec` (the part after "scheme:"). A live source is activated here, so that a
	 * missing device, a permission problem or a bad filter is reported before anything runs
	 * (the kernel may buffer packets from now on). Returns 0 and a handle, or -errno and a
	 * message naming the problem in err (the caller adds the input's name). */
	int (*open)(const char *spec, const struct capture_open_params *params, void **ret_handle,
	            char *err, size_t errlen);
	/* CAPTURE_CAP_* of an open handle. */
	uint32_t (*caps)(void *handle);
	/* Starts delivering packets. Returns 0 or -errno. */
	int (*start)(void *handle);
	/* Fills up to max packets. Returns the count (0: nothing right now), -ENODATA at the end of
	 * a finite input, or another -errno on a fatal input error (message via last_error). */
	int (*rx_burst)(void *handle, struct capture_pkt *pkts, unsigned max);
	/* Counters; called from the thread that calls rx_burst. */
	void (*stats)(void *handle, struct capture_stats *ret);
	/* Message of the last fatal error, or "" */
	const char *(*last_error)(void *handle);
	/* Multi-queue drivers only (NULL elsewhere: one queue, read with rx_burst). */
	unsigned (*queues)(void *handle); /* RX queues of an open handle */
	/* Like rx_burst on queue q. Each queue is read by one thread at a time; the packets stay
	 * valid until the next call on the same queue. */
	int (*rx_burst_queue)(void *handle, unsigned q, struct capture_pkt *pkts, unsigned max);
	/* Counters of queue q (packets, bytes, and what the device reports per queue). */
	void (*queue_stats)(void *handle, unsigned q, struct capture_stats *ret);
	/* Called once on each thread before it reads a queue (DPDK: registers the thread). */
	void (*thread_init)(void *handle);
	/* A line about how the input is set up, for the summary ("" if nothing to say). */
	const char *(*describe)(void *handle);
	/* Stops delivering packets; rx_burst then returns -ENODATA. Safe from another thread. */
	void (*stop)(void *handle);
	/* A finite input of known size (a regular file): how far it has been read, in bytes of
	 * the total, for a progress bar. Returns 0, or -1 when unknown (a pipe, a live source).
	 * May be called from any thread while another reads: the figure may lag a little. NULL
	 * where never known. */
	int (*progress)(void *handle, uint64_t *done, uint64_t *total);
	void (*close)(void *handle); /* NULL is a no-op */
};

#endif /* CAPTURE_H */
