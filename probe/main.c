/*
 * weir: command line, lifecycle and the end-of-run summary.
 *
 * Everything is opened and checked before any thread starts, so a bad option, an unreadable
 * file, an unknown interface or an unreachable output path stops weir with a message before
 * it has read a packet. SIGINT and SIGTERM are blocked in every thread and taken by the main
 * thread with sigtimedwait(): the first asks the workers to stop (they flush every flow and the
 * exporter sends it), a second exits at once.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe.h"
#include "weir_config.h"

static struct probe the_probe; /* large: kept off the stack */

static const char usage_text[] =
    "Usage: weir -i INPUT [-i INPUT ...] -o OUTPUT [-o OUTPUT ...] [OPTIONS] [-- EAL-ARGS]\n"
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
    "                        finished files are renamed PATH.YYYYMMDDTHHMMSSZ-NNNNNN)\n"
    "\n"
    "Options:\n"
    "  -i, --input INPUT          add an input (repeatable)\n"
    "  -o, --output OUTPUT        add an output (repeatable)\n"
    "      --idle-timeout SEC     export a flow after SEC seconds without packets [15]\n"
    "      --active-timeout SEC   export long flows every SEC seconds [1800]\n"
    "      --max-flows N          concurrent flows per input before eviction [1048576]\n"
    "      --workers N            flow-cache threads per input; packets reach them by\n"
    "                             symmetric RSS (DPDK) or a symmetric software hash [1]\n"
    "      --rx-thread            read (and parse) each queue in a thread of its own even\n"
    "                             with one worker: a two-core pipeline\n"
    "      --no-pin               do not pin threads to CPUs (by default, when there are\n"
    "                             CPUs enough, each packet thread gets its own and the\n"
    "                             exporter another)\n"
    "      --biflow               one record per bidirectional flow (RFC 5103), keyed by the\n"
    "                             first packet's direction, with reverse counters\n"
    "      --sample [N=]SPEC      select packets before the table, on every input or on\n"
    "                             input N (1 = the first -i; repeatable; N= wins):\n"
    "                             count:N (1 in N), random:N (1 of every N at random),\n"
    "                             prob:P, hash:N (RFC 5475, invariant fields), flow:N\n"
    "                             (whole flows), each with optional ,seed=S; or none\n"
    "      --odid N               IPFIX observation domain id [1]\n"
    "      --template-refresh SEC UDP: re-send templates every SEC seconds [20]\n"
    "      --template-refresh-msgs N  UDP: ... and every N messages, 0 = never [0]\n"
    "      --timestamps ms|ns     flowStart/EndMilliseconds or flowStart/EndNanoseconds [ms]\n"
    "      --stats-refresh SEC    send the statistics options records every SEC seconds\n"
    "                             (also with every template set and at the end) [60]\n"
    "      --rotate-size BYTES    file: start a new file past BYTES, 0 = never [0]\n"
    "      --rotate-interval SEC  file: start a new file every SEC seconds, 0 = never [0]\n"
    "      --udp-rate N           UDP: at most N messages per second, 0 = unpaced [20000]\n"
    "      --udp-mtu BYTES        UDP: largest IPFIX message [1400]\n"
    "      --snaplen BYTES        live: bytes captured per packet [262144]\n"
    "      --buffer-mb MB         live: kernel capture buffer [64]\n"
    "      --filter BPF           live: capture filter expression\n"
    "      --mbufs N              DPDK: packet buffers per port [driver default]\n"
    "      --mtu BYTES            DPDK: port MTU (jumbo frames) [unchanged]\n"
    "      --duration SEC         stop capturing after SEC seconds (as on SIGTERM)\n"
    "Rate anomaly alerts (drops and surges of packets, bits and new flows per second):\n"
    "      --watch FAMILY[:ARG]   count and check an aggregate besides the link (repeatable):\n"
    "                             proto, vlan, dport, dst-prefix (automatic series for the\n"
    "                             busy destination /24s and /48s), prefixes:FILE (one\n"
    "                             PREFIX/LEN per line), asn:FILE (prefix<TAB>length<TAB>asn)\n"
    "      --bin-ms MS            counting bin [1000]\n"
    "      --detect KEY=VALUE     a detector parameter (repeatable; see docs/DETECTION.md),\n"
    "                             e.g. drop_warning=0.5, raise_critical_s=3, warmup_s=600\n"
    "      --redis URL            publish alerts to redis://[:PASSWORD@]HOST:PORT[/DB]\n"
    "      --redis-prefix P       key prefix: P:alerts, P:active, P:alerts:live [weir]\n"
    "      --alerts-file FILE     also write every alert message as a JSON line to FILE\n"
    "      --probe-id NAME        this probe's name in alerts [the host name]\n"
    "      --summary-json FILE    write the final counters as JSON to FILE\n"
    "  -q, --quiet                no summary on stderr\n"
    "  -h, --help                 this text\n"
    "  -V, --version              the version\n"
    "\n"
    "Time is packet time: reading a file gives the same flows however fast it runs. At the\n"
    "end of a file every flow still open is exported (flowEndReason forcedEnd).\n";

