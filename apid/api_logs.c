/*
 * apid/api_logs.c - GET /v2/local/logs: an endless NDJSON stream of the
 * device log (container output with serviceName, system messages with
 * isSystem). The first line is {"message":"Streaming logs","isSystem":true}
 * as the balena CLI expects. agentd sends lines only while someone listens.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "apid.h"
#include "log.h"

struct log_client {
	TAILQ_ENTRY(log_client) entry;
	struct apid *a;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
};

static void logs_want(struct apid *a, int want)
{
	json_t *m = json_pack("{s:b}", "want", want);

	chan_send_json(child_chan(a->child), MSG_LOG_WANT, 0, 0, m);
	json_decref(m);
}

static void logs_drop(struct log_client *lc)
{
	struct apid *a = lc->a;

	TAILQ_REMOVE(&a->log_clients, lc, entry);
	free(lc);
	if (TAILQ_EMPTY(&a->log_clients))
		logs_want(a, 0);
}

static void logs_on_close(struct evhttp_connection *conn, void *arg)
{
	struct log_client *lc = arg;

	(void)conn;
	request_forget(lc->req); /* the stream never ended: the request is ours */
	logs_drop(lc);
}

static void logs_send(struct log_client *lc, const char *text, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	if (buf == NULL)
		return;
	evbuffer_add(buf, text, len);
	evbuffer_add(buf, "\n", 1);
	evhttp_send_reply_chunk(lc->req, buf);
	evbuffer_free(buf);
}

void api_local_logs(struct apid *a, struct evhttp_request *req)
{
	static const char first[] = "{\"message\":\"Streaming logs\",\"isSystem\":true}";
	struct log_client *lc = calloc(1, sizeof(*lc));

	if (lc == NULL) {
		reply_text(req, 503, "Service Unavailable");
		return;
	}
	lc->a = a;
	lc->req = req;
	lc->conn = evhttp_request_get_connection(req);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/x-ndjson");
	evhttp_send_reply_start(req, 200, "OK");
	if (TAILQ_EMPTY(&a->log_clients))
		logs_want(a, 1);
	TAILQ_INSERT_TAIL(&a->log_clients, lc, entry);
	conns_set_closecb(lc->a, lc->conn, logs_on_close, lc);
	logs_send(lc, first, sizeof(first) - 1);
}

void logs_broadcast(struct apid *a, json_t *line)
{
	struct log_client *lc;
	char *text;

	if (TAILQ_EMPTY(&a->log_clients) || (text = json_dumps(line, JSON_COMPACT)) == NULL)
		return;
	TAILQ_FOREACH(lc, &a->log_clients, entry)
		logs_send(lc, text, strlen(text));
	free(text);
}

void logs_free_all(struct apid *a)
{
	struct log_client *lc;

	while ((lc = TAILQ_FIRST(&a->log_clients)) != NULL) {
		conns_set_closecb(lc->a, lc->conn, NULL, NULL);
		TAILQ_REMOVE(&a->log_clients, lc, entry);
		free(lc);
	}
}
