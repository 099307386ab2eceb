# mk/dist.mk: releases and the installed layout.
#
#   make dist           loopmaid-VERSION.tar.gz of the files git tracks (as they
#                       are in the work tree), under a loopmaid-VERSION/ folder
#   make distcheck      unpacks that tarball in a scratch folder, builds it,
#                       runs `make test` there, installs into a DESTDIR and
#                       uninstalls again (the tree must be left empty)
#   make package-check  the installed layout: man pages lint clean, the
#                       completion loads and completes, uninstall removes
#                       exactly what install wrote, then distcheck, then
#                       docs/ci.md's steps in a clean clone (scripts/ci-recipes-check.sh)
#                       (scripts/package-check.sh; .ci/run calls it)
#
# The version is tracer/loopmaid.h's; dist refuses to run when NEWS.md's
# newest heading names another, so a tarball never ships without its notes.

DIST_NAME = loopmaid-$(VERSION)
DIST_TAR  = $(BUILD)/$(DIST_NAME).tar.gz

.PHONY: dist distcheck package-check man-lint

dist:
	@news=$$(sed -n 's/^## \([0-9][^ ]*\) .*/\1/p' NEWS.md | head -n 1); \
	[ "$$news" = "$(VERSION)" ] || { echo "dist: NEWS.md's newest version is '$$news', tracer/loopmaid.h says $(VERSION)" >&2; exit 1; }
	@command -v git >/dev/null && git rev-parse --is-inside-work-tree >/dev/null 2>&1 || \
	    { echo "dist: needs a git checkout (it packs the tracked files)" >&2; exit 1; }
	@mkdir -p $(BUILD)
	@# Tracked files that still exist (a deletion not yet committed is left out),
	@# with fixed owner, mode bits and times so that the tarball is reproducible.
	git ls-files -z | xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
	    LC_ALL=C sort -z | \
	    tar --null -T - --transform 's|^|$(DIST_NAME)/|' --owner=0 --group=0 --numeric-owner \
	        --mtime='$(MAN_DATE) 00:00:00Z' --mode='u+rw,go+r,go-w' -cf - | gzip -n -9 > $(DIST_TAR).tmp
	mv $(DIST_TAR).tmp $(DIST_TAR)
	@echo "dist: $(DIST_TAR)"

distcheck: dist
	@sh scripts/package-check.sh distcheck $(DIST_TAR)

package-check: $(DEPS_STAMP) all man
	@sh scripts/deps.sh man
	@sh scripts/package-check.sh all $(BUILD)
	@sh scripts/ci-recipes-check.sh

man-lint: man
	@sh scripts/deps.sh man
	@sh scripts/package-check.sh man $(BUILD)

# The list install writes, for scripts/package-check.sh.
.PHONY: print-installed
print-installed:
	@echo $(INSTALLED)
