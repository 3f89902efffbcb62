/*
 * Unit tests of the flow cache: accounting, every end reason, timer exactness on packet time,
 * eviction order, and packet conservation under churn.
 */
#include <errno.h>
#include <stdlib.h>

#include "wr.h"

#include "flowcache.h"
#include "t.h"

#define S 1000000000ULL

static struct capture_meta pkt(uint32_t src, uint16_t sport, uint64_t ts, uint32_t octets,
                               uint16_t flags)
{
	struct capture_meta m;

	memset(&m, 0, sizeof(m));
	m.key.ip_version = 4;
	m.key.proto = 6;
	m.key.src[0] = (uint8_t)(src >> 24);
	m.key.src[1] = (uint8_t)(src >> 16);
	m.key.src[2] = (uint8_t)(src >> 8);
	m.key.src[3] = (uint8_t)src;
	m.key.dst[0] = 192;
	m.key.sport = sport;
	m.key.dport = 80;
	m.ts_ns = ts;
	m.l3_octets = octets;
	m.tcp_flags = flags;
	m.tos = 4;
	m.hash = capture_flow_hash(&m.key);
	return m;
}

static struct flowcache *mk(uint32_t max_flows, uint64_t idle_s, uint64_t active_s)
{
	struct flowcache_params p = {.max_flows = max_flows,
	                             .idle_timeout_ns = idle_s * S,
	                             .active_timeout_ns = active_s * S};

	return flowcache_create(&p);
}

static struct flowcache *mk_bi(uint32_t max_flows, uint64_t idle_s, uint64_t active_s)
{
	struct flowcache_params p = {.max_flows = max_flows,
	                             .idle_timeout_ns = idle_s * S,
	                             .active_timeout_ns = active_s * S,
	                             .biflow = 1};

	return flowcache_create(&p);
}

/* The same packet in the other direction. */
static struct capture_meta turned(struct capture_meta m)
{
	uint8_t a[16];
	uint16_t port = m.key.sport;

	memcpy(a, m.key.src, 16);
	memcpy(m.key.src, m.key.dst, 16);
	memcpy(m.key.dst, a, 16);
	m.key.sport = m.key.dport;
	m.key.dport = port;
	m.hash = capture_flow_hash(&m.key);
	return m;
}

static struct capture_meta pkt6(uint8_t host, uint16_t sport, uint64_t ts, uint32_t octets,
                                uint16_t flags)
{
	struct capture_meta m = pkt(0, sport, ts, octets, flags);

	m.key.ip_version = 6;
	memset(m.key.src, 0x20, 16);
	memset(m.key.dst, 0x30, 16);
	m.key.src[15] = host;
	m.hash = capture_flow_hash(&m.key);
	return m;
}

/* A packet from host `host` (IPv4 or IPv6) to the fixed server, port 80. */
static struct capture_meta pkt_v(int v6, uint8_t host, uint16_t sport, uint64_t ts, uint32_t octets,
                                 uint16_t flags)
{
	return v6 ? pkt6(host, sport, ts, octets, flags) : pkt(host, sport, ts, octets, flags);
}

static void test_params(void)
{
	struct flowcache_params p = {0};

	CHECK(flowcache_create(&p) == NULL);
	CHECK(flowcache_create(NULL) == NULL);
	flowcache_free(NULL);
}

static void test_accounting_and_idle(void)
{
	struct flowcache *fc = mk(16, 15, 1800);
	struct flowcache_record out[8];
	struct capture_meta m[3];
	struct flowcache_stats st;

	m[0] = pkt(1, 1000, 100 * S, 60, 0x02);
	m[1] = pkt(1, 1000, 101 * S, 1500, 0x10);
	m[2] = pkt(2, 2000, 102 * S, 40, 0x10);
	flowcache_update_burst(fc, m, 3);
	/* Idle timer: due idle seconds after the last packet; never before, at most 1 s after. */
	CHECK_EQ(flowcache_expire(fc, 116 * S - 1, out, 8), 0);
	CHECK_EQ(flowcache_expire(fc, 117 * S - 1, out, 8), 1);
	CHECK_EQ(out[0].packets, 2);
	CHECK_EQ(out[0].octets, 1560);
	CHECK_EQ(out[0].first_ns, 100 * S);
	CHECK_EQ(out[0].last_ns, 101 * S);
	CHECK_EQ(out[0].tcp_flags, 0x12);
	CHECK_EQ(out[0].tos, 4);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_IDLE);
	CHECK_EQ(out[0].key.sport, 1000);
	CHECK_EQ(flowcache_expire(fc, 118 * S - 1, out, 8), 1);
	CHECK_EQ(out[0].key.sport, 2000);
	flowcache_get_stats(fc, &st);
	CHECK_EQ(st.packets, 3);
	CHECK_EQ(st.flows_created, 2);
	CHECK_EQ(st.exported[FLOWCACHE_END_IDLE], 2);
	CHECK_EQ(st.active, 0);
	flowcache_free(fc);
}

