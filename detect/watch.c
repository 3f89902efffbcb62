/*
 * The watch list, the workers' in-line counters and the engine that merges their bins.
 *
 * Prefix tables (prefixes:FILE, asn:FILE) are one open-addressed hash of (IP version, length,
 * masked address) with the distinct lengths of each version kept longest first. IPv6 lookups
 * mask the address once per length until a hit. IPv4 lookups, on the packet path, go through
 * a two-level trie built from the hash once the file is read (strides 24 and 8, the prefixes
 * expanded into it shortest first so that longer ones overwrite them, as DIR-24-8 routers
 * do): one load from a first level of 2^24 entries (64 MiB of address space, of which only
 * the pages under some prefix are ever written) and, below a prefix longer than /24, one from
 * a 1 KiB block. The counters are flat arrays per family (256 protocols, 4096 VLANs, 65536
 * ports, one cell per prefix or AS, and a sink for packets with no port or in no prefix) of
 * packed words, so a packet costs one increment a family; closing a bin folds the words into
 * 64-bit cells and scans those for non-zero ones.
 *
 * The engine keeps each worker's closed bins in order and evaluates bin T once every worker
 * still running has closed it; every known series is then fed its count for T, zero when it
 * had none.
 */
#include "watch.h"

#include "capture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wr.h"

#define MAX_LINKS 256
#define N_PROTO   256
#define N_VLAN    4096
#define N_DPORT   65536
#define MAX_PFX   (1u << 22)

/* ---------------------------------------------------------------------------------------- */
/* Prefix tables                                                                              */

struct pfx {
	uint8_t addr[16];
	uint8_t version, len;
	uint32_t value; /* prefix index (prefixes) or AS index (asn) */
};

struct lpm {
	struct pfx *v; /* entries */
	uint32_t n, cap;
	uint32_t *slot;       /* hash slots: entry index + 1, 0 empty */
	uint32_t mask;        /* slots - 1 */
	uint8_t lens[2][129]; /* distinct lengths per version, longest first */
	unsigned n_lens[2];
	/* IPv4 trie: entries are 0 (no prefix), value + 1, or LPM_NEXT | the block's first index */
	uint32_t *t24; /* first level, by the top 24 bits (64 MiB of address space) */
	uint32_t *blk; /* blocks of 256 entries, by the last 8 bits */
	uint32_t n_blk, cap_blk;
};

#define LPM_NEXT 0x80000000u

static void mask_addr(uint8_t *a, unsigned bytes, unsigned len)
{
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = len >= 8 * (i + 1) ? 8 : len > 8 * i ? len - 8 * i : 0;

		a[i] &= (uint8_t)(0xff00u >> keep);
	}
}

/* IPv4 prefixes hash as one 64-bit multiply: the lookup runs once per packet and length. */
static inline uint32_t hash4(uint32_t a, unsigned len)
{
	return (uint32_t)((((uint64_t)len << 32) | a) * 0x9e3779b97f4a7c15ull >> 32);
}

static uint32_t pfx_hash(const uint8_t *a, unsigned version, unsigned len)
{
	if (version == 4)
		return hash4(wr_be32(a), len);
	{
		uint64_t h = 0xcbf29ce484222325ull ^ (version << 8 | len);

		for (unsigned i = 0; i < 16; i++)
			h = (h ^ a[i]) * 0x100000001b3ull;
		return (uint32_t)(h ^ h >> 32);
	}
}

