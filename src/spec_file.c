/*
 * spec_file.c
 *		Read a spec file on the server for telemetry_load_spec().
 *
 * pg_read_file() is executable only by superusers unless EXECUTE is granted,
 * even to members of pg_read_server_files, and it reads a file whole however
 * large it is.  This reader checks the caller's privileges itself (those of
 * pg_read_server_files, which superusers have), accepts only regular files,
 * and reads at most the spec size limit plus one byte, so a huge file or a
 * FIFO cannot exhaust memory or hang the backend.
 *
 * A FIFO (or a device) would block open() itself, where no cancel or
 * terminate can reach the backend: the path is stat()ed and refused before
 * anything is opened, the open is non-blocking, and the opened file is
 * checked again (it may have been replaced in between).  Reads are in
 * chunks, with a check for interrupts between them.
 */
#include "telemetry.h"
#include "spec_register.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/* the largest spec file, in bytes (the same limit applies to the jsonb) */
#define TELEMETRY_MAX_SPEC_BYTES (1024 * 1024)
#define SPEC_READ_CHUNK (64 * 1024)

#ifndef O_NOCTTY
#define O_NOCTTY 0
#endif

PG_FUNCTION_INFO_V1(telemetry_read_spec_file);

/* Refuse anything but a regular file of at most the size limit. */
static void
check_spec_file_stat(const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("spec file \"%s\" is not a regular file", path)));
	if (st->st_size > TELEMETRY_MAX_SPEC_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("spec file \"%s\" is larger than 1 MB", path)));
}

/*
 * SQL: telemetry._read_spec_file(path text) RETURNS text
 *
 * A relative path is relative to the data directory, as for pg_read_file().
 */
Datum
telemetry_read_spec_file(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(spec_file_read(text_to_cstring(PG_GETARG_TEXT_PP(0))));
}

/*
 * A spec file's text, for telemetry_load_spec() and _read_spec_file():
 * the caller must have the privileges of pg_read_server_files.
 */
text *
spec_file_read(const char *path)
{
	int			fd;
	struct stat st;
	text	   *result;
	size_t		n = 0;

	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to load a spec from a file"),
				 errdetail("Only superusers and roles with the privileges of pg_read_server_files may read server files."),
				 errhint("Use telemetry_register_spec() with the document instead.")));

	if (path[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("spec file path is empty")));

	/* before opening: opening a FIFO or a device can block or act */
	if (stat(path, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open spec file \"%s\": %m", path)));
	check_spec_file_stat(path, &st);

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open spec file \"%s\": %m", path)));
	if (fstat(fd, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat spec file \"%s\": %m", path)));
	check_spec_file_stat(path, &st);

	/* the file may grow after fstat: read one byte past the limit to tell */
	result = (text *) palloc(VARHDRSZ + TELEMETRY_MAX_SPEC_BYTES + 1);
	for (;;)
	{
		size_t		want = TELEMETRY_MAX_SPEC_BYTES + 1 - n;
		ssize_t		got;

		CHECK_FOR_INTERRUPTS();
		if (want == 0)
			break;
		if (want > SPEC_READ_CHUNK)
			want = SPEC_READ_CHUNK;
		got = read(fd, VARDATA(result) + n, want);
		if (got < 0)
		{
			if (errno == EINTR)
				continue;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read spec file \"%s\": %m", path)));
		}
		if (got == 0)
			break;
		n += got;
	}
	CloseTransientFile(fd);

	if (n > TELEMETRY_MAX_SPEC_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("spec file \"%s\" is larger than 1 MB", path)));

	/* rejects NUL bytes and invalid sequences, like pg_read_file() */
	pg_verifymbstr(VARDATA(result), (int) n, false);
	SET_VARSIZE(result, VARHDRSZ + n);
	return result;
}