static void test_active_timeout_deltas(void)
{
	struct flowcache *fc = mk(16, 15, 60);
	struct flowcache_record out[8];
	struct capture_meta m;
	uint64_t t, total = 0;
	unsigned n, records = 0;

	/* One packet every 10 s for 200 s: active exports every 60 s with delta counters. */
	for (t = 0; t <= 200; t += 10) {
		m = pkt(1, 1, (1000 + t) * S, 100, 0x10);
		flowcache_update_burst(fc, &m, 1);
		n = flowcache_expire(fc, (1000 + t) * S, out, 8);
		if (n) {
			CHECK_EQ(n, 1);
			CHECK_EQ(out[0].end_reason, FLOWCACHE_END_ACTIVE);
			CHECK(out[0].last_ns - out[0].first_ns <= 60 * S);
			total += out[0].packets;
			records++;
		}
	}
	CHECK_EQ(records, 3); /* at 60, 120 and 180 s */
	n = flowcache_flush(fc, out, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_FORCED);
	total += out[0].packets;
	CHECK_EQ(total, 21);
	flowcache_free(fc);
}

static void test_active_then_idle_no_empty_record(void)
{
	struct flowcache *fc = mk(16, 100, 10);
	struct flowcache_record out[8];
	struct capture_meta m = pkt(1, 1, 0, 100, 0);

	m.ts_ns = 5 * S;
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, 15 * S - 1, out, 8), 0);
	CHECK_EQ(flowcache_expire(fc, 16 * S - 1, out, 8), 1); /* active */
	CHECK_EQ(out[0].packets, 1);
	/* Nothing since: the idle timer ends the flow without an empty record. */
	CHECK_EQ(flowcache_expire(fc, 200 * S, out, 8), 0);
	CHECK_EQ(flowcache_flush(fc, out, 8), 0);
	flowcache_free(fc);
}

/* A flow emptied by an active export that then goes idle starts a new flow on its next packet:
 * new active period, counted as created. */
static void test_active_then_idle_restarts(void)
{
	struct flowcache *fc = mk(16, 15, 60);
	struct flowcache_record out[8];
	struct capture_meta m;
	struct flowcache_stats st;
	uint64_t t;

	for (t = 1000; t <= 1050; t += 10) {
		m = pkt(1, 1, t * S, 100, 0);
		flowcache_update_burst(fc, &m, 1);
	}
	CHECK_EQ(flowcache_expire(fc, 1060 * S, out, 8), 1); /* active, at 1060 */
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_ACTIVE);
	CHECK_EQ(out[0].packets, 6);
	/* 40 s later (idle 15 s): a new flow, whose active timer starts now. */
	m = pkt(1, 1, 1100 * S, 100, 0);
	flowcache_update_burst(fc, &m, 1);
	m = pkt(1, 1, 1110 * S, 100, 0);
	flowcache_update_burst(fc, &m, 1);
	m = pkt(1, 1, 1120 * S, 100, 0);
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, 1120 * S, out, 8), 0);
	flowcache_get_stats(fc, &st);
	CHECK_EQ(st.flows_created, 2);
	CHECK_EQ(flowcache_flush(fc, out, 8), 1);
	CHECK_EQ(out[0].packets, 3);
	CHECK_EQ(out[0].first_ns, 1100 * S);
	flowcache_free(fc);
}

/* The wheel must not wrap when the clock reaches the top of the range. */
static void test_wheel_no_wrap(void)
{
	struct flowcache *fc = mk(16, 1, 60);
	struct flowcache_record out[8];
	struct capture_meta m;
	uint64_t t0 = UINT64_MAX - 100 * S;

	m = pkt(1, 1, t0, 100, 0);
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, t0 + 5 * S, out, 8), 1);
	CHECK_EQ(flowcache_expire(fc, UINT64_MAX, out, 8), 0);
	CHECK(!flowcache_expire_behind(fc, UINT64_MAX));
	/* a flow later still expires on time: the wheel did not go back to the year 1970 */
	m = pkt(2, 2, UINT64_MAX - 50 * S, 100, 0);
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, UINT64_MAX - 50 * S, out, 8), 0);
	flowcache_free(fc);
}

/*
 * A quiet link after heavy traffic: many flows must move to later slots when their first
 * slot comes due, which takes more than one call's budget. A caller that goes on while
 * flowcache_expire_behind() holds (as the probe's worker does on every tick) still gets a
 * due flow out within 1 s of its deadline.
 */