static int lpm_rehash(struct lpm *t, uint32_t slots)
{
	uint32_t *s = calloc(slots, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	free(t->slot);
	t->slot = s;
	t->mask = slots - 1;
	for (uint32_t i = 0; i < t->n; i++) {
		uint32_t h = pfx_hash(t->v[i].addr, t->v[i].version, t->v[i].len) & t->mask;

		while (t->slot[h])
			h = (h + 1) & t->mask;
		t->slot[h] = i + 1;
	}
	return 0;
}

static const struct pfx *lpm_find_exact(const struct lpm *t, const uint8_t *a, unsigned version,
                                        unsigned len)
{
	uint32_t h;

	if (t->slot == NULL)
		return NULL;
	for (h = pfx_hash(a, version, len) & t->mask; t->slot[h]; h = (h + 1) & t->mask) {
		const struct pfx *p = &t->v[t->slot[h] - 1];

		if (p->version == version && p->len == len &&
		    memcmp(p->addr, a, version == 4 ? 4 : 16) == 0)
			return p;
	}
	return NULL;
}

/* Adds a prefix (already masked); a duplicate keeps the first value. */
static int lpm_add(struct lpm *t, const uint8_t *a, unsigned version, unsigned len, uint32_t value)
{
	unsigned vi = version == 6;
	struct pfx *p;

	if (lpm_find_exact(t, a, version, len))
		return 0;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? 2 * t->cap : 64;
		struct pfx *v = realloc(t->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	p = &t->v[t->n++];
	memset(p, 0, sizeof(*p));
	memcpy(p->addr, a, version == 4 ? 4 : 16);
	p->version = (uint8_t)version;
	p->len = (uint8_t)len;
	p->value = value;
	if (2 * t->n > t->mask || t->slot == NULL) {
		if (lpm_rehash(t, t->slot ? 2 * (t->mask + 1) : 256) < 0)
			return -ENOMEM;
	} else {
		uint32_t h = pfx_hash(p->addr, version, len) & t->mask;

		while (t->slot[h])
			h = (h + 1) & t->mask;
		t->slot[h] = t->n;
	}
	{
		unsigned i, n = t->n_lens[vi];

		for (i = 0; i < n && t->lens[vi][i] != len; i++)
			;
		if (i == n) {
			/* insert keeping longest first */
			for (i = n; i > 0 && t->lens[vi][i - 1] < len; i--)
				t->lens[vi][i] = t->lens[vi][i - 1];
			t->lens[vi][i] = (uint8_t)len;
			t->n_lens[vi]++;
		}
	}
	return 0;
}

/* A block filled with `fill` (what the entry it splits held); its LPM_NEXT entry in ret. */
static int lpm_block(struct lpm *t, uint32_t fill, uint32_t *ret)
{
	if (t->n_blk == t->cap_blk) {
		uint32_t cap = t->cap_blk ? 2 * t->cap_blk : 16;
		uint32_t *b;

		if (cap >= LPM_NEXT / 256 || !(b = realloc(t->blk, (size_t)cap * 256 * sizeof(*b))))
			return -ENOMEM;
		t->blk = b;
		t->cap_blk = cap;
	}
	for (unsigned i = 0; i < 256; i++)
		t->blk[(size_t)t->n_blk * 256 + i] = fill;
	*ret = LPM_NEXT | t->n_blk++ * 256; /* below 2^31: cap_blk < LPM_NEXT / 256 */
	return 0;
}

/* The block below first-level entry `at` (splitting a leaf into one); its first index. */
static int lpm_down(struct lpm *t, uint32_t at, uint32_t *ret)
{
	uint32_t e = t->t24[at];

	if (!(e & LPM_NEXT)) {
		int r = lpm_block(t, e, &e);

		if (r < 0)
			return r;
		t->t24[at] = e;
	}
	*ret = e & ~LPM_NEXT;
	return 0;
}

static int by_length(const void *a, const void *b)
{
	const struct pfx *x = *(const struct pfx *const *)a, *y = *(const struct pfx *const *)b;

	return x->len != y->len ? (x->len < y->len ? -1 : 1) : (x < y ? -1 : x > y);
}

/* (Re)builds the IPv4 trie from every IPv4 prefix of the table: prefixes up to /24 fill the
 * first-level entries they cover, longer ones the entries of a block below theirs. */
static int lpm_build4(struct lpm *t)
{
	const struct pfx **v;
	uint32_t n = 0;
	int r = 0;

	free(t->t24);
	free(t->blk);
	t->t24 = t->blk = NULL;
	t->n_blk = t->cap_blk = 0;
	/* made even without an IPv4 prefix (the packet path looks in it unchecked); a calloc
	 * this large is mapped on demand, so memory is taken only where prefixes are */
	t->t24 = calloc(1u << 24, sizeof(*t->t24));
	if (t->t24 == NULL)
		return -ENOMEM;
	if (t->n_lens[0] == 0)
		return 0;
	v = malloc(t->n * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < t->n; i++)
		if (t->v[i].version == 4)
			v[n++] = &t->v[i];
	qsort(v, n, sizeof(*v), by_length);
	for (uint32_t i = 0; i < n && r == 0; i++) {
		uint32_t a = wr_be32(v[i]->addr), leaf = v[i]->value + 1, *first, count;
		unsigned len = v[i]->len;

		/* the entries this prefix covers at its level; the shorter prefixes came first,
		 * so they hold leaves only, which this one overwrites */
		if (len <= 24) {
			first = &t->t24[a >> 8];
			count = 1u << (24 - len);
		} else {
			uint32_t base;

			if ((r = lpm_down(t, a >> 8, &base)) < 0)
				break;
			first = &t->blk[base + (a & 255)];
			count = 1u << (32 - len);
		}
		for (uint32_t k = 0; k < count; k++)
			first[k] = leaf;
	}
	free(v);
	return r;
}

/* The IPv4 trie's entry for address a (network order): the value + 1 of its longest prefix,
 * or 0. */
static inline uint32_t lpm_walk4(const uint32_t *t24, const uint32_t *blk, const uint8_t *a)
{
	uint32_t e = t24[wr_be32(a) >> 8];

	if (e & LPM_NEXT)
		e = blk[(e & ~LPM_NEXT) + a[3]];
	return e;
}

/* The value + 1 of the longest prefix holding addr, or 0. */
static uint32_t lpm_lookup(const struct lpm *t, const uint8_t *addr, unsigned version)
{
	unsigned vi = version == 6;
	uint8_t a[16];

	if (version == 4)
		return t->t24 ? lpm_walk4(t->t24, t->blk, addr) : 0;
	memcpy(a, addr, 16);
	for (unsigned i = 0; i < t->n_lens[vi]; i++) {
		const struct pfx *p;

		/* lengths go longest first, so masking the last mask's result is the same */
		mask_addr(a, 16, t->lens[vi][i]);
		p = lpm_find_exact(t, a, version, t->lens[vi][i]);
		if (p)
			return p->value + 1;
	}
	return 0;
}

static void lpm_fini(struct lpm *t)
{
	free(t->v);
	free(t->slot);
	free(t->t24);
	free(t->blk);
	memset(t, 0, sizeof(*t));
}

/* ---------------------------------------------------------------------------------------- */
/* Watch list                                                                                 */

struct detect_watch {
	unsigned families; /* bit per enum detect_family; 0: "none", nothing is counted */
	unsigned added;    /* families named by detect_watch_add(), "none" included */
	struct lpm prefixes;
	uint32_t n_prefixes;
	struct lpm asn; /* value: index into as_nums */
	uint32_t *as_nums;
	uint32_t n_as, cap_as;
	/* dst-prefix: the admitted prefixes, slot = series index, in sets of HH_WAYS. The one
	 * mutable part of the watch: the engine admits and retires (release), the workers look
	 * up (acquire); their cells carry the prefix, so a slot that changes owner under a
	 * worker never credits the new owner. */
	_Atomic uint64_t *hh_keys; /* DETECT_HH_SLOTS, 0 = empty */
	uint32_t hh_n;             /* admitted now (engine thread) */
};

/* A destination's automatic prefix: IPv4 /24 or IPv6 /48, tagged with the version. */
static inline uint64_t hh_key(const uint8_t *dst, unsigned version)
{
	if (version == 4)
		return 4ull << 56 | (uint64_t)wr_be32(dst) >> 8;
	return 6ull << 56 | (uint64_t)wr_be32(dst) << 16 | wr_be16(dst + 4);
}

static inline uint32_t hh_hash(uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 40);
}

/* Admitted prefixes sit in sets of four slots (one cache line) chosen by the hash, so a slot
 * can be freed and taken again without the probe chains an open-addressed table keeps. */
#define HH_WAYS 4

/* The first slot of the set of a prefix whose hh_hash() is hash. */
static inline uint32_t hh_set(uint32_t hash)
{
	return (hash & (DETECT_HH_SLOTS / HH_WAYS - 1)) * HH_WAYS;
}

/* The slot of an admitted prefix whose hh_hash() is hash, or -1. */
static inline int32_t hh_find_hashed(const struct detect_watch *w, uint64_t key, uint32_t hash)
{
	uint32_t h = hh_set(hash);

	for (uint32_t i = 0; i < HH_WAYS; i++)
		if (atomic_load_explicit(&w->hh_keys[h + i], memory_order_acquire) == key)
			return (int32_t)(h + i);
	return -1;
}

/* The slot of an admitted prefix, or -1. */
static inline int32_t hh_find(const struct detect_watch *w, uint64_t key)
{
	return hh_find_hashed(w, key, hh_hash(key));
}

int detect_watch_hh_slot(const struct detect_watch *w, uint64_t key)
{
	return w->hh_keys ? hh_find(w, key) : -1;
}

int detect_watch_hh_admit(struct detect_watch *w, uint64_t key)
{
	uint32_t first = hh_set(hh_hash(key));

	if (w->hh_keys == NULL || key == 0)
		return -EINVAL;
	if (hh_find(w, key) >= 0)
		return -EEXIST;
	if (w->hh_n >= DETECT_HH_SLOTS / 2)
		return -ENOSPC;
	for (uint32_t h = first; h < first + HH_WAYS; h++)
		if (atomic_load_explicit(&w->hh_keys[h], memory_order_relaxed) == 0) {
			atomic_store_explicit(&w->hh_keys[h], key, memory_order_release);
			w->hh_n++;
			return (int)h;
		}
	return -ENOSPC;
}

void detect_watch_hh_retire(struct detect_watch *w, uint32_t slot)
{
	if (w->hh_keys == NULL || slot >= DETECT_HH_SLOTS ||
	    atomic_load_explicit(&w->hh_keys[slot], memory_order_relaxed) == 0)
		return;
	atomic_store_explicit(&w->hh_keys[slot], 0, memory_order_release);
	w->hh_n--;
}

struct detect_watch *detect_watch_create(void)
{
	struct detect_watch *w = calloc(1, sizeof(*w));

	if (w)
		w->families = 1u << DETECT_FAM_LINK;
	return w;
}

void detect_watch_free(struct detect_watch *w)
{
	if (w == NULL)
		return;
	lpm_fini(&w->prefixes);
	lpm_fini(&w->asn);
	free(w->as_nums);
	free((void *)w->hh_keys);
	free(w);
}

int detect_watch_has(const struct detect_watch *w, int family)
{
	return (w->families >> family) & 1;
}

/* "ADDR/LEN" or "ADDR LEN" (tabs or spaces) into a masked prefix. */
static int parse_prefix(char *addr, const char *lenstr, uint8_t *ret, unsigned *ret_version,
                        unsigned *ret_len)
{
	char *end;
	long len;
	unsigned version = strchr(addr, ':') ? 6 : 4;

	memset(ret, 0, 16);
	if (inet_pton(version == 4 ? AF_INET : AF_INET6, addr, ret) != 1)
		return -1;
	len = strtol(lenstr, &end, 10);
	if (end == lenstr || *end != '\0' || len < 0 || len > (version == 4 ? 32 : 128))
		return -2;
	mask_addr(ret, version == 4 ? 4 : 16, (unsigned)len);
	*ret_version = version;
	*ret_len = (unsigned)len;
	return 0;
}

static uint32_t as_index(struct detect_watch *w, uint32_t asn)
{
	/* files are usually sorted by prefix, not AS: a linear search over the distinct ASes
	 * would be quadratic, so keep them in a small hash inside the asn table's values */
	for (uint32_t i = w->n_as; i > 0 && i + 64 > w->n_as; i--)
		if (w->as_nums[i - 1] == asn)
			return i - 1;
	for (uint32_t i = 0; i < w->n_as; i++)
		if (w->as_nums[i] == asn)
			return i;
	if (w->n_as == w->cap_as) {
		uint32_t cap = w->cap_as ? 2 * w->cap_as : 64;
		uint32_t *v = realloc(w->as_nums, cap * sizeof(*v));

		if (v == NULL)
			return UINT32_MAX;
		w->as_nums = v;
		w->cap_as = cap;
	}
	w->as_nums[w->n_as] = asn;
	return w->n_as++;
}

static int load_table(struct detect_watch *w, const char *spec, const char *path, int asn,
                      char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[512];
	unsigned lineno = 0, added = 0;

	if (f == NULL) {
		snprintf(err, errlen, "--watch %s: cannot open '%s': %s", spec, path,
		         strerror(errno));
		return -ENOENT;
	}
	while (fgets(line, sizeof(line), f)) {
		char *tok[3] = {NULL, NULL, NULL}, *save = NULL, *s = line, *slash;
		uint8_t a[16];
		unsigned version, len, nt = 0;
		int r;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line longer than %zu bytes", path, lineno,
			         sizeof(line) - 2);
			fclose(f);
			return -EINVAL;
		}
		if ((slash = strchr(line, '#')) != NULL)
			*slash = '\0';
		while (nt < 3 && (tok[nt] = strtok_r(s, " \t\r\n", &save)) != NULL) {
			s = NULL;
			nt++;
		}
		if (nt == 0)
			continue;
		if (!asn && nt == 1 && (slash = strchr(tok[0], '/')) != NULL) {
			*slash = '\0';
			tok[1] = slash + 1;
			nt = 2;
		}
		if (nt != (asn ? 3u : 2u) || strtok_r(NULL, " \t\r\n", &save) != NULL) {
			snprintf(err, errlen, "%s:%u: expected %s", path, lineno,
			         asn ? "'prefix<TAB>length<TAB>asn'" : "'prefix/length'");
			fclose(f);
			return -EINVAL;
		}
		r = parse_prefix(tok[0], tok[1], a, &version, &len);
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: bad %s '%s'", path, lineno,
			         r == -1 ? "address" : "prefix length", r == -1 ? tok[0] : tok[1]);
			fclose(f);
			return -EINVAL;
		}
		if (asn) {
			char *end;
			/* multi-origin entries ("64500_64501") and AS sets take the first AS */
			unsigned long n = strtoul(tok[2], &end, 10);
			uint32_t idx;

			if (end == tok[2] || (*end != '\0' && *end != '_' && *end != ',') ||
			    n > UINT32_MAX) {
				snprintf(err, errlen, "%s:%u: bad AS number '%s'", path, lineno,
				         tok[2]);
				fclose(f);
				return -EINVAL;
			}
			idx = as_index(w, (uint32_t)n);
			if (idx == UINT32_MAX || lpm_add(&w->asn, a, version, len, idx) < 0)
				goto nomem;
		} else {
			if (w->prefixes.n >= MAX_PFX) {
				snprintf(err, errlen, "%s:%u: more than %u prefixes", path, lineno,
				         MAX_PFX);
				fclose(f);
				return -EINVAL;
			}
			if (lpm_add(&w->prefixes, a, version, len, w->prefixes.n) < 0)
				goto nomem;
		}
		added++;
	}
	fclose(f);
	if (added == 0) {
		snprintf(err, errlen, "--watch %s: '%s' holds no prefix", spec, path);
		return -EINVAL;
	}
	if (lpm_build4(asn ? &w->asn : &w->prefixes) < 0) {
		snprintf(err, errlen, "--watch %s: out of memory for the prefixes of '%s'", spec,
		         path);
		return -ENOMEM;
	}
	if (!asn) /* counted only once the trie is there (count_pass looks in it unchecked) */
		w->n_prefixes = w->prefixes.n;
	return 0;
