/*
 * exporter: IPFIX (RFC 7011) encoding of flow records and their transports.
 *
 * Two layers:
 *  - the message builder (pure, no I/O): templates and data records into a caller's buffer,
 *    with a correct message header, so tests can drive it with records and read bytes back;
 *  - the exporter: one collector (UDP, TCP or a file) with its own transport session,
 *    sequence numbers, template refresh and pacing. Several exporters may run side by side,
 *    each fed the same records.
 *
 * Templates: one per IP version and VLAN depth (0, 1, 2 tags), all IANA elements:
 * flowStart/EndMilliseconds (or Nanoseconds), octetDeltaCount, packetDeltaCount,
 * source/destination address, ports, protocolIdentifier, ipClassOfService, tcpControlBits,
 * flowEndReason, ingressInterface, minimumTTL, maximumTTL, icmpTypeCodeIPv4/IPv6,
 * mplsTopLabelStackSection, and vlanId / dot1qCustomerVlanId where tagged; selectorId when
 * sampled. Biflow templates (RFC 5103) add reverseOctetDeltaCount, reversePacketDeltaCount and
 * reverseTcpControlBits (the forward ids under enterprise number 29305); their flowStart/End
 * cover both directions.
 *
 * Options templates (RFC 7011 section 4), sent with every template set: Metering Process
 * Statistics, Metering Process Reliability Statistics and Exporting Process Reliability
 * Statistics, whose records go out at the start of every transport session, periodically and
 * at the end; and, with sampling, the selector report (RFC 5476) and the same selectors as
 * sampler records in the layout NetFlow v9 collectors read. Each options template has an
 * options template set of its own.
 *
 * Threading: an exporter is used by one thread at a time (the exporter thread).
 */
#ifndef IPFIX_H
#define IPFIX_H

#include <stddef.h>
#include <stdint.h>

#include "flowcache.h"

#define IPFIX_VERSION        10
#define IPFIX_HEADER_LEN     16
#define IPFIX_SET_TEMPLATE   2
#define IPFIX_SET_OPTIONS    3
#define IPFIX_TID_FIRST      256 /* IPv4 untagged; see ipfix_template_id() */
#define IPFIX_TEMPLATE_COUNT 6   /* data templates per variant (with or without selectorId) */
#define IPFIX_TID_SELECTOR   268 /* options template of the selector report (RFC 5476) */
#define IPFIX_TID_BIFLOW     270 /* first biflow template (270..281, as 256..267) */
#define IPFIX_TID_MSTATS     282 /* options: Metering Process Statistics */
#define IPFIX_TID_MREL       283 /* options: Metering Process Reliability Statistics */
#define IPFIX_TID_EREL       284 /* options: Exporting Process Reliability Statistics */
#define IPFIX_TID_SAMPLER    285 /* options: the selectors in the NetFlow v9 collectors' layout */
#define IPFIX_MSG_BIFLOW     1u  /* ipfix_msg_begin() flag: biflow records (RFC 5103) */
#define IPFIX_MSG_NS         2u  /* ipfix_msg_begin() flag: flowStart/EndNanoseconds */

#define IPFIX_MAX_SELECTORS 16

/* One selector as RFC 5477 describes it (an input that does not sample is reported as
 * count-based 1 in 1: interval 1, space 0). */
struct ipfix_selector {
	uint16_t algorithm;  /* selectorAlgorithm (RFC 5477) */
	uint32_t interval;   /* samplingPacketInterval (packets taken in a row) */
	uint32_t space;      /* samplingPacketSpace (packets passed over in between) */
	uint32_t size;       /* samplingSize (n of n-out-of-N) */
	uint32_t population; /* samplingPopulation (N of n-out-of-N) */
	double probability;  /* samplingProbability */
	uint64_t hash_max;   /* hashSelectedRangeMax (hashes 0..hash_max of 0..2^32-1 kept) */
	uint64_t hash_init;  /* hashInitialiserValue */
};

/* The packet selection behind the records, reported to collectors so they can scale the
 * counts up (RFC 5476). n_selectors == 0: no sampling, no selectorId in records. */
struct ipfix_sampling {
	uint32_t n_selectors; /* selectorId 1..n, one per input; a record's is its port + 1 */
	uint32_t odid;        /* observation domain of the selectors (the exporter sets it) */
	struct ipfix_selector sel[IPFIX_MAX_SELECTORS]; /* sel[i]: selectorId i + 1 */
};

