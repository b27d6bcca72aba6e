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
REGRESS_OPTS = --load-extension=plpgsql
ISOLATION = $(patsubst specs/%.spec,%,$(sort $(wildcard specs/*.spec)))
TAP_TESTS = 1

PG_CPPFLAGS = -I$(srcdir)/src -Wall -Wmissing-prototypes -Werror=implicit-function-declaration
SHLIB_LINK = -lcurl -lz

EXTRA_CLEAN = $(EXTENSION)--$(EXTVERSION).sql

# No LLVM bitcode: it needs clang at build time and only serves JIT inlining.
override with_llvm = no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header changes.
$(OBJS): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/*.sql))
	cat $^ > $@