static void test_quiet_link_after_reslotting(void)
{
	enum { N = 50000 };
	struct flowcache *fc = mk(N + 64, 30, 600);
	struct flowcache_record out[64];
	struct capture_meta b[64];
	uint64_t t0 = 1000 * S, t, fin_out = 0;
	unsigned round, id, k, n, i;

	for (round = 0; round < 2; round++) { /* every flow seen at ~0 s and again at ~10 s */
		for (id = 0; id < N; id += 64) {
			t = t0 + round * 10 * S + (uint64_t)id * (S / 2) / N;
			for (k = 0; k < 64; k++)
				b[k] = pkt(0x0A000000u + id + k, 7, t, 100, 0x10);
			flowcache_update_burst(fc, b, 64);
			while (flowcache_expire(fc, t, out, 64) == 64)
				;
		}
	}
	b[0] = pkt(0x0B000000u, 9, t0 + 29 * S, 100, 0x11); /* FIN at 29 s: due at 31 s */
	flowcache_update_burst(fc, b, 1);
	for (t = t0 + 29 * S; t < t0 + 40 * S && !fin_out; t += S / 4) { /* 4 ticks per s */
		do {
			n = flowcache_expire(fc, t, out, 64);
			for (i = 0; i < n; i++)
				if (out[i].key.src[0] == 0x0B)
					fin_out = t;
		} while (n == 64 || flowcache_expire_behind(fc, t));
	}
	CHECK(fin_out != 0);
	CHECK(fin_out >= t0 + 31 * S);
	CHECK(fin_out <= t0 + 32 * S);
	flowcache_free(fc);
}

/* Eviction must still choose a victim when every deadline saturates at 2^64, both when the
 * pool is full and when both buckets of a key are full (17 keys forced onto one bucket pair
 * by a shared hash): every packet is accounted for. */
static void test_eviction_saturated_deadlines(void)
{
	struct flowcache *fc;
	struct flowcache_record out[64];
	struct flowcache_stats st;
	struct capture_meta m[17];
	uint64_t total = 0;
	unsigned k, n;

	for (int bucket_full = 0; bucket_full < 2; bucket_full++) {
		unsigned keys = bucket_full ? 17 : 5;

		fc = mk(bucket_full ? 64 : 2, 15, 60);
		total = 0;
		for (k = 0; k < keys; k++) {
			m[k] = pkt(100 + k, 1, UINT64_MAX - 1000 + k, 10, 0);
			if (bucket_full)
				m[k].hash = 0x12345678; /* same buckets and tag for all */
		}
		flowcache_update_burst(fc, m, keys);
		while ((n = flowcache_expire(fc, UINT64_MAX - 1, out, 64)) > 0)
			for (k = 0; k < n; k++)
				total += out[k].packets;
		while ((n = flowcache_flush(fc, out, 64)) > 0)
			for (k = 0; k < n; k++)
				total += out[k].packets;
		flowcache_get_stats(fc, &st);
		CHECK_EQ(st.no_slot, 0);
		CHECK_EQ(total, keys);
		CHECK(st.evicted > 0);
		flowcache_free(fc);
	}
}

/* When the clock steps back (the input jumped back in time), flows of the new times still
 * expire on time instead of waiting for the clock to reach the old time. */
static void test_clock_step_back(void)
{
	struct flowcache *fc = mk(16, 15, 600);
	struct flowcache_record out[8];
	struct capture_meta m;

	m = pkt(1, 1, 10000 * S, 100, 0);
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, 10001 * S, out, 8), 0);
	m = pkt(2, 2, 100 * S, 100, 0); /* an hour back */
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, 114 * S, out, 8), 0);
	CHECK_EQ(flowcache_expire(fc, 116 * S, out, 8), 1);
	CHECK_EQ(out[0].key.sport, 2);
	CHECK_EQ(flowcache_flush(fc, out, 8), 1);
	CHECK_EQ(out[0].key.sport, 1);
	flowcache_free(fc);
}

/* Each record reports the input port and times of its own packets, also out of order. */
static void test_record_port_and_times(void)
{
	struct flowcache *fc = mk(16, 15, 5);
	struct flowcache_record out[8];
	struct capture_meta m;

	m = pkt(1, 1, 1 * S, 100, 0);
	m.port = 3;
	flowcache_update_burst(fc, &m, 1);
	m = pkt(1, 1, 4 * S + S / 2, 100, 0);
	m.port = 3;
	flowcache_update_burst(fc, &m, 1);
	m = pkt(1, 1, 6 * S, 100, 0); /* past the active timeout: a new record */
	m.port = 5;
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, 6 * S, out, 8), 1);
	CHECK_EQ(out[0].port, 3);
	m = pkt(1, 1, 5 * S + S / 2, 100, 0); /* out of order, older than the record's first */
	m.port = 5;
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_flush(fc, out, 8), 1);
	CHECK_EQ(out[0].port, 5);
	CHECK_EQ(out[0].first_ns, 5 * S + S / 2);
	CHECK_EQ(out[0].last_ns, 6 * S);
	CHECK_EQ(out[0].packets, 2);
	flowcache_free(fc);
}

/* minimum/maximumTTL span the record's packets (fast path and slow path alike) and start
 * again with each record; ICMP type/code and the MPLS top label are the first packet's. */
