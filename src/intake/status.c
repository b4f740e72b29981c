/*
 * status: the operator's page (see groupsync/intake/status.h). Plain
 * HTML and CSS, no JavaScript: a <meta http-equiv="refresh"> reloads it
 * every 30 s. Everything from the store is HTML-escaped.
 */
#include "groupsync/intake/status.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "groupsync/base/util.h"

#define STATUS_REFRESH_S 30

static const char status_css[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
	"h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.5em}"
	"table{border-collapse:collapse}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;"
	"text-align:left}th{background:#f4f4f4}.n{text-align:right}"
	".bad{color:#b00020;font-weight:600}.ok{color:#0a7d28}"
	"code{font-size:.95em}small{color:#666}";

int
status_cookie_value(const char *token, char *out)
{
	static const char hex[] = "0123456789abcdef";
	static const char label[] = "groupsync status cookie:";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int i, mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, label, sizeof(label) - 1) &&
	    EVP_DigestUpdate(ctx, token, strlen(token)) &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;

	EVP_MD_CTX_free(ctx);
	out[0] = '\0';
	if (!ok)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[STATUS_COOKIE_LEN] = '\0';
	return 0;
}

/* The value of cookie name in a Cookie header, copied into out, or "". */
static void
status_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	size_t k = strlen(name), n;
	const char *p = header;

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		p += strspn(p, " ;");
		n = strcspn(p, ";");
		if (n > k && strncmp(p, name, k) == 0 && p[k] == '=') {
			(void)util_format(out, outlen, "%.*s", (int)(n - k - 1), p + k + 1);
			return;
		}
		p += n;
	}
}

int
status_authorized(const char *token, const char *authorization, const char *cookie)
{
	char want[STATUS_COOKIE_LEN + 1], got[STATUS_COOKIE_LEN + 2];
	size_t tlen = token != NULL ? strlen(token) : 0;
	int m = 0;

	if (tlen == 0)
		return 0;
	if (authorization != NULL && strncmp(authorization, "Bearer ", 7) == 0)
		m |= util_secret_equal(authorization + 7, strlen(authorization + 7), token, tlen);
	if (cookie != NULL && status_cookie_value(token, want) == 0) {
		status_cookie_get(cookie, STATUS_COOKIE, got, sizeof(got));
		m |= util_secret_equal(got, strlen(got), want, STATUS_COOKIE_LEN);
	}
	return m;
}

static int
status_hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : isxdigit((unsigned char)c) ?
	    tolower((unsigned char)c) - 'a' + 10 : -1;
}

int
status_form_token(const char *body, char *out, size_t outlen)
{
	const char *p = body;
	size_t n = 0;

	while (p != NULL && strncmp(p, "token=", 6) != 0) {
		p = strchr(p, '&');
		p = p != NULL ? p + 1 : NULL;
	}
	if (p == NULL)
		return -1;
	for (p += 6; *p != '\0' && *p != '&'; p++) {
		int c = (unsigned char)*p;

		if (c == '+')
			c = ' ';
		else if (c == '%' && status_hexval(p[1]) >= 0 && status_hexval(p[2]) >= 0) {
			c = status_hexval(p[1]) * 16 + status_hexval(p[2]);
			p += 2;
		}
		if (n + 1 >= outlen || c == 0)
			return -1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

static void
status_esc(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': buf_add(b, "&lt;", 4); break;
		case '>': buf_add(b, "&gt;", 4); break;
		case '&': buf_add(b, "&amp;", 5); break;
		case '"': buf_add(b, "&quot;", 6); break;
		case '\'': buf_add(b, "&#39;", 5); break;
		default: buf_add(b, s, 1);
		}
	}
}

static void
status_head(struct buf *b, const char *title, int refresh)
{
	buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">");
	if (refresh)
		buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">", STATUS_REFRESH_S);
	buf_printf(b, "<title>%s</title><style>%s</style></head><body>", title, status_css);
}

void
status_render_signin(struct buf *b, int failed)
{
	status_head(b, "groupsync: sign in", 0);
	buf_printf(b, "<h1>groupsync status</h1>%s"
	    "<form method=\"post\" action=\"/status\"><label>Status token "
	    "<input type=\"password\" name=\"token\" autocomplete=\"current-password\" "
	    "required></label> <button type=\"submit\">Sign in</button></form>"
	    "<p><small>GROUPSYNC_STATUS_TOKEN; or send it as "
	    "<code>Authorization: Bearer</code>.</small></p></body></html>\n",
	    failed ? "<p class=\"bad\" id=\"signin-failed\">Wrong token.</p>" : "");
}

static void
status_time(struct buf *b, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[32];

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		(void)util_copy(s, sizeof(s), "-");
	buf_printf(b, "%s", s);
}

/* How a listed job ended: done, dead, or failed and waiting to retry. */
static const char *
status_outcome(const struct store_job_info *info)
{
	switch (info->job.state) {
	case STORE_DONE:
		return "done";
	case STORE_DEAD:
		return "dead";
	case STORE_PENDING:
		return info->job.not_before_ms == STORE_HELD_NOT_BEFORE ? "held" : "retry";
	default:
		return "syncing";
	}
}

