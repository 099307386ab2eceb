# mk/conformance.mk: every diagram loopmaid emits, rendered by real Mermaid
# (10.9, 11 and 12 from the npm registry) in headless Debian Chromium.
# See tests/conformance/README.md.
#
#   make conformance            the self-test (known-bad fixtures must be caught,
#                               known-good ones must pass), then everything:
#                               tests/data/**/*.mmd, `make demo`'s build/demo/*.mmd,
#                               the README gallery, and every view of the hostile
#                               trace and of a 1,000,000-event generated trace
#   make conformance-selftest   only the self-test
#   make conformance-deps       only the installs (Chromium via apt, npm ci)
#
# The node packages are pinned by tests/conformance/package-lock.json and go
# to tests/conformance/node_modules (git-ignored). No browser is ever
# downloaded: Chromium is Debian's, from scripts/deps.sh browser.

CONF_DIR   := tests/conformance
CONF_STAMP := $(CONF_DIR)/node_modules/.loopmaid-installed
CONF_RUN    = LOOPMAID_BUILD=$(BUILD) node $(CONF_DIR)/check.mjs
CONF_SELF   = --expect-fail $(sort $(wildcard $(CONF_DIR)/known-bad/*.mmd)) \
              --expect-pass $(sort $(wildcard $(CONF_DIR)/known-good/*.mmd))

.PHONY: conformance conformance-selftest conformance-deps

# `npm ci` wipes node_modules (and this stamp) and installs exactly the lock
# file; it reruns only when the lock file or package.json change.
$(CONF_STAMP): $(CONF_DIR)/package.json $(CONF_DIR)/package-lock.json
	@sh scripts/deps.sh $(DEPS_CHECK) browser
	cd $(CONF_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@touch $@

conformance-deps: $(CONF_STAMP)
	@sh scripts/deps.sh $(DEPS_CHECK) browser

conformance-selftest: conformance-deps
	@echo "check.mjs --expect-fail $(CONF_DIR)/known-bad/*.mmd --expect-pass $(CONF_DIR)/known-good/*.mmd"
	@$(CONF_RUN) $(CONF_SELF)

# Every step always runs (a failing `make demo` or self-test does not hide
# the other results), and the target fails if any step failed. `make demo`
# runs when some mk/*.mk defines it, so its diagrams are the current ones.
conformance: conformance-deps cli tools
	@st=0; \
	if grep -qs '^demo[[:space:]]*:' Makefile mk/*.mk; then \
	    $(MAKE) --no-print-directory demo || { st=1; echo 'conformance: `make demo` FAILED; checking what it wrote'; }; \
	fi; \
	echo '== conformance self-test: the checker catches known-bad diagrams =='; \
	$(CONF_RUN) $(CONF_SELF) || st=1; \
	echo '== conformance: everything loopmaid emits =='; \
	$(CONF_RUN) --all || st=1; \
	exit $$st
