# mk/install-check.mk: `make install-check` installs into scratch directories
# and builds, runs and renders the README's quick-start snippet against the
# installed files (scripts/install-check.sh). tests/test_newuser.c runs it too.
.PHONY: install-check
install-check:
	@sh scripts/install-check.sh
