/* The operator's commands read a robot through its mount or over HTTP (client.h). */
#include <assert.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client.h"
#include "options.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/url.h"

#define READ_MAX (16u << 20)

int zr_client_read_fd(int fd, struct zr_buf *b, size_t max)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return n < 0 ? -errno : 0;
		}
		if (b->len + (size_t)n > max) {
			return -E2BIG;
		}
		if (zr_buf_append(b, chunk, (size_t)n) < 0) {
			return -ENOMEM;
		}
	}
}

char *zr_client_read_token(const char *file)
{
	struct zr_buf b = {0};
	bool in = strcmp(file, "-") == 0; /* "-": stdin, as zrobot apply always took it */
	int fd = in ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	int err = fd < 0 ? -errno : zr_client_read_fd(fd, &b, 4096);
	if (fd >= 0 && !in) {
		close(fd);
	}
	if (err < 0 || !b.data) {
		zr_buf_done(&b);
		return NULL;
	}
	char *tok = zr_buf_steal(&b);
	tok[strcspn(tok, "\r\n")] = '\0';
	return tok;
}

int zr_client_open(struct zr_client *c, int *argc, char **argv)
{
	const char *mount = NULL, *url = NULL, *token_file = NULL;
	int out = 0;
	*c = (struct zr_client){0};
	for (int i = 0; i < *argc; i++) {
		const char **opt = strcmp(argv[i], "--mount") == 0 ? &mount
				   : strcmp(argv[i], "--url") == 0 ? &url
				   : strcmp(argv[i], "--token-file") == 0 ? &token_file : NULL;
		if (opt && i + 1 < *argc) {
			*opt = argv[++i];
		} else if (opt) {
			fprintf(stderr, "zrobot: %s wants a value\n", argv[i]);
			return -EINVAL;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	if ((url && !token_file) || (!url && token_file) || (url && mount)) {
		fprintf(stderr, "zrobot: give --mount DIR, or --url URL with --token-file FILE\n");
		return -EINVAL;
	}
	return zr_client_init(c, mount, url, token_file);
}

int zr_client_init(struct zr_client *c, const char *mount, const char *url, const char *token_file)
{
	*c = (struct zr_client){0};
	if (url) {
		size_t n = strlen(url);
		while (n > 0 && url[n - 1] == '/') {
			n--;
		}
		c->url = strndup(url, n);
		c->token = zr_client_read_token(token_file);
		c->shown = zr_url_redact(url);
		if (!c->token) {
			fprintf(stderr, "zrobot: cannot read a token from %s\n", token_file);
			zr_client_close(c);
			return -EINVAL;
		}
	} else {
		c->mount = mount ? strdup(mount) : zr_options_default_path("/zr", "zr");
		c->shown = c->mount ? strdup(c->mount) : NULL;
	}
	if ((url && (!c->url || !c->shown)) || (!url && (!c->mount || !c->shown))) {
		zr_client_close(c);
		return -ENOMEM;
	}
	return 0;
}

void zr_client_close(struct zr_client *c)
{
	free(c->mount);
	free(c->url);
	free(c->token);
	free(c->shown);
	*c = (struct zr_client){0};
}

/* ---- through the mount ---- */

/* The file at path below the mount, opened with flags: a descriptor, or a negative errno. */
static int open_mount(const struct zr_client *c, const char *path, int flags)
{
	char full[PATH_MAX];
	if (snprintf(full, sizeof(full), "%s/%s", c->mount, path) >= (int)sizeof(full)) {
		return -ENAMETOOLONG;
	}
	int fd = open(full, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- HTTP ---- */

struct answer {
	long code;
	struct zr_buf body;
	char state[32];   /* Zr-Task-State */
	long lines;       /* Zr-Lines, -1 when absent */
};

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct answer *a = data;
	return zr_buf_append(&a->body, p, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
	struct answer *a = data;
	size_t len = size * n;
	if (len > 15 && strncasecmp(p, "Zr-Task-State:", 14) == 0) {
		snprintf(a->state, sizeof(a->state), "%.*s", (int)(len - 14), p + 14);
		char *s = a->state + strspn(a->state, " ");
		memmove(a->state, s, strlen(s) + 1);
		a->state[strcspn(a->state, "\r\n ")] = '\0';
	} else if (len > 9 && strncasecmp(p, "Zr-Lines:", 9) == 0) {
		a->lines = strtol(p + 9, NULL, 10);
	}
	return len;
}

/* An HTTP status as the errno the robot's table maps to it (README "HTTP API"). */
static int status_errno(long code)
{
	switch (code) {
	case 400: case 422: return -EINVAL;
	case 401: case 403: return -EACCES;
	case 404: return -ENOENT;
	case 409: return -EEXIST;
	case 413: return -E2BIG;
	case 429: return -EAGAIN;
	case 507: return -ENOSPC;
	default: return -EIO;
	}
}

/* What a request posts: len bytes of data, sent as type. */
struct post {
	const char *data;
	size_t len;
	const char *type;
};

/* One request to /v1/<path><query>, a POST when post is set: 0 once the robot answered,
 * whatever the status (in a->code); -EHOSTUNREACH (said) when it cannot be reached. */
static int exchange(struct zr_client *c, const char *path, const char *query,
		    const struct post *post, struct answer *a)
{
	_cleanup_free_ char *url = NULL, *auth = NULL;
	a->lines = -1;
	if (asprintf(&url, "%s/v1/%s%s", c->url, path, query ? query : "") < 0 ||
	    asprintf(&auth, "Authorization: Bearer %s", c->token) < 0) {
		return -ENOMEM;
	}
	_cleanup_free_ char *type = NULL;
	if (post && asprintf(&type, "Content-Type: %s", post->type) < 0) {
		return -ENOMEM;
	}
	struct curl_slist *hdrs = curl_slist_append(NULL, auth);
	if (hdrs && post) {
		struct curl_slist *more = curl_slist_append(hdrs, type);
		if (!more) {
			curl_slist_free_all(hdrs);
		}
		hdrs = more;
	}
	CURL *h = curl_easy_init();
	CURLcode rc = CURLE_OUT_OF_MEMORY;
	if (h && hdrs) {
		(void)curl_easy_setopt(h, CURLOPT_URL, url);
		(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		(void)curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
		(void)curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		(void)curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
		(void)curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		if (post) {
			(void)curl_easy_setopt(h, CURLOPT_POSTFIELDS, post->data);
			(void)curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post->len);
		}
		rc = curl_easy_perform(h);
		(void)curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->code);
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		fprintf(stderr, "zrobot: cannot reach %s: %s\n", c->shown, curl_easy_strerror(rc));
		return -EHOSTUNREACH;
	}
	return 0;
}

/* exchange(), with a 4xx/5xx answer as its errno (a->body still holds the answer). */
static int request(struct zr_client *c, const char *path, const char *query,
		   const struct post *post, struct answer *a)
{
	int err = exchange(c, path, query, post, a);
	return err < 0 ? err : a->code >= 400 ? status_errno(a->code) : 0;
}

int zr_client_post(struct zr_client *c, const char *path, const char *query, const char *type,
		   const char *body, size_t len, struct zr_buf *out, long *ret_code)
{
	assert(c->url);
	struct answer a = {0};
	struct post post = {.data = body, .len = len, .type = type};
	int err = exchange(c, path, query, &post, &a);
	if (err < 0) {
		zr_buf_done(&a.body);
		return err;
	}
	*out = a.body;
	*ret_code = a.code;
	return 0;
}

/* ---- reading ---- */

int zr_client_read(struct zr_client *c, const char *path, struct zr_buf *out)
{
	if (c->url) {
		struct answer a = {0};
		int err = request(c, path, NULL, NULL, &a);
		if (err == 0) {
			*out = a.body;
		} else {
			zr_buf_done(&a.body);
		}
		return err;
	}
	int fd = open_mount(c, path, O_RDONLY);
	if (fd < 0) {
		return fd;
	}
	int err = zr_client_read_fd(fd, out, READ_MAX);
	close(fd);
	return err;
}

int zr_client_read_json(struct zr_client *c, const char *path, json_t **ret)
{
	struct zr_buf b = {0};
	int err = zr_client_read(c, path, &b);
	json_t *j = err < 0 ? NULL : json_loadb(b.data ? b.data : "", b.len, 0, NULL);
	zr_buf_done(&b);
	if (err < 0) {
		return err;
	}
	if (!j) {
		return -EINVAL;
	}
	*ret = j;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void zr_client_free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++) {
		free(names[i]);
	}
	free(names);
}

static int add_name(char ***names, size_t *n, const char *name)
{
	char **more = realloc(*names, (*n + 2) * sizeof(**names));
	if (!more) {
		return -ENOMEM;
	}
	*names = more;
	if (!(more[*n] = strdup(name))) {
		return -ENOMEM;
	}
	more[++*n] = NULL;
	return 0;
}

int zr_client_list(struct zr_client *c, const char *path, char ***names)
{
	size_t n = 0;
	int err = 0;
	*names = calloc(1, sizeof(**names));
	if (!*names) {
		return -ENOMEM;
	}
	if (c->url) {
		struct answer a = {0};
		err = request(c, path, NULL, NULL, &a);
		json_t *o = err < 0 ? NULL : json_loadb(a.body.data ? a.body.data : "", a.body.len, 0,
							  NULL);
		if (err == 0 && !json_is_array(json_object_get(o, "entries"))) {
			err = -ENOTDIR;
		}
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(o, "entries"), i, e) {
			const char *name = json_string_value(json_object_get(e, "name"));
			if (err == 0 && name && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
				err = add_name(names, &n, name);
			}
		}
		json_decref(o);
		zr_buf_done(&a.body);
	} else {
		int fd = open_mount(c, path, O_RDONLY | O_DIRECTORY);
		DIR *d = fd < 0 ? NULL : fdopendir(fd);
		if (!d) {
			err = fd < 0 ? fd : -errno;
			if (fd >= 0) {
				close(fd);
			}
		}
		for (struct dirent *e; d && err == 0 && (e = readdir(d));) {
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
				err = add_name(names, &n, e->d_name);
			}
		}
		if (d) {
			closedir(d);
		}
	}
	if (err < 0) {
		zr_client_free_names(*names);
		*names = NULL;
		return err;
	}
	if (n > 1) { /* *names may be NULL for none, which qsort may not get */
		qsort(*names, n, sizeof(**names), cmp_str);
	}
	return 0;
}