nomem:
	fclose(f);
	snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
	return -ENOMEM;
}

int detect_watch_add(struct detect_watch *w, const char *spec, char *err, size_t errlen)
{
	static const char *const plain[] = {"link", "proto", "vlan", "dport"};
	const char *colon = strchr(spec, ':');
	size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
	int none = strcmp(spec, "none") == 0;

	if (w->added++ > 0 && (none || w->families == 0)) {
		snprintf(err, errlen,
		         "--watch %s: 'none' counts nothing and goes with no other family", spec);
		return -EINVAL;
	}
	if (none) {
		w->families = 0;
		return 0;
	}

	for (unsigned i = 0; i < WR_ARRAY_SIZE(plain); i++)
		if (strlen(plain[i]) == name_len && strncmp(spec, plain[i], name_len) == 0) {
			if (colon) {
				snprintf(err, errlen, "--watch %s: '%s' takes no argument", spec,
				         plain[i]);
				return -EINVAL;
			}
			w->families |= 1u << i;
			return 0;
		}
	if (colon && colon[1] != '\0' && name_len == 8 && strncmp(spec, "prefixes", 8) == 0) {
		int r = load_table(w, spec, colon + 1, 0, err, errlen);

		if (r == 0)
			w->families |= 1u << DETECT_FAM_PREFIX;
		return r;
	}
	/* "dst-prefix" or "dst-prefix:24" (the IPv4 length; IPv6 takes /48) */
	if (strcmp(spec, "dst-prefix") == 0 || strcmp(spec, "dst-prefix:24") == 0) {
		if (w->hh_keys == NULL &&
		    (w->hh_keys = calloc(DETECT_HH_SLOTS, sizeof(*w->hh_keys))) == NULL) {
			snprintf(err, errlen, "--watch %s: out of memory", spec);
			return -ENOMEM;
		}
		w->families |= 1u << DETECT_FAM_DSTPFX;
		return 0;
	}
	if (colon && colon[1] != '\0' && name_len == 3 && strncmp(spec, "asn", 3) == 0) {
		int r = load_table(w, spec, colon + 1, 1, err, errlen);

		if (r == 0)
			w->families |= 1u << DETECT_FAM_ASN;
		return r;
	}
	snprintf(err, errlen,
	         "--watch '%s': expected link, proto, vlan, dport, dst-prefix, prefixes:FILE, "
	         "asn:FILE or none",
	         spec);
	return -EINVAL;
}

