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

/* Frees what probe_options_parse() allocated (strings read from the config file). */
void probe_options_free(struct probe_config *c);

#endif /* PROBE_OPTIONS_H */