enum {
	OPT_IDLE = 256,
	OPT_ACTIVE,
	OPT_MAX_FLOWS,
	OPT_ODID,
	OPT_TREFRESH,
	OPT_UDP_RATE,
	OPT_UDP_MTU,
	OPT_SNAPLEN,
	OPT_BUFFER,
	OPT_FILTER,
	OPT_SUMMARY_JSON,
	OPT_SAMPLE,
	OPT_BIFLOW,
	OPT_WORKERS,
	OPT_MBUFS,
	OPT_MTU,
	OPT_DURATION,
	OPT_RX_THREAD,
	OPT_NO_PIN,
	OPT_TREFRESH_MSGS,
	OPT_TIMESTAMPS,
	OPT_STATS_REFRESH,
	OPT_ROTATE_SIZE,
	OPT_ROTATE_INTERVAL,
	OPT_WATCH,
	OPT_BIN_MS,
	OPT_DETECT,
	OPT_REDIS,
	OPT_REDIS_PREFIX,
	OPT_ALERTS_FILE,
	OPT_PROBE_ID,
};

static const struct option long_opts[] = {
    {"input", required_argument, NULL, 'i'},
    {"output", required_argument, NULL, 'o'},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"active-timeout", required_argument, NULL, OPT_ACTIVE},
    {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
    {"odid", required_argument, NULL, OPT_ODID},
    {"template-refresh", required_argument, NULL, OPT_TREFRESH},
    {"template-refresh-msgs", required_argument, NULL, OPT_TREFRESH_MSGS},
    {"timestamps", required_argument, NULL, OPT_TIMESTAMPS},
    {"stats-refresh", required_argument, NULL, OPT_STATS_REFRESH},
    {"rotate-size", required_argument, NULL, OPT_ROTATE_SIZE},
    {"rotate-interval", required_argument, NULL, OPT_ROTATE_INTERVAL},
    {"watch", required_argument, NULL, OPT_WATCH},
    {"bin-ms", required_argument, NULL, OPT_BIN_MS},
    {"detect", required_argument, NULL, OPT_DETECT},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"redis-prefix", required_argument, NULL, OPT_REDIS_PREFIX},
    {"alerts-file", required_argument, NULL, OPT_ALERTS_FILE},
    {"probe-id", required_argument, NULL, OPT_PROBE_ID},
    {"udp-rate", required_argument, NULL, OPT_UDP_RATE},
    {"udp-mtu", required_argument, NULL, OPT_UDP_MTU},
    {"snaplen", required_argument, NULL, OPT_SNAPLEN},
    {"buffer-mb", required_argument, NULL, OPT_BUFFER},
    {"filter", required_argument, NULL, OPT_FILTER},
    {"summary-json", required_argument, NULL, OPT_SUMMARY_JSON},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"biflow", no_argument, NULL, OPT_BIFLOW},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"mbufs", required_argument, NULL, OPT_MBUFS},
    {"mtu", required_argument, NULL, OPT_MTU},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"rx-thread", no_argument, NULL, OPT_RX_THREAD},
    {"no-pin", no_argument, NULL, OPT_NO_PIN},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Numeric options: the option's name, bounds, and where the value goes (a 4- or 8-byte field
 * of struct probe_config, by offset), so the table alone maps each option to its setting. */
struct num_opt {
	int id;
	const char *name;
	uint64_t min, max;
	size_t off;
	size_t size;
};

#define NUM_FIELD(f) offsetof(struct probe_config, f), sizeof(((struct probe_config *)0)->f)

static const struct num_opt num_opts[] = {
    {OPT_IDLE, "--idle-timeout", 1, 86400, NUM_FIELD(idle_timeout_s)},
    {OPT_ACTIVE, "--active-timeout", 1, 7 * 86400, NUM_FIELD(active_timeout_s)},
    {OPT_MAX_FLOWS, "--max-flows", 1, 1u << 28, NUM_FIELD(max_flows)},
    {OPT_ODID, "--odid", 0, UINT32_MAX, NUM_FIELD(ipfix.odid)},
    {OPT_TREFRESH, "--template-refresh", 1, 86400, NUM_FIELD(ipfix.template_refresh_s)},
    {OPT_TREFRESH_MSGS, "--template-refresh-msgs", 0, 1000000,
     NUM_FIELD(ipfix.template_refresh_msgs)},
    {OPT_STATS_REFRESH, "--stats-refresh", 1, 86400, NUM_FIELD(ipfix.stats_refresh_s)},
    {OPT_ROTATE_SIZE, "--rotate-size", 0, UINT64_MAX, NUM_FIELD(ipfix.file_rotate_bytes)},
    {OPT_ROTATE_INTERVAL, "--rotate-interval", 0, 366 * 86400, NUM_FIELD(ipfix.file_rotate_s)},
    {OPT_BIN_MS, "--bin-ms", 100, 60000, NUM_FIELD(bin_ms)},
    {OPT_UDP_RATE, "--udp-rate", 0, 10000000, NUM_FIELD(ipfix.udp_pace_mps)},
    {OPT_UDP_MTU, "--udp-mtu", 512, 65000, NUM_FIELD(ipfix.udp_max_msg)},
    {OPT_SNAPLEN, "--snaplen", 64, 262144, NUM_FIELD(capture.snaplen)},
    {OPT_BUFFER, "--buffer-mb", 1, 4096, NUM_FIELD(capture.buffer_mb)},
    {OPT_WORKERS, "--workers", 1, PROBE_MAX_WORKERS, NUM_FIELD(workers)},
    {OPT_MBUFS, "--mbufs", 1024, 1u << 24, NUM_FIELD(capture.mbufs)},
    {OPT_MTU, "--mtu", 68, 9600, NUM_FIELD(capture.mtu)},
    {OPT_DURATION, "--duration", 1, 365 * 86400, NUM_FIELD(duration_s)},
};