const char *detect_family_name(int family)
{
	static const char *const n[] = {"link",   "proto", "vlan",      "dport",
	                                "prefix", "asn",   "dst-prefix"};
	return family >= 0 && family < DETECT_FAM_COUNT ? n[family] : "?";
}

const char *detect_metric_name(int metric)
{
	static const char *const n[] = {"packets", "bits", "flows"};
	return metric >= 0 && metric < DETECT_METRICS ? n[metric] : "?";
}

uint64_t detect_watch_hh_key(const struct detect_watch *w, uint32_t slot)
{
	if (w->hh_keys == NULL || slot >= DETECT_HH_SLOTS)
		return 0;
	return atomic_load_explicit(&w->hh_keys[slot], memory_order_acquire);
}

int detect_hh_key_name(uint64_t key, char *buf, size_t len)
{
	uint8_t a[16] = {0};
	char t[INET6_ADDRSTRLEN];

	if (key >> 56 == 4) {
		wr_put_be32(a, (uint32_t)(key << 8));
		inet_ntop(AF_INET, a, t, sizeof(t));
		snprintf(buf, len, "%s/24", t);
		return 0;
	}
	if (key >> 56 == 6) {
		wr_put_be32(a, (uint32_t)(key >> 16));
		wr_put_be16(a + 4, (uint16_t)key);
		inet_ntop(AF_INET6, a, t, sizeof(t));
		snprintf(buf, len, "%s/48", t);
		return 0;
	}
	return -1;
}

