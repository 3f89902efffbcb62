/*
 * The synthetic source: a tiny xorshift generator picks a flow id per packet (uniform, or
 * Zipf by binary search in a precomputed cumulative table), the id is offset by the churn
 * (ids shift by `newflows` per second of packet time), and the frame is written into a
 * per-handle burst buffer. Frames carry headers only (up to 128 bytes), padded with zeros to
 * 60 bytes, the shortest Ethernet frame a capture holds; the wire length and the IP length say
 * the real size. Timestamps advance by 1/rate per packet.
 *
 * live=1 offers the packets at `rate` per second of wall-clock time instead, like a link into a
 * NIC: packets that arrive while the consumer is away wait in a receive ring of `ring`
 * descriptors, and those that find it full are lost (counted as dropped, as a NIC counts
 * imissed). Each packet is stamped with the wall clock when it is read, as software capture
 * stamps it.
 */
#include "drv_gen.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wr.h"

#define GEN_BURST_MAX 256
#define GEN_SLOT      128 /* bytes of headers kept per frame */
#define GEN_MAX_FLOWS (1u << 28)

struct gen {
	/* spec */
	uint64_t flows, packets, rate, newflows, seed, start_s, ring;
	double v6;
	int imix, zipf, live;
	/* state */
	double *cdf; /* Zipf: cumulative weights, flows entries */
	uint64_t sent, rng;
	/* live: monotonic and wall clock at start; packets offered so far; packets in the ring */
	uint64_t t0_mono, t0_wall, arrived, fill;
	uint16_t port;
	atomic_int stopped; /* set by stop() from another thread */
	uint8_t buf[GEN_BURST_MAX * GEN_SLOT];
	struct capture_stats stats;
};

