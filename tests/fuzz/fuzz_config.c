/*
 * Fuzz target: the config file. The input is the file; it goes through the option parser as
 * `weir -t -c FILE` reads it (libyaml, the option table, every check, the files a watch names)
 * and must be accepted (0) or refused with a message (2), never anything else. What the parser
 * prints goes to /dev/null.
 *
 * An accepted file is checked further, as the -t contract says: what -t prints is itself a
 * config file that must be accepted and give the same settings (probe_options_diff finds no
 * key that differs). Its difference from the defaults is taken too, as a reload would.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "options.h"
#include "probe.h"
#include "watch.h"

/* Parses `weir -t -c path` into c (zeroed first). Returns the exit status. */
static int parse_file(const char *path, struct probe_config *c)
{
	/* c keeps pointers to the arguments (the file's name): they must outlive it */
	static char a0[] = "weir", a1[] = "-t", a2[] = "-c";
	char *argv[] = {a0, a1, a2, (char *)path, NULL};
	int rc;

	memset(c, 0, sizeof(*c));
	fuzz_quiet(1);
	rc = probe_options_parse(4, argv, c);
	fuzz_quiet(0);
	FUZZ_CHECK(rc == 0 || rc == 2);
	return rc;
}

static void config_free(struct probe_config *c)
{
	detect_watch_free(c->watch_built);
	c->watch_built = NULL;
	probe_options_free(c);
}

static void count_diff(void *arg, const char *key, const char *was, const char *now, int reloadable)
{
	unsigned *n = arg;

	(void)reloadable;
	FUZZ_CHECK(key != NULL && key[0] != '\0' && was != NULL && now != NULL);
	FUZZ_CHECK(strcmp(was, now) != 0);
	(*n)++;
}

/* Names the key that differs when a round trip fails, to make a finding readable. */
static void print_diff(void *arg, const char *key, const char *was, const char *now, int reloadable)
{
	(void)arg;
	(void)reloadable;
	fprintf(stderr, "round trip changed %s: '%s' -> '%s'\n", key, was, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_file file, again;
	static struct probe_config defaults;
	static int have_defaults;
	struct probe_config c, c2;
	char *text = NULL;
	size_t len = 0;
	unsigned n = 0;
	FILE *f;

	if (!have_defaults) {
		/* the smallest accepted file: an input and an output, the rest defaults */
		static const char base[] = "input: [\"pcap:x.pcap\"]\noutput: [\"ipfix:file:x\"]\n";

		FUZZ_CHECK(parse_file(fuzz_file_set(&again, (const uint8_t *)base, strlen(base)),
		                      &defaults) == 0);
		have_defaults = 1;
	}
	if (parse_file(fuzz_file_set(&file, data, size), &c) != 0) {
		config_free(&c);
		return 0;
	}
	/* the diff a reload logs, against the defaults: every key it names must differ */
	n = 0;
	probe_options_diff(&defaults, &c, count_diff, &n);

	/* -t's output gives the same settings */
	f = open_memstream(&text, &len);
	FUZZ_CHECK(f != NULL);
	probe_options_print(f, &c);
	FUZZ_CHECK(fclose(f) == 0);
	if (parse_file(fuzz_file_set(&again, (const uint8_t *)text, len), &c2) != 0) {
		fprintf(stderr, "-t printed a config that is refused:\n%s", text);
		abort();
	}
	n = 0;
	probe_options_diff(&c, &c2, count_diff, &n);
	if (n != 0) {
		probe_options_diff(&c, &c2, print_diff, NULL);
		abort();
	}
	free(text);
	config_free(&c2);
	config_free(&c);
	return 0;
}
