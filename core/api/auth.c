/* Tokens and scopes: the admin token (made at first start), user tokens (--token-file) and each
 * service's secret; who may do what (README "Security", "Tokens"). Tokens are compared in
 * constant time and never logged. What depends on the path only is decided here; what depends
 * on a service's creator the model decides again for every write (service.h requests), with
 * the actor this file sets. */
#include "api-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "robot.h"
#include "service.h"
#include "util/cleanup.h"
#include "util/log.h"

#define TOKEN_MIN 16

/* Equal in time that depends on the length of the secret only, not on where they differ. */
static bool ct_equal(const char *given, size_t glen, const char *secret)
{
	size_t slen = strlen(secret);
	volatile unsigned char d = glen != slen;
	for (size_t i = 0; i < slen; i++) {
		unsigned char g = glen ? (unsigned char)given[i % glen] : 0;
		d |= g ^ (unsigned char)secret[i];
	}
	return d == 0;
}

static int make_admin_token(const char *path, char **ret)
{
	unsigned char raw[32];
	char hex[65];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno != EINTR) {
			return -errno;
		}
		got += n > 0 ? (size_t)n : 0;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	}
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -errno;
	}
	hex[64] = '\n';
	if (write(fd, hex, 65) != 65 || fsync(fd) < 0) {
		int err = errno ? -errno : -EIO;
		(void)unlink(path);
		return err;
	}
	hex[64] = '\0';
	*ret = strdup(hex);
	return *ret ? 0 : -ENOMEM;
}

/* The first line of a file without surrounding white space. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t') {
		s++;
	}
	size_t n = strlen(s);
	while (n > 0 && strchr(" \t\r\n", s[n - 1])) {
		s[--n] = '\0';
	}
	return s;
}

static bool token_chars_ok(const char *t)
{
	for (; *t; t++) {
		if (*t <= ' ' || *t > '~') {
			return false;
		}
	}
	return true;
}

static int load_admin(struct zr_api *api, char **ret_err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/admin.token", api->cfg.data_dir) < 0) {
		return -ENOMEM;
	}
	FILE *f = fopen(path, "re");
	if (!f && errno == ENOENT) {
		int err = make_admin_token(path, &api->tokens.admin);
		if (err < 0) {
			(void)asprintf(ret_err, "Failed to create the admin token %s: %s", path, strerror(-err));
			return err;
		}
		log_info("Created the HTTP admin token: %s", path);
		return 0;
	}
	if (!f) {
		int err = -errno;
		(void)asprintf(ret_err, "Failed to read the admin token %s: %s", path, strerror(errno));
		return err;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		log_warn("The admin token %s is readable by others (mode %04o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 07777));
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	fclose(f);
	char *t = n > 0 ? trim(line) : NULL;
	if (!t || strlen(t) < TOKEN_MIN || !token_chars_ok(t)) {
		free(line);
		(void)asprintf(ret_err, "The admin token %s is not a token (one line, %d or more visible "
			       "characters): remove it to make a new one", path, TOKEN_MIN);
		return -EINVAL;
	}
	api->tokens.admin = strdup(t);
	free(line);
	if (!api->tokens.admin) {
		return -ENOMEM;
	}
	log_info("HTTP admin token: %s", path);
	return 0;
}

static int load_users(struct zr_api *api, char **ret_err)
{
	const char *path = api->cfg.token_file;
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int err = 0;
	if (!f) {
		err = -errno;
		(void)asprintf(ret_err, "Failed to read the token file %s: %s", path, strerror(errno));
		return err;
	}
	while (getline(&line, &cap, f) > 0) {
		char *t = trim(line);
		lineno++;
		if (!*t || *t == '#') {
			continue;
		}
		/* The message names the line, never the token. */
		if (strlen(t) < TOKEN_MIN || !token_chars_ok(t)) {
			(void)asprintf(ret_err, "%s:%u: a token is %d or more visible characters without "
				       "spaces", path, lineno, TOKEN_MIN);
			err = -EINVAL;
			break;
		}
		struct zr_api_user *p = realloc(api->tokens.users, (api->tokens.n_users + 1) * sizeof(*p));
		if (!p) {
			err = -ENOMEM;
			break;
		}
		api->tokens.users = p;
		struct zr_api_user *u = &p[api->tokens.n_users];
		*u = (struct zr_api_user){0};
		if ((err = zr_actor_user(t, strlen(t), &u->actor)) < 0) {
			(void)asprintf(ret_err, "%s:%u: cannot hash the token", path, lineno);
			break;
		}
		if (!(u->token = strdup(t))) {
			err = -ENOMEM;
			break;
		}
		api->tokens.n_users++;
	}
	free(line);
	fclose(f);
	if (err == 0) {
		log_info("Loaded %zu HTTP user token(s) from %s", api->tokens.n_users, path);
	}
	return err;
}

