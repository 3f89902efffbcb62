/*
 * options: the option table, the command line, the YAML config file and the help it prints.
 *
 * The config file is YAML read with libyaml (Debian libyaml-dev): a mapping of the long option
 * names to values, lists for the repeatable ones, and a mapping for the detector's parameters.
 * libyaml was chosen over libconfig because operators already write YAML for their other
 * daemons and collectors, and because its document API keeps the line of every node, which
 * every error message here names.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include <pwd.h>
#include <sys/socket.h>

#include "control.h"
#include "redispub.h"
#include "weir_config.h"
#include "wr_log.h"

#define OPT_ERR_LEN 512

enum opt_kind {
	OPT_UINT, /* a whole number in [min, max], stored in a 2-, 4- or 8-byte field */
	OPT_STR,  /* a string */
	OPT_FLAG, /* no value on the command line; true or false in the file */
	OPT_LIST, /* repeatable: each value adds to a list; the command line's list replaces
	             the file's */
	OPT_FN,   /* checked and stored by a function of its own */
};

#define OF_CLI    0x1u  /* command line only */
#define OF_FILE   0x2u  /* config file only */
#define OF_REPEAT 0x4u  /* OPT_FN: repeatable (a list in the file) */
#define OF_MAP    0x10u /* OPT_FN: a mapping of KEY: VALUE in the file, each applied as KEY=VALUE */
#define OF_RELOAD 0x8u  /* taken up by a running weir on SIGHUP (the others at the next start) */
#define OF_SECRET 0x20u /* OPT_STR: a URL whose password is never printed */

struct parse_state;

struct opt_def {
	const char *name; /* long option and file key */
	char short_name;
	enum opt_kind kind;
	unsigned flags;
	const char *metavar;
	const char *def;      /* default value, applied before the file is read; NULL: none */
	const char *def_note; /* how the default reads when it is not a value */
	const char *unit;
	uint64_t min, max; /* OPT_UINT */
	size_t off, size;  /* OPT_UINT, OPT_STR, OPT_FLAG: the field; OPT_LIST: the array */
	size_t count_off;  /* OPT_LIST: its unsigned count */
	unsigned list_max;
	int (*fn)(struct parse_state *st, const char *val, char *err, size_t errlen);
	/* OPT_FN: forgets the file's values when the command line gives the option (a
	 * repeatable one), and prints the value in effect */
	void (*reset)(struct parse_state *st);
	void (*print)(FILE *f, const struct opt_def *o, const struct probe_config *c);
	/* OPT_STR: checks a value before it is stored (0, or -1 with the reason) */
	int (*check)(const char *val, char *err, size_t errlen);
	const char *section; /* starts a group in --help */
	const char *help;
};

/* Where a setting came from, for messages about it. */
struct origin {
	const char *file; /* NULL: the command line */
	unsigned line;
};

#define LIST_MAX PROBE_MAX_EAL /* the longest list option */
_Static_assert(PROBE_MAX_INPUTS <= LIST_MAX && PROBE_MAX_OUTPUTS <= LIST_MAX &&
                   PROBE_MAX_WATCH <= LIST_MAX,
               "list_line has room for every list");

struct parse_state {
	struct probe_config *c;
	struct capture_sampler_params every; /* --sample without N= */
	struct origin origin[64];            /* per table entry: where its last value came from */
	struct origin cur;                   /* the value being applied */
	unsigned list_line[64][LIST_MAX];    /* file line of each list item, 0: none */
	unsigned sample_line[PROBE_MAX_INPUTS];   /* file line of sample N=..., 0: none */
	struct origin detect_at[DETECT_N_PARAMS]; /* where each detector key was set */
};

/* Strings read from the config file live as long as the config: a list freed at the end. */
struct probe_owned {
	struct probe_owned *next;
	char s[];
};

static const char *keep(struct probe_config *c, const char *s, size_t len)
{
	struct probe_owned *o = malloc(sizeof(*o) + len + 1);

	if (o == NULL)
		return NULL;
	memcpy(o->s, s, len);
	o->s[len] = '\0';
	o->next = c->owned;
	c->owned = o;
	return o->s;
}

/* "k=v", kept like keep()'s strings. */
static const char *keep_join(struct probe_config *c, const char *k, const char *v)
{
	size_t lk = strlen(k), lv = strlen(v);
	struct probe_owned *o = malloc(sizeof(*o) + lk + lv + 2);

	if (o == NULL)
		return NULL;
	memcpy(o->s, k, lk);
	o->s[lk] = '=';
	memcpy(o->s + lk + 1, v, lv + 1);
	o->next = c->owned;
	c->owned = o;
	return o->s;
}

void probe_options_free(struct probe_config *c)
{
	struct probe_owned *o = c->owned, *next;

	for (; o != NULL; o = next) {
		next = o->next;
		free(o);
	}
	c->owned = NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Printing values as the file writes them                                                    */

static uint64_t get_num(const struct probe_config *c, const struct opt_def *o)
{
	const uint8_t *field = (const uint8_t *)c + o->off;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	if (o->size == sizeof(v16)) {
		memcpy(&v16, field, sizeof(v16));
		return v16;
	}
	if (o->size == sizeof(v32)) {
		memcpy(&v32, field, sizeof(v32));
		return v32;
	}
	memcpy(&v64, field, sizeof(v64));
	return v64;
}

/* v in the fewest digits (15 or 17) that read back as v. */
static const char *exact(double v, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, len, "%.17g", v);
	return buf;
}

/* Writes v escaped for a YAML double-quoted string: control characters as \xNN, and as \xNN
 * or \uNNNN the characters a YAML reader would not give back as they are, so that the text
 * reads back to v: C1 controls (U+0085 among them, a line break), the line breaks U+2028 and
 * U+2029 (folded into a space) and U+FEFF, U+FFFE, U+FFFF (refused). Other bytes go as they
 * are. */
static void put_escaped(FILE *f, const char *v)
{
	for (; *v; v++) {
		const unsigned char *u = (const unsigned char *)v;

		if (u[0] == '"' || u[0] == '\\') {
			fprintf(f, "\\%c", u[0]);
		} else if (u[0] < 0x20 || u[0] == 0x7f) {
			fprintf(f, "\\x%02x", u[0]);
		} else if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f) {
			fprintf(f, "\\x%02x", u[1]);
			v++;
		} else if ((u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9)) ||
		           (u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf) ||
		           (u[0] == 0xef && u[1] == 0xbf && (u[2] == 0xbe || u[2] == 0xbf))) {
			fprintf(f, "\\u%04x",
			        (u[0] & 0x0fu) << 12 | (u[1] & 0x3fu) << 6 | (u[2] & 0x3fu));
			v += 2;
		} else {
			fputc(u[0], f);
		}
	}
}

/* Prints "<a><b>"value"" with the value as a YAML double-quoted string. */
static void put_quoted(FILE *f, const char *a, const char *b, const char *v)
{
	fprintf(f, "%s%s\"", a, b);
	put_escaped(f, v);
	fputs("\"\n", f);
}

