/*
 * Fuzz target: the prefix-to-AS file loader (`--watch asn:FILE`, detect/watch.c) and the
 * prefix list loader that shares its code (`--watch prefixes:FILE`). The input is the file,
 * loaded both ways.
 *
 * A loader must accept the file or refuse it with a message. What it accepts must also count
 * right: the file is read again by a plain reference reader here (lines, '#' comments, the
 * same fields), and packets to addresses in and around every prefix go through a worker's
 * counter; the counts of each AS (and of each prefix) in the closed bin must be those of a
 * longest-prefix match over the reference list, the first of duplicate prefixes winning. That
 * checks the hash table, the IPv4 trie built from it and the IPv6 walk over the lengths.
 * The reference reader follows the loader's line grammar (it is a copy of its rules, not an
 * independent reading): what it checks independently is the matching, not the grammar.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "fuzz.h"
#include "watch.h"
#include "wr.h"

#define LINE_MAX_ 512 /* the loader's line buffer: lines of up to 510 bytes and '\n' */
#define MAX_REF   4096
#define BIN_NS    WR_NS_PER_S
#define MAX_QUERY (4 * MAX_REF)

struct ref_pfx {
	uint8_t addr[16]; /* masked */
	unsigned version, len;
	uint32_t asn;
};

struct ref {
	struct ref_pfx *v;
	unsigned n;
};

/* Clears the bits of a (bytes long) from bit len on. */
static void mask(uint8_t *a, unsigned bytes, unsigned len)
{
	for (unsigned bit = len; bit < 8 * bytes; bit++)
		a[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

/* Reads the file as the loader documents it. 1: accepted, 0: refused. */
static int ref_read(const uint8_t *data, size_t size, int asn, struct ref *r)
{
	size_t off = 0;

	r->n = 0;
	while (off < size) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t seg = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
		char line[LINE_MAX_], *tok[4] = {NULL}, *save = NULL, *s = line, *c;
		unsigned nt = 0;

		/* a line must fit the buffer with its '\n'; the last one may lack it */
		if (nl ? seg > LINE_MAX_ - 1 : seg >= LINE_MAX_ - 1)
			return 0;
		memcpy(line, data + off, seg);
		line[seg] = '\0';
		off += seg;
		/* a NUL hides the line end: refused, but at the end of the file */
		if (nl && strlen(line) < seg)
			return 0;
		if ((c = strchr(line, '#')) != NULL)
			*c = '\0';
		while (nt < 4 && (tok[nt] = strtok_r(s, " \t\r\n", &save)) != NULL) {
			s = NULL;
			nt++;
		}
		if (nt == 0)
			continue;
		if (!asn && nt == 1 && (c = strchr(tok[0], '/')) != NULL) {
			*c = '\0';
			tok[1] = c + 1;
			nt = 2;
		}
		if (nt != (asn ? 3u : 2u))
			return 0;
		{
			struct ref_pfx *p = &r->v[r->n];
			char *end;
			long len;

			if (r->n == MAX_REF)
				return 0; /* more than this test follows: skip the comparison */
			memset(p, 0, sizeof(*p));
			p->version = strchr(tok[0], ':') ? 6 : 4;
			if (inet_pton(p->version == 4 ? AF_INET : AF_INET6, tok[0], p->addr) != 1)
				return 0;
			len = strtol(tok[1], &end, 10);
			if (end == tok[1] || *end != '\0' || len < 0 ||
			    len > (p->version == 4 ? 32 : 128))
				return 0;
			p->len = (unsigned)len;
			mask(p->addr, p->version == 4 ? 4 : 16, p->len);
			if (asn) {
				unsigned long a = strtoul(tok[2], &end, 10);

				if (end == tok[2] || (*end != '\0' && *end != '_' && *end != ',') ||
				    a > UINT32_MAX)
					return 0;
				p->asn = (uint32_t)a;
			}
			r->n++;
		}
	}
	return r->n > 0;
}

static int ref_covers(const struct ref_pfx *p, const uint8_t *addr, unsigned version)
{
	uint8_t a[16] = {0};

	if (p->version != version)
		return 0;
	memcpy(a, addr, version == 4 ? 4 : 16);
	mask(a, version == 4 ? 4 : 16, p->len);
	return memcmp(a, p->addr, 16) == 0;
}

/* The reference's longest match for addr, the first of equal prefixes; NULL for none. */
static const struct ref_pfx *ref_lookup(const struct ref *r, const uint8_t *addr, unsigned version)
{
	const struct ref_pfx *best = NULL;

	for (unsigned i = 0; i < r->n; i++)
		if (ref_covers(&r->v[i], addr, version) &&
		    (best == NULL || r->v[i].len > best->len))
			best = &r->v[i];
	return best;
}

/* Counts per series name, from the cells of one family. */
struct tally {
	char name[MAX_QUERY][64];
	uint64_t packets[MAX_QUERY];
	unsigned n;
};

static void tally_add(struct tally *t, const char *name, uint64_t packets)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strcmp(t->name[i], name) == 0) {
			t->packets[i] += packets;
			return;
		}
	FUZZ_CHECK(t->n < MAX_QUERY);
	snprintf(t->name[t->n], sizeof(t->name[0]), "%s", name);
	t->packets[t->n++] = packets;
}

