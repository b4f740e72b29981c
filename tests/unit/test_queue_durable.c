/*
 * Durability of intake, seen from below SQLite: a VFS shim over the
 * default one watches the WAL file. A delivery may be answered 200 only
 * once its frames are on disk, so when store_enqueue() returns
 * STORE_STORED no WAL write may be left without an fsync after it.
 *
 * The regression: PRAGMA synchronous acts when it is prepared, and the
 * queue used to step cached "PRAGMA synchronous=FULL" statements that did
 * nothing, so intake committed with NORMAL (no fsync at COMMIT).
 */
#include "unit.h"

#include "groupsync/store/store.h"
#include "groupsync/base/util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include <sqlite3.h>

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real; /* allocated right after this struct */
	int wal;
};

static sqlite3_vfs *shim_orig;
static _Atomic int wal_unsynced; /* a WAL write not yet followed by a sync */
static _Atomic int wal_syncs;

#define REAL(f) (((struct shim_file *)(f))->real)

static int
shim_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
shim_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int
shim_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	int rc = REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);

	if (((struct shim_file *)f)->wal)
		atomic_store(&wal_unsynced, 1);
	return rc;
}

static int
shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
shim_sync(sqlite3_file *f, int flags)
{
	if (((struct shim_file *)f)->wal) {
		atomic_store(&wal_unsynced, 0);
		atomic_fetch_add(&wal_syncs, 1);
	}
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
shim_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
shim_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
shim_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
shim_fcntl(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
shim_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
shim_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
shim_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}

static int
shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
shim_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods shim_methods = {
	2, shim_close, shim_read, shim_write, shim_truncate, shim_sync, shim_size,
	shim_lock, shim_unlock, shim_reserved, shim_fcntl, shim_sector, shim_chars,
	shim_shm_map, shim_shm_lock, shim_shm_barrier, shim_shm_unmap, NULL, NULL,
};

static int
shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct shim_file *s = (struct shim_file *)f;
	int rc;

	(void)vfs;
	s->real = (sqlite3_file *)&s[1];
	s->wal = (flags & SQLITE_OPEN_WAL) != 0;
	rc = shim_orig->xOpen(shim_orig, name, s->real, flags, out);
	/* xClose is called even when xOpen fails, if pMethods is set */
	s->base.pMethods = s->real->pMethods != NULL ? &shim_methods : NULL;
	return rc;
}

static sqlite3_vfs shim_vfs;

static void
shim_install(void)
{
	shim_orig = sqlite3_vfs_find(NULL);
	assert_non_null(shim_orig);
	shim_vfs = *shim_orig;
	shim_vfs.zName = "gs-durable-shim";
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + shim_orig->szOsFile;
	shim_vfs.xOpen = shim_open;
	assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

static void
intake_syncs_wal(void **state)
{
	char dir[] = "/tmp/gs-test-durable-XXXXXX", err[STORE_ERROR_MAX + 1];
	struct store_job_in j;
	struct store *q;
	size_t stored = 0;
	int i;

	(void)state;
	shim_install();
	assert_non_null(mkdtemp(dir));
	q = store_open_at(dir, STORE_OPEN_SERVER, err, sizeof(err));
	if (q == NULL)
		fail_msg("store_open: %s", err);
	for (i = 0; i < 3; i++) {
		memset(&j, 0, sizeof(j));
		snprintf(j.uuid, sizeof(j.uuid), "uuid-%d", i);
		snprintf(j.user_id, sizeof(j.user_id), "00uuser%d", i);
		strcpy(j.event_type, "group.user_membership.add");
		strcpy(j.published, "2026-01-01T00:00:00.000Z");
		atomic_store(&wal_syncs, 0);
		assert_int_equal(store_enqueue(q, "", &j, 1, &stored, err, sizeof(err)),
		    STORE_STORED);
		/* answered "stored": every WAL frame written is synced */
		assert_int_equal(atomic_load(&wal_unsynced), 0);
		assert_true(atomic_load(&wal_syncs) >= 1);
	}
	store_close(q);
	unit_remove_dir(dir);
	sqlite3_vfs_unregister(&shim_vfs);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(intake_syncs_wal),
};

GS_UNIT_MAIN(tests)