/* ---------------------------------------------------------------------------------------- */
/* Options parsed by functions of their own                                                   */

/* --sample [N=]SPEC or [N=]none: for input N (1-based), or every input without its own. */
static int set_sample(struct parse_state *st, const char *arg, char *err, size_t errlen)
{
	struct probe_config *c = st->c;
	const char *eq = strchr(arg, '='), *spec = arg;
	struct capture_sampler_params sp = {.algo = CAPTURE_SAMPLE_NONE};
	char num[16], why[256];
	uint64_t n = 0;

	if (eq != NULL && eq > arg && strspn(arg, "0123456789") == (size_t)(eq - arg)) {
		if ((size_t)(eq - arg) >= sizeof(num)) {
			snprintf(err, errlen, "input number too long");
			return -EINVAL;
		}
		memcpy(num, arg, (size_t)(eq - arg));
		num[eq - arg] = '\0';
		if (wr_parse_u64(num, 1, PROBE_MAX_INPUTS, &n) < 0) {
			snprintf(err, errlen, "input number '%s' not in [1, %d]", num,
			         PROBE_MAX_INPUTS);
			return -EINVAL;
		}
		spec = eq + 1;
	}
	if (strcmp(spec, "none") != 0 && capture_sampler_parse(spec, &sp, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	if (n == 0) {
		st->every = sp;
		c->sample_every = sp.algo == CAPTURE_SAMPLE_NONE ? NULL : spec;
	} else {
		c->sample[n - 1] = sp;
		c->sample_spec[n - 1] = sp.algo == CAPTURE_SAMPLE_NONE ? NULL : spec;
		c->sample_own[n - 1] = 1;
		st->sample_line[n - 1] = st->cur.line;
	}
	return 0;
}

/* The command line's --sample replaces the file's selectors, like its lists. */
static void reset_sample(struct parse_state *st)
{
	st->every = (struct capture_sampler_params){.algo = CAPTURE_SAMPLE_NONE};
	st->c->sample_every = NULL;
	memset(st->c->sample_own, 0, sizeof(st->c->sample_own));
	memset(st->sample_line, 0, sizeof(st->sample_line));
}

static void print_sample(FILE *f, const struct opt_def *o, const struct probe_config *c)
{
	fprintf(f, "%s:\n", o->name);
	put_quoted(f, " ", " - ", c->sample_every ? c->sample_every : "none");
	for (unsigned k = 0; k < PROBE_MAX_INPUTS; k++)
		if (c->sample_own[k]) {
			fprintf(f, "  - \"%u=", k + 1);
			put_escaped(f, c->sample_spec[k] ? c->sample_spec[k] : "none");
			fputs("\"\n", f);
		}
}

static int set_timestamps(struct parse_state *st, const char *val, char *err, size_t errlen)
{
	if (strcmp(val, "ms") != 0 && strcmp(val, "ns") != 0) {
		snprintf(err, errlen, "'%s' is not ms or ns", val);
		return -EINVAL;
	}
	st->c->ipfix.time_ns = val[0] == 'n';
	return 0;
}

static void print_timestamps(FILE *f, const struct opt_def *o, const struct probe_config *c)
{
	fprintf(f, "%s: %s\n", o->name, c->ipfix.time_ns ? "ns" : "ms");
}

/* --metrics ADDR:PORT: an IPv4 or IPv6 loopback address (the counters are not for the
 * network at large) and a port. */
static int check_loopback(const char *val, char *err, size_t errlen)
{
	struct sockaddr_storage sa;

	return probe_parse_loopback(val, &sa, err, errlen);
}

/* --user NAME: must exist now, so that a typo stops weir before it opens anything. */
static int check_user(const char *val, char *err, size_t errlen)
{
	errno = 0;
	if (getpwnam(val) != NULL)
		return 0;
	snprintf(err, errlen, "no user '%s'%s%s", val, errno ? ": " : "",
	         errno ? strerror(errno) : "");
	return -1;
}

static const char *nearest(const char *key, const char *(*name)(unsigned));

/* --detect KEY=VALUE. An unknown key gets the nearest known one as a hint. */
static int set_detect(struct parse_state *st, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	int i = eq ? detect_param_index(kv, (size_t)(eq - kv)) : -1;

	if (detect_params_set(&st->c->detect, kv, err, errlen) == 0) {
		st->detect_at[i] = st->cur; /* set: the key is known */
		return 0;
	}
	if (eq != NULL && i < 0) {
		char key[64];
		const char *best;
		size_t used = strlen(err);

		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		if ((best = nearest(key, detect_param_name)) != NULL)
			snprintf(err + used, errlen - used, " (did you mean '%s'?)", best);
	}
	return -EINVAL;
}

static void print_detect(FILE *f, const struct opt_def *o, const struct probe_config *c)
{
	char num[40];

	fprintf(f, "%s:\n", o->name);
	for (unsigned k = 0; detect_param_name(k) != NULL; k++)
		fprintf(f, "  %s: %s\n", detect_param_name(k),
		        exact(detect_param_value(&c->detect, k), num, sizeof(num)));
}

/* ---------------------------------------------------------------------------------------- */
/* The table                                                                                  */

#define FIELD(f) \
	.off = offsetof(struct probe_config, f), .size = sizeof(((struct probe_config *)0)->f)
#define NUM(n, mv, d, u, lo, hi, f)                                                            \
	.name = n, .kind = OPT_UINT, .metavar = mv, .def = d, .unit = u, .min = lo, .max = hi, \
	FIELD(f)
#define LIST(n, f, cnt, most)                                                                   \
	.name = n, .kind = OPT_LIST, FIELD(f), .count_off = offsetof(struct probe_config, cnt), \
	.list_max = most

static const struct opt_def opts[] = {
    {.section = "Inputs and outputs",
     .name = "config",
     .short_name = 'c',
     .kind = OPT_STR,
     .flags = OF_CLI,
     .metavar = "FILE",
     FIELD(config_file),
     .help = "read settings from the YAML file FILE (docs/CONFIG.md); the command line "
             "wins"},
    {.name = "check",
     .short_name = 't',
     .kind = OPT_FLAG,
     .flags = OF_CLI,
     FIELD(check_only),
     .help = "check the settings (and the files they name), print a line and exit"},
    {LIST("input", inputs, n_inputs, PROBE_MAX_INPUTS), .short_name = 'i', .metavar = "INPUT",
     .help = "add an input (repeatable; the types are listed above)"},
    {LIST("output", outputs, n_outputs, PROBE_MAX_OUTPUTS), .short_name = 'o', .metavar = "OUTPUT",
     .help = "add an output (repeatable; the types are listed above)"},

    {.section = "Flow cache",
     NUM("idle-timeout", "SEC", "15", "s", 1, 86400, idle_timeout_s),
     .flags = OF_RELOAD,
     .help = "export a flow after SEC seconds without packets"},
    {NUM("active-timeout", "SEC", "1800", "s", 1, 7 * 86400, active_timeout_s), .flags = OF_RELOAD,
     .help = "export long flows every SEC seconds"},
    {NUM("max-flows", "N", "1048576", "flows", 1, 1u << 28, max_flows),
     .help = "concurrent flows per input before eviction"},
    {NUM("workers", "N", "1", "threads", 1, PROBE_MAX_WORKERS, workers),
     .help = "flow-cache threads per input; packets reach them by symmetric RSS (DPDK) or "
             "a symmetric software hash"},
    {.name = "rx-thread",
     .kind = OPT_FLAG,
     FIELD(rx_thread),
     .help = "read (and parse) each queue in a thread of its own even with one worker: a "
             "two-core pipeline"},
    {.name = "no-pin",
     .kind = OPT_FLAG,
     FIELD(no_pin),
     .help = "do not pin threads to CPUs (by default, when there are CPUs enough, each "
             "packet thread gets its own and the exporter another)"},
    {.name = "biflow",
     .kind = OPT_FLAG,
     FIELD(biflow),
     .help = "one record per bidirectional flow (RFC 5103), keyed by the first packet's "
             "direction, with reverse counters"},
    {.name = "sample",
     .kind = OPT_FN,
     .flags = OF_REPEAT,
     .metavar = "[N=]SPEC",
     .fn = set_sample,
     .reset = reset_sample,
     .print = print_sample,
     .def_note = "none",
     .help = "select packets before the table, on every input or on input N (1 = the "
             "first input; repeatable; N= wins): count:N (1 in N), random:N (1 of every N "
             "at random), prob:P, hash:N (RFC 5475, invariant fields), flow:N (whole flows), "
             "each with optional ,seed=S; or none"},

    {.section = "IPFIX export",
     NUM("odid", "N", "1", NULL, 0, UINT32_MAX, ipfix.odid),
     .help = "IPFIX observation domain id"},
    {NUM("template-refresh", "SEC", "20", "s", 1, 86400, ipfix.template_refresh_s),
     .help = "UDP: re-send templates every SEC seconds"},
    {NUM("template-refresh-msgs", "N", "0", "messages", 0, 1000000, ipfix.template_refresh_msgs),
     .help = "UDP: ... and every N messages, 0 = never"},
    {.name = "timestamps",
     .kind = OPT_FN,
     .metavar = "ms|ns",
     .def = "ms",
     .fn = set_timestamps,
     .print = print_timestamps,
     .help = "flowStart/EndMilliseconds or flowStart/EndNanoseconds"},
    {NUM("stats-refresh", "SEC", "60", "s", 1, 86400, ipfix.stats_refresh_s),
     .help = "send the statistics options records every SEC seconds (also with every "
             "template set and at the end)"},
    {NUM("rotate-size", "BYTES", "0", "bytes", 0, UINT64_MAX, ipfix.file_rotate_bytes),
     .help = "file: start a new file past BYTES, 0 = never"},
    {NUM("rotate-interval", "SEC", "0", "s", 0, 366 * 86400, ipfix.file_rotate_s),
     .help = "file: start a new file every SEC seconds, 0 = never"},
    {NUM("udp-rate", "N", "20000", "messages/s", 0, 10000000, ipfix.udp_pace_mps),
     .help = "UDP: at most N messages per second, 0 = unpaced"},
    {NUM("udp-mtu", "BYTES", "1400", "bytes", 512, 65000, ipfix.udp_max_msg),
     .help = "UDP: largest IPFIX message"},

    {.section = "Capture",
     NUM("snaplen", "BYTES", "262144", "bytes", 64, 262144, capture.snaplen),
     .help = "live: bytes captured per packet"},
    {NUM("buffer-mb", "MB", "64", "MiB", 1, 4096, capture.buffer_mb),
     .help = "live: kernel capture buffer"},
    {.name = "filter",
     .kind = OPT_STR,
     .metavar = "BPF",
     FIELD(capture.filter),
     .help = "live: capture filter expression"},
    {NUM("mbufs", "N", NULL, "buffers", 1024, 1u << 24, capture.mbufs),
     .def_note = "driver default", .help = "DPDK: packet buffers per port"},
    {NUM("mtu", "BYTES", NULL, "bytes", 68, 9600, capture.mtu), .def_note = "unchanged",
     .help = "DPDK: port MTU (jumbo frames)"},
    {LIST("eal", eal_file, n_eal_file, PROBE_MAX_EAL), .flags = OF_FILE, .metavar = "ARG",
     .help = "DPDK: EAL arguments (a list; on the command line they follow '--' at the "
             "end)"},
    {NUM("duration", "SEC", NULL, "s", 1, 365 * 86400, duration_s), .def_note = "no limit",
     .help = "stop capturing after SEC seconds (as on SIGTERM)"},

    {.section = "Rate anomaly alerts (drops and surges of packets, bits and new flows per "
                "second)",
     LIST("watch", watch, n_watch, PROBE_MAX_WATCH),
     .metavar = "FAMILY[:ARG]",
     .help = "count and check an aggregate besides the link (repeatable): proto, vlan, "
             "dport, dst-prefix (automatic series for the busy destination /24s and /48s), "
             "prefixes:FILE (one PREFIX/LEN per line), asn:FILE (prefix<TAB>length<TAB>asn); "
             "none alone counts nothing, not even the link (flows only; no rate alert, but "
             "probe_degraded still)"},
    {NUM("bin-ms", "MS", "1000", "ms", 100, 60000, bin_ms), .help = "counting bin"},
    {.name = "detect",
     .kind = OPT_FN,
     .flags = OF_REPEAT | OF_MAP | OF_RELOAD,
     .metavar = "KEY=VALUE",
     .fn = set_detect,
     .print = print_detect,
     .def_note = "docs/DETECTION.md",
     .help = "a detector parameter (repeatable; in the file, a mapping of KEY: VALUE; see "
             "docs/DETECTION.md), e.g. drop_warning=0.5, raise_critical_s=3, warmup_s=600"},
    {.name = "redis",
     .kind = OPT_STR,
     .flags = OF_SECRET,
     .metavar = "URL",
     FIELD(redis_url),
     .help = "publish alerts to redis://[:PASSWORD@]HOST:PORT[/DB]"},
    {.name = "redis-prefix",
     .kind = OPT_STR,
     .metavar = "P",
     .def = "weir",
     FIELD(redis_prefix),
     .help = "key prefix: P:alerts, P:active, P:alerts:live"},
    {.name = "alerts-file",
     .kind = OPT_STR,
     .metavar = "FILE",
     FIELD(alerts_file),
     .help = "also write every alert message as a JSON line to FILE"},
    {.name = "probe-id",
     .kind = OPT_STR,
     .metavar = "NAME",
     FIELD(probe_id),
     .def_note = "the host name",
     .help = "this probe's name in alerts"},

    {.section = "Running as a service",
     NUM("status-interval", "SEC", "5", "s", 0, 3600, status_interval_s),
     .flags = OF_RELOAD,
     .help = "when stderr is a terminal, a status line every SEC seconds (rates, flows, "
             "drops by place, alerts firing; a progress bar when reading files); 0 = none"},
    {.name = "metrics",
     .kind = OPT_STR,
     .metavar = "ADDR:PORT",
     FIELD(metrics),
     .check = check_loopback,
     .help = "serve Prometheus metrics at http://ADDR:PORT/metrics, ADDR a loopback "
             "address (127.0.0.1:9465, [::1]:9465)"},
    {.name = "control-socket",
     .kind = OPT_STR,
     .metavar = "PATH",
     FIELD(control_socket),
     .help = "answer weirctl on the unix socket PATH (stats, flows top N, alerts, config)"},
    {.name = "user",
     .kind = OPT_STR,
     .metavar = "NAME",
     FIELD(user),
     .check = check_user,
     .help = "once every input, output and socket is open, switch to user NAME and its "
             "groups"},
    {.name = "allow-root",
     .kind = OPT_FLAG,
     FIELD(allow_root),
     .help = "run as root without --user (weir refuses to, otherwise)"},
    {.name = "log-level",
     .kind = OPT_STR,
     .metavar = "SPEC",
     .def = "info",
     FIELD(log_level),
     .check = wr_log_check,
     .flags = OF_RELOAD,
     .help = "what to log on stderr (the journal under systemd): a level (error, warning, "
             "info, debug), then TOPIC=LEVEL for the topics probe, capture, export, detect, "
             "redis, control; e.g. warning,redis=debug"},

    {.section = "Program",
     .name = "summary-json",
     .kind = OPT_STR,
     .metavar = "FILE",
     FIELD(summary_json),
     .help = "write the final counters as JSON to FILE"},
    {.name = "quiet",
     .short_name = 'q',
     .kind = OPT_FLAG,
     FIELD(quiet),
     .help = "no summary on stderr (with -t: no settings, the OK line alone)"},
    {.name = "help", .short_name = 'h', .kind = OPT_FLAG, .flags = OF_CLI, .help = "this text"},
    {.name = "help-config",
     .kind = OPT_FLAG,
     .flags = OF_CLI,
     .help = "every option and config key as a Markdown table (as in docs/CONFIG.md)"},
    {.name = "version",
     .short_name = 'V',
     .kind = OPT_FLAG,
     .flags = OF_CLI,
     .help = "the version"},
};

#define N_OPTS WR_ARRAY_SIZE(opts)
_Static_assert(N_OPTS <= WR_ARRAY_SIZE(((struct parse_state *)0)->origin), "parse_state room");

static const char usage_head[] =
    "Usage: weir -i INPUT [-i INPUT ...] -o OUTPUT [-o OUTPUT ...] [OPTIONS] [-- EAL-ARGS]\n"
    "       weir -c FILE [OPTIONS]        (settings from a YAML file; the command line wins)\n"
    "       weir -t -c FILE               (check the settings and exit)\n"
    "\n"
    "Reads packets, folds them into flows and exports the flows as IPFIX.\n"
    "\n"
    "Inputs (each with its own --workers flow-cache threads):\n"
    "  pcap:FILE             a pcap, pcapng or ERF file, read to its end ('-' = stdin)\n"
    "  pcap:IFACE            a live interface, captured with libpcap\n"
    "  trace:URI             any libtrace URI: erf:FILE, pcapfile:FILE, dag:/dev/dag0,\n"
    "                        int:IFACE, ring:IFACE, ...\n"
    "  dpdk:DEVICE           a DPDK port: a PCI address or a virtual device's arguments\n"
    "                        (net_pcap0,rx_pcap=FILE; net_af_packet0,iface=IF; ...); EAL\n"
    "                        arguments follow '--' at the end of the command line\n"
    "  gen:SPEC              synthetic packets built in memory (flows=N,packets=N,...)\n"
    "Outputs (every flow goes to each):\n"
    "  ipfix:udp://HOST:PORT IPFIX over UDP (templates re-sent periodically)\n"
    "  ipfix:tcp://HOST:PORT IPFIX over TCP (reconnects with back-off)\n"
    "  ipfix:file:PATH       an IPFIX file (RFC 7011 messages back to back; with rotation,\n"
    "                        finished files are renamed PATH.YYYYMMDDTHHMMSSZ-NNNNNN)\n";

static const char usage_tail[] =
    "\n"
    "Every option but -c, -t, -h, --help-config and -V is also a key of the config file, with\n"
    "the same name and value. [default; bounds unit] follow each option's text.\n"
    "Time is packet time: reading a file gives the same flows however fast it runs. At the\n"
    "end of a file every flow still open is exported (flowEndReason forcedEnd).\n";

/* ---------------------------------------------------------------------------------------- */
/* Help                                                                                       */

/* "[15; 1..86400 s]": the default and the bounds, or "" when there is neither. */
static void describe_bounds(const struct opt_def *o, char *buf, size_t len)
{
	const char *d = o->def ? o->def : o->def_note;
	char range[96] = "";

	if (o->kind == OPT_UINT)
		snprintf(range, sizeof(range), "%" PRIu64 "..%" PRIu64 "%s%s", o->min, o->max,
		         o->unit ? " " : "", o->unit ? o->unit : "");
	if (d && range[0])
		snprintf(buf, len, "[%s; %s]", d, range);
	else if (d || range[0])
		snprintf(buf, len, "[%s]", d ? d : range);
	else
		buf[0] = '\0';
}

/* Prints text from column `col`, wrapped at 92 columns with continuation lines at `indent`. */
static void print_wrapped(FILE *f, const char *text, unsigned col, unsigned indent)
{
	const char *p = text;

	while (*p) {
		/* "[default; bounds unit]" is kept on one line */
		size_t word = *p == '[' && strchr(p, ']') ? (size_t)(strchr(p, ']') - p) + 1
		                                          : strcspn(p, " ");

		if (col > indent && col + 1 + word > 92) {
			fprintf(f, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, word, f);
		col += (unsigned)word;
		p += word;
		p += strspn(p, " ");
	}
	fputc('\n', f);
}

static void print_help(FILE *f)
{
	fputs(usage_head, f);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *o = &opts[i];
		char head[64], text[1024], bounds[160];
		int n;

		if (o->section)
			fprintf(f, "\n%s:\n", o->section);
		if (o->flags & OF_FILE)
			n = snprintf(head, sizeof(head), "  (file) %s: [%s, ...]", o->name,
			             o->metavar);
		else
			n = snprintf(head, sizeof(head), "  %c%c%s --%s%s%s",
			             o->short_name ? '-' : ' ', o->short_name ? o->short_name : ' ',
			             o->short_name ? "," : " ", o->name, o->metavar ? " " : "",
			             o->metavar ? o->metavar : "");
		describe_bounds(o, bounds, sizeof(bounds));
		snprintf(text, sizeof(text), "%s%s%s", o->help, bounds[0] ? " " : "", bounds);
		fputs(head, f);
		if (n < 29) /* the text beside the option, or below it when the option is long */
			fprintf(f, "%*s", 29 - n, "");
		else
			fprintf(f, "\n%*s", 29, "");
		print_wrapped(f, text, 29, 29);
	}
	fputs(usage_tail, f);
}

static const char *kind_name(const struct opt_def *o)
{
	switch (o->kind) {
	case OPT_UINT:
		return "whole number";
	case OPT_STR:
		return "string";
	case OPT_FLAG:
		return "true/false";
	case OPT_LIST:
		return "list of strings";
	case OPT_FN:
		return o->flags & OF_MAP ? "mapping" : o->flags & OF_REPEAT ? "list" : "string";
	}
	return "";
}

/* The key reference of docs/CONFIG.md, a row per option. */
static void print_help_config(FILE *f)
{
	fputs("| key | command line | type | default | bounds | unit | reload | meaning |\n"
	      "|---|---|---|---|---|---|---|---|\n",
	      f);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *o = &opts[i];
		char range[64] = "", cli[64];

		if (o->kind == OPT_UINT)
			snprintf(range, sizeof(range), "%" PRIu64 "..%" PRIu64, o->min, o->max);
		if (o->short_name)
			snprintf(cli, sizeof(cli), "`-%c, --%s`", o->short_name, o->name);
		else
			snprintf(cli, sizeof(cli), "`--%s`", o->name);
		fprintf(f, "| %s%s%s | %s |", o->flags & OF_CLI ? "" : "`",
		        o->flags & OF_CLI ? "(none)" : o->name, o->flags & OF_CLI ? "" : "`",
		        o->flags & OF_FILE ? "(after `--`)" : cli);
		fprintf(f, " %s | %s | %s | %s | %s | ", kind_name(o),
		        o->def        ? o->def
		        : o->def_note ? o->def_note
		                      : "",
		        range, o->unit ? o->unit : "", o->flags & OF_RELOAD ? "yes" : "no");
		for (const char *p = o->help; *p; p++)
			fputs(*p == '|' ? "\\|" : (char[2]){*p, 0}, f);
		fputs(" |\n", f);
	}
}

const char *probe_redact_url(const char *url, char *buf, size_t len)
{
	const char *host = strstr(url, "://"), *at, *colon;

	if (host == NULL)
		return url;
	host += 3;
	at = memchr(host, '@', strcspn(host, "/"));
	colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
	if (colon == NULL)
		return url;
	if ((size_t)snprintf(buf, len, "%.*s****%s", (int)(colon + 1 - url), url, at) >= len)
		return "(a URL with a password)";
	return buf;
}

/* The settings in effect, as a config file that gives them (for -t and the control socket).
 * Options without a value (no default and not set) are left out. */
static void print_option(FILE *f, const struct probe_config *c, const struct opt_def *o)
{
	const uint8_t *field = (const uint8_t *)c + o->off;

	switch (o->kind) {
	case OPT_UINT: {
		uint64_t v = get_num(c, o);

		if (v != 0 || o->def != NULL)
			fprintf(f, "%s: %" PRIu64 "\n", o->name, v);
		break;
	}
	case OPT_STR: {
		const char *v;
		char masked[1024];

		memcpy(&v, field, sizeof(v));
		if (v != NULL && (o->flags & OF_SECRET))
			v = probe_redact_url(v, masked, sizeof(masked));
		if (v != NULL)
			put_quoted(f, o->name, ": ", v);
		break;
	}
	case OPT_FLAG: {
		int v;

		memcpy(&v, field, sizeof(v));
		fprintf(f, "%s: %s\n", o->name, v ? "true" : "false");
		break;
	}
	case OPT_LIST: {
		unsigned n;
		const char *const *v = (const char *const *)field;

		memcpy(&n, (const uint8_t *)c + o->count_off, sizeof(n));
		if (o->flags & OF_FILE) { /* eal: what the EAL gets, from either source */
			n = (unsigned)c->capture.eal_argc;
			v = (const char *const *)c->capture.eal_argv;
		}
		fprintf(f, "%s:%s\n", o->name, n ? "" : " []");
		for (unsigned k = 0; k < n; k++)
			put_quoted(f, " ", " - ", v[k]);
		break;
	}
	case OPT_FN:
		o->print(f, o, c);
		break;
	}
}

static void print_effective(FILE *f, const struct probe_config *c)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (!(opts[i].flags & OF_CLI))
			print_option(f, c, &opts[i]);
}