int zr_client_write_read(struct zr_client *c, const char *path, const char *body, size_t len,
			 size_t max, struct zr_buf *out, int *ret_read)
{
	assert(c->mount);
	int fd = open_mount(c, path, O_RDWR);
	int err = fd < 0 ? fd : zr_write_all(fd, body, len);
	if (err == 0) {
		*ret_read = zr_client_read_fd(fd, out, max);
	}
	if (fd >= 0) {
		close(fd);
	}
	return err;
}

/* ---- acting ---- */

/* The state a failed read of a result gives (README "Writing and reading"). */
static const char *errno_state(int err)
{
	switch (-err) {
	case ETIMEDOUT: return "timeout";
	case ECANCELED: return "cancelled";
	case EINTR: return "interrupted";
	default: return "error";
	}
}

int zr_client_act(struct zr_client *c, const char *path, const char *payload,
		  void (*on_queued)(long id, void *data), void *data, struct zr_buf *out,
		  char **state)
{
	*state = NULL;
	if (c->url) {
		struct answer a = {0};
		/* An empty body queues with the defaults, like an empty write. */
		const char *body = payload ? payload : "";
		struct post post = {.data = body, .len = strlen(body), .type = "text/plain"};
		int err = request(c, path, NULL, &post, &a);
		json_t *task = err < 0 ? NULL : json_loadb(a.body.data ? a.body.data : "",
							   a.body.len, 0, NULL);
		json_int_t id = json_integer_value(json_object_get(task, "id"));
		const char *svc = json_string_value(json_object_get(task, "service"));
		if (err < 0) {
			/* The detail is what lasterror says. */
			json_t *e = json_loadb(a.body.data ? a.body.data : "", a.body.len, 0, NULL);
			const char *detail = json_string_value(json_object_get(e, "detail"));
			if (detail) {
				fprintf(stderr, "zrobot: %s\n", detail);
			}
			json_decref(e);
		} else if (id <= 0 || !svc) {
			err = -EIO;
		}
		char rpath[PATH_MAX];
		if (err == 0) {
			snprintf(rpath, sizeof(rpath), "%s/tasks/%lld/result", svc, (long long)id);
		}
		json_decref(task);
		zr_buf_done(&a.body);
		if (err < 0) {
			return err;
		}
		if (on_queued) {
			on_queued((long)id, data);
		}
		for (;;) {
			a = (struct answer){0};
			err = request(c, rpath, "?wait=5", NULL, &a);
			if (err < 0 || a.code == 200) {
				break;
			}
			zr_buf_done(&a.body);
			if (on_queued) {
				on_queued((long)id, data); /* a tick for the progress bar */
			}
		}
		if (err < 0) {
			zr_buf_done(&a.body);
			return err;
		}
		*out = a.body;
		*state = strdup(a.state[0] ? a.state : "ok");
		return *state ? 0 : -ENOMEM;
	}
	/* An empty write would not reach the robot: the action's name alone queues it with
	 * its defaults (README "Writing and reading"). */
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *name_line = NULL;
	const char *p = payload && *payload ? payload : NULL;
	if (!p && asprintf(&name_line, "%s\n", slash ? slash + 1 : path) < 0) {
		return -ENOMEM;
	}
	p = p ? p : name_line;
	int fd = open_mount(c, path, O_RDWR);
	int err = fd < 0 ? fd : zr_write_all(fd, p, strlen(p));
	if (err < 0) {
		if (fd >= 0) {
			close(fd);
		}
		return err;
	}
	if (on_queued) {
		on_queued(0, data);
	}
	err = zr_client_read_fd(fd, out, READ_MAX);
	close(fd);
	*state = strdup(err < 0 ? errno_state(err) : "ok");
	return *state ? 0 : -ENOMEM;
}