static void test_record_ttl_icmp_mpls(void)
{
	static const uint8_t ttls[] = {64, 63, 200, 63, 1, 64};
	struct flowcache *fc = mk(16, 15, 5);
	struct flowcache_record out[8];
	struct capture_meta m;
	unsigned k;

	for (k = 0; k < WR_ARRAY_SIZE(ttls); k++) {
		m = pkt(1, 1, 1 * S + k, 100, 0);
		m.ttl = ttls[k];
		m.icmp = (uint16_t)(0x0800 + k);
		m.mpls_top = 0x123450 + k;
		flowcache_update_burst(fc, &m, 1);
	}
	m = pkt(1, 1, 7 * S, 100, 0); /* past the active timeout: a new record */
	m.ttl = 99;
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, 7 * S, out, 8), 1);
	CHECK_EQ(out[0].ttl_min, 1);
	CHECK_EQ(out[0].ttl_max, 200);
	CHECK_EQ(out[0].icmp, 0x0800);
	CHECK_EQ(out[0].mpls_top, 0x123450);
	CHECK_EQ(flowcache_flush(fc, out, 8), 1);
	CHECK_EQ(out[0].ttl_min, 99);
	CHECK_EQ(out[0].ttl_max, 99);
	CHECK_EQ(out[0].icmp, 0);
	CHECK_EQ(out[0].mpls_top, 0);
	flowcache_free(fc);
}

/* Timestamps near the top of the range must not wrap a deadline into the past. */
static void test_deadlines_saturate(void)
{
	struct flowcache *fc = mk(16, 15, 60);
	struct flowcache_record out[8];
	struct capture_meta m[10];
	unsigned k;

	for (k = 0; k < 10; k++)
		m[k] = pkt(1, 1, UINT64_MAX - 10 + k, 100, 0);
	flowcache_update_burst(fc, m, 10);
	CHECK_EQ(flowcache_expire(fc, UINT64_MAX - 1, out, 8), 0);
	CHECK_EQ(flowcache_flush(fc, out, 8), 1);
	CHECK_EQ(out[0].packets, 10);
	flowcache_free(fc);
}

static void test_tcp_end(void)
{
	struct flowcache *fc = mk(16, 15, 1800);
	struct flowcache_record out[8];
	struct capture_meta m[4];

	m[0] = pkt(1, 1, 1 * S, 40, 0x02);
	m[1] = pkt(1, 1, 2 * S, 40, 0x11); /* FIN: the flow lingers 2 s */
	m[2] = pkt(1, 1, 3 * S, 40, 0x10); /* the last ACK stays in the record */
	m[3] = pkt(2, 2, 3 * S, 40, 0x04); /* RST: ends at once */
	flowcache_update_burst(fc, m, 4);
	CHECK_EQ(flowcache_expire(fc, 3 * S, out, 8), 1);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_OF_FLOW);
	CHECK_EQ(out[0].key.sport, 2);
	/* FIN linger: due 2 s after the last packet (5 s), never before, at most 1 s after */
	CHECK_EQ(flowcache_expire(fc, 5 * S - 1, out, 8), 0);
	CHECK_EQ(flowcache_expire(fc, 6 * S - 1, out, 8), 1);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_OF_FLOW);
	CHECK_EQ(out[0].packets, 3);
	CHECK_EQ(out[0].tcp_flags, 0x13);
	/* After the linger, the same key is a new flow. */
	m[0] = pkt(1, 1, 8 * S, 40, 0x10);
	flowcache_update_burst(fc, m, 1);
	CHECK_EQ(flowcache_flush(fc, out, 8), 1);
	CHECK_EQ(out[0].packets, 1);
	CHECK_EQ(out[0].first_ns, 8 * S);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_FORCED);
	flowcache_free(fc);
}

/* A FIN's linger is cut short by a packet that comes after it: that packet starts a new
 * record, and the FIN'd record leaves as end of flow. */
static void test_fin_then_late_packet(void)
{
	struct flowcache *fc = mk(16, 15, 1800);
	struct flowcache_record out[8];
	struct capture_meta m[2];

	m[0] = pkt(1, 1, 1 * S, 40, 0x11);
	m[1] = pkt(1, 1, 4 * S, 40, 0x10); /* 3 s after the FIN: past the linger */
	flowcache_update_burst(fc, m, 2);
	CHECK_EQ(flowcache_expire(fc, 4 * S, out, 8), 1);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_OF_FLOW);
	CHECK_EQ(out[0].packets, 1);
	CHECK_EQ(flowcache_flush(fc, out, 8), 1);
	CHECK_EQ(out[0].packets, 1);
	CHECK_EQ(out[0].first_ns, 4 * S);
	flowcache_free(fc);
}

/* Within one burst, a RST frees a flow's record and then a late packet of the flow arrives, its
 * prefetch hint still pointing at the freed record: the ACK must start a record of its own,
 * whether the freed record stayed free (with the old key in it) or a new flow took it. */