/* The statistics records (RFC 7011 section 4). Times are wall-clock (or packet time for
 * ignored packets) in nanoseconds since the epoch, 0 when nothing happened yet; they go out
 * as flowStartMilliseconds / flowEndMilliseconds. */
struct ipfix_stats_report {
	uint32_t odid;                 /* observationDomainId: scope of the metering records */
	uint32_t exporting_process_id; /* exportingProcessId: scope of the exporting record */
	/* Metering Process Statistics: what this exporting process sent before this message */
	uint64_t exported_messages;
	uint64_t exported_records;
	uint64_t exported_octets;
	/* Metering Process Reliability Statistics: IP packets observed but not in any flow */
	uint64_t ignored_packets;
	uint64_t ignored_octets;
	uint64_t ignored_first_ns;
	uint64_t ignored_last_ns;
	/* Exporting Process Reliability Statistics: flow records made but never sent */
	uint64_t not_sent_flows;
	uint64_t not_sent_packets;
	uint64_t not_sent_octets;
	uint64_t not_sent_first_ns;
	uint64_t not_sent_last_ns;
};

/* Template ID used for a uniflow record: 256 + 3 * (ip_version == 6) + min(vlan_depth, 2); the
 * message adds 6 when records carry a selectorId (262..267) and moves biflows to 270.. */
uint16_t ipfix_template_id(const struct flowcache_record *rec);

/* ---------------------------------------------------------------------------------------- */
/* Message builder (pure).                                                                    */

struct ipfix_msg {
	uint8_t *buf;     /* caller's buffer */
	size_t cap;       /* its size (<= 65535 used) */
	size_t len;       /* bytes written so far, header included */
	size_t set_start; /* offset of the open set header, 0 when none is open */
	uint16_t set_id;  /* id of the open set */
	uint32_t records; /* data records in this message (for the next sequence number) */
	const struct ipfix_sampling *sampling; /* NULL or no selectors: no sampling */
	uint32_t option_records; /* options data records (selector report, statistics) */
	int biflow;              /* IPFIX_MSG_BIFLOW: biflow templates */
	int ns;                  /* IPFIX_MSG_NS: nanosecond timestamps */
	uint64_t packets;        /* sum of packetDeltaCount (and reverse) of the flow records */
	uint64_t octets;         /* sum of octetDeltaCount (and reverse) */
};

/* Starts a message in buf (cap >= IPFIX_HEADER_LEN + room for one record). sampling may be
 * NULL; when it has selectors, records carry selectorId and the templates come with the
 * selector report. flags: 0 or IPFIX_MSG_BIFLOW. */
void ipfix_msg_begin(struct ipfix_msg *m, uint8_t *buf, size_t cap,
                     const struct ipfix_sampling *sampling, unsigned flags);

/* Appends a template set with the IPFIX_TEMPLATE_COUNT data templates in use, an options
 * template set with the three statistics templates (and the selector report's, with
 * sampling), and with sampling the selector report: one options record per selector.
 * 0 or -ENOSPC. */
int ipfix_msg_add_templates(struct ipfix_msg *m);

/* Appends the three statistics records (one data set each). 0 or -ENOSPC, in which case the
 * message is unchanged. */
int ipfix_msg_add_stats(struct ipfix_msg *m, const struct ipfix_stats_report *r);

/* Appends one data record (opening a data set for its template if needed). 0 or -ENOSPC,
 * in which case the message is unchanged. */
int ipfix_msg_add_record(struct ipfix_msg *m, const struct flowcache_record *rec);

/* Closes the open set and writes the message header. Returns the message length. seq is the
 * count of data records (flow and options records alike) sent before this message in the
 * transport session (RFC 7011 3.1). */
size_t ipfix_msg_finish(struct ipfix_msg *m, uint32_t export_time_s, uint32_t seq, uint32_t odid);

/* ---------------------------------------------------------------------------------------- */
/* Exporter: one collector.                                                                   */