/* ---------------------------------------------------------------------------------------- */
/* Applying values                                                                            */

static void set_num(struct probe_config *c, const struct opt_def *o, uint64_t v)
{
	uint8_t *field = (uint8_t *)c + o->off;

	if (o->size == sizeof(uint16_t)) {
		uint16_t v16 = (uint16_t)v;

		memcpy(field, &v16, sizeof(v16));
	} else if (o->size == sizeof(uint32_t)) {
		uint32_t v32 = (uint32_t)v;

		memcpy(field, &v32, sizeof(v32));
	} else {
		memcpy(field, &v, sizeof(v));
	}
}

/* Checks val for option o and stores it. 0, or -EINVAL with the reason in err. */
static int apply(struct parse_state *st, const struct opt_def *o, const char *val, char *err,
                 size_t errlen)
{
	struct probe_config *c = st->c;
	uint8_t *field = (uint8_t *)c + o->off;
	uint64_t v;

	switch (o->kind) {
	case OPT_UINT:
		if (wr_parse_u64(val, o->min, o->max, &v) < 0) {
			snprintf(err, errlen,
			         "'%s' is not a whole number in [%" PRIu64 ", %" PRIu64 "]", val,
			         o->min, o->max);
			return -EINVAL;
		}
		set_num(c, o, v);
		return 0;
	case OPT_STR:
		if (val[0] == '\0') {
			snprintf(err, errlen, "empty value");
			return -EINVAL;
		}
		if (o->check && o->check(val, err, errlen) < 0)
			return -EINVAL;
		memcpy(field, &val, sizeof(val));
		return 0;
	case OPT_FLAG: {
		static const char *const yes[] = {"true", "yes", "on", "1"};
		static const char *const no[] = {"false", "no", "off", "0"};
		int b = -1;

		for (size_t k = 0; k < WR_ARRAY_SIZE(yes); k++) {
			if (strcmp(val, yes[k]) == 0)
				b = 1;
			if (strcmp(val, no[k]) == 0)
				b = 0;
		}
		if (b < 0) {
			snprintf(err, errlen, "'%s' is not true or false", val);
			return -EINVAL;
		}
		if (o->off || o->size)
			memcpy(field, &b, sizeof(b));
		return 0;
	}
	case OPT_LIST: {
		unsigned *count = (unsigned *)((uint8_t *)c + o->count_off);

		if (*count == o->list_max) {
			snprintf(err, errlen, "more than %u values", o->list_max);
			return -EINVAL;
		}
		((const char **)field)[(*count)++] = val;
		return 0;
	}
	case OPT_FN:
		return o->fn(st, val, err, errlen);
	}
	return -EINVAL;
}