static void burst_after_fin(int with_new_flow)
{
	struct flowcache *fc = mk(16, 15, 1800);
	struct flowcache_record out[8];
	struct capture_meta m[4];
	uint64_t total = 0;
	unsigned n, k, a_records = 0, c = 0;

	m[0] = pkt(1, 1, 1 * S, 40, 0x02);
	flowcache_update_burst(fc, m, 1);    /* flow A exists before the burst */
	m[c++] = pkt(1, 1, 2 * S, 40, 0x04); /* RST: flow A ends, its record is freed */
	if (with_new_flow)
		m[c++] = pkt(2, 2, 3 * S, 40, 0x02); /* flow B takes the freed record */
	m[c++] = pkt(1, 1, 4 * S, 40, 0x10);         /* A's last ACK */
	flowcache_update_burst(fc, m, c);
	n = flowcache_expire(fc, 4 * S, out, 8);
	n += flowcache_flush(fc, out + n, 8 - n);
	CHECK_EQ(n, with_new_flow ? 3u : 2u);
	for (k = 0; k < n; k++) {
		total += out[k].packets;
		if (out[k].key.src[3] == 1)
			a_records++;
		else
			CHECK_EQ(out[k].packets, 1); /* B holds only its own packet */
	}
	CHECK_EQ(a_records, 2);
	CHECK_EQ(total, with_new_flow ? 4u : 3u);
	flowcache_free(fc);
}

static void test_burst_after_fin(void)
{
	burst_after_fin(0);
	burst_after_fin(1);
}

static void test_eviction_least_recent(void)
{
	struct flowcache *fc = mk(4, 15, 1800);
	struct flowcache_record out[8];
	struct capture_meta m;
	struct flowcache_stats st;
	uint32_t i;

	for (i = 1; i <= 4; i++) {
		m = pkt(i, 1, i * S, 10, 0);
		flowcache_update_burst(fc, &m, 1);
	}
	m = pkt(1, 1, 5 * S, 10, 0); /* flow 1 is now the most recent */
	flowcache_update_burst(fc, &m, 1);
	m = pkt(9, 1, 6 * S, 10, 0); /* full: evicts flow 2 */
	flowcache_update_burst(fc, &m, 1);
	CHECK_EQ(flowcache_expire(fc, 6 * S, out, 8), 1);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_RESOURCES);
	CHECK_EQ(out[0].key.src[3], 2);
	flowcache_get_stats(fc, &st);
	CHECK_EQ(st.evicted, 1);
	CHECK_EQ(st.active, 4);
	flowcache_free(fc);
}

/*
 * The timer guarantee, on packet time: with the cache swept every 10 ms, no record leaves
 * before its deadline and none more than 1 s after it (idle: last packet + idle timeout;
 * active: first packet of the record + active timeout).
 */
static void test_lateness_bound(void)
{
	struct flowcache *fc = mk(100000, 3, 10);
	struct flowcache_record out[256];
	struct capture_meta burst[32];
	uint64_t t = 1000 * S, worst = 0, early = 0, late = 0, records = 0, end = t + 60 * S;
	unsigned k, n, i;

	srand(11);
	while (t < end) {
		for (k = 0; k < 32; k++) {
			/* 20000 keys, some quiet for seconds at a time */
			burst[k] = pkt((uint32_t)(rand() % 20000), 1, t + k * 1000, 100,
			               rand() % 50 == 0 ? 0x11 : 0x10); /* some FINs */
		}
		flowcache_update_burst(fc, burst, 32);
		t += 10 * WR_NS_PER_MS;
		while ((n = flowcache_expire(fc, t, out, 256)) > 0) {
			for (i = 0; i < n; i++) {
				uint64_t due;

				records++;
				if (out[i].end_reason == FLOWCACHE_END_IDLE)
					due = out[i].last_ns + 3 * S;
				else if (out[i].end_reason == FLOWCACHE_END_ACTIVE)
					due = out[i].first_ns + 10 * S;
				else if (out[i].end_reason == FLOWCACHE_END_OF_FLOW)
					due = out[i].last_ns + 2 * S; /* FIN linger */
				else
					continue;
				/* (a record ended by its flow's next packet leaves when that
				 * packet comes, which is after its deadline) */
				if (t < due)
					early++;
				else if (t - due > worst)
					worst = t - due;
				late += t > due + S;
			}
		}
	}
	fprintf(stderr, "  %llu records, worst lateness %.3f s\n", (unsigned long long)records,
	        (double)worst / S);
	CHECK(records > 1000);
	CHECK_EQ(early, 0);
	CHECK_EQ(late, 0);
	CHECK(worst <= S);
	flowcache_free(fc);
}

