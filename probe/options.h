/*
 * options: weir's settings, from the command line and from a YAML config file (-c FILE).
 *
 * One table (options.c) declares every option: its name (the long option and the file's
 * key), kind, default, bounds, unit and meaning. The table builds the getopt options, applies
 * the defaults, checks values from either source with the same code, and prints `weir --help`
 * and the key reference of docs/CONFIG.md (`weir --help-config`), so they cannot drift apart.
 */
#ifndef PROBE_OPTIONS_H
#define PROBE_OPTIONS_H

#include <stdio.h>

#include "probe.h"

/*
 * Fills c from the defaults, then the config file named by -c (if any), then the rest of the
 * command line (which wins: a list given on the command line replaces the file's). Everything
 * a setting names is checked here (detector parameters, watch files, the Redis URL), so a bad
 * setting stops weir before anything opens. Errors go to stderr naming the option, or the
 * file, line and key, and the bad value. Returns -1 to go on, or an exit status (0 after
 * --help, --version or a successful -t check).
 */
int probe_options_parse(int argc, char **argv, struct probe_config *c);

/* Writes the settings in c as a config file that gives them (what -t prints). */
void probe_options_print(FILE *f, const struct probe_config *c);

/* url with the password of its userinfo ("scheme://[user]:PASSWORD@host...") replaced by
 * "****", in buf; url itself when it has none. For everything weir prints or logs. */
const char *probe_redact_url(const char *url, char *buf, size_t len);

/* For each option (a config file key) whose value differs between a and b: fn(arg, key,
 * value in a, value in b, whether a running weir takes it up). Returns how many differ. */
unsigned probe_options_diff(const struct probe_config *a, const struct probe_config *b,
                            void (*fn)(void *arg, const char *key, const char *was, const char *now,
                                       int reloadable),
                            void *arg);

/* Moves the strings next owns to c (a reload keeps some of next's values). */
void probe_options_adopt(struct probe_config *c, struct probe_config *next);

/* Frees what probe_options_parse() allocated (strings read from the config file). */
void probe_options_free(struct probe_config *c);

#endif /* PROBE_OPTIONS_H */