/* Levenshtein distance, for "did you mean" (names are short). */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[64], la = (unsigned)strlen(a), lb = (unsigned)strlen(b);

	if (la >= 63 || lb >= 63)
		return ~0u;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const struct opt_def *find_opt(const char *name)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

/* The name nearest to key among name(0), name(1), ... (up to the first NULL; "" is
 * skipped), when it is near enough to be a typo of it; else NULL. */
static const char *nearest(const char *key, const char *(*name)(unsigned))
{
	const char *best = NULL, *n;
	unsigned best_d = ~0u;

	for (unsigned i = 0; (n = name(i)) != NULL; i++) {
		unsigned d = n[0] ? edit_distance(key, n) : ~0u;

		if (d < best_d) {
			best_d = d;
			best = n;
		}
	}
	return best != NULL && best_d <= 1 + strlen(key) / 3 ? best : NULL;
}

/* The keys a config file may hold, for nearest(). */
static const char *file_key(unsigned i)
{
	return i >= N_OPTS ? NULL : opts[i].flags & OF_CLI ? "" : opts[i].name;
}

/* Reports an error about a setting; returns the exit status for it. */
static WR_PRINTF(3, 4) int bad(const struct origin *at, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (at && at->file)
		fprintf(stderr, "weir: %s:%u: %s: ", at->file, at->line, what);
	else
		fprintf(stderr, "weir: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return 2;
}

/* ---------------------------------------------------------------------------------------- */
/* The config file                                                                            */

static unsigned line_of(const yaml_node_t *n)
{
	return (unsigned)n->start_mark.line + 1;
}

/* A scalar's text, kept for the config's lifetime; NULL (with a message) when n is not a
 * scalar or has no value. */
static const char *scalar(struct parse_state *st, const char *file, const yaml_node_t *n,
                          const char *key)
{
	const char *s;
	size_t len;

	if (n->type != YAML_SCALAR_NODE) {
		bad(&(struct origin){file, line_of(n)}, key, "expected a single value, not a %s",
		    n->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
		return NULL;
	}
	s = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0)) {
		bad(&(struct origin){file, line_of(n)}, key, "no value");
		return NULL;
	}
	if (strlen(s) != len) {
		bad(&(struct origin){file, line_of(n)}, key, "a NUL byte in the value");
		return NULL;
	}
	if ((s = keep(st->c, s, len)) == NULL)
		bad(&(struct origin){file, line_of(n)}, key, "out of memory");
	return s;
}

