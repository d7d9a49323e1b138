/* @robot/blueprint (DESIGN §8): a blueprint written to the file is applied when the same
 * handle is read (the outcome is the answer) or closed (the close fails when it is refused).
 *
 * One handle is a conversation: writes gather the text (up to ZR_BP_MAX_BYTES), the first
 * read or flush applies it once, reads park until the outcome, and then deliver its text from
 * where reading began (like an action file's result: after `printf ... >&3` the position is
 * past the text). A refused blueprint's text ends with "error: ..." and the read after it
 * fails with EINVAL (the store's own failures: their errno). A write after an outcome starts
 * a new blueprint. */
#include "tree-local-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "blueprint.h"
#include "robot.h"
#include "util/cleanup.h"
#include "util/log.h"

enum bp_state {
	BP_GATHERING, /* writes append to text */
	BP_APPLYING,  /* zr_apply was called; its callback has not fired */
	BP_DONE,      /* out and err hold the outcome */
};

struct zr_local_bp {
	struct zr_local *tree;
	struct handle *h; /* NULL once the handle is freed while applying: the callback frees us */
	enum bp_state state;
	struct zr_buf text;
	struct zr_buf out; /* zr_apply_outcome_text's */
	int err;           /* the outcome's: 0 or a negative errno */
	struct zr_waitq done; /* reads parked until the outcome */
	struct tree_op *flush_op; /* the close that applied it, answered with the outcome */
	/* A write went past ZR_BP_MAX_BYTES: every later write on this handle fails E2BIG and
	 * the close fails, so that a writer that goes on after the error never gets the tail
	 * of its text applied as a blueprint of its own. */
	bool too_big;
};

static void bp_free(struct zr_local_bp *bp)
{
	zr_buf_done(&bp->text);
	zr_buf_done(&bp->out);
	free(bp);
}

void zr_local__bp_detach(struct handle *h)
{
	struct zr_local_bp *bp = h->bp;
	h->bp = NULL;
	if (!bp) {
		return;
	}
	/* Only a tree going away frees a handle with a close in flight: that close is told so,
	 * without its handle (being freed). */
	if (bp->flush_op) {
		struct tree_op *op = bp->flush_op;
		bp->flush_op = NULL;
		op->h = NULL;
		zr_local__op_done(op, -ECANCELED, NULL);
	}
	if (bp->state == BP_APPLYING) {
		bp->h = NULL; /* on_applied frees it: zr_apply's callback cannot be withdrawn */
		return;
	}
	bp_free(bp);
}

static void on_applied(const struct zr_apply_outcome *o, void *data)
{
	struct zr_local_bp *bp = data;
	bp->state = BP_DONE;
	if (!bp->h) {
		bp_free(bp);
		return;
	}
	zr_buf_reset(&bp->out);
	zr_apply_outcome_text(o, &bp->out);
	/* Issue 14's Decision: a blueprint refused for what it says (bad input, a bound, a
	 * service its writer may not touch, one in use, a quota) fails the read and the close
	 * with EINVAL, its outcome saying why; the store's and the robot's own failures keep
	 * their errno. */
	int e = -o->err;
	bool content = e == EINVAL || e == E2BIG || e == EACCES || e == EBUSY || e == EDQUOT;
	bp->err = content ? -EINVAL : o->err;
	/* The text is kept no longer than needed: up to 10 MiB per handle. */
	zr_buf_done(&bp->text);
	struct tree_op *op = bp->flush_op;
	bp->flush_op = NULL;
	zr_waitq_wake_all(&bp->done);
	/* Last: answering the close may free a released handle, and bp with it. */
	if (op) {
		zr_local__op_done(op, bp->err, NULL);
	}
}

/* Applies the text gathered, once, as the handle's opener. */
static void bp_apply(struct zr_local_bp *bp)
{
	const struct zr_apply_opts opts = {0}; /* the text's "# zrobot:" directive decides */
	bp->state = BP_APPLYING;
	zr_apply(bp->tree->robot, &bp->h->who, bp->text.data ? bp->text.data : "", bp->text.len, &opts,
		 on_applied, bp);
}