/* Many flows through a small cache in bursts: every packet ends up in exactly one record. */
static void test_conservation_under_churn(void)
{
	struct flowcache *fc = mk(1000, 2, 5);
	struct flowcache_record out[64];
	struct capture_meta burst[32];
	struct flowcache_stats st;
	uint64_t packets = 0, octets = 0, sent = 0, sent_octets = 0, t = 0;
	unsigned i, k, n;

	srand(3);
	for (i = 0; i < 20000; i++) {
		for (k = 0; k < 32; k++) {
			t += S / 1000;
			/* a sliding key window: old flows go idle, new ones churn */
			burst[k] =
			    pkt(i * 4 + (uint32_t)(rand() % 5000), (uint16_t)(rand() % 3), t,
			        (uint32_t)(40 + rand() % 1460), rand() % 100 == 0 ? 0x01 : 0x10);
			packets++;
			octets += burst[k].l3_octets;
		}
		flowcache_update_burst(fc, burst, 32);
		if (i % 1000 == 999)
			t += 10 * S; /* a quiet spell: idle timers fire */
		while ((n = flowcache_expire(fc, t, out, 64)) > 0) {
			for (k = 0; k < n; k++) {
				sent += out[k].packets;
				sent_octets += out[k].octets;
				CHECK(out[k].packets > 0);
			}
		}
	}
	while ((n = flowcache_flush(fc, out, 64)) > 0)
		for (k = 0; k < n; k++) {
			sent += out[k].packets;
			sent_octets += out[k].octets;
		}
	flowcache_get_stats(fc, &st);
	CHECK_EQ(sent, packets);
	CHECK_EQ(sent_octets, octets);
	CHECK_EQ(st.no_slot, 0);
	CHECK(st.evicted > 0);
	CHECK(st.exported[FLOWCACHE_END_OF_FLOW] > 0);
	CHECK(st.exported[FLOWCACHE_END_IDLE] > 0);
	CHECK_EQ(st.active, 0);
	flowcache_free(fc);
}

/* Biflow: one record per conversation, keyed by its first packet, reverse counters apart. */
static void test_biflow_counts(int v6)
{
	struct flowcache *bi = mk_bi(16, 15, 1800), *uni = mk(16, 15, 1800);
	struct flowcache_record out[8];
	struct capture_meta m[5];
	unsigned n;

	m[0] = pkt_v(v6, 1, 1000, 100 * S, 60, 0x02);
	m[1] = turned(pkt_v(v6, 1, 1000, 100 * S + 1, 64, 0x12));
	m[2] = pkt_v(v6, 1, 1000, 100 * S + 2, 40, 0x10);
	m[3] = turned(pkt_v(v6, 1, 1000, 101 * S, 1000, 0x18));
	/* another conversation between the same hosts: other ports */
	m[4] = pkt_v(v6, 1, 1001, 101 * S, 50, 0x02);
	flowcache_update_burst(bi, m, 5);
	flowcache_update_burst(uni, m, 5);
	n = flowcache_flush(uni, out, 8);
	CHECK_EQ(n, 3);
	n = flowcache_flush(bi, out, 8);
	CHECK_EQ(n, 2);
	if (out[0].key.sport != 1000) {
		struct flowcache_record t = out[0];

		out[0] = out[1];
		out[1] = t;
	}
	CHECK_EQ(out[0].key.sport, 1000); /* the initiator's direction */
	CHECK_EQ(out[0].key.dport, 80);
	CHECK_EQ(out[0].key.src[v6 ? 15 : 3], 1);
	CHECK_EQ(out[0].packets, 2);
	CHECK_EQ(out[0].octets, 100);
	CHECK_EQ(out[0].tcp_flags, 0x12);
	CHECK_EQ(out[0].rev_packets, 2);
	CHECK_EQ(out[0].rev_octets, 1064);
	CHECK_EQ(out[0].rev_tcp_flags, 0x1A);
	CHECK_EQ(out[0].first_ns, 100 * S);
	CHECK_EQ(out[0].last_ns, 101 * S); /* both directions */
	CHECK_EQ(out[1].key.sport, 1001);
	CHECK_EQ(out[1].packets, 1);
	CHECK_EQ(out[1].rev_packets, 0);
	flowcache_free(bi);
	flowcache_free(uni);
}

static void test_biflow_counts_v4(void)
{
	test_biflow_counts(0);
}

static void test_biflow_counts_v6(void)
{
	test_biflow_counts(1);
}

/* After an idle gap the first packet starts a new biflow, as its initiator, even when it goes
 * the other way; a later packet of either direction still finds the turned record. */
static void test_biflow_initiator_after_idle(int v6)
{
	struct flowcache *fc = mk_bi(16, 10, 1800);
	struct flowcache_record out[8];
	struct capture_meta a = pkt_v(v6, 7, 4000, 100 * S, 100, 0);
	struct capture_meta b;
	unsigned n;

	a.key.proto = 17;
	a.hash = capture_flow_hash(&a.key);
	flowcache_update_burst(fc, &a, 1);
	b = turned(a);
	b.ts_ns = 120 * S; /* idle ran out at 110 s; no expire() in between */
	b.l3_octets = 200;
	flowcache_update_burst(fc, &b, 1);
	a.ts_ns = 121 * S;
	a.l3_octets = 300;
	flowcache_update_burst(fc, &a, 1);
	b.ts_ns = 122 * S;
	flowcache_update_burst(fc, &b, 1);
	n = flowcache_expire(fc, 123 * S, out, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_IDLE);
	CHECK_EQ(out[0].key.sport, 4000);
	CHECK_EQ(out[0].packets, 1);
	CHECK_EQ(out[0].rev_packets, 0);
	n = flowcache_flush(fc, out, 8);
	CHECK_EQ(n, 1);
	CHECK_EQ(out[0].key.sport, 80); /* turned: b was first */
	CHECK_EQ(out[0].key.dport, 4000);
	CHECK(memcmp(out[0].key.src, b.key.src, 16) == 0);
	CHECK(memcmp(out[0].key.dst, b.key.dst, 16) == 0);
	CHECK_EQ(out[0].packets, 2);
	CHECK_EQ(out[0].octets, 400);
	CHECK_EQ(out[0].rev_packets, 1);
	CHECK_EQ(out[0].rev_octets, 300);
	CHECK_EQ(out[0].first_ns, 120 * S);
	flowcache_free(fc);
}