/* Applies one value of option o read at line `line`. 0 or an exit status. */
static int apply_file(struct parse_state *st, const char *file, const struct opt_def *o,
                      const char *val, unsigned line)
{
	char err[OPT_ERR_LEN];

	st->cur = (struct origin){file, line};
	if (apply(st, o, val, err, sizeof(err)) < 0) {
		char label[320];

		/* a detect or sample item: which one */
		snprintf(label, sizeof(label), "%s%s%.256s", o->name, o->kind == OPT_FN ? " " : "",
		         o->kind == OPT_FN ? val : "");
		return bad(&st->cur, label, "%s", err);
	}
	if (o->kind == OPT_LIST) /* the count is >= 1 after apply() */
		st->list_line[o - opts][*(unsigned *)((uint8_t *)st->c + o->count_off) - 1] = line;
	return 0;
}

static int file_value(struct parse_state *st, const char *file, yaml_document_t *doc,
                      const struct opt_def *o, const char *key, const yaml_node_t *vn);

/* One key: value pair of the file. 0 or an exit status. */
static int file_pair(struct parse_state *st, const char *file, yaml_document_t *doc,
                     const yaml_node_t *kn, const yaml_node_t *vn)
{
	char key[64];
	const struct opt_def *o;
	const char *near;
	int rc;

	if (kn->type != YAML_SCALAR_NODE || kn->data.scalar.length >= sizeof(key))
		return bad(&(struct origin){file, line_of(kn)}, "key",
		           "expected an option name as the key");
	memcpy(key, kn->data.scalar.value, kn->data.scalar.length);
	key[kn->data.scalar.length] = '\0';
	o = find_opt(key);
	if (o == NULL && (near = nearest(key, file_key)) != NULL)
		return bad(&(struct origin){file, line_of(kn)}, key,
		           "unknown key (did you mean '%s'?)", near);
	if (o == NULL)
		return bad(&(struct origin){file, line_of(kn)}, key, "unknown key");
	if (o->flags & OF_CLI)
		return bad(&(struct origin){file, line_of(kn)}, key,
		           "only on the command line, not in a config file");
	if (st->origin[o - opts].file != NULL)
		return bad(&(struct origin){file, line_of(kn)}, key,
		           "given twice (first at line %u)", st->origin[o - opts].line);
	rc = file_value(st, file, doc, o, key, vn);
	st->origin[o - opts] = (struct origin){file, line_of(kn)};
	return rc;
}

