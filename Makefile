# PGXS build for the telemetry extension.
#
# The install script is assembled from the fragments in src/sql/, one file a
# concern, in the order of their numeric prefixes.  Tests are discovered from
# sql/ (pg_regress), specs/ (pg_isolation_regress) and t/ (TAP); scripts/test
# runs all of them against a private installation.

EXTENSION = telemetry
EXTVERSION = 0.1.0

MODULE_big = telemetry
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

DATA_built = $(EXTENSION)--$(EXTVERSION).sql
# upgrade scripts (telemetry--A--B.sql) and frozen install scripts of older versions
DATA = $(filter-out $(DATA_built),$(wildcard $(EXTENSION)--*.sql))

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
# make installcheck (after make install) runs pg_regress and pg_isolation_regress
# as scripts/test does: each on a temporary instance of the installed server
# started with test/regress.conf (shared_preload_libraries, telemetry.enabled
# = off, the allowed environment variables and destinations), which a running
# server cannot be given from here.  Run it as a user that may run initdb.
REGRESS_OPTS = --load-extension=plpgsql --temp-instance=./tmp_check_regress \
	--temp-config=$(srcdir)/test/regress.conf
ISOLATION_OPTS = --temp-instance=./tmp_check_iso --temp-config=$(srcdir)/test/regress.conf
TAP_TESTS = 1

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wmissing-prototypes -Werror=implicit-function-declaration
SHLIB_LINK = -lcurl -lz

EXTRA_CLEAN = $(EXTENSION)--$(EXTVERSION).sql tmp_check_regress tmp_check_iso

# No LLVM bitcode: it needs clang at build time and only serves JIT inlining.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# make installcheck's TAP files find t/lib and the tree as under scripts/test
# (after the include: Makefile.global sets PROVE_FLAGS); the Citus ones need a
# Citus installation and run in scripts/test's citus suite.
PROVE_FLAGS = -I ./t/lib
PROVE_TESTS ?= $(filter-out $(wildcard t/1[0-9][0-9]_citus_*.pl),$(sort $(wildcard t/*.pl)))
export TELEMETRY_SRC := $(abspath $(srcdir))

# PGXS tracks no header dependencies: rebuild every object when a header changes.
$(OBJS): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/*.sql))
	cat $^ > $@
