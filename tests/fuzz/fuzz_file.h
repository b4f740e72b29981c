/*
 * fuzz_file.h: the loaders under test (template_load, config_load) read a
 * path, so each fuzz input is handed to them as a file. The file is an
 * anonymous memfd named by /proc/self/fd/N: nothing is left on disk when
 * the fuzzer is killed, and nothing is shared with a parallel job.
 * Include first in a fuzz target (it defines _GNU_SOURCE for memfd_create).
 */
#ifndef GROUPSYNC_FUZZ_FILE_H
#define GROUPSYNC_FUZZ_FILE_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct fuzz_file {
	int fd;
	char path[64];
};

/* Replaces the file's content with data[0..size); returns its path. */
static const char *
fuzz_file_set(struct fuzz_file *f, const char *name, const void *data, size_t size)
{
	if (f->fd <= 0) {
		f->fd = memfd_create(name, 0);
		if (f->fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
	}
	if (ftruncate(f->fd, 0) < 0 ||
	    (size > 0 && pwrite(f->fd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz_file_set");
		abort();
	}
	return f->path;
}

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

#endif