static int spec_number(const char *key, const char *val, uint64_t min, uint64_t max, uint64_t *ret,
                       char *err, size_t errlen)
{
	if (wr_parse_u64(val, min, max, ret) < 0) {
		snprintf(err, errlen, "%s='%s' is not a whole number in [%llu, %llu]", key, val,
		         (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	return 0;
}

static int parse_spec(struct gen *g, const char *spec, char *err, size_t errlen)
{
	char *copy = strdup(spec), *save = NULL, *item;
	int rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item && rc == 0;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const char *val;

		if (eq == NULL) {
			snprintf(err, errlen, "'%s' is not key=value", item);
			rc = -EINVAL;
			break;
		}
		*eq = '\0';
		val = eq + 1;
		if (strcmp(item, "flows") == 0)
			rc = spec_number(item, val, 1, GEN_MAX_FLOWS, &g->flows, err, errlen);
		else if (strcmp(item, "packets") == 0)
			rc = spec_number(item, val, 0, UINT64_MAX / 2, &g->packets, err, errlen);
		else if (strcmp(item, "rate") == 0)
			rc = spec_number(item, val, 1, 1000000000, &g->rate, err, errlen);
		else if (strcmp(item, "newflows") == 0)
			rc = spec_number(item, val, 0, 1000000000, &g->newflows, err, errlen);
		else if (strcmp(item, "seed") == 0)
			rc = spec_number(item, val, 0, UINT64_MAX, &g->seed, err, errlen);
		else if (strcmp(item, "start") == 0)
			rc = spec_number(item, val, 0, 4000000000ULL, &g->start_s, err, errlen);
		else if (strcmp(item, "ring") == 0)
			rc = spec_number(item, val, 1, 1u << 24, &g->ring, err, errlen);
		else if (strcmp(item, "live") == 0 &&
		         (strcmp(val, "0") == 0 || strcmp(val, "1") == 0))
			g->live = strcmp(val, "1") == 0;
		else if (strcmp(item, "size") == 0 &&
		         (strcmp(val, "64") == 0 || strcmp(val, "imix") == 0))
			g->imix = strcmp(val, "imix") == 0;
		else if (strcmp(item, "popularity") == 0 &&
		         (strcmp(val, "uniform") == 0 || strcmp(val, "zipf") == 0))
			g->zipf = strcmp(val, "zipf") == 0;
		else if (strcmp(item, "v6") == 0) {
			char *end;

			g->v6 = strtod(val, &end);
			if (*val == '\0' || *end != '\0' || !(g->v6 >= 0 && g->v6 <= 1)) {
				snprintf(err, errlen, "v6='%s' is not a fraction in [0, 1]", val);
				rc = -EINVAL;
			}
		} else {
			snprintf(
			    err, errlen,
			    "unknown or bad '%s=%s' (keys: flows, packets, size=64|imix, "
			    "popularity=uniform|zipf, v6, rate, newflows, seed, start, live=0|1, "
			    "ring)",
			    item, val);
			rc = -EINVAL;
		}
	}
	free(copy);
	return rc;
}

static int gen_open(const char *spec, const struct capture_open_params *params, void **ret,
                    char *err, size_t errlen)
{
	struct gen *g = calloc(1, sizeof(*g));
	int rc;

	if (g == NULL)
		return -ENOMEM;
	g->flows = 1000;
	g->packets = 1000000;
	g->rate = 10000000;
	g->seed = 1;
	g->start_s = 1700000000;
	g->ring = 4096;
	rc = parse_spec(g, spec, err, errlen);
	if (rc < 0) {
		free(g);
		return rc;
	}
	g->rng = g->seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	g->port = params ? params->port : 0;
	if (g->zipf) {
		double sum = 0;
		uint64_t i;

		g->cdf = malloc(sizeof(*g->cdf) * g->flows);
		if (g->cdf == NULL) {
			snprintf(err, errlen, "out of memory for %llu Zipf weights",
			         (unsigned long long)g->flows);
			free(g);
			return -ENOMEM;
		}
		for (i = 0; i < g->flows; i++)
			g->cdf[i] = (sum += 1.0 / (double)(i + 1));
	}
	*ret = g;
	return 0;
}

static uint32_t gen_caps(void *h)
{
	/* offline, packet time is synthetic: nothing is lost by waiting */
	return ((struct gen *)h)->live ? CAPTURE_CAP_LIVE : CAPTURE_CAP_OFFLINE;
}

static int gen_start(void *h)
{
	struct gen *g = h;

	g->t0_mono = wr_mono_ns();
	g->t0_wall = wr_wall_ns();
	return 0;
}

/* Live: lets the packets due by now arrive in the ring (those that find it full are lost) and
 * returns how many may be read now, at most max; *elapsed gets the time since the start. */
static unsigned live_take(struct gen *g, unsigned max, uint64_t *elapsed)
{
	uint64_t ns = wr_mono_ns() - g->t0_mono;
	uint64_t due = ns / WR_NS_PER_S * g->rate + ns % WR_NS_PER_S * g->rate / WR_NS_PER_S;

	if (g->packets && due > g->packets)
		due = g->packets;
	if (due > g->arrived) {
		g->fill += due - g->arrived;
		g->arrived = due;
		if (g->fill > g->ring) {
			g->stats.dropped += g->fill - g->ring;
			g->fill = g->ring;
		}
	}
	*elapsed = ns;
	if (max > g->fill)
		max = (unsigned)g->fill;
	g->fill -= max;
	return max;
}

static uint64_t pick_flow(struct gen *g)
{
	if (g->zipf) {
		double u = (double)(wr_xorshift64(&g->rng) >> 11) / 9007199254740992.0 *
		           g->cdf[g->flows - 1];
		uint64_t lo = 0, hi = g->flows - 1;

		while (lo < hi) {
			uint64_t mid = (lo + hi) / 2;

			if (g->cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		return lo;
	}
	return wr_xorshift64(&g->rng) % g->flows;
}

/* The simple IMIX: 7 x 64, 4 x 594, 1 x 1518 bytes, in a fixed cycle. */
static uint32_t frame_size(const struct gen *g, uint64_t n)
{
	static const uint16_t cycle[12] = {64, 594, 64, 64, 594, 64, 1518, 64, 594, 64, 64, 594};

	return g->imix ? cycle[n % 12] : 64;
}

/* Writes the headers of one frame of flow `id` and size `size` at p; returns bytes written. */
static uint32_t build_frame(const struct gen *g, uint8_t *p, uint64_t id, uint32_t size)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
	/* IPv6 for a fixed fraction of flow ids, spread by a multiplicative hash */
	int v6 =
	    g->v6 > 0 && (double)((id * 0x9E3779B97F4A7C15ULL) >> 11) / 9007199254740992.0 < g->v6;
	uint16_t sport = (uint16_t)(1024 + id % 60000), dport = (uint16_t)(443 + id / 60000);
	uint32_t l3 = size - 14 - 4; /* the frame size includes the FCS */
	uint8_t *ip = p + 14, *udp;

	memcpy(p, macs, 12);
	if (!v6) {
		wr_put_be16(p + 12, 0x0800);
		memset(ip, 0, 20);
		ip[0] = 0x45;
		wr_put_be16(ip + 2, (uint16_t)l3);
		ip[8] = 64;
		ip[9] = 17;
		wr_put_be32(ip + 12, 0x0A000000u + (uint32_t)id);
		wr_put_be32(ip + 16, 0xC0A80001u);
		udp = ip + 20;
		wr_put_be16(udp + 4, (uint16_t)(l3 - 20));
	} else {
		wr_put_be16(p + 12, 0x86DD);
		memset(ip, 0, 40);
		ip[0] = 0x60;
		wr_put_be16(ip + 4, (uint16_t)(l3 - 40));
		ip[6] = 17;
		ip[7] = 64;
		wr_put_be32(ip + 8, 0x20010DB8);
		wr_put_be64(ip + 16, id);
		wr_put_be32(ip + 24, 0x20010DB8);
		wr_put_be32(ip + 28, 1);
		wr_put_be64(ip + 32, 1);
		udp = ip + 40;
		wr_put_be16(udp + 4, (uint16_t)(l3 - 40));
	}
	wr_put_be16(udp, sport);
	wr_put_be16(udp + 2, dport);
	wr_put_be16(udp + 6, 0);
	return (uint32_t)(udp + 8 - p);
}

static int gen_rx_burst(void *h, struct capture_pkt *pkts, unsigned max)
{
	struct gen *g = h;
	unsigned n = 0;
	uint64_t live_ns = 0, t0_ns = g->start_s * WR_NS_PER_S;

	if (atomic_load_explicit(&g->stopped, memory_order_relaxed) ||
	    (g->packets && g->sent + g->stats.dropped >= g->packets))
		return -ENODATA;
	if (max > GEN_BURST_MAX)
		max = GEN_BURST_MAX;
	if (g->packets && g->packets - g->sent < max)
		max = (unsigned)(g->packets - g->sent);
	if (g->live) {
		max = live_take(g, max, &live_ns);
		t0_ns = g->t0_wall;
	}
	for (; n < max; n++, g->sent++) {
		uint64_t t_ns = g->live ? live_ns : g->sent * WR_NS_PER_S / g->rate;
		/* churn: ids move on by `newflows` per second of packet time */
		uint64_t id = pick_flow(g) + g->newflows * t_ns / WR_NS_PER_S;
		uint32_t size = frame_size(g, g->sent);
		uint8_t *p = g->buf + (size_t)n * GEN_SLOT;
		uint32_t hdr = build_frame(g, p, id, size);

		/* padded to the shortest Ethernet frame a capture holds (60 bytes, no FCS). The
		 * buffer starts zeroed and an IPv4 frame writes only its 42 bytes of headers, so
		 * the padding needs clearing only where an IPv6 frame (62 bytes) may have been. */
		if (hdr < 60 && g->v6 > 0)
			memset(p + hdr, 0, 60 - hdr);
		pkts[n].data = p;
		pkts[n].caplen = hdr < 60 ? 60 : hdr;
		pkts[n].wirelen = size;
		pkts[n].ts_ns = t0_ns + t_ns;
		pkts[n].linktype = CAPTURE_LINK_ETHERNET;
		pkts[n].port = g->port;
		g->stats.bytes += size;
	}
	g->stats.packets += n;
	return (int)n;
}

static void gen_stats(void *h, struct capture_stats *ret)
{
	*ret = ((struct gen *)h)->stats;
}

static const char *gen_last_error(void *h)
{
	(void)h;
	return "";
}

static void gen_stop(void *h)
{
	atomic_store(&((struct gen *)h)->stopped, 1);
}

static void gen_close(void *h)
{
	struct gen *g = h;

	if (g == NULL)
		return;
	free(g->cdf);
	free(g);
}

const struct capture_driver_ops drv_gen_ops = {
    .name = "gen",
    .open = gen_open,
    .caps = gen_caps,
    .start = gen_start,
    .rx_burst = gen_rx_burst,
    .stats = gen_stats,
    .last_error = gen_last_error,
    .stop = gen_stop,
    .close = gen_close,
};
