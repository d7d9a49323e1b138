/* Parents and children (AYS; DESIGN §8): what robot.c, service-ctl.c and the tree share about
 * the parent tree beyond service.h (zr_service_set_parent, zr_robot_children). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "service.h"

/* Every descendant of s (children, their children...), depth first in name order: pre-order
 * (each service before its children) or, post false, post-order (each after its children:
 * the order a force-cascade deletes in). Into *ret (malloc'd array of borrowed services, *ret_n
 * of them; NULL and 0 for none). -ENOMEM, or -ELOOP when the parents stored form a cycle. */
int zr_service__descendants(struct zr_robot *r, const struct zr_service *s, bool pre,
			    struct zr_service ***ret, size_t *ret_n);

/* The children of s as "a/x, b/y" (malloc'd; NULL when it has none or out of memory). */
char *zr_service__children_text(struct zr_robot *r, const struct zr_service *s);

/* zr_service_may_delete for s and, when "force" was written to its ctl, each of its
 * descendants (a force-cascade deletes them as who): 0, or -EACCES with *why. */
int zr_service__may_delete_tree(struct zr_service *s, const struct zr_actor *who, char **why);

/* Whether s, being deleted, waits for children still being deleted (in robot->deleting): its
 * server is stopped and its on_delete actions run only once they are gone, so that children
 * go first. */
bool zr_service__cascade_held(const struct zr_service *s);

/* The ctl command "recurse ACTION": queues ACTION (no arguments) on s, then on each of its
 * descendants, depth first in name order (pre-order), each as who (zr_service_request_task:
 * who must be allowed to act on each). A descendant whose template lacks ACTION is skipped
 * (logged). -EINVAL with *why when s's template lacks it, -ENOMEM; else 0, and cb once every
 * request ended: with 0 when all were queued durably, else the first error (each logged). */
int zr_service__recurse(struct zr_service *s, const struct zr_actor *who, const char *action,
			char **why, zr_done_cb cb, void *cbdata);

/* After the store is loaded: logs each service whose stored parent is not there (it keeps the
 * name: its parent link dangles until the parent is made again or "parent none"). */
void zr_service__parents_check(struct zr_robot *r);