void detect_watch_key_name(const struct detect_watch *w, uint32_t id, char *buf, size_t len)
{
	uint32_t idx = id & 0xffffffu;

	switch (id >> 24) {
	case DETECT_FAM_PROTO: {
		static const struct {
			uint8_t n;
			const char *s;
		} names[] = {{1, "icmp"}, {6, "tcp"},        {17, "udp"},  {47, "gre"},
		             {50, "esp"}, {58, "ipv6-icmp"}, {132, "sctp"}};
		for (unsigned i = 0; i < WR_ARRAY_SIZE(names); i++)
			if (names[i].n == idx) {
				snprintf(buf, len, "%s", names[i].s);
				return;
			}
		snprintf(buf, len, "%u", idx);
		return;
	}
	case DETECT_FAM_PREFIX:
		if (idx < w->prefixes.n) {
			const struct pfx *p = &w->prefixes.v[idx];
			char a[INET6_ADDRSTRLEN];

			inet_ntop(p->version == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
			snprintf(buf, len, "%s/%u", a, p->len);
			return;
		}
		break;
	case DETECT_FAM_ASN:
		if (idx < w->n_as) {
			snprintf(buf, len, "AS%u", w->as_nums[idx]);
			return;
		}
		break;
	case DETECT_FAM_DSTPFX:
		if (detect_hh_key_name(detect_watch_hh_key(w, idx), buf, len) == 0)
			return;
		break;
	default:
		break;
	}
	snprintf(buf, len, "%u", idx);
}

/* ---------------------------------------------------------------------------------------- */
/* Counters                                                                                   */

struct cnt {
	uint64_t packets, bytes;
};

/* The sketch: Misra-Gries in a direct-mapped table. A packet of the bucket's prefix counts
 * up; of another prefix, it takes an empty bucket or wears the holder down by one, so only
 * prefixes heavier than their bucket's competition stay. */
#define HH_CANDS     4096
#define HH_CAND_EMIT (DETECT_HH_ADMIT / 4) /* proposed to the engine from this many */

struct cand {
	uint64_t key;
	uint64_t packets, bytes;
};

/* Packed cells: a packet adds one word, PK_ONE + its bytes, to its cell of each family, one
 * read-modify-write instead of two. A word holds fewer than 2^24 packets and 2^40 bytes, and
 * is folded into its family's 64-bit cell (struct cnt) when the bin closes and whenever the
 * words could overflow before that: after FOLD_PK packets or FOLD_BY bytes, a pass counting
 * at most PASS_MAX packets of at most 2^32 bytes (so a word stays below 2^22 + 64 packets
 * and 2^39 + 2^38 bytes). */
#define PK_ONE   (1ull << 40)
#define PK_BYTES (PK_ONE - 1)
#define PASS_MAX 64u
#define FOLD_PK  (1ull << 22)
#define FOLD_BY  (1ull << 39)

enum { PK_PROTO, PK_VLAN, PK_DPORT, PK_PFX, PK_AS, N_PK };

/* A family counted in a flat array: what a pass counts goes to its words, and the words to
 * its cells. Both are n long, a sink for the packets in no series included: the last cell of
 * the port table, the first of a prefix or AS table (index = the lookup's value + 1). */
struct packed {
	uint64_t *words;   /* counts since the last fold; NULL when the family is not watched */
	struct cnt *cells; /* the bin's counts, as folded */
	uint32_t n;
	uint32_t first, series; /* the series' cells: `series` from cell `first` */
	int family;
};

struct detect_counter {
	const struct detect_watch *w;
	unsigned worker;
	uint64_t bin_ns;
	uint64_t start_ns; /* the open bin's start; 0 before the first packet */
	int finished;
	struct cnt link[MAX_LINKS];
	uint32_t link_flows[MAX_LINKS];
	struct packed pk[N_PK];      /* proto, VLAN, port, prefixes, AS */
	uint64_t since_pk, since_by; /* packets and bytes counted since the last fold */
	/* a packet's cell in the port table is (its port | N_DPORT) & port_mask[its protocol]:
	 * its port for the protocols with ports, and otherwise the table's last cell (N_DPORT),
	 * which is never read */
	uint32_t port_mask[N_PROTO];
	struct cnt *hh;     /* admitted dst-prefix series, by slot */
	uint64_t *hh_tag;   /* the prefix each hh cell has counted in this bin */
	struct cand *cands; /* the heavy-hitter sketch of this bin (HH_CANDS) */
	uint32_t *cand_ids; /* at the bin's close, each candidate's series or DETECT_CANDIDATE:
	                       apart from the sketch, which every packet reads */
};

struct detect_counter *detect_counter_create(const struct detect_watch *w, unsigned worker,
                                             uint64_t bin_ns)
{
	struct detect_counter *c = calloc(1, sizeof(*c));
	const struct packed fam[N_PK] = {
	    [PK_PROTO] = {.n = N_PROTO, .series = N_PROTO, .family = DETECT_FAM_PROTO},
	    [PK_VLAN] = {.n = N_VLAN, .series = N_VLAN, .family = DETECT_FAM_VLAN},
	    [PK_DPORT] = {.n = N_DPORT + 1, .series = N_DPORT, .family = DETECT_FAM_DPORT},
	    [PK_PFX] = {.n = w->n_prefixes + 1,
	                .first = 1,
	                .series = w->n_prefixes,
	                .family = DETECT_FAM_PREFIX},
	    [PK_AS] = {.n = w->n_as + 1, .first = 1, .series = w->n_as, .family = DETECT_FAM_ASN}};

	if (c == NULL || bin_ns == 0)
		goto fail;
	c->w = w;
	c->worker = worker;
	c->bin_ns = bin_ns;
	for (unsigned f = 0; f < N_PK; f++) {
		struct packed *x = &c->pk[f];

		*x = fam[f];
		if (!detect_watch_has(w, x->family)) /* set once a table is loaded and built */
			continue;
		if (!(x->words = calloc(x->n, sizeof(uint64_t))) ||
		    !(x->cells = calloc(x->n, sizeof(struct cnt))))
			goto fail;
	}
	if ((w->hh_keys && !(c->hh = calloc(DETECT_HH_SLOTS, sizeof(struct cnt)))) ||
	    (w->hh_keys && !(c->hh_tag = calloc(DETECT_HH_SLOTS, sizeof(uint64_t)))) ||
	    (w->hh_keys && !(c->cands = calloc(HH_CANDS, sizeof(struct cand)))) ||
	    (w->hh_keys && !(c->cand_ids = calloc(HH_CANDS, sizeof(uint32_t)))))
		goto fail;
	for (unsigned p = 0; p < N_PROTO; p++)
		c->port_mask[p] = p == 6 || p == 17 || p == 132 ? N_DPORT - 1 : N_DPORT;
	return c;
fail:
	detect_counter_free(c);
	errno = ENOMEM;
	return NULL;
}

void detect_counter_free(struct detect_counter *c)
{
	if (c == NULL)
		return;
	for (unsigned f = 0; f < N_PK; f++) {
		free(c->pk[f].words);
		free(c->pk[f].cells);
	}
	free(c->hh);
	free(c->hh_tag);
	free(c->cands);
	free(c->cand_ids);
	free(c);
}

void detect_bin_free(struct detect_bin *b)
{
	if (b == NULL)
		return;
	free(b->cells);
	free(b);
}

static unsigned collect(struct cnt *a, uint32_t n, int family, struct detect_cell *out)
{
	unsigned k = 0;

	if (a == NULL)
		return 0;
	for (uint32_t i = 0; i < n; i++)
		if (a[i].packets) {
			if (out) {
				out[k].id = detect_series_id(family, i);
				out[k].packets = a[i].packets;
				out[k].bytes = a[i].bytes;
				out[k].flows = 0;
				a[i].packets = a[i].bytes = 0;
			}
			k++;
		}
	return k;
}

/* collect() over a flat family's series (its sink left out). */
static unsigned collect_family(const struct packed *x, struct detect_cell *out)
{
	return collect(x->cells ? x->cells + x->first : NULL, x->series, x->family, out);
}

/* Adds the packed words to their cells and clears them. */
static void fold(struct detect_counter *c)
{
	for (unsigned f = 0; f < N_PK; f++) {
		uint64_t *v = c->pk[f].words;
		struct cnt *x = c->pk[f].cells;

		for (uint32_t i = 0; v && i < c->pk[f].n; i++)
			if (v[i]) {
				x[i].packets += v[i] / PK_ONE;
				x[i].bytes += v[i] & PK_BYTES;
				v[i] = 0;
			}
	}
	c->since_pk = c->since_by = 0;
}

/* Hands the open bin to `emit` and opens the next one. */
static void close_bin(struct detect_counter *c, detect_bin_fn emit, void *arg)
{
	struct detect_bin *b = calloc(1, sizeof(*b));
	unsigned n = 0, k = 0;

	fold(c);

	for (unsigned i = 0; i < MAX_LINKS; i++)
		n += c->link[i].packets || c->link_flows[i];
	for (unsigned f = 0; f < N_PK; f++)
		n += collect_family(&c->pk[f], NULL);
	n += collect(c->hh, c->hh ? DETECT_HH_SLOTS : 0, DETECT_FAM_DSTPFX, NULL);
	/* each candidate's fate is decided here, once: a prefix the engine admitted after this
	 * worker counted it in the sketch still reaches its series (the sums are the same as
	 * counted exactly when no other prefix shared the bucket); the rest go as candidates
	 * when they are busy enough, and are dropped (packets 0) otherwise */
	for (unsigned i = 0; c->cands && i < HH_CANDS; i++) {
		struct cand *x = &c->cands[i];
		int32_t slot = x->packets ? hh_find(c->w, x->key) : -1;

		c->cand_ids[i] = slot >= 0 ? detect_series_id(DETECT_FAM_DSTPFX, (uint32_t)slot)
		                           : DETECT_CANDIDATE;
		if (slot < 0 && x->packets < HH_CAND_EMIT)
			x->packets = 0;
		n += x->packets > 0;
	}
	if (b != NULL && n > 0 && (b->cells = calloc(n, sizeof(*b->cells))) == NULL) {
		free(b);
		b = NULL;
	}
	if (b != NULL) {
		b->start_ns = c->start_ns;
		b->worker = c->worker;
	}
	if (b != NULL && n > 0) { /* an empty bin has no cells array to fill (NULL) */
		for (unsigned i = 0; i < MAX_LINKS; i++)
			if (c->link[i].packets || c->link_flows[i]) {
				b->cells[k].id = detect_series_id(DETECT_FAM_LINK, i);
				b->cells[k].packets = c->link[i].packets;
				b->cells[k].bytes = c->link[i].bytes;
				b->cells[k].flows = c->link_flows[i];
				k++;
			}
		for (unsigned f = 0; f < N_PK; f++)
			k += collect_family(&c->pk[f], b->cells + k);
		{
			unsigned k0 = k;

			k += collect(c->hh, c->hh ? DETECT_HH_SLOTS : 0, DETECT_FAM_DSTPFX,
			             b->cells + k);
			for (unsigned i = k0; i < k; i++) /* the engine takes them by prefix */
				b->cells[i].key = c->hh_tag[b->cells[i].id & 0xffffffu];
		}
		for (unsigned i = 0; c->cands && i < HH_CANDS; i++) {
			if (c->cands[i].packets == 0)
				continue;
			b->cells[k].id = c->cand_ids[i];
			b->cells[k].key = c->cands[i].key;
			b->cells[k].packets = c->cands[i].packets;
			b->cells[k].bytes = c->cands[i].bytes;
			k++;
		}
		b->n_cells = k;
	}
	/* out of memory: the bin's counts are lost, but the next one must start clean */
	memset(c->link, 0, sizeof(c->link));
	memset(c->link_flows, 0, sizeof(c->link_flows));
	if (c->cands)
		memset(c->cands, 0, HH_CANDS * sizeof(struct cand));
	if (b == NULL) {
		if (c->hh)
			memset(c->hh, 0, DETECT_HH_SLOTS * sizeof(struct cnt));
		for (unsigned f = 0; f < N_PK; f++)
			if (c->pk[f].cells)
				memset(c->pk[f].cells, 0, c->pk[f].n * sizeof(struct cnt));
		b = calloc(1, sizeof(*b)); /* an empty bin still moves the engine on */
		if (b) {
			b->start_ns = c->start_ns;
			b->worker = c->worker;
		}
	}
	if (b)
		emit(arg, b);
	c->start_ns += c->bin_ns;
}

/* Closes bins until `now` is inside the open one. A jump longer than a few minutes emits
 * 600 empty bins and skips the rest: the series see the silence as a gap. */
static void advance(struct detect_counter *c, uint64_t now, detect_bin_fn emit, void *arg)
{
	unsigned empties = 0;

	while (now >= c->start_ns + c->bin_ns) {
		close_bin(c, emit, arg);
		if (++empties >= 600 && now >= c->start_ns + c->bin_ns) {
			c->start_ns = now - now % c->bin_ns;
			break;
		}
	}
}

/* Counts each packet in words[the value + 1 of its destination's longest prefix in t]; word 0
 * takes the packets in no prefix, and is never read. */
static void count_lpm(uint64_t *words, const struct lpm *t, const struct capture_meta *m,
                      unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		words[lpm_lookup(t, m[i].key.dst, m[i].key.ip_version)] += PK_ONE + m[i].l3_octets;
}

/* dst-prefix: an admitted prefix counts exactly; any other feeds the sketch. */
static void count_hh(struct detect_counter *c, const struct capture_meta *m)
{
	uint64_t key = hh_key(m->key.dst, m->key.ip_version), bytes = m->l3_octets;
	uint32_t hash = hh_hash(key); /* for the admitted sets and the sketch alike */
	int32_t slot = hh_find_hashed(c->w, key, hash);
	struct cand *b;

	if (slot >= 0) {
		if (WR_UNLIKELY(c->hh_tag[slot] != key)) {
			/* the slot held another prefix, retired since: what this bin counted of
			 * that one is no series' any more */
			c->hh_tag[slot] = key;
			c->hh[slot].packets = c->hh[slot].bytes = 0;
		}
		c->hh[slot].packets++;
		c->hh[slot].bytes += bytes;
		return;
	}
	b = &c->cands[hash & (HH_CANDS - 1)];
	if (b->key == key) {
		b->packets++;
		b->bytes += bytes;
	} else if (b->packets == 0) {
		b->key = key;
		b->packets = 1;
		b->bytes = bytes;
	} else {
		b->packets--;
	}
}

/* The families most watched, counted in one pass over the packets of a burst until the first
 * of a later bin. The link sums are kept in registers while consecutive packets share the
 * port, as a burst's packets do (an increment of the cell per packet would chain each packet
 * to the one before through memory, which costs when little else is counted). The protocol,
 * port and prefix are each one increment of a word, whose index is computed without a branch
 * except for the prefix's IP version and trie level: runs of one protocol, summed like the
 * link's, cost more than they save on real links, where TCP and UDP packets alternate. `k` is a
 * constant in each copy the dispatcher below makes, so the families not watched cost nothing.
 * Returns how many packets it counted. */
#define K_PROTO 1u
#define K_DPORT 2u
#define K_PFX   4u
static inline __attribute__((always_inline)) unsigned count_pass(struct detect_counter *c,
                                                                 const struct capture_meta *m,
                                                                 unsigned n, uint64_t end,
                                                                 unsigned k)
{
	const struct lpm *t = &c->w->prefixes;
	const uint32_t *t24 = t->t24, *blk = t->blk; /* there when the prefixes are watched */
	/* in locals: stores to the words could alias the counter's fields */
	uint64_t *proto_w = c->pk[PK_PROTO].words, *dport_w = c->pk[PK_DPORT].words,
	         *pfx_w = c->pk[PK_PFX].words;
	const struct capture_meta *p = m, *stop = m + n, *l_run = m;
	unsigned l_key = m[0].port % MAX_LINKS;
	uint64_t l_by = 0, by = 0; /* the bytes of the link's current run, of the runs before */

	/* a run's packets are the packets since it started: nothing to add per packet. The
	 * first packet counts whatever its time: the caller has moved the bin to it, unless
	 * start + bin overflows (a timestamp near the end of time), and n >= 1. */
	do {
		unsigned port = p->port % MAX_LINKS, proto = p->key.proto;
		uint64_t bytes = p->l3_octets, word = PK_ONE + bytes;

		if (WR_UNLIKELY(port != l_key)) {
			c->link[l_key].packets += (uint64_t)(p - l_run);
			c->link[l_key].bytes += l_by;
			by += l_by;
			l_key = port;
			l_run = p;
			l_by = 0;
		}
		l_by += bytes;
		if (k & K_PROTO)
			proto_w[proto] += word;
		if (k & K_DPORT)
			dport_w[(p->key.dport | N_DPORT) & c->port_mask[proto]] += word;
		if (k & K_PFX)
			pfx_w[WR_LIKELY(p->key.ip_version == 4)
			          ? lpm_walk4(t24, blk, p->key.dst)
			          : lpm_lookup(t, p->key.dst, p->key.ip_version)] += word;
	} while (++p < stop && p->ts_ns < end);
	c->link[l_key].packets += (uint64_t)(p - l_run);
	c->link[l_key].bytes += l_by;
	c->since_pk += (uint64_t)(p - m);
	c->since_by += by + l_by;
	return (unsigned)(p - m);
}

static unsigned count_pass_any(struct detect_counter *c, const struct capture_meta *m, unsigned n,
                               uint64_t end)
{
	switch ((c->pk[PK_PROTO].words ? K_PROTO : 0) | (c->pk[PK_DPORT].words ? K_DPORT : 0) |
	        (c->pk[PK_PFX].words ? K_PFX : 0)) {
	case 0:
		return count_pass(c, m, n, end, 0);
	case K_PROTO:
		return count_pass(c, m, n, end, K_PROTO);
	case K_DPORT:
		return count_pass(c, m, n, end, K_DPORT);
	case K_PROTO | K_DPORT:
		return count_pass(c, m, n, end, K_PROTO | K_DPORT);
	case K_PFX:
		return count_pass(c, m, n, end, K_PFX);
	case K_PROTO | K_PFX:
		return count_pass(c, m, n, end, K_PROTO | K_PFX);
	case K_DPORT | K_PFX:
		return count_pass(c, m, n, end, K_DPORT | K_PFX);
	default:
		return count_pass(c, m, n, end, K_PROTO | K_DPORT | K_PFX);
	}
}

/* The other families, each in a loop of its own over the packets count_pass() counted, so
 * that a family's loads of one packet overlap with those of the next. */
static void count_lookups(struct detect_counter *c, const struct capture_meta *m, unsigned n)
{
	uint64_t *vlan = c->pk[PK_VLAN].words;

	if (vlan)
		for (unsigned i = 0; i < n; i++)
			if (m[i].key.vlan_depth)
				vlan[m[i].key.vlan[0] & (N_VLAN - 1)] += PK_ONE + m[i].l3_octets;
	if (c->pk[PK_AS].words)
		count_lpm(c->pk[PK_AS].words, &c->w->asn, m, n);
	if (c->hh)
		for (unsigned i = 0; i < n; i++)
			count_hh(c, &m[i]);
}

void detect_counter_add_burst(struct detect_counter *c, const struct capture_meta *metas,
                              unsigned n, detect_bin_fn emit, void *arg)
{
	unsigned i = 0;

	if (c->w->families == 0)
		n = 0; /* "none": the bins still close, on the clock (detect_counter_tick) */
	while (i < n) {
		unsigned j;

		if (WR_UNLIKELY(c->start_ns == 0))
			c->start_ns = metas[i].ts_ns - metas[i].ts_ns % c->bin_ns;
		else if (WR_UNLIKELY(metas[i].ts_ns >= c->start_ns + c->bin_ns))
			advance(c, metas[i].ts_ns, emit, arg);
		if (WR_UNLIKELY(c->since_pk >= FOLD_PK || c->since_by >= FOLD_BY))
			fold(c);
		/* the packets up to the first of a later bin (one of an earlier bin, out of
		 * order, counts in the open one), PASS_MAX at most */
		j = i + count_pass_any(c, metas + i, n - i < PASS_MAX ? n - i : PASS_MAX,
		                       c->start_ns + c->bin_ns);
		count_lookups(c, metas + i, j - i);
		i = j;
	}
}

void detect_counter_add_flows(struct detect_counter *c, unsigned link, uint64_t flows)
{
	if (c->w->families == 0)
		return;
	c->link_flows[link % MAX_LINKS] += (uint32_t)flows;
}

void detect_counter_tick(struct detect_counter *c, uint64_t now_ns, int final, detect_bin_fn emit,
                         void *arg)
{
	if (c->finished)
		return;
	/* a worker that has seen no packet yet starts its bins on the clock, or the engine
	 * would wait for it for ever */
	if (c->start_ns == 0 && now_ns != 0)
		c->start_ns = now_ns - now_ns % c->bin_ns;
	else if (now_ns != 0)
		advance(c, now_ns, emit, arg);
	if (final) {
		if (c->start_ns != 0)
			close_bin(c, emit, arg);
		c->finished = 1;
		{
			/* a bin starting at UINT64_MAX tells the engine this worker is done */
			struct detect_bin *b = calloc(1, sizeof(*b));

			if (b) {
				b->worker = c->worker;
				b->start_ns = UINT64_MAX;
				emit(arg, b);
			}
		}
	}
}
