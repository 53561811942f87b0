# Thin wrapper around Meson so the README's commands stay short.
.PHONY: all build demo test clean

all: build

build:
	@scripts/install-deps
	@[ -f build/build.ninja ] || meson setup build >/dev/null
	@ninja -C build

demo: build
	./build/src/cli/workphone demo --data demo-data

test:
	@scripts/test

clean:
	rm -rf build build-asan build-fuzz build-bench