static void test_biflow_initiator_after_idle_v4(void)
{
	test_biflow_initiator_after_idle(0);
}

static void test_biflow_initiator_after_idle_v6(void)
{
	test_biflow_initiator_after_idle(1);
}

/* Biflow under churn, both directions mixed: every packet lands in exactly one direction of
 * one record, and each direction sums as the uniflow cache counts it. */
struct dir_sums {
	uint64_t fwd, rev, octets; /* packets per direction, octets of both */
};

/* Takes every record that is due at t (or, with flush, every record left) and adds it up.
 * Returns whether any came out. */
static int drain_sums(struct flowcache *fc, uint64_t t, int flush, struct dir_sums *s)
{
	struct flowcache_record out[64];
	unsigned n, k;
	int any = 0;

	while ((n = flush ? flowcache_flush(fc, out, 64) : flowcache_expire(fc, t, out, 64)) > 0) {
		for (k = 0; k < n; k++) {
			/* (a biflow's forward count may be 0 after an active export) */
			CHECK(out[k].packets + out[k].rev_packets > 0);
			s->fwd += out[k].packets;
			s->rev += out[k].rev_packets;
			s->octets += out[k].octets + out[k].rev_octets;
		}
		any = 1;
	}
	return any;
}

static void test_biflow_conservation(void)
{
	struct flowcache *bi = mk_bi(4000, 10, 30), *uni = mk(1000, 10, 30);
	struct capture_meta burst[32];
	struct dir_sums sb = {0, 0, 0}, su = {0, 0, 0};
	uint64_t packets = 0, t = 0;
	struct flowcache_stats st;
	unsigned i, k;

	srand(5);
	for (i = 0; i < 5000; i++) {
		for (k = 0; k < 32; k++) {
			t += S / 1000;
			burst[k] =
			    pkt(i + (uint32_t)(rand() % 2000), (uint16_t)(rand() % 3), t,
			        (uint32_t)(40 + rand() % 1460), rand() % 200 == 0 ? 0x01 : 0x10);
			if (rand() % 2)
				burst[k] = turned(burst[k]);
			packets++;
		}
		flowcache_update_burst(bi, burst, 32);
		flowcache_update_burst(uni, burst, 32);
		while (drain_sums(bi, t, 0, &sb) | drain_sums(uni, t, 0, &su))
			;
	}
	drain_sums(bi, 0, 1, &sb);
	drain_sums(uni, 0, 1, &su);
	flowcache_get_stats(bi, &st);
	CHECK_EQ(su.rev, 0); /* uniflow records have no reverse direction */
	CHECK_EQ(sb.fwd + sb.rev, packets);
	CHECK_EQ(su.fwd, packets);
	CHECK_EQ(sb.octets, su.octets);
	CHECK(sb.rev > packets / 4); /* replies were folded into their conversation */
	CHECK(st.evicted > 0);
	CHECK_EQ(st.no_slot, 0);
	flowcache_free(bi);
	flowcache_free(uni);
}

/* A pool filled to its cap with random keys: no flow is evicted for want of a bucket slot
 * (first bucket, then second, then one cuckoo move), and a second packet of every flow finds
 * it wherever it went. */
static void test_full_pool_no_bucket_eviction(void)
{
	const unsigned n = 200000;
	struct flowcache *fc = mk(n, 1000, 1000);
	struct capture_meta m[32];
	struct flowcache_record out[64];
	struct flowcache_stats st;
	unsigned pass, i, k, got = 0;
	uint64_t rng = 99, packets = 0;

	for (pass = 0; pass < 2; pass++) {
		rng = 99;
		for (i = 0; i < n; i += 32) {
			for (k = 0; k < 32; k++) {
				uint64_t r = wr_xorshift64(&rng);

				m[k] = pkt((uint32_t)r, (uint16_t)(r >> 32), (10 + pass) * S + i,
				           64, 0);
			}
			flowcache_update_burst(fc, m, 32);
			packets += 32;
			CHECK_EQ(flowcache_expire(fc, (10 + pass) * S + i, out, 64), 0);
		}
	}
	flowcache_get_stats(fc, &st);
	CHECK_EQ(st.evicted, 0);
	CHECK_EQ(st.flows_created, n);
	CHECK_EQ(st.active, n);
	while ((k = flowcache_flush(fc, out, 64)) > 0)
		for (i = 0; i < k; i++) {
			CHECK_EQ(out[i].packets, 2);
			got += (unsigned)out[i].packets;
		}
	CHECK_EQ(got, packets);
	flowcache_free(fc);
}

