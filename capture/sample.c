/*
 * Packet selectors (RFC 5475) applied after parsing and before the flow table.
 *
 * Count-based and random selectors work on windows of N packets; the probabilistic one draws
 * per packet. Hash-based selection hashes fields that do not change along the path
 * (addresses, protocol, ports, IP length and, for IPv4, the identification field), with a
 * configurable initialiser, so probes that see the same traffic with the same seed select the
 * same packets. Flow sampling hashes the flow key only (symmetrically), so every packet of a
 * selected conversation is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "wr.h"

static uint32_t mix64to32(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xFF51AFD7ED558CCDULL;
	x ^= x >> 33;
	x *= 0xC4CEB9FE1A85EC53ULL;
	x ^= x >> 33;
	return (uint32_t)x;
}

int capture_sampler_parse(const char *spec, struct capture_sampler_params *ret, char *err,
                          size_t errlen)
{
	static const struct {
		const char *name;
		enum capture_sample_algo algo;
	} algos[] = {{"count", CAPTURE_SAMPLE_COUNT},
	             {"random", CAPTURE_SAMPLE_RANDOM},
	             {"prob", CAPTURE_SAMPLE_PROB},
	             {"hash", CAPTURE_SAMPLE_HASH},
	             {"flow", CAPTURE_SAMPLE_FLOW}};
	char buf[128], *arg, *seed;
	uint64_t v;
	size_t i;

	memset(ret, 0, sizeof(*ret));
	ret->seed = 1;
	if (wr_strlcpy(buf, spec, sizeof(buf)) >= sizeof(buf) || (arg = strchr(buf, ':')) == NULL) {
		snprintf(err, errlen,
		         "'%s' is not a selector (count:N, random:N, prob:P, hash:N or flow:N, "
		         "optionally ,seed=S)",
		         spec);
		return -EINVAL;
	}
	*arg++ = '\0';
	seed = strchr(arg, ',');
	if (seed != NULL) {
		*seed++ = '\0';
		if (strncmp(seed, "seed=", 5) != 0 ||
		    wr_parse_u64(seed + 5, 0, UINT64_MAX, &ret->seed) < 0) {
			snprintf(err, errlen, "'%s': expected ,seed=NUMBER", spec);
			return -EINVAL;
		}
	}
	for (i = 0; i < WR_ARRAY_SIZE(algos); i++)
		if (strcmp(buf, algos[i].name) == 0)
			ret->algo = algos[i].algo;
	if (ret->algo == CAPTURE_SAMPLE_NONE) {
		snprintf(err, errlen,
		         "'%s': unknown selector '%s' (count, random, prob, hash, flow)", spec,
		         buf);
		return -EINVAL;
	}
	if (ret->algo == CAPTURE_SAMPLE_PROB) {
		char *end;

		ret->probability = strtod(arg, &end);
		if (*arg == '\0' || *end != '\0' ||
		    !(ret->probability > 0 && ret->probability <= 1)) {
			snprintf(err, errlen, "'%s': probability '%s' is not in (0, 1]", spec, arg);
			return -EINVAL;
		}
		return 0;
	}
	if (wr_parse_u64(arg, 1, UINT32_MAX, &v) < 0) {
		snprintf(err, errlen, "'%s': interval '%s' is not a whole number in [1, %u]", spec,
		         arg, UINT32_MAX);
		return -EINVAL;
	}
	ret->interval = (uint32_t)v;
	return 0;
}

static void new_window(struct capture_sampler *s)
{
	s->countdown = s->p.interval;
	s->pick = s->p.algo == CAPTURE_SAMPLE_RANDOM
	              ? (uint32_t)(wr_xorshift64(&s->rng) % s->p.interval)
	              : 0;
}

void capture_sampler_init(struct capture_sampler *s, const struct capture_sampler_params *p)
{
	memset(s, 0, sizeof(*s));
	s->p = *p;
	s->rng = p->seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	if (p->algo == CAPTURE_SAMPLE_PROB)
		s->threshold =
		    p->probability >= 1 ? UINT32_MAX : (uint32_t)(p->probability * 4294967296.0);
	else if (p->interval > 0)
		s->threshold = (uint32_t)(UINT32_MAX / p->interval);
	if (p->interval > 0)
		new_window(s);
}

/* A hash of the fields of a packet that do not change along its path (RFC 5475 6.2.3):
 * addresses, protocol, ports, IP length and the IPv4 identification, which tells the packets of
 * a flow apart. */
static uint32_t invariant_hash(const struct capture_sampler *s, const struct capture_meta *m)
{
	uint64_t a, b, c, d, extra;

	memcpy(&a, m->key.src, 8);
	memcpy(&b, m->key.src + 8, 8);
	memcpy(&c, m->key.dst, 8);
	memcpy(&d, m->key.dst + 8, 8);
	extra = (uint64_t)m->ip_id | (uint64_t)m->l3_octets << 16 | (uint64_t)m->key.sport << 32 |
	        (uint64_t)m->key.dport << 48;
	return mix64to32(s->p.seed ^ a ^ mix64to32(b) ^ (c * 0x9E3779B97F4A7C15ULL) ^ (d << 1) ^
	                 (extra * 0xC2B2AE3D27D4EB4FULL) ^ m->key.proto);
}

int capture_sampler_select(struct capture_sampler *s, const struct capture_meta *m)
{
	int take;

	s->observed++;
	switch (s->p.algo) {
	case CAPTURE_SAMPLE_COUNT:
	case CAPTURE_SAMPLE_RANDOM:
		take = s->countdown == s->p.interval - s->pick;
		if (--s->countdown == 0)
			new_window(s);
		break;
	case CAPTURE_SAMPLE_PROB:
		take = (uint32_t)(wr_xorshift64(&s->rng) >> 32) < s->threshold ||
		       s->threshold == UINT32_MAX;
		break;
	case CAPTURE_SAMPLE_HASH:
		take = invariant_hash(s, m) <= s->threshold;
		break;
	case CAPTURE_SAMPLE_FLOW:
		/* the parser's symmetric key hash: both directions of a conversation go together */
		take = mix64to32(s->p.seed ^ m->hash) <= s->threshold;
		break;
	default:
		take = 1;
	}
	s->selected += (uint64_t)take;
	return take;
}