int zr_api__tokens_load(struct zr_api *api, char **ret_err)
{
	int err = load_admin(api, ret_err);
	if (err == 0 && api->cfg.token_file) {
		err = load_users(api, ret_err);
	}
	return err;
}

void zr_api__tokens_done(struct zr_api_tokens *t)
{
	if (t->admin) {
		explicit_bzero(t->admin, strlen(t->admin));
	}
	free(t->admin);
	for (size_t i = 0; i < t->n_users; i++) {
		explicit_bzero(t->users[i].token, strlen(t->users[i].token));
		free(t->users[i].token);
	}
	free(t->users);
	*t = (struct zr_api_tokens){0};
}

/* True when the token is some service's secret: valid, but for another subtree (403). */
static bool any_secret(const struct zr_robot *r, const char *tok, size_t len)
{
	size_t i = 0;
	void *v;
	bool found = false;
	while (zr_map_next(&r->templates, &i, NULL, NULL, &v)) {
		struct zr_robot_template *rt = v;
		size_t j = 0;
		void *sv;
		while (zr_map_next(&rt->services, &j, NULL, NULL, &sv)) {
			const struct zr_service *s = sv;
			found |= !s->pending && ct_equal(tok, len, s->secret);
		}
	}
	return found;
}

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/* A service's private file, here (T/S/data, T/S/process/log) or on a robot reached through
 * our own entries (@x/NAME/T/S/...): its data, and its server's output, which holds whatever
 * the server prints of its secrets. *ret_k: how many components name the service. */
static bool is_private(char *const *c, size_t n, size_t *ret_k)
{
	size_t k;
	if (n >= 3 && is(c[n - 1], "data")) {
		k = n - 1;
	} else if (n >= 4 && is(c[n - 1], "log") && is(c[n - 2], "process")) {
		k = n - 2;
	} else {
		return false;
	}
	if (k % 2 != 0 || c[k - 2][0] == '@') {
		return false;
	}
	for (size_t i = 0; i + 2 < k; i += 2) {
		if (c[i][0] != '@') {
			return false;
		}
	}
	*ret_k = k;
	return true;
}

/* @robot/log: the robot's own log names services, errors and paths of every creator. And
 * @robot/blueprints/<name>/content, a blueprint as written: its data may hold secrets; and
 * @robot/webhooks/<id>/secret, the key a hook's receiver checks signatures with. */
static bool is_robot_log(char *const *c, size_t n)
{
	return (n == 2 && is(c[0], "@robot") && is(c[1], "log")) ||
	       (n == 4 && is(c[0], "@robot") && is(c[1], "blueprints") && is(c[3], "content")) ||
	       (n == 4 && is(c[0], "@robot") && is(c[1], "webhooks") && is(c[3], "secret"));
}

/* @robot/blueprint: the model checks each service the blueprint touches (DESIGN §9). */
static bool is_robot_blueprint(char *const *c, size_t n)
{
	return n == 2 && is(c[0], "@robot") && is(c[1], "blueprint");
}

