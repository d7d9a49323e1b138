/* The notifier thread: a queue of kernel invalidations drained by one thread. */
#define FUSE_USE_VERSION 314
#include "notify.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/list.h"
#include "util/log.h"

struct note {
	struct zr_list link;
	uint64_t parent;
	char name[];
};

struct zr_notifier {
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct zr_list queue;
	bool stop;
};

static void *notifier_main(void *arg)
{
	struct zr_notifier *n = arg;
	pthread_mutex_lock(&n->lock);
	for (;;) {
		while (!n->stop && zr_list_empty(&n->queue)) {
			pthread_cond_wait(&n->cond, &n->lock);
		}
		if (n->stop) {
			break;
		}
		struct note *e = container_of(n->queue.next, struct note, link);
		zr_list_remove(&e->link);
		pthread_mutex_unlock(&n->lock);
		/* May wait for the directory's lock in the kernel: that is why it runs here. */
		int err = fuse_lowlevel_notify_inval_entry(n->se, e->parent, e->name, strlen(e->name));
		if (err < 0 && err != -ENOENT && err != -ENOTCONN && err != -EBADF) {
			log_debug("inval_entry %s: %s, ignoring", e->name, strerror(-err));
		}
		free(e);
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int zr_notifier_start(struct fuse_session *se, struct zr_notifier **ret)
{
	struct zr_notifier *n = calloc(1, sizeof(*n));
	if (!n) {
		return -ENOMEM;
	}
	n->se = se;
	zr_list_init(&n->queue);
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	int err = pthread_create(&n->thread, NULL, notifier_main, n);
	if (err != 0) {
		pthread_mutex_destroy(&n->lock);
		pthread_cond_destroy(&n->cond);
		free(n);
		return -err;
	}
	*ret = n;
	return 0;
}

void zr_notifier_inval_entry(struct zr_notifier *n, uint64_t parent, const char *name)
{
	size_t len = strlen(name);
	struct note *e = malloc(sizeof(*e) + len + 1);
	if (!e) {
		return; /* the entry times out of the kernel's cache within a second anyway */
	}
	e->parent = parent;
	memcpy(e->name, name, len + 1);
	pthread_mutex_lock(&n->lock);
	zr_list_push_back(&n->queue, &e->link);
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

void zr_notifier_stop(struct zr_notifier *n)
{
	if (!n) {
		return;
	}
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_signal(&n->cond);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	while (!zr_list_empty(&n->queue)) {
		struct note *e = container_of(n->queue.next, struct note, link);
		zr_list_remove(&e->link);
		free(e);
	}
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}
