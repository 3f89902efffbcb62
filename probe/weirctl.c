/*
 * weirctl: asks a running weir over its control socket (--control-socket) and prints the
 * answer. Read-only: stats (the counters as JSON), flows top [N] (the largest active flows),
 * alerts (the firing alerts, one JSON line each), config (the settings in effect, as YAML).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "weir_config.h"

#define DEFAULT_SOCKET "/run/weir/control.sock"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: weirctl [-s SOCKET] COMMAND\n"
	    "Asks a running weir (started with --control-socket SOCKET) and prints the answer.\n"
	    "\n"
	    "Commands:\n"
	    "  stats          the counters, as JSON (the fields of --summary-json)\n"
	    "  flows top [N]  the N (10) largest active flows by octets\n"
	    "  alerts         the alerts firing now, one JSON message each\n"
	    "  config         the settings in effect, as a config file\n"
	    "\n"
	    "  -s SOCKET      the control socket [%s]\n"
	    "  -h, --help     this text\n"
	    "  -V, --version  the version\n",
	    DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_SOCKET;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char cmd[256] = "", buf[65536];
	size_t used = 0;
	int i = 1, fd, err_answer = 0, first = 1;
	ssize_t n;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("weirctl %s\n", WEIR_VERSION);
			return 0;
		} else {
			fprintf(stderr, "weirctl: %s: unknown option (see weirctl --help)\n",
			        argv[i]);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	for (; i < argc; i++) { /* the words, joined by spaces, as one line */
		size_t len = strlen(argv[i]);

		if (used + len + 2 > sizeof(cmd)) {
			fprintf(stderr, "weirctl: command too long\n");
			return 2;
		}
		if (used)
			cmd[used++] = ' ';
		memcpy(cmd + used, argv[i], len);
		used += len;
	}
	cmd[used++] = '\n';
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "weirctl: %s: path too long\n", path);
		return 2;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "weirctl: cannot reach weir at %s: %s%s\n", path, strerror(errno),
		        errno == ENOENT ? " (is weir running with --control-socket?)" : "");
		return 2;
	}
	if (write(fd, cmd, used) != (ssize_t)used) {
		fprintf(stderr, "weirctl: %s: %s\n", path, strerror(errno));
		return 2;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first && n >= 6 && memcmp(buf, "error:", 6) == 0)
			err_answer = 1;
		first = 0;
		fwrite(buf, 1, (size_t)n, err_answer ? stderr : stdout);
	}
	close(fd);
	if (n < 0) {
		fprintf(stderr, "weirctl: %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (first) {
		fprintf(stderr, "weirctl: %s: no answer\n", path);
		return 2;
	}
	return err_answer;
}
