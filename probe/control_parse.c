/*
 * control_parse: the pure parsing behind the control side: the command line a weirctl client
 * sends on the control socket, and the loopback ADDR:PORT of --metrics.
 *
 * Nothing here does I/O, so options.c and the fuzz targets (tests/fuzz) link it without the
 * sockets and threads of control.c.
 */
#include "control.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "flowcache.h"
#include "wr.h"

#define TOP_DEFAULT 10

int probe_parse_loopback(const char *s, struct sockaddr_storage *ret, char *err, size_t errlen)
{
	char host[64];
	const char *colon, *h = s;
	size_t hlen;
	uint64_t port;

	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') { /* [IPv6]:PORT */
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "'%s' is not [IPV6]:PORT", s);
			return -1;
		}
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			snprintf(err, errlen, "'%s' is not ADDR:PORT", s);
			return -1;
		}
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host) || wr_parse_u64(colon + 1, 1, 65535, &port) < 0) {
		snprintf(err, errlen, "'%s' is not ADDR:PORT with a port in [1, 65535]", s);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)ret;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ret;

		if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons((uint16_t)port);
			if ((ntohl(a4->sin_addr.s_addr) >> 24) == 127)
				return 0;
		} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons((uint16_t)port);
			if (IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
				return 0;
		} else {
			snprintf(err, errlen, "'%s' is not an IP address", host);
			return -1;
		}
	}
	snprintf(err, errlen, "'%s' is not a loopback address (127.0.0.0/8 or ::1)", host);
	return -1;
}

enum probe_control_cmd probe_control_parse(char *buf, size_t len, unsigned *ret_top, char *err,
                                           size_t errlen)
{
	uint64_t want = TOP_DEFAULT;

	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0')
		return PROBE_CONTROL_NONE;
	if (strcmp(buf, "stats") == 0)
		return PROBE_CONTROL_STATS;
	if (strcmp(buf, "alerts") == 0)
		return PROBE_CONTROL_ALERTS;
	if (strcmp(buf, "config") == 0)
		return PROBE_CONTROL_CONFIG;
	if (strncmp(buf, "flows top", 9) == 0 && (buf[9] == '\0' || buf[9] == ' ')) {
		if (buf[9] == ' ' && wr_parse_u64(buf + 10, 1, FLOWCACHE_TOP_MAX, &want) < 0) {
			snprintf(err, errlen, "'flows top %s': N must be a whole number in [1, %d]",
			         buf + 10, FLOWCACHE_TOP_MAX);
			return PROBE_CONTROL_ERROR;
		}
		*ret_top = (unsigned)want;
		return PROBE_CONTROL_TOP;
	}
	snprintf(err, errlen, "unknown command '%s' (stats, flows top [N], alerts, config)", buf);
	return PROBE_CONTROL_ERROR;
}
