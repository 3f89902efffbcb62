/*
 * Fuzz target: the control socket's command parser (probe_control_parse) and the loopback
 * ADDR:PORT parser of --metrics (probe_parse_loopback), both in probe/control_parse.c.
 *
 * The input is what a client sends; as the socket thread does, at most
 * PROBE_CONTROL_LINE_MAX - 1 bytes of it are taken. The parse must cut the first line in
 * place and name a command that is exactly that line (flows top with N in [1, 1000]), or
 * nothing for an empty line, or an error with a message; parsing the cut line again must give
 * the same. The cut line is also parsed as a --metrics address: accepted only as a loopback
 * address with a port.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[PROBE_CONTROL_LINE_MAX], again[PROBE_CONTROL_LINE_MAX];
	char err[2 * PROBE_CONTROL_LINE_MAX] = "", err2[2 * PROBE_CONTROL_LINE_MAX] = "";
	size_t used = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	unsigned top = 0, top2 = 0;
	enum probe_control_cmd cmd, cmd2;
	struct sockaddr_storage sa;

	if (used > 0)
		memcpy(line, data, used);
	cmd = probe_control_parse(line, used, &top, err, sizeof(err));
	FUZZ_CHECK(strlen(line) <= used);
	FUZZ_CHECK(strpbrk(line, "\r\n") == NULL);
	FUZZ_CHECK(memcmp(line, data, strlen(line)) == 0);
	switch (cmd) {
	case PROBE_CONTROL_NONE:
		FUZZ_CHECK(line[0] == '\0');
		break;
	case PROBE_CONTROL_STATS:
		FUZZ_CHECK(strcmp(line, "stats") == 0);
		break;
	case PROBE_CONTROL_ALERTS:
		FUZZ_CHECK(strcmp(line, "alerts") == 0);
		break;
	case PROBE_CONTROL_CONFIG:
		FUZZ_CHECK(strcmp(line, "config") == 0);
		break;
	case PROBE_CONTROL_TOP:
		FUZZ_CHECK(top >= 1 && top <= 1000);
		FUZZ_CHECK(strncmp(line, "flows top", 9) == 0);
		if (line[9] == '\0')
			FUZZ_CHECK(top == 10);
		else
			FUZZ_CHECK(line[9] == ' ' && strtoul(line + 10, NULL, 10) == top);
		break;
	case PROBE_CONTROL_ERROR:
		FUZZ_CHECK(line[0] != '\0');
		FUZZ_CHECK(err[0] != '\0' && strlen(err) < sizeof(err) - 1); /* not cut short */
		FUZZ_CHECK(strstr(err, strncmp(line, "flows top ", 10) == 0 ? line + 10 : line));
		break;
	default:
		FUZZ_CHECK(0 && "no such command");
	}

	/* the cut line parses the same */
	memcpy(again, line, strlen(line) + 1);
	cmd2 = probe_control_parse(again, strlen(line), &top2, err2, sizeof(err2));
	FUZZ_CHECK(cmd2 == cmd && strcmp(again, line) == 0);
	FUZZ_CHECK(cmd != PROBE_CONTROL_TOP || top2 == top);
	FUZZ_CHECK(cmd != PROBE_CONTROL_ERROR || strcmp(err, err2) == 0);

	err[0] = '\0';
	if (probe_parse_loopback(line, &sa, err, sizeof(err)) == 0) {
		if (sa.ss_family == AF_INET) {
			const struct sockaddr_in *a4 = (const struct sockaddr_in *)&sa;

			FUZZ_CHECK(ntohl(a4->sin_addr.s_addr) >> 24 == 127 && a4->sin_port != 0);
		} else {
			const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&sa;

			FUZZ_CHECK(sa.ss_family == AF_INET6);
			FUZZ_CHECK(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr) && a6->sin6_port != 0);
		}
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	return 0;
}