struct collect {
	const struct detect_watch *w;
	int family;
	struct tally *got;
};

static void on_bin(void *arg, struct detect_bin *b)
{
	struct collect *c = arg;

	for (unsigned i = 0; i < b->n_cells; i++) {
		char name[64];

		if (b->cells[i].id >> 24 != (uint32_t)c->family)
			continue;
		detect_watch_key_name(c->w, b->cells[i].id, name, sizeof(name));
		tally_add(c->got, name, b->cells[i].packets);
	}
	detect_bin_free(b);
}

static void ref_name(const struct ref_pfx *p, int asn, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (asn) {
		snprintf(buf, len, "AS%u", p->asn);
		return;
	}
	inet_ntop(p->version == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

/* Packets to addresses in and around each prefix through a counter of w; the counts per
 * series must be the reference's. */
static void check_counts(const struct detect_watch *w, const struct ref *r, int asn, uint64_t seed)
{
	static struct tally want, got;
	struct capture_meta *m = calloc(4 * (size_t)r->n, sizeof(*m));
	struct detect_counter *ctr = detect_counter_create(w, 0, BIN_NS);
	struct collect col = {w, asn ? DETECT_FAM_ASN : DETECT_FAM_PREFIX, &got};
	unsigned n = 0;

	FUZZ_CHECK(m != NULL && ctr != NULL);
	want.n = got.n = 0;
	for (unsigned i = 0; i < r->n && n + 4 <= MAX_QUERY; i++) {
		const struct ref_pfx *p = &r->v[i];
		unsigned bytes = p->version == 4 ? 4 : 16;

		for (unsigned k = 0; k < 4; k++) {
			struct capture_meta *x = &m[n++];

			x->key.ip_version = (uint8_t)p->version;
			x->ts_ns = 5 * BIN_NS;
			x->l3_octets = 100;
			memcpy(x->key.dst, p->addr, bytes);
			if (k == 1) /* the last address of the prefix */
				for (unsigned bit = p->len; bit < 8 * bytes; bit++)
					x->key.dst[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
			if (k >= 2) /* anywhere: mostly in nothing, or in a short prefix */
				for (unsigned b = 0; b < bytes; b++)
					x->key.dst[b] ^= (uint8_t)wr_xorshift64(&seed);
			if (k == 3 && p->len > 0) /* just outside the prefix, often */
				x->key.dst[(p->len - 1) / 8] ^=
				    (uint8_t)(0x80u >> ((p->len - 1) % 8));
		}
	}
	for (unsigned i = 0; i < n; i++) {
		const struct ref_pfx *p = ref_lookup(r, m[i].key.dst, m[i].key.ip_version);
		char name[64];

		if (p != NULL) {
			ref_name(p, asn, name, sizeof(name));
			tally_add(&want, name, 1);
		}
	}
	detect_counter_add_burst(ctr, m, n, on_bin, &col);
	detect_counter_tick(ctr, 6 * BIN_NS, 1, on_bin, &col);
	FUZZ_CHECK(want.n == got.n);
	for (unsigned i = 0; i < want.n; i++) {
		unsigned j = 0;

		while (j < got.n && strcmp(got.name[j], want.name[i]) != 0)
			j++;
		if (j == got.n || got.packets[j] != want.packets[i]) {
			fprintf(stderr, "%s: %lu packets, counted %lu\n", want.name[i],
			        (unsigned long)want.packets[i],
			        j == got.n ? 0ul : (unsigned long)got.packets[j]);
			abort();
		}
	}
	detect_counter_free(ctr);
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_file file;
	static struct ref_pfx v[MAX_REF];
	struct ref r = {v, 0};
	const char *path = fuzz_file_set(&file, data, size);
	uint64_t seed = 0x9E3779B97F4A7C15ull ^ size;

	for (size_t i = 0; i < size && i < 64; i++)
		seed = (seed ^ data[i]) * 0x100000001b3ull | 1;
	for (int asn = 0; asn < 2; asn++) {
		struct detect_watch *w = detect_watch_create();
		char spec[128], err[1024] = "";
		int rc, ref_ok;

		FUZZ_CHECK(w != NULL);
		snprintf(spec, sizeof(spec), "%s:%s", asn ? "asn" : "prefixes", path);
		rc = detect_watch_add(w, spec, err, sizeof(err));
		ref_ok = ref_read(data, size, asn, &r);
		if (rc < 0) {
			FUZZ_CHECK(err[0] != '\0');
			FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
			/* refused: the reference refuses it too (but for a list longer than it
			 * follows) */
			FUZZ_CHECK(!ref_ok || rc == -ENOMEM);
		} else {
			FUZZ_CHECK(rc == 0);
			FUZZ_CHECK(detect_watch_has(w, asn ? DETECT_FAM_ASN : DETECT_FAM_PREFIX));
			if (ref_ok)
				check_counts(w, &r, asn, seed);
			else
				FUZZ_CHECK(r.n ==
				           MAX_REF); /* accepted: only too long for the test */
		}
		detect_watch_free(w);
	}
	return 0;
}