/* The value of key (option o): a scalar, a list or the detector's mapping. 0 or an exit
 * status. */
static int file_value(struct parse_state *st, const char *file, yaml_document_t *doc,
                      const struct opt_def *o, const char *key, const yaml_node_t *vn)
{
	if (vn->type == YAML_SEQUENCE_NODE) {
		if (o->kind != OPT_LIST && !(o->flags & OF_REPEAT))
			return bad(&(struct origin){file, line_of(vn)}, key,
			           "expected a single value, not a list");
		for (yaml_node_item_t *it = vn->data.sequence.items.start;
		     it < vn->data.sequence.items.top; it++) {
			const yaml_node_t *item = yaml_document_get_node(doc, *it);
			const char *val = item ? scalar(st, file, item, key) : NULL;
			int rc;

			if (val == NULL)
				return 2;
			if ((rc = apply_file(st, file, o, val, line_of(item))) != 0)
				return rc;
		}
		return 0;
	}
	if (vn->type == YAML_MAPPING_NODE) {
		if (!(o->flags & OF_MAP))
			return bad(&(struct origin){file, line_of(vn)}, key,
			           "expected a single value, not a mapping");
		for (yaml_node_pair_t *p = vn->data.mapping.pairs.start;
		     p < vn->data.mapping.pairs.top; p++) {
			const yaml_node_t *dk = yaml_document_get_node(doc, p->key);
			const yaml_node_t *dv = yaml_document_get_node(doc, p->value);
			const char *k = dk ? scalar(st, file, dk, key) : NULL;
			const char *v = k && dv ? scalar(st, file, dv, k) : NULL;
			const char *kv;
			int rc;

			if (v == NULL)
				return 2;
			if ((kv = keep_join(st->c, k, v)) == NULL)
				return bad(NULL, key, "out of memory");
			if ((rc = apply_file(st, file, o, kv, line_of(dk))) != 0)
				return rc;
		}
		return 0;
	}
	{
		const char *val = scalar(st, file, vn, key);

		if (val == NULL)
			return 2;
		return apply_file(st, file, o, val, line_of(vn));
	}
}