/* What a user token may do by the path: read all but services' data and servers' output (its
 * own services' excepted) and @robot/log; create services in a template's folder; write files under a
 * service and delete services, which the model allows on its own services only; apply a
 * blueprint, which the model checks service by service. Nothing else under @robot, nor another
 * robot's entries. */
static bool user_may(const struct zr_api_req *q)
{
	char *const *c = q->comps;
	size_t n = q->n_comps;
	bool robot = n > 0 && c[0][0] == '@';
	size_t k;
	switch (q->method) {
	case ZR_API_GET:
	case ZR_API_HEAD:
		if (is_robot_log(c, n)) {
			return false;
		}
		if (is_private(c, n, &k)) {
			const struct zr_service *s = k == 2 ? zr_robot_service(q->api->robot, c[0], c[1]) : NULL;
			return s && zr_actor_may_act(&q->actor, s->creator, s->guid);
		}
		return true;
	case ZR_API_POST:
	case ZR_API_PUT:
		return (!robot && (n == 1 || n >= 3)) || is_robot_blueprint(c, n);
	case ZR_API_DELETE:
		return !robot;
	default:
		return true; /* 405 follows */
	}
}

/* The service a secret's request names (T/S/...), when the secret is still that service's:
 * NULL once it was deleted, even if another of that name was made since. */
static const struct zr_service *secret_service(const struct zr_api_req *q)
{
	const struct zr_service *s = NULL;
	if (!q->metrics && q->n_comps >= 2 && q->comps[0][0] != '@') {
		s = zr_robot_service(q->api->robot, q->comps[0], q->comps[1]);
	}
	return s && !s->pending && zr_actor_may_act(&q->actor, s->creator, s->guid) ? s : NULL;
}

bool zr_api__in_scope(struct zr_api_req *q)
{
	if (q->role == ZR_API_USER && !q->metrics && !user_may(q)) {
		zr_api__fail(q, 403, EPERM, "a user token may not %s /%s", q->method_name, q->path);
		return false;
	}
	if (q->role == ZR_API_SECRET && !secret_service(q)) {
		zr_api__fail(q, 403, EPERM, "a service's secret acts on that service only");
		return false;
	}
	return true;
}

void zr_api__authorize(struct zr_api_req *q)
{
	struct zr_api *api = q->api;
	const char *h = zr_api__header(q, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
		zr_api__fail(q, 401, EACCES, "an Authorization: Bearer TOKEN header is required");
		return;
	}
	const char *tok = h + 7;
	while (*tok == ' ') {
		tok++;
	}
	size_t len = strlen(tok);
	while (len > 0 && tok[len - 1] == ' ') {
		len--;
	}
	q->role = ZR_API_NOBODY;
	if (ct_equal(tok, len, api->tokens.admin)) {
		q->role = ZR_API_ADMIN;
		zr_actor_admin(&q->actor);
		return;
	}
	/* Every token is compared, so the time does not tell which one matched. */
	const struct zr_api_user *user = NULL;
	for (size_t i = 0; i < api->tokens.n_users; i++) {
		if (ct_equal(tok, len, api->tokens.users[i].token)) {
			user = &api->tokens.users[i];
		}
	}
	if (user) {
		q->role = ZR_API_USER;
		q->actor = user->actor;
		(void)zr_api__in_scope(q);
		return;
	}
	if (!q->metrics && q->n_comps >= 2 && q->comps[0][0] != '@') {
		struct zr_service *s = zr_robot_service(api->robot, q->comps[0], q->comps[1]);
		if (s && !s->pending && ct_equal(tok, len, s->secret)) {
			q->role = ZR_API_SECRET;
			zr_actor_secret(s->guid, &q->actor);
			return;
		}
	}
	if (any_secret(api->robot, tok, len)) {
		zr_api__fail(q, 403, EPERM, "a service's secret acts on that service only");
		return;
	}
	zr_api__fail(q, 401, EACCES, "the token is not valid");
}