/* A reload shortens the idle timeout: flows already in the cache leave by the new one, not
 * by the deadline they were slotted with; a longer one holds them longer. */
static void test_set_timeouts(void)
{
	struct flowcache *fc = mk(64, 60, 1800);
	struct flowcache_record out[8];
	struct capture_meta m[2];

	m[0] = pkt(1, 1000, 100 * S, 60, 0x10);
	m[1] = pkt(2, 2000, 100 * S, 60, 0x10);
	flowcache_update_burst(fc, m, 2);
	CHECK_EQ(flowcache_expire(fc, 105 * S, out, 8), 0);
	CHECK_EQ(flowcache_set_timeouts(fc, 0, 1800 * S), -EINVAL);
	CHECK_EQ(flowcache_set_timeouts(fc, 10 * S, 1800 * S), 0);
	CHECK_EQ(flowcache_expire(fc, 110 * S - 1, out, 8), 0);
	CHECK_EQ(flowcache_expire(fc, 111 * S, out, 8), 2);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_IDLE);
	/* longer: a flow that would have left at 10 s stays until 30 s */
	m[0] = pkt(3, 3000, 200 * S, 60, 0x10);
	flowcache_update_burst(fc, m, 1);
	CHECK_EQ(flowcache_set_timeouts(fc, 30 * S, 1800 * S), 0);
	CHECK_EQ(flowcache_expire(fc, 215 * S, out, 8), 0);
	CHECK_EQ(flowcache_expire(fc, 230 * S - 1, out, 8), 0);
	CHECK_EQ(flowcache_expire(fc, 231 * S, out, 8), 1);
	/* the active timeout too: a busy flow is cut at the new, shorter one */
	for (uint64_t t = 300; t < 330; t++) {
		m[0] = pkt(4, 4000, t * S, 100, 0x10);
		flowcache_update_burst(fc, m, 1);
		CHECK_EQ(flowcache_expire(fc, t * S, out, 8), 0);
	}
	CHECK_EQ(flowcache_set_timeouts(fc, 30 * S, 20 * S), 0);
	CHECK_EQ(flowcache_expire(fc, 331 * S, out, 8), 1);
	CHECK_EQ(out[0].end_reason, FLOWCACHE_END_ACTIVE);
	CHECK_EQ(out[0].packets, 30);
	flowcache_free(fc);
}

/* The largest flows by octets of their current record, largest first, and nothing leaves. */
static void test_top(void)
{
	struct flowcache *fc = mk(256, 60, 1800);
	struct flowcache_record out[8], all[300];
	struct capture_meta m;
	struct flowcache_stats st;
	unsigned i, n;

	CHECK_EQ(flowcache_top(fc, out, 5), 0);
	for (i = 0; i < 200; i++) {
		/* sizes (i * 37) % 200 + 41: every one once, in scrambled order */
		m = pkt(i + 1, 1000, 100 * S, (i * 37) % 200 + 41, 0x10);
		flowcache_update_burst(fc, &m, 1);
	}
	n = flowcache_top(fc, out, 5);
	CHECK_EQ(n, 5);
	for (i = 0; i < n; i++)
		CHECK_EQ(out[i].octets, 240 - i);
	CHECK_EQ(flowcache_top(fc, all, 300), 200);
	CHECK_EQ(all[199].octets, 41);
	flowcache_get_stats(fc, &st);
	CHECK_EQ(st.active, 200);
	CHECK_EQ(flowcache_expire(fc, 101 * S, out, 8), 0);
	flowcache_free(fc);
}

int main(void)
{
	T_RUN(test_params);
	T_RUN(test_accounting_and_idle);
	T_RUN(test_active_timeout_deltas);
	T_RUN(test_active_then_idle_no_empty_record);
	T_RUN(test_active_then_idle_restarts);
	T_RUN(test_deadlines_saturate);
	T_RUN(test_wheel_no_wrap);
	T_RUN(test_eviction_saturated_deadlines);
	T_RUN(test_clock_step_back);
	T_RUN(test_record_port_and_times);
	T_RUN(test_record_ttl_icmp_mpls);
	T_RUN(test_quiet_link_after_reslotting);
	T_RUN(test_tcp_end);
	T_RUN(test_fin_then_late_packet);
	T_RUN(test_burst_after_fin);
	T_RUN(test_eviction_least_recent);
	T_RUN(test_lateness_bound);
	T_RUN(test_conservation_under_churn);
	T_RUN(test_full_pool_no_bucket_eviction);
	T_RUN(test_biflow_counts_v4);
	T_RUN(test_biflow_counts_v6);
	T_RUN(test_biflow_initiator_after_idle_v4);
	T_RUN(test_biflow_initiator_after_idle_v6);
	T_RUN(test_biflow_conservation);
	T_RUN(test_set_timeouts);
	T_RUN(test_top);
	return t_done();
}
