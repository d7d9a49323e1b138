/* The robot's index of relations between the services in its tree: parent path → children,
 * producer path → consumers (local ones; those on other robots are s->rconsumers). It keeps
 * listings of children/ and consumers/, the "has children" check and the cascade O(entries),
 * not O(services). Shared by robot.c, service-parent.c, service-relations.c and the files
 * that change what a service names (data, parent, template version). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/map.h"

struct zr_robot;
struct zr_service;

/* One service filed under a path: as a child (role 0), or as a consumer through role (an
 * index into s->template->roles). Borrowed: the index never holds a reference. */
struct zr_index_entry {
	struct zr_service *s;
	uint32_t role;
};

/* The entries filed under one path, sorted by service path, then role. */
struct zr_index_bucket {
	char *key; /* owned */
	struct zr_index_entry *v;
	size_t n, cap;
};

/* Where one service is filed: what zr_service__unindex takes it out of, whatever its parent
 * and data say by then. Owned by the service (s->index), managed here alone. */
struct zr_index_link {
	struct zr_index_bucket *b;
	uint32_t role;
};
struct zr_service_index {
	bool filed;                      /* in the robot's index */
	struct zr_index_bucket *parent;  /* filed among its parent's children; NULL: none */
	struct zr_index_link *links;     /* filed among these producers' consumers */
	size_t n_links;
};

/* The robot's half (r->index): path → struct zr_index_bucket. A zeroed one is empty. */
struct zr_robot_index {
	struct zr_map children, consumers;
};

/* Files s, a service of the robot's tree (in its template's map of services, pending ones
 * included), under its parent and under each producer path its template's roles name in its
 * data, after taking it out of where it was filed before. Call it whenever s enters the tree,
 * and after each change of s->parent, s->data or s->template while it is there. Out of memory:
 * logged; s is then missing from some listings until its next change. */
void zr_service__index(struct zr_service *s);

/* zr_service__index for a service that is filed (in the tree); nothing for one that is not (a
 * service being created that has not entered it, or one being deleted that left it). */
void zr_service__refile(struct zr_service *s);

/* Takes s out of the index (it leaves the tree, or is closed). Nothing when it is not filed. */
void zr_service__unindex(struct zr_service *s);

/* Frees the robot's index (at destroy, once every service is closed or unindexed). */
void zr_robot__index_done(struct zr_robot *r);

/* The services filed as children of path (entries borrowed until the index next changes;
 * NULL and 0 when none), sorted by path. */
const struct zr_index_entry *zr_robot__index_children(const struct zr_robot *r, const char *path,
						      size_t *ret_n);
/* The services filed as consumers of path, sorted by path then role (same terms). */
const struct zr_index_entry *zr_robot__index_consumers(const struct zr_robot *r, const char *path,
						       size_t *ret_n);

/* The service filed under path whose name in a children/ or consumers/ folder is name
 * ("<template>.<service>"), or NULL: O(log entries) per '.' in name. */
struct zr_service *zr_robot__index_child(const struct zr_robot *r, const char *path,
					 const char *name);
struct zr_service *zr_robot__index_consumer(const struct zr_robot *r, const char *path,
					    const char *name);

/* Checks the index against a walk of every service: 0 when they agree exactly, else -EBADMSG
 * (the first difference logged as an error), -ENOMEM. For the tests. */
int zr_robot__index_verify(struct zr_robot *r);