void zr_local__write_blueprint(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			       uint64_t off)
{
	struct handle *h = op->h;
	struct zr_local_bp *bp = h->bp;
	(void)off; /* appended: the position after a read of the outcome is not the text's */
	if (!bp) {
		if (!(bp = calloc(1, sizeof(*bp)))) {
			zr_local__op_done(op, -ENOMEM, NULL);
			return;
		}
		*bp = (struct zr_local_bp){.tree = op->tree, .h = h};
		zr_waitq_init(&bp->done);
		h->bp = bp;
	}
	if (bp->too_big) {
		zr_local__op_done(op, -E2BIG, NULL);
		return;
	}
	if (bp->state == BP_APPLYING) {
		zr_local__op_done(op, zr_local__refuse(op, c, -EBUSY, "the blueprint written before "
						       "is being applied: read its outcome first"), NULL);
		return;
	}
	if (bp->state == BP_DONE) {
		bp->state = BP_GATHERING;
		zr_buf_reset(&bp->out);
		bp->err = 0;
	}
	if (len > ZR_BP_MAX_BYTES - bp->text.len) {
		_cleanup_free_ char *why = NULL;
		(void)zr_fail(&why, -E2BIG, "a blueprint is at most %u bytes", ZR_BP_MAX_BYTES);
		/* Dropped whole, so that the close applies nothing; a read gives the reason. */
		zr_buf_done(&bp->text);
		zr_buf_reset(&bp->out);
		(void)zr_buf_printf(&bp->out, "error: %s\n", why ? why : "too big");
		bp->err = -EINVAL;
		bp->state = BP_DONE;
		bp->too_big = true;
		h->result_base_set = false;
		zr_local__op_done(op, zr_local__refuse(op, c, -E2BIG, why), NULL);
		return;
	}
	if (zr_buf_append(&bp->text, buf, len) < 0) {
		zr_local__op_done(op, -ENOMEM, NULL);
		return;
	}
	/* The outcome is read from where reading starts next. */
	h->result_base_set = false;
	zr_local__op_done(op, (ssize_t)len, NULL);
}

int zr_local__bp_read(struct handle *h, uint64_t off, size_t size, const char **ret_buf,
		      size_t *ret_len, struct zr_waitq **ret_wait)
{
	struct zr_local_bp *bp = h->bp;
	*ret_len = 0;
	if (!bp || (bp->state == BP_GATHERING && bp->text.len == 0)) {
		return 0; /* nothing written: empty */
	}
	if (!h->result_base_set) {
		h->result_base = off;
		h->result_base_set = true;
	}
	if (bp->state == BP_GATHERING) {
		bp_apply(bp); /* its callback may have fired already */
	}
	if (bp->state == BP_APPLYING) {
		*ret_wait = &bp->done;
		return 0;
	}
	uint64_t rel = off >= h->result_base ? off - h->result_base : 0;
	if (rel >= bp->out.len) {
		/* A refused blueprint: its text, then its errno (like a failed task's result). */
		return bp->err;
	}
	*ret_buf = bp->out.data + rel;
	*ret_len = bp->out.len - rel < size ? bp->out.len - rel : size;
	return 0;
}

struct zr_waitq *zr_local__bp_waiting(const struct handle *h)
{
	return h->bp && h->bp->state == BP_APPLYING ? &h->bp->done : NULL;
}

bool zr_local__bp_flush(struct handle *h, zr_tree_done_cb cb, void *data)
{
	struct zr_local_bp *bp = h->bp;
	if (!bp) {
		return false;
	}
	if (bp->too_big) {
		cb(-EINVAL, NULL, data); /* refused, as a blueprint too big to apply */
		return true;
	}
	if (bp->state != BP_GATHERING || bp->text.len == 0 || bp->flush_op) {
		/* Applied already (by a read, which reports), or nothing to apply. */
		cb(0, NULL, data);
		return true;
	}
	struct tree_op *op = zr_local__op_new(h->tree, h, cb, data);
	if (!op) {
		cb(-ENOMEM, NULL, data);
		return true;
	}
	bp->flush_op = op;
	bp_apply(bp);
	return true;
}