/* ---- following ---- */

int zr_client_follow(struct zr_client *c, const char *path,
		     bool (*on_text)(const char *p, size_t n, void *data), void *data)
{
	if (c->url) {
		/* ?after=N&wait=S: the lines after the first N, waiting for one (README "HTTP
		 * API"); Zr-Lines says where the next request starts. */
		long after = -1;
		for (;;) {
			struct answer a = {0};
			char query[64];
			if (after < 0) {
				query[0] = '\0';
			} else {
				snprintf(query, sizeof(query), "?after=%ld&wait=30", after);
			}
			int err = request(c, path, query, NULL, &a);
			bool go = err == 0 &&
				  (a.body.len == 0 || on_text(a.body.data, a.body.len, data));
			if (a.lines >= 0) {
				after = a.lines;
			} else if (err == 0) {
				err = -EIO; /* not a journal */
			}
			zr_buf_done(&a.body);
			if (err < 0 || !go) {
				return err;
			}
		}
	}
	int fd = open_mount(c, path, O_RDONLY);
	if (fd < 0) {
		return fd;
	}
	char chunk[65536];
	int err = 0;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n > 0) {
			if (!on_text(chunk, (size_t)n, data)) {
				break;
			}
			continue;
		}
		/* At the end: the journal's poll() wakes when a line is appended; the timeout
		 * is a fallback like tail -f's. */
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		(void)poll(&pfd, 1, 1000);
	}
	close(fd);
	return err;
}
