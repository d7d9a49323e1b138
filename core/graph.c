/* The dot text of @robot/graph: services, their producers and their parents. */
#include "graph.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "schema.h"
#include "service.h"
#include "template.h"

#define REMOTE_PREFIX "@remote/"

/* A dot ID as a quoted string. Inside quotes dot gives meaning to '"' and to a backslash
 * (labels read \n, \l, \N...), so both are escaped; a newline cannot be in our names but
 * would end nothing here either way. */
static void put_id(struct zr_buf *b, const char *s)
{
	(void)zr_buf_puts(b, "\"");
	for (const char *p = s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			(void)zr_buf_append(b, "\\", 1);
		}
		if (*p == '\n') {
			(void)zr_buf_puts(b, "\\n");
		} else {
			(void)zr_buf_append(b, p, 1);
		}
	}
	(void)zr_buf_puts(b, "\"");
}

static int cmp_service(const void *a, const void *b)
{
	const struct zr_service *x = *(struct zr_service *const *)a;
	const struct zr_service *y = *(struct zr_service *const *)b;
	return strcmp(x->path, y->path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The robot name in "@remote/R/T/S" (length into *ret_len), or NULL for a local path. */
static const char *remote_robot(const char *path, size_t *ret_len)
{
	if (strncmp(path, REMOTE_PREFIX, strlen(REMOTE_PREFIX)) != 0) {
		return NULL;
	}
	const char *r = path + strlen(REMOTE_PREFIX);
	*ret_len = strcspn(r, "/");
	return r;
}

/* The producers s names, role by role (t->roles is sorted by name), as edges; remote ones
 * are also added to *remotes (borrowed from s's data) for the clusters. */
static int put_producers(struct zr_buf *b, const struct zr_service *s, const char ***remotes,
			 size_t *n_remotes, size_t *cap_remotes)
{
	const struct zr_template *t = s->template;
	for (size_t i = 0; i < t->n_roles; i++) {
		const char *role = t->roles[i].name;
		/* A producer named in a secret field is the secret: c_info shows it as "***",
		 * the graph leaves its edge out. */
		if (zr_schema_secret(t->data, role)) {
			continue;
		}
		const char *few[16], **v = few;
		size_t n = zr_role_producers(s->data, role, few, 16);
		if (n > 16) {
			if (!(v = calloc(n, sizeof(*v)))) {
				return -ENOMEM;
			}
			n = zr_role_producers(s->data, role, v, n);
		}
		for (size_t k = 0; k < n; k++) {
			size_t len = 0;
			if (remote_robot(v[k], &len)) {
				if (*n_remotes == *cap_remotes) {
					size_t nc = *cap_remotes ? *cap_remotes * 2 : 8;
					const char **p = realloc(*remotes, nc * sizeof(*p));
					if (!p) {
						if (v != few) {
							free(v);
						}
						return -ENOMEM;
					}
					*remotes = p;
					*cap_remotes = nc;
				}
				(*remotes)[(*n_remotes)++] = v[k];
			}
			(void)zr_buf_puts(b, "\t");
			put_id(b, s->path);
			(void)zr_buf_puts(b, " -> ");
			put_id(b, v[k]);
			(void)zr_buf_puts(b, " [label=");
			put_id(b, role);
			(void)zr_buf_puts(b, "];\n");
		}
		if (v != few) {
			free(v);
		}
	}
	return 0;
}

/* One cluster per remote robot, its producers inside: remotes sorted, so each robot's are
 * together. */
static void put_remotes(struct zr_buf *b, const char **remotes, size_t n)
{
	if (n == 0) {
		return; /* remotes is NULL then, which qsort may not be given */
	}
	qsort(remotes, n, sizeof(*remotes), cmp_str);
	for (size_t i = 0; i < n;) {
		size_t len = 0;
		const char *robot = remote_robot(remotes[i], &len);
		char *name = strndup(robot, len);
		char *cluster = NULL, *label = NULL;
		if (!name || asprintf(&cluster, "cluster_%s", name) < 0) {
			cluster = NULL;
		}
		if (name && asprintf(&label, REMOTE_PREFIX "%s", name) < 0) {
			label = NULL;
		}
		if (cluster && label) {
			(void)zr_buf_puts(b, "\tsubgraph ");
			put_id(b, cluster);
			(void)zr_buf_puts(b, " {\n\t\tlabel=");
			put_id(b, label);
			(void)zr_buf_puts(b, ";\n\t\tstyle=dashed;\n");
		}
		size_t j = i;
		for (; j < n; j++) {
			size_t l2 = 0;
			const char *r2 = remote_robot(remotes[j], &l2);
			if (l2 != len || strncmp(r2, robot, len) != 0) {
				break;
			}
			if (j > i && strcmp(remotes[j], remotes[j - 1]) == 0) {
				continue;
			}
			(void)zr_buf_puts(b, "\t\t");
			put_id(b, remotes[j]);
			(void)zr_buf_puts(b, " [shape=box];\n");
		}
		if (cluster && label) {
			(void)zr_buf_puts(b, "\t}\n");
		}
		free(name);
		free(cluster);
		free(label);
		i = j;
	}
}

int zr_graph_dot(struct zr_robot *r, struct zr_buf *b)
{
	struct zr_robot_iter it = {0};
	struct zr_service **v = NULL;
	size_t n = 0, cap = 0;
	const char **remotes = NULL;
	size_t n_remotes = 0, cap_remotes = 0;
	int err = 0;
	for (struct zr_service *s; (s = zr_robot_next_service(r, &it));) {
		if (s->pending) {
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct zr_service **p = realloc(v, nc * sizeof(*p));
			if (!p) {
				free(v);
				return -ENOMEM;
			}
			v = p;
			cap = nc;
		}
		v[n++] = s;
	}
	if (n) {
		qsort(v, n, sizeof(*v), cmp_service);
	}
	(void)zr_buf_printf(b, "digraph ");
	put_id(b, zr_robot_name(r));
	(void)zr_buf_puts(b, " {\n\tnode [shape=box, style=rounded];\n");
	for (size_t i = 0; i < n; i++) {
		(void)zr_buf_puts(b, "\t");
		put_id(b, v[i]->path);
		(void)zr_buf_puts(b, ";\n");
	}
	for (size_t i = 0; i < n && err == 0; i++) {
		err = put_producers(b, v[i], &remotes, &n_remotes, &cap_remotes);
	}
	for (size_t i = 0; i < n && err == 0; i++) {
		if (v[i]->parent) {
			(void)zr_buf_puts(b, "\t");
			put_id(b, v[i]->parent);
			(void)zr_buf_puts(b, " -> ");
			put_id(b, v[i]->path);
			(void)zr_buf_puts(b, " [style=dashed, arrowhead=none, label=\"child\"];\n");
		}
	}
	if (err == 0) {
		put_remotes(b, remotes, n_remotes);
		err = zr_buf_puts(b, "}\n") < 0 ? -ENOMEM : 0;
	}
	free(remotes);
	free(v);
	return err;
}
