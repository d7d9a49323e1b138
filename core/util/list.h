/* Intrusive circular doubly-linked lists (as in the Linux kernel and wlroots' wl_list). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct zr_list {
	struct zr_list *prev, *next;
};

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void zr_list_init(struct zr_list *l) { l->prev = l->next = l; }
static inline bool zr_list_empty(const struct zr_list *l) { return l->next == l; }
/* Inserts e after at (at = list head → push front; head->prev → push back). */
static inline void zr_list_insert(struct zr_list *at, struct zr_list *e)
{
	e->prev = at;
	e->next = at->next;
	at->next->prev = e;
	at->next = e;
}
static inline void zr_list_push_back(struct zr_list *head, struct zr_list *e) { zr_list_insert(head->prev, e); }
/* Unlinks e and leaves it self-linked, so removing twice is harmless. */
static inline void zr_list_remove(struct zr_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}
static inline size_t zr_list_length(const struct zr_list *l)
{
	size_t n = 0;
	for (const struct zr_list *e = l->next; e != l; e = e->next) {
		n++;
	}
	return n;
}

#define zr_list_for_each(pos, head, member)                                          \
	for (pos = container_of((head)->next, __typeof__(*pos), member);             \
	     &pos->member != (head); pos = container_of(pos->member.next, __typeof__(*pos), member))

#define zr_list_for_each_safe(pos, tmp, head, member)                                 \
	for (pos = container_of((head)->next, __typeof__(*pos), member),              \
	    tmp = container_of(pos->member.next, __typeof__(*pos), member);           \
	     &pos->member != (head);                                                  \
	     pos = tmp, tmp = container_of(pos->member.next, __typeof__(*pos), member))
