# Thin wrapper around Meson (and npm for the web console) so the README's commands stay short.
.PHONY: all build web demo test coverage clean install

# `make install [PREFIX=/usr] [DESTDIR=/tmp/root]`: the binary, the console, the default lexicon,
# the man pages, the systemd unit, its user and /etc/workphone/workphone.conf (docs/deploy.md).
PREFIX ?= /usr/local
DESTDIR ?=
BUILDDIR ?= build

all: build

build:
	@scripts/install-deps
	@[ -f $(BUILDDIR)/build.ninja ] || meson setup $(BUILDDIR) >/dev/null
	@ninja -C $(BUILDDIR)

# The web console (web/): npm ci from the committed lockfile (again only when the lockfile
# changed), then vite build into web/dist, which `workphone serve` serves at /.
web:
	@scripts/install-deps
	@command -v npm >/dev/null || { echo "make web: Node.js 20.19+ and npm are needed" >&2; exit 1; }
	@cd web && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build

install: build
	@[ -f web/dist/index.html ] || $(MAKE) --no-print-directory web
	@prefix=$$(meson introspect $(BUILDDIR) --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])'); \
	    [ "$$prefix" = "$(PREFIX)" ] || meson configure $(BUILDDIR) -Dprefix=$(PREFIX) >/dev/null
	@meson install -C $(BUILDDIR) --quiet $(if $(DESTDIR),--destdir "$(abspath $(DESTDIR))")

demo: build web
	./build/src/cli/workphone demo --data demo-data

test:
	@scripts/test

# Line and branch coverage of src/ over every suite on both backends (gcovr, installed here
# only): the HTML report lands in build-cov/coverage/index.html.
coverage:
	@scripts/coverage

clean:
	rm -rf build build-asan build-fuzz build-bench build-cov web/dist