/* Stores v (already checked against the option's bounds) in the option's field. */
static void set_num(struct probe_config *c, const struct num_opt *o, uint64_t v)
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

/* Reports a command-line error; returns the exit status for it. */
static WR_PRINTF(1, 2) int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("weir: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	return 2;
}

/* A --sample argument: "[N=]SPEC" or "[N=]none". Stores it for input N (1-based, 0 = every
 * input without its own). Returns -1 to go on, or an exit status. */
static int parse_sample(const char *arg, struct probe_config *c,
                        struct capture_sampler_params *every, const char **every_spec)
{
	const char *eq = strchr(arg, '='), *spec = arg;
	struct capture_sampler_params sp = {.algo = CAPTURE_SAMPLE_NONE};
	char num[16], err[256];
	uint64_t n = 0;

	if (eq != NULL && eq > arg && strspn(arg, "0123456789") == (size_t)(eq - arg)) {
		if ((size_t)(eq - arg) >= sizeof(num))
			return usage_error("--sample %s: input number too long", arg);
		memcpy(num, arg, (size_t)(eq - arg));
		num[eq - arg] = '\0';
		if (wr_parse_u64(num, 1, PROBE_MAX_INPUTS, &n) < 0)
			return usage_error("--sample %s: input number '%s' not in [1, %d]", arg,
			                   num, PROBE_MAX_INPUTS);
		spec = eq + 1;
	}
	if (strcmp(spec, "none") != 0 && capture_sampler_parse(spec, &sp, err, sizeof(err)) < 0)
		return usage_error("--sample %s: %s", arg, err);
	if (n == 0) {
		*every = sp;
		*every_spec = sp.algo == CAPTURE_SAMPLE_NONE ? NULL : spec;
	} else {
		c->sample[n - 1] = sp;
		c->sample_spec[n - 1] = sp.algo == CAPTURE_SAMPLE_NONE ? NULL : spec;
		c->sample_own[n - 1] = 1;
	}
	return -1;
}

