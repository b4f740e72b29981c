/*
 * pg_ops: the PostgreSQL backend as the store's front sees it, its table
 * of operations (backend.h). pg.h says which file holds which.
 */
#include "pg.h"

const struct store_ops store_pg_ops = {
	.open = pg_open,
	.close = pg_close,
	.enqueue = pg_enqueue,
	.lease = pg_lease,
	.lease_user = pg_lease_user,
	.finish = pg_finish,
	.next_due = pg_next_due,
	.counts = pg_counts,
	.oldest_pending = pg_oldest_pending,
	.prune = pg_prune,
	.writable = pg_writable,
	.claim = pg_claim,
	.remote_get = pg_remote_get,
	.remote_put = pg_remote_put,
	.remote_delete = pg_remote_delete,
	.remote_each = pg_remote_each,
	.group_get = pg_group_get,
	.group_put = pg_group_put,
	.member_get = pg_member_get,
	.member_put = pg_member_put,
	.member_each = pg_member_each,
	.admin_list = pg_admin_list,
	.admin_get = pg_admin_get,
	.admin_retry = pg_admin_retry,
	.admin_retry_dead = pg_admin_retry_dead,
	.admin_drop = pg_admin_drop,
	.count_held = pg_count_held,
	.deprovision_take = pg_deprovision_take,
	.admin_release_held = pg_admin_release_held,
	.import_begin = pg_import_begin,
	.import_row = pg_import_row,
	.import_end = pg_import_end,
	.listen = pg_listen,
};