/* Reads the YAML file into st->c. 0 or an exit status. */
static int read_file(struct parse_state *st, const char *file)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *f = fopen(file, "rb");
	int rc = 0;

	if (f == NULL)
		return bad(NULL, "-c", "cannot open '%s': %s", file, strerror(errno));
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return bad(NULL, "-c", "out of memory");
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		if (parser.error ==
		    YAML_READER_ERROR) /* bad bytes: libyaml knows the offset only */
			fprintf(stderr, "weir: %s: byte %zu: not valid YAML: %s\n", file,
			        parser.problem_offset,
			        parser.problem ? parser.problem : "bad bytes");
		else
			fprintf(stderr, "weir: %s:%zu:%zu: not valid YAML: %s%s%s\n", file,
			        parser.problem_mark.line + 1, parser.problem_mark.column + 1,
			        parser.problem ? parser.problem : "syntax error",
			        parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		fclose(f);
		return 2;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL) /* an empty file */
		goto out;
	if (root->type != YAML_MAPPING_NODE) {
		rc = bad(&(struct origin){file, line_of(root)}, "file",
		         "expected a mapping of option names to values");
		goto out;
	}
	{
		/* one document only: a second (after ---) would be ignored without a word */
		yaml_document_t more;

		if (yaml_parser_load(&parser, &more)) {
			yaml_node_t *r2 = yaml_document_get_root_node(&more);

			if (r2 != NULL)
				rc = bad(&(struct origin){file, line_of(r2)}, "file",
				         "a second YAML document: weir reads one");
			yaml_document_delete(&more);
		}
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     rc == 0 && p < root->data.mapping.pairs.top; p++)
		rc = file_pair(st, file, &doc, yaml_document_get_node(&doc, p->key),
		               yaml_document_get_node(&doc, p->value));
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Command line                                                                               */

/* The getopt table and short-option string, built from opts. */
static void build_getopt(struct option *lo, char *shorts)
{
	size_t k = 0;

	*shorts++ = ':';
	for (size_t i = 0; i < N_OPTS; i++) {
		if (opts[i].flags & OF_FILE)
			continue;
		lo[k++] = (struct option){
		    opts[i].name, opts[i].kind == OPT_FLAG ? no_argument : required_argument, NULL,
		    256 + (int)i};
		if (opts[i].short_name) {
			*shorts++ = opts[i].short_name;
			if (opts[i].kind != OPT_FLAG)
				*shorts++ = ':';
		}
	}
	lo[k] = (struct option){NULL, 0, NULL, 0};
	*shorts = '\0';
}

/* The table entry of getopt's return value. */
static const struct opt_def *opt_of(int ch)
{
	if (ch >= 256 && ch < 256 + (int)N_OPTS)
		return &opts[ch - 256];
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].short_name && opts[i].short_name == ch)
			return &opts[i];
	return NULL;
}

/* How an error about option o reads: "--name value" from the command line, the key from the
 * file. */
static const char *what(const struct opt_def *o, const struct origin *at, const char *val,
                        char *buf, size_t len)
{
	if (at->file)
		snprintf(buf, len, "%s", o->name);
	else if (val)
		snprintf(buf, len, "--%s %s", o->name, val);
	else
		snprintf(buf, len, "--%s", o->name);
	return buf;
}

/* The checks that need every setting: sample inputs, the Redis URL, the detector's ranges,
 * the watch files. Returns -1 to go on, or an exit status. */
static int check_all(struct parse_state *st)
{
	struct probe_config *c = st->c;
	const struct opt_def *o;
	char err[OPT_ERR_LEN], name[600];
	const char *key = NULL;
	unsigned i;

	if (c->n_inputs == 0)
		return bad(NULL, "no input",
		           "give one with -i pcap:FILE or -i pcap:IFACE (or input: in the file)");
	if (c->n_outputs == 0 && c->redis_url == NULL && c->alerts_file == NULL)
		return bad(
		    NULL, "no output",
		    "give one with -o ipfix:udp://HOST:PORT, ipfix:tcp://HOST:PORT or "
		    "ipfix:file:PATH (or alerts only, with --redis URL or --alerts-file FILE)");
	for (i = c->n_inputs; i < PROBE_MAX_INPUTS; i++)
		if (c->sample_own[i]) {
			struct origin at = {st->sample_line[i] ? c->config_file : NULL,
			                    st->sample_line[i]};

			snprintf(name, sizeof(name), "%s %u=...", at.file ? "sample" : "--sample",
			         i + 1);
			return bad(&at, name, "there %s only %u input%s",
			           c->n_inputs == 1 ? "is" : "are", c->n_inputs,
			           c->n_inputs == 1 ? "" : "s");
		}
	for (i = 0; i < c->n_inputs; i++)
		if (!c->sample_own[i]) {
			c->sample[i] = st->every;
			c->sample_spec[i] = c->sample_every;
		}
#if WEIR_HAVE_HIREDIS
	if (c->redis_url) {
		char host[256], pw[256];
		int port, db;

		o = find_opt("redis");
		if (redispub_parse_url(c->redis_url, host, sizeof(host), &port, pw, sizeof(pw), &db,
		                       err, sizeof(err)) < 0)
			return bad(&st->origin[o - opts],
			           what(o, &st->origin[o - opts], NULL, name, sizeof(name)), "%s",
			           err);
	}
#endif
	if (detect_params_check(&c->detect, &key) < 0) {
		struct origin at = st->detect_at[detect_param_index(key, strlen(key))];

		snprintf(name, sizeof(name), "%s %s", at.file ? "detect:" : "--detect", key);
		return bad(&at, name, "out of range (see docs/DETECTION.md)");
	}
	c->watch_built = detect_watch_create();
	if (c->watch_built == NULL)
		return bad(NULL, "watch", "out of memory");
	o = find_opt("watch");
	for (i = 0; i < c->n_watch; i++)
		if (detect_watch_add(c->watch_built, c->watch[i], err, sizeof(err)) < 0) {
			detect_watch_free(c->watch_built);
			c->watch_built = NULL;
			if (st->list_line[o - opts][i]) {
				struct origin at = {c->config_file, st->list_line[o - opts][i]};

				return bad(&at, "watch", "%s", err);
			}
			fprintf(stderr, "weir: %s\n", err);
			return 2;
		}
	if (c->n_eal_file && c->capture.eal_argc == 0) { /* "--" on the command line wins */
		c->capture.eal_argc = (int)c->n_eal_file;
		c->capture.eal_argv = (char **)c->eal_file; /* the driver copies what it keeps */
	}
	return -1;
}