/* Parses argv into c. Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, struct probe_config *c)
{
	struct capture_sampler_params every = {.algo = CAPTURE_SAMPLE_NONE};
	const char *every_spec = NULL;
	uint64_t v;
	size_t k;
	unsigned i;
	int opt, rc;

	c->idle_timeout_s = 15;
	c->active_timeout_s = 1800;
	c->max_flows = 1u << 20;
	c->workers = 1;
	ipfix_exporter_params_default(&c->ipfix);
	detect_params_default(&c->detect);
	c->bin_ms = 1000;
	c->max_series = 100000;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":i:o:qhV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (c->n_inputs == PROBE_MAX_INPUTS)
				return usage_error("too many inputs (at most %d)",
				                   PROBE_MAX_INPUTS);
			c->inputs[c->n_inputs++] = optarg;
			continue;
		case 'o':
			if (c->n_outputs == PROBE_MAX_OUTPUTS)
				return usage_error("too many outputs (at most %d)",
				                   PROBE_MAX_OUTPUTS);
			c->outputs[c->n_outputs++] = optarg;
			continue;
		case OPT_FILTER:
			c->capture.filter = optarg;
			continue;
		case OPT_SUMMARY_JSON:
			c->summary_json = optarg;
			continue;
		case OPT_SAMPLE:
			rc = parse_sample(optarg, c, &every, &every_spec);
			if (rc >= 0)
				return rc;
			continue;
		case OPT_BIFLOW:
			c->biflow = 1;
			continue;
		case OPT_TIMESTAMPS:
			if (strcmp(optarg, "ms") != 0 && strcmp(optarg, "ns") != 0)
				return usage_error("bad --timestamps '%s' (expected ms or ns)",
				                   optarg);
			c->ipfix.time_ns = optarg[0] == 'n';
			continue;
		case OPT_RX_THREAD:
			c->rx_thread = 1;
			continue;
		case OPT_NO_PIN:
			c->no_pin = 1;
			continue;
		case OPT_WATCH:
			if (c->n_watch == PROBE_MAX_WATCH)
				return usage_error("too many --watch (at most %d)",
				                   PROBE_MAX_WATCH);
			c->watch[c->n_watch++] = optarg;
			continue;
		case OPT_DETECT: {
			char err[256];

			if (detect_params_set(&c->detect, optarg, err, sizeof(err)) < 0)
				return usage_error("--detect %s: %s (see docs/DETECTION.md)",
				                   optarg, err);
			continue;
		}
		case OPT_REDIS:
			c->redis_url = optarg;
			continue;
		case OPT_REDIS_PREFIX:
			c->redis_prefix = optarg;
			continue;
		case OPT_ALERTS_FILE:
			c->alerts_file = optarg;
			continue;
		case OPT_PROBE_ID:
			c->probe_id = optarg;
			continue;
		case 'q':
			c->quiet = 1;
			continue;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("weir %s\n", WEIR_VERSION);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		case '?':
			return usage_error("unknown option '%s' (see weir --help)",
			                   argv[optind - 1]);
		}
		for (k = 0; k < WR_ARRAY_SIZE(num_opts); k++) {
			if (num_opts[k].id != opt)
				continue;
			if (wr_parse_u64(optarg, num_opts[k].min, num_opts[k].max, &v) < 0)
				return usage_error(
				    "%s: '%s' is not a whole number in [%" PRIu64 ", %" PRIu64 "]",
				    num_opts[k].name, optarg, num_opts[k].min, num_opts[k].max);
			set_num(c, &num_opts[k], v);
		}
	}
	if (optind < argc && strcmp(argv[optind - 1], "--") == 0) {
		/* everything after "--" is for DPDK's EAL */
		c->capture.eal_argc = argc - optind;
		c->capture.eal_argv = argv + optind;
		optind = argc;
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s' (inputs need -i, outputs -o)",
		                   argv[optind]);
	if (c->n_inputs == 0)
		return usage_error("no input: give one with -i pcap:FILE or -i pcap:IFACE");
	if (c->n_outputs == 0 && c->redis_url == NULL && c->alerts_file == NULL)
		return usage_error("no output: give one with -o ipfix:udp://HOST:PORT, "
		                   "ipfix:tcp://HOST:PORT or ipfix:file:PATH (or alerts only, with "
		                   "--redis URL or --alerts-file FILE)");
	for (i = c->n_inputs; i < PROBE_MAX_INPUTS; i++)
		if (c->sample_own[i])
			return usage_error("--sample %u=...: there %s only %u input%s", i + 1,
			                   c->n_inputs == 1 ? "is" : "are", c->n_inputs,
			                   c->n_inputs == 1 ? "" : "s");
	for (i = 0; i < c->n_inputs; i++) {
		if (!c->sample_own[i]) {
			c->sample[i] = every;
			c->sample_spec[i] = every_spec;
		}
	}
	{
		/* the detector's settings are command-line errors too: checked before anything
		 * opens (the watch files are loaded here, once) */
		const char *key = NULL;
		char err[512];

#if WEIR_HAVE_HIREDIS
		if (c->redis_url) {
			char host[256], pw[256];
			int port, db;

			if (redispub_parse_url(c->redis_url, host, sizeof(host), &port, pw,
			                       sizeof(pw), &db, err, sizeof(err)) < 0)
				return usage_error("--redis: %s", err);
		}
#endif
		if (detect_params_check(&c->detect, &key) < 0)
			return usage_error("--detect %s: out of range (see docs/DETECTION.md)",
			                   key);
		c->watch_built = detect_watch_create();
		if (c->watch_built == NULL)
			return usage_error("out of memory");
		for (i = 0; i < c->n_watch; i++)
			if (detect_watch_add(c->watch_built, c->watch[i], err, sizeof(err)) < 0) {
				detect_watch_free(c->watch_built);
				c->watch_built = NULL;
				return usage_error("%s", err);
			}
	}
	return -1;
}

/* Waits for the pipeline to finish, taking SIGINT/SIGTERM on the way (they are blocked in
 * every thread, so they queue here). */
static void wait_for_pipeline(struct probe *pr, const sigset_t *sigs)
{
	const struct timespec tick = {0, 100 * 1000 * 1000};
	uint64_t end = pr->cfg.duration_s ? wr_mono_ns() + pr->cfg.duration_s * WR_NS_PER_S : 0;
	int seen = 0, sig;

	while (!probe_pipeline_finished(pr)) {
		sig = sigtimedwait(sigs, NULL, &tick);
		if (end && !seen && wr_mono_ns() >= end) {
			seen = 1; /* as if signalled: a signal now exits at once */
			probe_pipeline_request_stop(pr);
		}
		if (sig <= 0)
			continue;
		if (seen++) {
			fprintf(stderr, "weir: second %s: exiting without flushing\n",
			        sig == SIGINT ? "SIGINT" : "SIGTERM");
			_exit(128 + sig);
		}
		fprintf(stderr, "weir: %s: stopping capture, exporting every flow\n",
		        sig == SIGINT ? "SIGINT" : "SIGTERM");
		probe_pipeline_request_stop(pr);
	}
}

