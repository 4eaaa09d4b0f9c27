/*
 * sysmsg.c - system messages for the device log (see sysmsg.h): each is
 * logged at info level, then handed to the registered sink.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "sysmsg.h"

static sysmsg_sink sink_fn;
static void *sink_arg;

void sysmsg_set_sink(sysmsg_sink sink, void *arg)
{
	sink_fn = sink;
	sink_arg = arg;
}

void sysmsg(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("%s", msg);
	if (sink_fn != NULL)
		sink_fn(msg, sink_arg);
}
