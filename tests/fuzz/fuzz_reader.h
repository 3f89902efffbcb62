/*
 * The body of the capture-file fuzz targets (fuzz_pcap.c, fuzz_pcapng.c, fuzz_erf.c): the
 * input is a whole file, read through the pcap driver's ops as weir reads an input (open,
 * start, bursts until the end or an error, stats, close), every packet parsed.
 *
 * The reader recognises the format from the content, so the three targets run the same code;
 * each has a corpus of its own format, so that a campaign mutates files of that format.
 *
 * Checks beyond not crashing: every packet's bytes are read (so a sanitizer sees a packet
 * that points outside the reader's buffer), the captured length is at most the wire length, a
 * burst holds at most what was asked, the end is -ENODATA or an error with a message and stays
 * so, the counters add up, and a file up to a pipe's capacity read from a pipe (the reader
 * then polls, and a record cut by a short read ends a burst early) gives exactly the packets
 * and the end of the same file read as a regular file.
 */
#ifndef FUZZ_READER_H
#define FUZZ_READER_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "drv_pcap.h"
#include "fuzz.h"
#include "wr.h"

#define FUZZ_READER_PORT 7
#define FUZZ_PIPE_MAX    65536 /* a pipe's default capacity: written whole before reading */

/* What a packet was, to compare two reads of the same bytes. */
struct fuzz_pkt_sum {
	uint32_t caplen, wirelen;
	uint64_t ts_ns;
	uint64_t digest; /* FNV-1a of the captured bytes */
	uint16_t linktype;
};

struct fuzz_read {
	struct fuzz_pkt_sum *pkts;
	size_t n, cap;
	int end;                 /* what the last rx_burst returned: -ENODATA or the error */
	struct capture_stats st; /* the driver's counters at the end */
};

static uint64_t fuzz_digest(const uint8_t *p, uint32_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Reads the file at path with bursts of at most `burst` packets into *r. Returns 0, or the
 * open's -errno (the file was refused). */
static int fuzz_read_file(const char *path, unsigned burst, struct capture_frag_table *frags,
                          struct fuzz_read *r)
{
	const struct capture_driver_ops *ops = &drv_pcap_ops;
	struct capture_open_params params = {.port = FUZZ_READER_PORT};
	struct capture_pkt pkts[64];
	char err[CAPTURE_ERR_LEN] = "";
	uint64_t bytes = 0, done, total, last_done = 0;
	unsigned empty = 0;
	void *h = NULL;
	int rc;

	memset(r, 0, sizeof(*r));
	rc = ops->open(path, &params, &h, err, sizeof(err));
	if (rc < 0) {
		FUZZ_CHECK(err[0] != '\0');
		return rc;
	}
	FUZZ_CHECK(ops->caps(h) & CAPTURE_CAP_OFFLINE);
	FUZZ_CHECK(ops->start(h) == 0);
	for (;;) {
		rc = ops->rx_burst(h, pkts, burst);
		if (rc < 0)
			break;
		FUZZ_CHECK((unsigned)rc <= burst);
		/* a regular file never waits; a pipe whose writer is gone does not either */
		empty = rc == 0 ? empty + 1 : 0;
		FUZZ_CHECK(empty < 1000);
		for (int i = 0; i < rc; i++) {
			const struct capture_pkt *p = &pkts[i];
			struct capture_meta m;

			FUZZ_CHECK(p->caplen <= p->wirelen);
			FUZZ_CHECK(p->port == FUZZ_READER_PORT);
			if (r->n == r->cap) {
				size_t cap = r->cap ? 2 * r->cap : 256;
				struct fuzz_pkt_sum *v = realloc(r->pkts, cap * sizeof(*v));

				FUZZ_CHECK(v != NULL);
				r->pkts = v;
				r->cap = cap;
			}
			r->pkts[r->n++] = (struct fuzz_pkt_sum){
			    .caplen = p->caplen,
			    .wirelen = p->wirelen,
			    .ts_ns = p->ts_ns,
			    .digest = fuzz_digest(p->data, p->caplen),
			    .linktype = p->linktype,
			};
			bytes += p->wirelen;
			(void)capture_parse(p, frags, &m);
		}
		/* the reader's offset only moves forward (done <= total holds by construction) */
		if (ops->progress && ops->progress(h, &done, &total) == 0) {
			FUZZ_CHECK(done >= last_done);
			last_done = done;
		}
	}
	r->end = rc;
	if (rc != -ENODATA)
		FUZZ_CHECK(ops->last_error(h)[0] != '\0');
	/* the end stays the end */
	FUZZ_CHECK(ops->rx_burst(h, pkts, burst) == rc);
	ops->stats(h, &r->st);
	FUZZ_CHECK(r->st.packets == r->n);
	FUZZ_CHECK(r->st.bytes == bytes);
	ops->stop(h);
	FUZZ_CHECK(ops->rx_burst(h, pkts, burst) == -ENODATA);
	ops->close(h);
	return 0;
}

/* The same bytes through a pipe: written whole (they fit), the write end closed, then read. */
static int fuzz_read_pipe(const uint8_t *data, size_t size, unsigned burst, struct fuzz_read *r)
{
	char path[64];
	int p[2], rc;
	size_t off = 0;

	FUZZ_CHECK(pipe2(p, O_CLOEXEC) == 0);
	while (off < size) {
		ssize_t w = write(p[1], data + off, size - off);

		FUZZ_CHECK(w > 0);
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", p[0]);
	/* opened while the write end is still open, so the open does not wait for a writer */
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		FUZZ_CHECK(fd >= 0);
		close(p[1]);
		close(p[0]);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		rc = fuzz_read_file(path, burst, NULL, r);
		close(fd);
	}
	return rc;
}

static int fuzz_reader_run(const uint8_t *data, size_t size)
{
	static struct fuzz_file file;
	struct capture_frag_table *frags = capture_frag_create(256, 30 * WR_NS_PER_S);
	struct fuzz_read a, b;
	int rc_a, rc_b;

	FUZZ_CHECK(frags != NULL);
	rc_a = fuzz_read_file(fuzz_file_set(&file, data, size), 32, frags, &a);
	capture_frag_free(frags);
	if (size <= FUZZ_PIPE_MAX) {
		/* another burst size, so that bursts end at other records */
		rc_b = fuzz_read_pipe(data, size, 1 + (unsigned)(size % 61), &b);
		FUZZ_CHECK(rc_a == rc_b);
		if (rc_a == 0) {
			FUZZ_CHECK(a.end == b.end);
			FUZZ_CHECK(a.n == b.n);
			for (size_t i = 0; i < a.n; i++) {
				const struct fuzz_pkt_sum *x = &a.pkts[i], *y = &b.pkts[i];

				FUZZ_CHECK(x->caplen == y->caplen && x->wirelen == y->wirelen);
				FUZZ_CHECK(x->ts_ns == y->ts_ns && x->digest == y->digest);
				FUZZ_CHECK(x->linktype == y->linktype);
			}
			FUZZ_CHECK(a.st.truncated_file == b.st.truncated_file);
			FUZZ_CHECK(a.st.dropped == b.st.dropped);
		}
		free(b.pkts);
	}
	free(a.pkts);
	return 0;
}

#endif /* FUZZ_READER_H */