/* Totals over every input, reader and worker, for the summary and its conservation check. */
struct totals {
	uint64_t read, in_flows, non_ip, malformed, no_slot, not_sampled, ring_full;
	uint64_t sampled_observed, sampled_selected;
	uint64_t verdicts[CAPTURE_VERDICT_MAX];
	uint64_t dropped, if_dropped, errors, nombuf;
	uint64_t frag_matched, frag_unmatched;
	uint64_t flows_created, records[6], records_out, records_dropped;
	uint64_t clock_steps_back, clock_outliers;
};

/* Per input: what its readers and workers counted. */
struct input_totals {
	uint64_t in_flows, observed, selected, not_sampled;
};

static void add_input(const struct probe_input *in, struct input_totals *it)
{
	unsigned q, k;

	memset(it, 0, sizeof(*it));
	for (q = 0; q < in->n_queues; q++) {
		it->observed += in->readers[q].sampler.observed;
		it->selected += in->readers[q].sampler.selected;
		it->not_sampled += in->readers[q].not_sampled;
	}
	for (k = 0; k < in->n_workers; k++)
		it->in_flows += in->workers[k].fcstats.packets;
}

static void add_totals(const struct probe *pr, struct totals *t)
{
	unsigned i, q, v;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < pr->n_inputs; i++) {
		const struct probe_input *in = &pr->inputs[i];
		struct input_totals it;

		add_input(in, &it);
		t->not_sampled += it.not_sampled;
		t->sampled_observed += it.observed;
		t->sampled_selected += it.selected;
		t->read += in->cstats.packets;
		t->dropped += in->cstats.dropped;
		t->if_dropped += in->cstats.if_dropped;
		t->errors += in->cstats.errors;
		t->nombuf += in->cstats.nombuf;
		for (q = 0; q < in->n_queues; q++) {
			const struct probe_reader *r = &in->readers[q];

			for (v = 0; v < CAPTURE_VERDICT_MAX; v++) {
				t->verdicts[v] += r->verdicts[v];
				if (v == CAPTURE_OK)
					continue;
				if (capture_verdict_is_malformed(v))
					t->malformed += r->verdicts[v];
				else
					t->non_ip += r->verdicts[v];
			}
			t->ring_full += r->ring_full;
			t->frag_matched += r->fstats.matched;
			t->frag_unmatched += r->fstats.unmatched;
			t->clock_steps_back += r->clock_steps_back;
			t->clock_outliers += r->clock_outliers;
		}
	}
	for (i = 0; i < pr->n_workers; i++) {
		const struct probe_worker *w = &pr->workers[i];

		t->in_flows += w->fcstats.packets;
		t->no_slot += w->fcstats.no_slot;
		t->flows_created += w->fcstats.flows_created;
		for (v = 1; v < 6; v++)
			t->records[v] += w->fcstats.exported[v];
		t->records_out += w->records_out;
		t->records_dropped += w->records_dropped;
	}
}

/* The input's line(s): packets, drops where the source counts them, and how it is read. */
static void print_input(const struct probe_input *in)
{
	const struct capture_stats *c = &in->cstats;
	unsigned q, k;

	fprintf(stderr, "  input %s: %" PRIu64 " packets, %" PRIu64 " bytes", in->name, c->packets,
	        c->bytes);
	if (in->caps & CAPTURE_CAP_LIVE)
		fprintf(stderr,
		        ", %" PRIu64 " dropped by the kernel or NIC, %" PRIu64 " by the interface",
		        c->dropped, c->if_dropped);
	if (c->errors || c->nombuf)
		fprintf(stderr,
		        ", %" PRIu64 " receive errors, %" PRIu64 " lost for want of buffers",
		        c->errors, c->nombuf);
	if (c->truncated_file)
		fprintf(stderr, " (file ends inside a record)");
	fprintf(stderr, "\n");
	if (in->describe[0])
		fprintf(stderr, "    %s\n", in->describe);
	if (in->n_workers > 1 || in->n_queues > 1) {
		fprintf(stderr, "    %u queue%s, %u worker%s (%s):", in->n_queues,
		        in->n_queues > 1 ? "s" : "", in->n_workers, in->n_workers > 1 ? "s" : "",
		        in->steering ? "software steering" : "each worker reads its own queues");
		for (q = 0; in->n_queues > 1 && q < in->n_queues; q++)
			fprintf(stderr, " q%u %" PRIu64, q, in->readers[q].qstats.packets);
		for (k = 0; k < in->n_workers; k++)
			fprintf(stderr, "%s w%u %" PRIu64, k || in->n_queues > 1 ? "," : "", k,
			        in->workers[k].fcstats.packets);
		fprintf(stderr, " packets\n");
	}
}