/* One table of jobs: id, (with outcome) how it ended, user, event,
 * attempts, updated, and the error. */
static void
status_jobs(struct buf *b, const char *id, const struct store_job_info *jobs, size_t n,
    const char *none, int outcome)
{
	size_t i;
	const char *o;

	if (n == 0) {
		buf_printf(b, "<p id=\"%s\">%s</p>", id, none);
		return;
	}
	buf_printf(b, "<table id=\"%s\"><tr><th>job</th>%s<th>user</th><th>event</th>"
	    "<th class=\"n\">attempts</th><th>updated</th><th>error</th></tr>", id,
	    outcome ? "<th>outcome</th>" : "");
	for (i = 0; i < n; i++) {
		const struct store_job *j = &jobs[i].job;

		buf_printf(b, "<tr><td class=\"n\">%lld</td>", (long long)j->id);
		if (outcome) {
			o = status_outcome(&jobs[i]);
			buf_printf(b, "<td class=\"outcome%s\">%s</td>",
			    strcmp(o, "done") != 0 ? " bad" : "", o);
		}
		buf_printf(b, "<td><code>");
		status_esc(b, j->user_id);
		buf_printf(b, "</code></td><td>");
		status_esc(b, j->event_type);
		buf_printf(b, "</td><td class=\"n\">%d</td><td>", j->attempts);
		status_time(b, jobs[i].updated_ms);
		buf_printf(b, "</td><td>");
		status_esc(b, j->last_error[0] ? j->last_error : "-");
		buf_printf(b, "</td></tr>");
	}
	buf_printf(b, "</table>");
}

void
status_render(struct buf *b, const struct status_view *v)
{
	static const char *const names[4] = {"pending", "leased", "done", "dead"};
	size_t i;

	status_head(b, "groupsync status", 1);
	buf_printf(b, "<h1>groupsync status</h1><p>version <code>%s</code>, up %lldh %02lldm, "
	    "as of ", GROUPSYNC_VERSION, (long long)(v->uptime_s / 3600),
	    (long long)(v->uptime_s / 60 % 60));
	status_time(b, v->now_ms);
	buf_printf(b, " <small>(refreshes every %d s)</small></p>", STATUS_REFRESH_S);
	if (!v->have_queue) {
		buf_printf(b, "<p class=\"bad\" id=\"queue-unreadable\">The store cannot be "
		    "read.</p></body></html>\n");
		return;
	}
	buf_printf(b, "<h2>Queue</h2><table id=\"queue\"><tr>");
	for (i = 0; i < 4; i++)
		buf_printf(b, "<th class=\"n\">%s</th>", names[i]);
	buf_printf(b, "<th class=\"n\">held</th><th class=\"n\">oldest pending</th></tr><tr>");
	for (i = 0; i < 4; i++)
		buf_printf(b, "<td class=\"n%s\" id=\"q-%s\">%lld</td>",
		    i == STORE_DEAD && v->jobs[i] > 0 ? " bad" : "", names[i],
		    (long long)v->jobs[i]);
	buf_printf(b, "<td class=\"n%s\" id=\"q-held\">%lld</td><td class=\"n\" "
	    "id=\"q-oldest\">%lld s</td></tr></table>", v->held > 0 ? " bad" : "",
	    (long long)v->held, (long long)(v->oldest_pending_ms / 1000));
	buf_printf(b, "<h2>Okta</h2><p id=\"okta\">rate limit remaining: ");
	if (v->okta_remaining >= 0)
		buf_printf(b, "%lld", (long long)v->okta_remaining);
	else
		buf_printf(b, "unknown (no Okta answer yet)");
	buf_printf(b, "</p><h2>Reconcile</h2><p id=\"reconcile\">");
	if (v->reconcile_interval_s <= 0)
		buf_printf(b, "periodic reconcile off (GROUPSYNC_RECONCILE_INTERVAL)");
	else if (v->reconcile_last_ms <= 0)
		buf_printf(b, "none since start (every %d s)", v->reconcile_interval_s);
	else {
		buf_printf(b, "last finished ");
		status_time(b, v->reconcile_last_ms);
		buf_printf(b, " (every %d s)", v->reconcile_interval_s);
	}
	buf_printf(b, "</p><h2>Dead letters</h2>");
	status_jobs(b, "dead", v->dead, v->ndead, "None.", 0);
	if (v->held > 0)
		buf_printf(b, "<p class=\"bad\">%lld deprovisions held: <code>groupsync queue "
		    "release-held --all</code> or <code>queue drop ID</code>.</p>",
		    (long long)v->held);
	buf_printf(b, "<h2>Last syncs</h2>");
	status_jobs(b, "recent", v->recent, v->nrecent, "None yet.", 1);
	buf_printf(b, "</body></html>\n");
}