struct ipfix_exporter_params {
	uint32_t odid;                  /* observation domain id */
	uint32_t template_refresh_s;    /* UDP: re-send templates at least this often (s) */
	uint32_t template_refresh_msgs; /* UDP: ... and every this many messages (0 = never) */
	uint32_t udp_max_msg;           /* UDP: largest message in bytes (path MTU - 28) */
	uint32_t udp_pace_mps;          /* UDP: at most this many messages per second (0 = off) */
	uint32_t flush_ms;              /* send a partial message once it is this old */
	uint32_t tcp_retry_ms;          /* TCP: first reconnect delay; doubles up to 30 s */
	uint32_t stats_refresh_s;       /* send the statistics records at least this often */
	uint64_t file_rotate_bytes;     /* file: start a new file past this size (0 = never) */
	uint32_t file_rotate_s;         /* file: ... and after this many seconds (0 = never) */
	uint32_t tcp_sndbuf;            /* TCP: socket send buffer in bytes */
	struct ipfix_sampling sampling; /* the selectors behind the records (none by default) */
	int biflow;                     /* records are biflows (RFC 5103 templates) */
	int time_ns;                    /* flowStart/EndNanoseconds instead of Milliseconds */
};

/* Fills params with the defaults (odid 1, 20 s / 0 msgs, 1400 B, 20000 msg/s, 500 ms, 500 ms,
 * statistics every 60 s, no file rotation, 1 MiB TCP send buffer, milliseconds). */
void ipfix_exporter_params_default(struct ipfix_exporter_params *params);

struct ipfix_exporter_stats {
	uint64_t messages;      /* messages handed to the transport */
	uint64_t records;       /* data records in them */
	uint64_t bytes;         /* bytes sent (or written) */
	uint64_t template_sets; /* template sets sent */
	uint64_t records_lost;  /* records that could not be sent (collector down, send error) */
	uint64_t packets_lost;  /* the packets in them */
	uint64_t octets_lost;   /* and their octets */
	uint64_t stats_sent;    /* messages carrying the statistics records */
	uint64_t files;         /* file: files written (1 + rotations) */
	uint64_t send_errors;   /* failed send/write calls */
	uint64_t connects;      /* TCP: successful (re)connections */
};

struct ipfix_exporter;

/*
 * Opens an exporter for url: "udp://HOST:PORT", "tcp://HOST:PORT" or "file:PATH" (HOST may be
 * a name, an IPv4 address or a bracketed IPv6 address). UDP and file fail here if the socket or
 * file cannot be opened; a TCP collector that is down is retried later, not an error.
 * Returns the exporter, or NULL with errno set and a message in err.
 */
struct ipfix_exporter *ipfix_exporter_create(const char *url,
                                             const struct ipfix_exporter_params *params, char *err,
                                             size_t errlen);

/* Encodes n records, sending each message as it fills. now_ns is wall-clock time. Returns the
 * number of records accepted (always n: records that cannot be delivered are counted lost). */
unsigned ipfix_exporter_add(struct ipfix_exporter *ex, const struct flowcache_record *recs,
                            unsigned n, uint64_t now_ns);

/* Timers: sends a partial message older than flush_ms, refreshes UDP templates, retries a TCP
 * connection. Call at least every 100 ms. */
void ipfix_exporter_tick(struct ipfix_exporter *ex, uint64_t now_ns);

/* Sends (or, for files, writes) whatever is buffered now. 0 or -errno. */
int ipfix_exporter_flush(struct ipfix_exporter *ex, uint64_t now_ns);

/* What the metering process lost before the exporter, for the reliability records: IP packets
 * it ignored, and flow records dropped on their way to the exporter (counted as not sent).
 * Totals since the start; the exporter keeps the latest. */
struct ipfix_metering_losses {
	uint64_t ignored_packets, ignored_octets;
	uint64_t ignored_first_ns, ignored_last_ns; /* packet time; 0: none yet */
	uint64_t dropped_flows, dropped_packets, dropped_octets;
	uint64_t dropped_first_ns, dropped_last_ns; /* wall time; 0: none yet */
};

void ipfix_exporter_set_losses(struct ipfix_exporter *ex, const struct ipfix_metering_losses *l);

/* Ends the export: sends what is buffered and a last message with the final statistics
 * records (a file is closed, and with rotation renamed). Later calls do nothing. */
void ipfix_exporter_finish(struct ipfix_exporter *ex, uint64_t now_ns);

void ipfix_exporter_get_stats(const struct ipfix_exporter *ex, struct ipfix_exporter_stats *ret);

/* The url the exporter was created with. */
const char *ipfix_exporter_url(const struct ipfix_exporter *ex);

/* Finishes (see ipfix_exporter_finish) and closes; NULL is a no-op. */
void ipfix_exporter_free(struct ipfix_exporter *ex);

#endif /* IPFIX_H */
