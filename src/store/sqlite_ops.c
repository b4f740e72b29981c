/*
 * sqlite_ops: the SQLite backend as the store's front sees it, its table
 * of operations (backend.h). The operations live with what they touch:
 * opening and the connection in sqlite.c, jobs in sqlite_jobs.c, the
 * remote-ID map in sqlite_remote_ids.c, operators' queries in
 * sqlite_admin.c.
 */
#include "sqlite.h"

const struct store_ops store_sqlite_ops = {
	.open = sq_open,
	.close = sq_close,
	.enqueue = sq_enqueue,
	.lease = sq_lease,
	.lease_user = sq_lease_user,
	.finish = sq_finish,
	.next_due = sq_next_due,
	.counts = sq_counts,
	.oldest_pending = sq_oldest_pending,
	.prune = sq_prune,
	.writable = sq_writable,
	.remote_get = sq_remote_get,
	.remote_put = sq_remote_put,
	.remote_delete = sq_remote_delete,
	.remote_each = sq_remote_each,
	.group_get = sq_group_get,
	.group_put = sq_group_put,
	.member_get = sq_member_get,
	.member_put = sq_member_put,
	.member_each = sq_member_each,
	.admin_list = sq_admin_list,
	.admin_get = sq_admin_get,
	.admin_retry = sq_admin_retry,
	.admin_retry_dead = sq_admin_retry_dead,
	.admin_drop = sq_admin_drop,
	.export_rows = sq_export,
	.count_held = sq_count_held,
	.deprovision_take = sq_deprovision_take,
	.admin_release_held = sq_admin_release_held,
	.snapshots_put = sq_snapshots_put,
	.snapshot_take = sq_snapshot_take,
	.snapshots_prune = sq_snapshots_prune,
	.backlog_users = sq_backlog_users,
};
