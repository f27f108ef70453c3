#!/usr/bin/env bash
# Builds the demo images on a machine whose Docker Engine cannot pull (design.md, "Containers without
# a registry"): host-built release binaries plus the shared libraries `ldd` lists (and the dynamic
# loader) in a tiny root filesystem, `docker import`ed. bash is included (with its libraries) so a
# healthcheck can test a TCP port with bash's /dev/tcp: the images have no curl.
#
# usage:
#   scripts/offline-images.sh            build tracebench/demo-gateway:offline, tracebench/demo-auth:offline
#                                        and tracebench/tracebench:offline (the sink, standing in for Tempo)
#   scripts/offline-images.sh --binary PATH --tag TAG [ENTRYPOINT ARG...]
#                                        one image from any host binary (the tests use this)
# An image is rebuilt only when its binary changed (its sha256 is kept in the label
# tracebench.binary-sha256), so calling this again is cheap. The three release binaries are always
# built by one cargo invocation: building demo alone would unify features differently, rebuild the
# shared dependencies and change the binaries' hashes. One build at a time per image set (a file
# lock in the target directory, held until exit): tests running in parallel wait for the first
# build instead of starting their own.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}

# lock NAME: waits for, then holds until exit, the lock NAME.
lock() {
    mkdir -p "$target_dir"
    exec 9>"$target_dir/offline-images-${1//\//_}.lock"
    flock 9
}

# image_from_binary BINARY TAG [ENTRYPOINT ARGS...]
image_from_binary() {
    local binary=$1 tag=$2
    shift 2
    local sum name root
    sum=$(sha256sum "$binary" | cut -d' ' -f1)
    if [ "$(docker image inspect -f '{{ index .Config.Labels "tracebench.binary-sha256" }}' "$tag" 2>/dev/null)" = "$sum" ]; then
        echo "offline-images: $tag is up to date"
        return
    fi
    name=$(basename "$binary")
    root=$(mktemp -d)
    trap 'rm -rf "$root"' RETURN
    mkdir -p "$root/usr/local/bin" "$root/bin" "$root/tmp" "$root/etc"
    chmod 1777 "$root/tmp"
    cp "$binary" "$root/usr/local/bin/$name"
    cp "$(command -v bash)" "$root/bin/bash"
    # Every library either binary needs, at the path the loader looks for it (lines with "=> /path",
    # and the loader's own absolute path).
    for lib in $({ ldd "$binary"; ldd "$(command -v bash)"; } | awk '/=> \// { print $3 } /^\t\// { print $1 }' | sort -u); do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
    echo "root:x:0:0:root:/:/bin/bash" >"$root/etc/passwd"
    echo "nobody:x:65534:65534:nobody:/:/bin/bash" >>"$root/etc/passwd"
    local entrypoint
    entrypoint=$(printf '"%s",' "/usr/local/bin/$name" "$@")
    tar -C "$root" -c . | docker import \
        --change "ENTRYPOINT [${entrypoint%,}]" \
        --change "ENV PATH=/usr/local/bin:/bin" \
        --change "LABEL tracebench.binary-sha256=$sum" \
        - "$tag" >/dev/null
    echo "offline-images: built $tag from $binary"
}

if [ "${1:-}" = "--binary" ]; then
    [ $# -ge 4 ] && [ "$3" = "--tag" ] || { echo "usage: $0 --binary PATH --tag TAG [ENTRYPOINT ARG...]" >&2; exit 2; }
    binary=$2 tag=$4
    shift 4
    lock "$tag"
    image_from_binary "$binary" "$tag" "$@"
    exit 0
fi

[ $# -eq 0 ] || { echo "usage: $0 [--binary PATH --tag TAG [ENTRYPOINT ARG...]]" >&2; exit 2; }
lock stack
cargo build --release -p demo --bins -p tracebench
image_from_binary "$target_dir/release/demo-gateway" tracebench/demo-gateway:offline
image_from_binary "$target_dir/release/demo-auth" tracebench/demo-auth:offline
image_from_binary "$target_dir/release/tracebench" tracebench/tracebench:offline \
    sink --otlp-grpc 0.0.0.0:4317 --otlp-http 0.0.0.0:4318 --api 0.0.0.0:3200