int probe_options_parse(int argc, char **argv, struct probe_config *c)
{
	struct option lo[N_OPTS + 1];
	char shorts[2 * N_OPTS + 2], err[OPT_ERR_LEN], name[600];
	struct parse_state st = {.c = c, .every = {.algo = CAPTURE_SAMPLE_NONE}};
	const char *config = NULL;
	int ch, rc;

	optind = 0; /* a reload parses again */
	ipfix_exporter_params_default(&c->ipfix);
	detect_params_default(&c->detect);
	c->max_series = 100000;
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].def && apply(&st, &opts[i], opts[i].def, err, sizeof(err)) < 0) {
			fprintf(stderr, "weir: default of %s: %s\n", opts[i].name, err);
			return 70;
		}
	build_getopt(lo, shorts);

	/* first pass: only -c, -h, --help-config and -V, so that the file is read before the
	 * command line overrides it */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct opt_def *o = opt_of(ch);

		if (o == NULL)
			continue;
		if (strcmp(o->name, "config") == 0)
			config = optarg;
		else if (strcmp(o->name, "help") == 0) {
			print_help(stdout);
			return 0;
		} else if (strcmp(o->name, "help-config") == 0) {
			print_help_config(stdout);
			return 0;
		} else if (strcmp(o->name, "version") == 0) {
			printf("weir %s\n", WEIR_VERSION);
			return 0;
		}
	}
	if (config != NULL) {
		c->config_file = config;
		if ((rc = read_file(&st, config)) != 0)
			return rc;
	}

	/* second pass: the command line, over the file */
	optind = 0;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		const struct opt_def *o = opt_of(ch);
		struct origin cli = {NULL, 0};

		if (ch == ':')
			return bad(NULL, argv[optind - 1], "option needs a value");
		if (o == NULL)
			return bad(NULL, argv[optind - 1], "unknown option (see weir --help)");
		if (st.origin[o - opts].file != NULL) {
			/* the first time the command line gives an option the file gave: its
			 * lists replace the file's */
			if (o->kind == OPT_LIST) {
				*(unsigned *)((uint8_t *)c + o->count_off) = 0;
				memset(st.list_line[o - opts], 0, sizeof(st.list_line[0]));
			}
			if (o->reset)
				o->reset(&st);
		}
		st.cur = cli;
		if (apply(&st, o, o->kind == OPT_FLAG ? "true" : optarg, err, sizeof(err)) < 0)
			return bad(NULL, what(o, &cli, optarg, name, sizeof(name)), "%s", err);
		st.origin[o - opts] = cli;
	}
	if (optind < argc && strcmp(argv[optind - 1], "--") == 0) {
		/* everything after "--" is for DPDK's EAL */
		c->capture.eal_argc = argc - optind;
		c->capture.eal_argv = argv + optind;
		optind = argc;
	}
	if (optind < argc)
		return bad(NULL, "unexpected argument", "'%s' (inputs need -i, outputs -o)",
		           argv[optind]);
	rc = check_all(&st);
	if (rc < 0 && c->check_only) {
		unsigned families = 0;

		for (int f = 0; f < DETECT_FAM_COUNT; f++)
			families += detect_watch_has(c->watch_built, f);

		printf("# weir: %s: settings OK (%u input%s, %u output%s, %u watched famil%s); in "
		       "effect:\n",
		       c->config_file ? c->config_file : "command line", c->n_inputs,
		       c->n_inputs == 1 ? "" : "s", c->n_outputs, c->n_outputs == 1 ? "" : "s",
		       families, families == 1 ? "y" : "ies");
		if (!c->quiet) /* -t -q: the line alone (a service's ExecStartPre) */
			print_effective(stdout, c);
		return 0;
	}
	return rc;
}

void probe_options_print(FILE *f, const struct probe_config *c)
{
	print_effective(f, c);
}

/* One option's value as the file writes it, without "key:" and (unless keep_lines) with its
 * lines joined (for a log line). */
static char *option_text(const struct probe_config *c, const struct opt_def *o, int keep_lines)
{
	char *buf = NULL, *p, *q;
	size_t len = 0, klen = strlen(o->name);
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	print_option(f, c, o);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	p = buf;
	if (strncmp(p, o->name, klen) == 0 && p[klen] == ':')
		p += klen + 1;
	for (q = buf; *p; p++) { /* newlines and runs of spaces: one space */
		char ch = *p == '\n' && !keep_lines ? ' ' : *p;

		if (ch == ' ' && (q == buf || q[-1] == ' ' || q[-1] == '\n'))
			continue;
		*q++ = ch;
	}
	while (q > buf && q[-1] == ' ')
		q--;
	*q = '\0';
	return buf;
}

/* A mapping's values, "k: v" a line each in the same order in va and vb: fn for each line
 * that differs, as "KEY: k", "v", "v'". Returns how many. */
static unsigned diff_map(const struct opt_def *o, char *va, char *vb,
                         void (*fn)(void *arg, const char *key, const char *was, const char *now,
                                    int reloadable),
                         void *arg)
{
	char *sa, *sb, *la = strtok_r(va, "\n", &sa), *lb = strtok_r(vb, "\n", &sb);
	unsigned n = 0;

	for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
		char key[128], *ca = strchr(la, ':'), *cb = strchr(lb, ':');

		if (strcmp(la, lb) == 0 || ca == NULL || cb == NULL)
			continue;
		snprintf(key, sizeof(key), "%s: %.*s", o->name, (int)(ca - la), la);
		fn(arg, key, ca + 1 + (ca[1] == ' '), cb + 1 + (cb[1] == ' '),
		   (o->flags & OF_RELOAD) != 0);
		n++;
	}
	return n;
}

unsigned probe_options_diff(const struct probe_config *a, const struct probe_config *b,
                            void (*fn)(void *arg, const char *key, const char *was, const char *now,
                                       int reloadable),
                            void *arg)
{
	unsigned n = 0;

	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *o = &opts[i];
		char *va, *vb;

		if (o->flags & OF_CLI)
			continue;
		va = option_text(a, o, o->flags & OF_MAP);
		vb = option_text(b, o, o->flags & OF_MAP);
		if (va && vb && strcmp(va, vb) != 0) {
			if (o->flags & OF_MAP) { /* a mapping: the keys that changed, one by one */
				n += diff_map(o, va, vb, fn, arg);
			} else {
				fn(arg, o->name, va[0] ? va : "(none)", vb[0] ? vb : "(none)",
				   (o->flags & OF_RELOAD) != 0);
				n++;
			}
		}
		free(va);
		free(vb);
	}
	return n;
}

void probe_options_adopt(struct probe_config *c, struct probe_config *next)
{
	struct probe_owned **tail = &next->owned;

	while (*tail != NULL)
		tail = &(*tail)->next;
	*tail = c->owned;
	c->owned = next->owned;
	next->owned = NULL;
}
