/*
 * devlog.c - the device log: system messages in the balena supervisor's
 * wording (facts §7.4), written to agentd's own log. The local API's log
 * stream and the cloud upload read from here as they are added.
 */
#include <stdarg.h>
#include <stdio.h>

#include "agentd.h"
#include "log.h"

void devlog_system(struct agentd *ad, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	(void)ad;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("%s", msg);
}