/* The detector's part of the summary: series, alerts by kind, and where they went. */
static void print_alerts(const struct probe *pr)
{
	const struct probe_alerts *al = &pr->alerts;

	fprintf(stderr,
	        "  alerts: %" PRIu64 " series checked over %" PRIu64 " bins; %" PRIu64
	        " raised (%" PRIu64 " drops, %" PRIu64 " surges, %" PRIu64 " level shifts, %" PRIu64
	        " flapping, %" PRIu64 " probe degraded), %" PRIu64 " updates, %" PRIu64
	        " cleared\n",
	        al->engine_stats.series, al->engine_stats.bins, al->events[0],
	        al->raised[DETECT_RATE_DROP], al->raised[DETECT_RATE_SURGE],
	        al->raised[DETECT_LEVEL_SHIFT], al->raised[DETECT_FLAPPING],
	        al->raised[DETECT_PROBE_DEGRADED], al->events[1], al->events[2]);
	if (al->engine_stats.admitted)
		fprintf(stderr,
		        "  alerts: %" PRIu64
		        " busy destination prefixes admitted as series, %" PRIu64
		        " retired after dst_prefix_idle_s without a packet\n",
		        al->engine_stats.admitted, al->engine_stats.retired);
	if (al->engine_stats.series_refused)
		fprintf(stderr,
		        "  alerts: %" PRIu64 " series refused past the cap of %" PRIu64 "\n",
		        al->engine_stats.series_refused, pr->cfg.max_series);
	if (al->bins_lost)
		fprintf(stderr, "  alerts: %" PRIu64 " bins lost for want of memory\n",
		        al->bins_lost);
	if (pr->cfg.redis_url)
		fprintf(stderr,
		        "  redis %s: %" PRIu64 " messages published, %" PRIu64
		        " still spooled, %" PRIu64 " updates dropped, %" PRIu64 " lost, %" PRIu64
		        " reconnects\n",
		        pr->cfg.redis_url, al->redis_stats.published, al->redis_stats.spooled_now,
		        al->redis_stats.updates_dropped, al->redis_stats.lost,
		        al->redis_stats.reconnects);
}

static void print_summary(const struct probe *pr, const struct totals *t, int balanced)
{
	unsigned i, v;

	fprintf(stderr, "weir: summary\n");
	for (i = 0; i < pr->n_inputs; i++)
		print_input(&pr->inputs[i]);
	if (pr->cpu_plan[0])
		fprintf(stderr, "  threads: %s\n", pr->cpu_plan);
	fprintf(stderr,
	        "  packets: %" PRIu64 " read, %" PRIu64 " parsed, %" PRIu64 " in flows, %" PRIu64
	        " non-IP, %" PRIu64 " malformed\n",
	        t->read, t->verdicts[CAPTURE_OK], t->in_flows, t->non_ip, t->malformed);
	for (v = 1; v < CAPTURE_VERDICT_MAX; v++)
		if (t->verdicts[v])
			fprintf(stderr, "    %-18s %" PRIu64 "\n", capture_verdict_name(v),
			        t->verdicts[v]);
	if (t->frag_matched || t->frag_unmatched)
		fprintf(stderr,
		        "  fragments: %" PRIu64 " non-first joined their flow, %" PRIu64
		        " without a first fragment (ports 0)\n",
		        t->frag_matched, t->frag_unmatched);
	fprintf(stderr,
	        "  flows: %" PRIu64 " created; %" PRIu64 " records (idle %" PRIu64
	        ", active %" PRIu64 ", end of flow %" PRIu64 ", forced end %" PRIu64
	        ", evicted %" PRIu64 ")\n",
	        t->flows_created, t->records_out + t->records_dropped, t->records[1], t->records[2],
	        t->records[3], t->records[4], t->records[5]);
	if (t->records_dropped)
		fprintf(stderr, "  records lost to a full export queue: %" PRIu64 "\n",
		        t->records_dropped);
	if (t->clock_outliers)
		fprintf(stderr,
		        "  clock: %" PRIu64
		        " packets with a time far ahead of their neighbours did "
		        "not move it\n",
		        t->clock_outliers);
	if (t->clock_steps_back)
		fprintf(stderr,
		        "  clock: stepped back %" PRIu64 " times to packets older than the idle "
		        "timeout (bad or out-of-order timestamps)\n",
		        t->clock_steps_back);
	for (i = 0; i < pr->n_exporters; i++) {
		struct ipfix_exporter_stats s;

		ipfix_exporter_get_stats(pr->exporters[i], &s);
		fprintf(stderr,
		        "  output ipfix:%s: %" PRIu64 " records in %" PRIu64 " messages, %" PRIu64
		        " bytes sent, %" PRIu64 " records not sent (%" PRIu64 " packets)\n",
		        ipfix_exporter_url(pr->exporters[i]), s.records, s.messages, s.bytes,
		        s.records_lost, s.packets_lost);
	}
	for (i = 0; i < pr->n_inputs; i++) {
		const struct probe_input *in = &pr->inputs[i];
		struct input_totals it;

		if (pr->cfg.sample_spec[i] == NULL)
			continue;
		add_input(in, &it);
		fprintf(stderr,
		        "  sampling input %s (%s, selectorId %u): %" PRIu64
		        " packets observed, %" PRIu64 " selected, %" PRIu64 " passed over\n",
		        in->name, pr->cfg.sample_spec[i], i + 1, it.observed, it.selected,
		        it.not_sampled);
	}
	if (t->ring_full)
		fprintf(stderr, "  packets lost to a full worker queue: %" PRIu64 "\n",
		        t->ring_full);
	print_alerts(pr);
	fprintf(stderr, "  accounting: %s (read = in flows + non-IP + malformed%s%s%s)\n",
	        balanced ? "balanced" : "MISMATCH", t->not_sampled ? " + not sampled" : "",
	        t->no_slot ? " + no slot" : "", t->ring_full ? " + worker queue full" : "");
}

