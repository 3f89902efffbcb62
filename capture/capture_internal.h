/*
 * Private interface between the parser and the fragment table.
 */
#ifndef CAPTURE_INTERNAL_H
#define CAPTURE_INTERNAL_H

#include "capture.h"

/* What identifies a fragmented datagram: addresses, protocol and IP ID / IPv6 ident. */
struct capture_frag_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint32_t id;
	uint8_t proto;
	uint8_t ip_version;
	uint16_t pad;
};
_Static_assert(sizeof(struct capture_frag_key) == 40, "fragment key layout");

/* Builds the fragment key of the datagram whose flow key is k (addresses and version). */
void capture_frag_key_init(struct capture_frag_key *fk, const struct capture_flow_key *k,
                           uint8_t proto, uint32_t id);

/* Remembers the ports of a first fragment (offset 0, more fragments). t may be NULL. */
void capture_frag_insert(struct capture_frag_table *t, const struct capture_frag_key *fk,
                         const struct capture_meta *m);

/* Gives a non-first fragment the ports and upper-layer protocol of its first fragment, or
 * flags it unmatched (ports stay 0, protocol stays the fragment header's). t may be NULL. */
void capture_frag_lookup(struct capture_frag_table *t, const struct capture_frag_key *fk,
                         struct capture_meta *m);

#endif /* CAPTURE_INTERNAL_H */
