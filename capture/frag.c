/*
 * Fragment table: a bounded, set-associative map from (src, dst, proto, IP id) of a first
 * fragment to its ports, so that later fragments of the same datagram join its flow without
 * reassembly. Buckets of FRAG_WAYS entries; an insert replaces a stale entry, an entry of the
 * same datagram (the newest first fragment wins, as the nearest in time), or else the oldest
 * entry of the bucket. Entries expire by packet time. Memory is fixed at creation.
 */
#include <errno.h>
#include <stdlib.h>

#include "capture.h"
#include "capture_internal.h"
#include "wr.h"

#define FRAG_WAYS 4

struct frag_entry {
	struct capture_frag_key key;
	uint64_t ts_ns; /* 0 = empty */
	uint16_t sport;
	uint16_t dport;
	uint8_t proto; /* upper-layer protocol of the first fragment (IPv6: after the whole
	                  chain, which may go on behind the fragment header) */
	uint8_t pad[3];
};

struct capture_frag_table {
	struct frag_entry *entries;
	uint32_t bucket_mask;
	uint64_t timeout_ns;
	struct capture_frag_stats stats;
};

struct capture_frag_table *capture_frag_create(uint32_t entries, uint64_t timeout_ns)
{
	struct capture_frag_table *t;
	uint32_t buckets = 1;

	if (entries == 0 || entries > (1u << 24) || timeout_ns == 0) {
		errno = EINVAL;
		return NULL;
	}
	while (buckets * FRAG_WAYS < entries)
		buckets <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->entries = calloc((size_t)buckets * FRAG_WAYS, sizeof(*t->entries));
	if (t->entries == NULL) {
		free(t);
		return NULL;
	}
	t->bucket_mask = buckets - 1;
	t->timeout_ns = timeout_ns;
	return t;
}

void capture_frag_free(struct capture_frag_table *t)
{
	if (t == NULL)
		return;
	free(t->entries);
	free(t);
}

void capture_frag_stats(const struct capture_frag_table *t, struct capture_frag_stats *ret)
{
	*ret = t->stats;
}

void capture_frag_key_init(struct capture_frag_key *fk, const struct capture_flow_key *k,
                           uint8_t proto, uint32_t id)
{
	memset(fk, 0, sizeof(*fk));
	memcpy(fk->src, k->src, sizeof(fk->src));
	memcpy(fk->dst, k->dst, sizeof(fk->dst));
	fk->id = id;
	fk->proto = proto;
	fk->ip_version = k->ip_version;
}

static struct frag_entry *frag_bucket(struct capture_frag_table *t,
                                      const struct capture_frag_key *fk)
{
	const uint8_t *b = (const uint8_t *)fk;
	uint32_t h = 2166136261u; /* FNV-1a over the key bytes */
	size_t i;

	for (i = 0; i < sizeof(*fk); i++)
		h = (h ^ b[i]) * 16777619u;
	return t->entries + (size_t)(h & t->bucket_mask) * FRAG_WAYS;
}

static int frag_live(const struct capture_frag_table *t, const struct frag_entry *e, uint64_t now)
{
	/* Packet time may step back a little (merged inputs): compare the distance. */
	uint64_t age = now >= e->ts_ns ? now - e->ts_ns : e->ts_ns - now;

	return e->ts_ns != 0 && age <= t->timeout_ns;
}

void capture_frag_insert(struct capture_frag_table *t, const struct capture_frag_key *fk,
                         const struct capture_meta *m)
{
	struct frag_entry *b, *victim = NULL;
	int i;

	if (t == NULL)
		return;
	b = frag_bucket(t, fk);
	for (i = 0; i < FRAG_WAYS; i++) {
		if (memcmp(&b[i].key, fk, sizeof(*fk)) == 0 || !frag_live(t, &b[i], m->ts_ns)) {
			victim = &b[i];
			break;
		}
		if (victim == NULL || b[i].ts_ns < victim->ts_ns)
			victim = &b[i];
	}
	if (i == FRAG_WAYS)
		t->stats.replaced++;
	victim->key = *fk;
	victim->ts_ns = m->ts_ns ? m->ts_ns : 1;
	victim->sport = m->key.sport;
	victim->dport = m->key.dport;
	victim->proto = m->key.proto;
	t->stats.first_seen++;
}

void capture_frag_lookup(struct capture_frag_table *t, const struct capture_frag_key *fk,
                         struct capture_meta *m)
{
	struct frag_entry *b;
	int i;

	if (t != NULL) {
		b = frag_bucket(t, fk);
		for (i = 0; i < FRAG_WAYS; i++) {
			if (frag_live(t, &b[i], m->ts_ns) &&
			    memcmp(&b[i].key, fk, sizeof(*fk)) == 0) {
				m->key.sport = b[i].sport;
				m->key.dport = b[i].dport;
				m->key.proto = b[i].proto;
				t->stats.matched++;
				return;
			}
		}
		t->stats.unmatched++;
	}
	m->flags |= CAPTURE_F_FRAG_UNMATCHED;
}