/* Writes s as a JSON string literal (quotes, backslashes and control characters escaped). */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int write_json(const struct probe *pr, const struct totals *t, const char *path)
{
	FILE *f = fopen(path, "w");
	unsigned i, v;

	if (f == NULL)
		return -errno;
	fprintf(f,
	        "{\n  \"packets_read\": %" PRIu64 ",\n  \"packets_in_flows\": %" PRIu64
	        ",\n  \"packets_non_ip\": %" PRIu64 ",\n  \"packets_malformed\": %" PRIu64
	        ",\n  \"packets_no_slot\": %" PRIu64 ",\n  \"packets_not_sampled\": %" PRIu64
	        ",\n  \"sampling_observed\": %" PRIu64 ",\n  \"sampling_selected\": %" PRIu64
	        ",\n  \"packets_ring_full\": %" PRIu64 ",\n  \"dropped\": %" PRIu64
	        ",\n  \"receive_errors\": %" PRIu64 ",\n  \"no_buffers\": %" PRIu64 ",\n",
	        t->read, t->in_flows, t->non_ip, t->malformed, t->no_slot, t->not_sampled,
	        t->sampled_observed, t->sampled_selected, t->ring_full, t->dropped, t->errors,
	        t->nombuf);
	fprintf(f, "  \"verdicts\": {");
	for (v = 0; v < CAPTURE_VERDICT_MAX; v++)
		fprintf(f, "%s\"%s\": %" PRIu64, v ? ", " : "", capture_verdict_name(v),
		        t->verdicts[v]);
	fprintf(f,
	        "},\n  \"fragments_matched\": %" PRIu64 ",\n  \"fragments_unmatched\": %" PRIu64
	        ",\n  \"flows_created\": %" PRIu64 ",\n",
	        t->frag_matched, t->frag_unmatched, t->flows_created);
	fprintf(f,
	        "  \"records\": {\"idle\": %" PRIu64 ", \"active\": %" PRIu64
	        ", \"end_of_flow\": %" PRIu64 ", \"forced_end\": %" PRIu64
	        ", \"lack_of_resources\": %" PRIu64 "},\n",
	        t->records[1], t->records[2], t->records[3], t->records[4], t->records[5]);
	fprintf(f, "  \"elapsed_s\": %.6f,\n  \"cpu_plan\": ", pr->elapsed_ns / 1e9);
	json_string(f, pr->cpu_plan);
	fprintf(f, ",\n");
	fprintf(f, "  \"clock_steps_back\": %" PRIu64 ",\n  \"clock_outliers\": %" PRIu64 ",\n",
	        t->clock_steps_back, t->clock_outliers);
	{
		const struct probe_alerts *al = &pr->alerts;

		fprintf(f,
		        "  \"alerts\": {\"series\": %" PRIu64 ", \"bins\": %" PRIu64
		        ", \"bins_lost\": %" PRIu64 ", \"series_refused\": %" PRIu64
		        ", \"admitted\": %" PRIu64 ", \"retired\": %" PRIu64
		        ", \"raised\": %" PRIu64 ", \"updates\": %" PRIu64 ", \"cleared\": %" PRIu64
		        ", \"raised_by_kind\": {",
		        al->engine_stats.series, al->engine_stats.bins, al->bins_lost,
		        al->engine_stats.series_refused, al->engine_stats.admitted,
		        al->engine_stats.retired, al->events[0], al->events[1], al->events[2]);
		for (int k = DETECT_RATE_DROP; k <= DETECT_PROBE_DEGRADED; k++)
			fprintf(f, "%s\"%s\": %" PRIu64, k > 1 ? ", " : "", detect_kind_name(k),
			        al->raised[k]);
		fprintf(f,
		        "},\n    \"redis\": {\"published\": %" PRIu64 ", \"spooled\": %" PRIu64
		        ", \"updates_dropped\": %" PRIu64 ", \"lost\": %" PRIu64
		        ", \"reconnects\": %" PRIu64 ", \"submitted\": %" PRIu64 "}},\n",
		        al->redis_stats.published, al->redis_stats.spooled_now,
		        al->redis_stats.updates_dropped, al->redis_stats.lost,
		        al->redis_stats.reconnects, al->redis_stats.submitted);
	}
	fprintf(f, "  \"biflow\": %s,\n  \"inputs\": [", pr->cfg.biflow ? "true" : "false");
	for (i = 0; i < pr->n_inputs; i++) {
		const struct probe_input *in = &pr->inputs[i];
		struct input_totals it;
		unsigned k;

		add_input(in, &it);
		fprintf(f, "%s\n    {\"input\": ", i ? "," : "");
		json_string(f, in->name);
		fprintf(f,
		        ", \"packets\": %" PRIu64 ", \"in_flows\": %" PRIu64
		        ", \"queues\": %u, \"steering\": %s, \"workers\": [",
		        in->cstats.packets, it.in_flows, in->n_queues,
		        in->steering ? "true" : "false");
		for (k = 0; k < in->n_workers; k++)
			fprintf(f, "%s%" PRIu64, k ? ", " : "", in->workers[k].fcstats.packets);
		fprintf(f, "], \"queue_packets\": [");
		for (k = 0; k < in->n_queues; k++)
			fprintf(f, "%s%" PRIu64, k ? ", " : "", in->readers[k].qstats.packets);
		fprintf(f, "], \"sample\": ");
		if (pr->cfg.sample_spec[i] != NULL)
			json_string(f, pr->cfg.sample_spec[i]);
		else
			fputs("null", f);
		fprintf(f,
		        ", \"selector_id\": %u, \"sampling_observed\": %" PRIu64
		        ", \"sampling_selected\": %" PRIu64 "}",
		        i + 1, it.observed, it.selected);
	}
	fprintf(f, "\n  ],\n");
	fprintf(f,
	        "  \"records_queued\": %" PRIu64 ",\n  \"records_queue_full\": %" PRIu64
	        ",\n  \"records_exported\": %" PRIu64 ",\n  \"outputs\": [",
	        t->records_out, t->records_dropped, pr->records_exported);
	for (i = 0; i < pr->n_exporters; i++) {
		struct ipfix_exporter_stats s;

		ipfix_exporter_get_stats(pr->exporters[i], &s);
		fprintf(f, "%s\n    {\"url\": ", i ? "," : "");
		json_string(f, ipfix_exporter_url(pr->exporters[i]));
		fprintf(f,
		        ", \"records\": %" PRIu64 ", \"messages\": %" PRIu64 ", \"bytes\": %" PRIu64
		        ", \"records_lost\": %" PRIu64 ", \"packets_lost\": %" PRIu64
		        ", \"octets_lost\": %" PRIu64 ", \"template_sets\": %" PRIu64
		        ", \"stats_messages\": %" PRIu64 ", \"send_errors\": %" PRIu64
		        ", \"connects\": %" PRIu64 ", \"files\": %" PRIu64 "}",
		        s.records, s.messages, s.bytes, s.records_lost, s.packets_lost,
		        s.octets_lost, s.template_sets, s.stats_sent, s.send_errors, s.connects,
		        s.files);
	}
	fprintf(f, "\n  ]\n}\n");
	return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
	struct probe *pr = &the_probe;
	char err[512];
	struct totals t;
	sigset_t sigs;
	int rc, balanced, status = 0;
	unsigned i;

	rc = parse_args(argc, argv, &pr->cfg);
	if (rc >= 0)
		return rc;

	rc = probe_pipeline_open(pr, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "weir: %s\n", err);
		probe_pipeline_close(pr);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* inherited by every thread started below */
	rc = probe_pipeline_start(pr, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "weir: %s\n", err);
		probe_pipeline_close(pr);
		return 1;
	}
	pr->elapsed_ns = wr_mono_ns();
	wait_for_pipeline(pr, &sigs);
	probe_pipeline_join(pr);
	pr->elapsed_ns = wr_mono_ns() - pr->elapsed_ns;

	add_totals(pr, &t);
	balanced =
	    t.read == t.in_flows + t.non_ip + t.malformed + t.no_slot + t.not_sampled + t.ring_full;
	for (i = 0; i < pr->n_inputs; i++) {
		for (unsigned q = 0; q < pr->inputs[i].n_queues; q++) {
			const struct probe_reader *r = &pr->inputs[i].readers[q];

			if (!r->error)
				continue;
			fprintf(stderr,
			        "weir: input '%s': %s (flows read before it were exported)\n",
			        pr->inputs[i].name, r->errmsg[0] ? r->errmsg : strerror(-r->error));
			status = 1;
		}
	}
	if (!pr->cfg.quiet)
		print_summary(pr, &t, balanced);
	if (pr->cfg.summary_json && (rc = write_json(pr, &t, pr->cfg.summary_json)) < 0) {
		fprintf(stderr, "weir: --summary-json '%s': %s\n", pr->cfg.summary_json,
		        strerror(-rc));
		status = 1;
	}
	probe_pipeline_close(pr);
	return status;
}
