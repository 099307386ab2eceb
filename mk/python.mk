# mk/python.mk: loopmaid_asyncio, the CPython asyncio recorder (python/, issue 17).
#
#   make python-test      its tests alone (`make test` runs them as well, through
#                         scripts/run-tests.sh, and counts them in its summary)
#   make install          also installs the package (standard library only):
#                           $(PYTHON_DIR)/loopmaid_asyncio/   the package
#                           $(BINDIR)/loopmaid-asyncio         python3 -m loopmaid_asyncio
#                         PYTHON_DIR defaults to PREFIX/lib/loopmaid/python, which
#                         the launcher puts on PYTHONPATH; to import it from your own
#                         code without that, install into your interpreter's
#                         site-packages (PYTHON_DIR=$$(python3 -c 'import sysconfig;
#                         print(sysconfig.get_path("purelib"))')) or use pip:
#                         `pip install python/` (works offline, no build backend needed).
#
# PYTHON picks the interpreter (default python3).

PYTHON     ?= python3
PYTHON_DIR ?= $(PREFIX)/lib/loopmaid/python
PY_SRC     := $(sort $(wildcard python/loopmaid_asyncio/*.py))

.PHONY: python-test install-python uninstall-python
install: install-python
uninstall: uninstall-python
# What install-python writes, for the top Makefile's INSTALLED list (paths
# under PREFIX; a PYTHON_DIR outside PREFIX is not listed).
INSTALLED += $(if $(filter $(PREFIX)/%,$(PYTHON_DIR)),\
    $(patsubst %,$(patsubst $(PREFIX)/%,%,$(PYTHON_DIR))/loopmaid_asyncio/%,$(notdir $(PY_SRC)))) \
    bin/loopmaid-asyncio

python-test: cli
	LOOPMAID_BIN=$(BUILD)/loopmaid $(PYTHON) python/tests/run.py

install-python:
	install -d $(DESTDIR)$(PYTHON_DIR)/loopmaid_asyncio $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(PY_SRC) $(DESTDIR)$(PYTHON_DIR)/loopmaid_asyncio/
	printf '#!/bin/sh\n# loopmaid-asyncio: record an asyncio program (python3 -m loopmaid_asyncio)\nPYTHONPATH="%s$${PYTHONPATH:+:$$PYTHONPATH}" exec "$${PYTHON:-%s}" -m loopmaid_asyncio "$$@"\n' \
	    '$(PYTHON_DIR)' '$(PYTHON)' > $(DESTDIR)$(PREFIX)/bin/loopmaid-asyncio
	chmod 755 $(DESTDIR)$(PREFIX)/bin/loopmaid-asyncio

uninstall-python:
	rm -rf $(DESTDIR)$(PYTHON_DIR)/loopmaid_asyncio
	rm -f $(DESTDIR)$(PREFIX)/bin/loopmaid-asyncio
	-rmdir $(DESTDIR)$(PYTHON_DIR) $(DESTDIR)$(PREFIX)/lib/loopmaid 2>/dev/null
