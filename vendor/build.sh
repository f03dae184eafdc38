#!/usr/bin/env bash
# vendor/build.sh - fetch, verify, patch and build tern's third-party libraries.
#
# Sources come from Debian bookworm via `apt-get source`, pinned and hashed in
# vendor/manifest. Output (git-ignored) goes to vendor/out/:
#   out/musl/{include,lib}  static libs built with musl-gcc (the real binary)
#   out/host/{lib,share}    the test builds' libzxcvbn and the data the
#                           host tools turn into C; the test builds' other
#                           libraries are Debian's own -dev packages (HOST_DEBS)
#   out/log/NAME-FLAVOUR.log, out/log/NAME-src.log   build logs
#   out/stamp/              one stamp per package+flavour
# Idempotent: when every stamp matches the manifest block (and this script)
# it does nothing. Safe to call from make on every build.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
MANIFEST="$HERE/manifest"
OUT="$HERE/out"

# What gets built, per flavour.
FLAVOURS=(musl host)
declare -A FLAVOUR_PKGS=(
    [musl]="bearssl lmdb libmicrohttpd c-ares libsodium mimalloc openssl zlib libzxcvbn-dev"
    [host]="libzxcvbn-dev ca-certificates icu publicsuffix"
)
# The test builds (unit tests, fuzzers, build/tern-asan: glibc, never the
# product) and build/gen-anchors (the host tool that reads the trust
# anchors with BearSSL, so every build needs libbearssl-dev) link these
# libraries as Debian's own packages of the same
# release, shared, instead of a second build of each from source: the same
# upstream versions with the same Debian patches, and CI compiles each
# library once (for musl) instead of twice. Building them here took half of
# this script's 15 minutes on a fresh 2-core machine.
HOST_DEBS=(libbearssl-dev liblmdb-dev libmicrohttpd-dev libc-ares-dev libsodium-dev
           libssl-dev zlib1g-dev)
# The library each package installs (used to check the output exists).
declare -A LIBNAME=(
    [bearssl]=libbearssl.a [lmdb]=liblmdb.a [libmicrohttpd]=libmicrohttpd.a
    [c-ares]=libcares.a [libsodium]=libsodium.a [mimalloc]=libmimalloc.a
    [openssl]=libcrypto.a [zlib]=libz.a [libzxcvbn-dev]=libzxcvbn.a
)
# What a package installs when it is not a library (relative to out/FLAVOUR/).
# ca-certificates is data: the Makefile's host tool turns certdata.txt into
# C (build/gen/anchors_table.c), compiled into every flavour of the binary.
# icu is data here: UTS #39's confusables.txt from its source becomes the
# look-alike skeleton table (scripts/gen-confusables.c). publicsuffix is
# the Public Suffix List (scripts/gen-psl.c, build/gen/psl_table.c); it is
# pinned as a binary package (a .deb in its manifest block, see
# is_deb below) because the mirror answers 404 for its source.
declare -A OUTFILE=([ca-certificates]=share/certdata.txt
                    [icu]=share/confusables.txt [publicsuffix]=share/public_suffix_list.dat)
outfile() { echo "${OUTFILE[$1]:-lib/${LIBNAME[$1]}}"; }
# Packages whose Debian build runs autoreconf and needs it for us too:
# libsodium ships no configure script; c-ares carries a Debian patch to
# configure.ac (disable-cflags-rewrite.diff) that only takes effect that way.
declare -A AUTORECONF=([c-ares]=1 [libsodium]=1)
# c-ares's autoreconf and configure (about 400 checks, 1,300 compiler
# runs, one after another) are this script's longest chain: about 110 s
# of one core, on a 2-core machine where process creation is slow. The
# other packages, mostly `make -j`, build at nice 10 beside it, so it has
# a core nearly to itself instead of an equal share with a dozen
# compilers, and no longer finishes last, alone, after the others.
declare -A LONG_CHAIN=([c-ares]=1)

DEBSRC_FILE=/etc/apt/sources.list.d/tern-deb-src.sources

usage() {
    cat <<'EOF'
usage: vendor/build.sh                  fetch, verify and build whatever is stale
       vendor/build.sh --fetch          only the steps that need apt: the tools, the
                                        test builds' Debian libraries (HOST_DEBS)
                                        and the pinned sources (make test runs this
                                        first, then its own apt installs beside
                                        the compiling)
       vendor/build.sh --hashes NAME VERSION
                                        download a Debian source package into a
                                        temporary directory and print its
                                        manifest block (for bumping a version)
       vendor/build.sh --hashes-deb NAME VERSION
                                        the same for a package pinned as a
                                        binary .deb (the mirror has no source)
       vendor/build.sh --test-source NAME DIR [COMPONENT]
                                        unpack the upstream tarball (or its
                                        COMPONENT tarball) of the newest Debian
                                        source package NAME into DIR (test data,
                                        e.g. a conformance suite; not pinned,
                                        nothing built)
EOF
}
MODE=build
case ${1:-} in
    "") ;;
    --fetch) [[ $# -eq 1 ]] || { usage >&2; exit 2; }; MODE=fetch ;;
    --hashes) [[ $# -eq 3 ]] || { usage >&2; exit 2; }; MODE=hashes ;;
    --hashes-deb) [[ $# -eq 3 ]] || { usage >&2; exit 2; }; MODE=hashes-deb ;;
    --test-source) [[ $# -eq 3 || $# -eq 4 ]] || { usage >&2; exit 2; }; MODE=test-source ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac

# Never inherit a parent make's jobserver or flags, nor stray compiler env.
unset MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS MAKEFILES \
      CC CXX CPP CFLAGS CPPFLAGS CXXFLAGS LDFLAGS LIBS AR RANLIB CONFIG_SITE
export LC_ALL=C
# autoconf's configure scripts re-execute themselves under bash when there
# is one (for LINENO); under dash (Debian's /bin/sh) they make the same
# checks with the same results (every file configure wrote compared, paths
# and the shell's name aside, for c-ares, libsodium and libmicrohttpd), and
# where a script runs thousands of checks dash's cheaper forks show: c-ares's
# configure took 199 s under bash and 118 s under dash on a 2-core machine
# where process creation is slow.
[[ -x /bin/dash ]] && export CONFIG_SHELL=/bin/dash

say() { printf 'vendor: %s\n' "$*"; }
die() { printf 'vendor: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- manifest

# Print the non-comment lines of one package's block.
manifest_block() {
    awk -v p="$1" '
        /^[[:space:]]*(#|$)/ { next }
        $1 == "package"      { inblk = ($2 == p) }
        inblk                { print }
    ' "$MANIFEST"
}

[[ -r $MANIFEST ]] || die "missing $MANIFEST"
# ---------------------------------------------------------------- building

JOBS=$(nproc 2>/dev/null || echo 2)

declare -A CFG_CC=([musl]=musl-gcc [host]=gcc)
# musl has no _FORTIFY_SOURCE support, so it is only set for the glibc flavour.
declare -A CFG_CFLAGS=(
    [musl]="-O2 -g -fstack-protector-strong"
    [host]="-O2 -g -fPIC -fstack-protector-strong"
)
declare -A CFG_CPPFLAGS=([musl]="" [host]="-D_FORTIFY_SOURCE=2")

# Unpack (dpkg-source -x applies the Debian patch series) into out/tree/PKG.
prepare_tree() { # pkg
    local pkg=$1 tree="$OUT/tree/$1" dsc
    stamp_ok "$pkg-src" "${KEY[$pkg]}" && [[ -d $tree ]] && return 0
    rm -f "$OUT/stamp/$pkg-src"
    rm -rf "$tree"
    verify_files "$pkg" report || { echo "sha256 mismatch, see above"; return 1; }
    dsc=$(manifest_files "$pkg" | awk '$2 ~ /\.dsc$/ { print $2 }')
    dpkg-source -x "$OUT/src/$dsc" "$tree"
    if [[ -n ${AUTORECONF[$pkg]:-} ]]; then
        (cd "$tree" && autoreconf -f -i)
    fi
    echo "${KEY[$pkg]}" >"$OUT/stamp/$pkg-src"
}

# Copy files or directory trees into DEST atomically per file (temp + rename),
# so a compiler or linker running meanwhile never sees a half-written file.
put() { # SRC... DEST
    local dest=${!#} src f rel
    for src in "${@:1:$#-1}"; do
        if [[ -d $src ]]; then
            while IFS= read -r -d '' f; do
                rel=${f#"$src"/}
                mkdir -p "$dest/$(basename "$src")/$(dirname "$rel")"
                put "$f" "$dest/$(basename "$src")/$(dirname "$rel")"
            done < <(find "$src" -type f -print0)
        else
            f="$dest/.$(basename "$src").tmp.$BASHPID"
            install -m 644 "$src" "$f"
            mv -f "$f" "$dest/$(basename "$src")"
        fi
    done
}

# Build one flavour of one package in a private copy of the tree and install
# headers + static library into out/FLAVOUR/.
build_one() { # pkg flavour
    local pkg=$1 fl=$2
    local cc=${CFG_CC[$fl]} cflags=${CFG_CFLAGS[$fl]} cppflags=${CFG_CPPFLAGS[$fl]}
    local bld="$OUT/build/$pkg-$fl" stage="$OUT/build/$pkg-$fl.stage"
    local inc="$OUT/$fl/include" lib="$OUT/$fl/lib"
    rm -f "$OUT/stamp/$pkg-$fl"
    rm -rf "$bld" "$stage"
    cp -a "$OUT/tree/$pkg" "$bld"
    echo "== $pkg ${VERSION[$pkg]} ($fl): CC=$cc CFLAGS=$cflags CPPFLAGS=$cppflags"

    local conf=(--prefix="$stage" --disable-shared --enable-static
                --disable-dependency-tracking)
    declare -F "recipe_$pkg" >/dev/null || { echo "no build recipe for $pkg"; return 1; }
    "recipe_$pkg"
    rm -rf "$bld" "$stage"
    echo "${KEY[$pkg]}" >"$OUT/stamp/$pkg-$fl"
}

# Recipes: recipe_NAME runs inside build_one, whose locals it uses: cc,
# cflags, cppflags (the flavour's), bld (a private copy of the unpacked tree),
# stage (an install prefix), conf (common configure options), inc and lib
# (where the headers and the static library go, through put).

recipe_bearssl() {
    make -C "$bld" -j"$JOBS" lib CONF=Unix BUILD=build \
        CC="$cc" CFLAGS="-W -Wall $cflags $cppflags" AR=ar
    put "$bld"/inc/bearssl*.h "$inc"
    put "$bld/build/libbearssl.a" "$lib"
}

recipe_lmdb() {
    make -C "$bld/libraries/liblmdb" -j"$JOBS" liblmdb.a \
        CC="$cc" OPT="$cflags $cppflags" AR=ar
    put "$bld/libraries/liblmdb/lmdb.h" "$inc"
    put "$bld/libraries/liblmdb/liblmdb.a" "$lib"
}

recipe_libmicrohttpd() {
    (cd "$bld" && ./configure "${conf[@]}" CC="$cc" CFLAGS="$cflags" CPPFLAGS="$cppflags" \
        --disable-https --without-gnutls --disable-doc --disable-examples \
        --disable-curl --disable-nls --disable-rpath --with-threads=posix)
    make -C "$bld" -j"$JOBS"
    make -C "$bld" install
    put "$stage"/include/* "$inc"
    put "$stage/lib/libmicrohttpd.a" "$lib"
}

recipe_c-ares() {
    (cd "$bld" && ./configure "${conf[@]}" CC="$cc" CFLAGS="$cflags" CPPFLAGS="$cppflags" \
        --disable-tests --disable-debug)
    make -C "$bld" -j"$JOBS"
    make -C "$bld" install
    put "$stage"/include/* "$inc"
    put "$stage/lib/libcares.a" "$lib"
}

recipe_libsodium() {
    (cd "$bld" && ./configure "${conf[@]}" CC="$cc" CFLAGS="$cflags" CPPFLAGS="$cppflags")
    make -C "$bld" -j"$JOBS"
    make -C "$bld" install
    put "$stage"/include/* "$inc"
    put "$stage/lib/libsodium.a" "$lib"
}

recipe_mimalloc() {
    # The whole allocator as one object (upstream's src/static.c, plus
    # the calloc below) that replaces musl's malloc family in the static
    # link: musl allows that when the program defines malloc, calloc,
    # realloc and free. Link it with --whole-archive, before libc.
    # NDEBUG: release build (no assertions, no padding). __USE_ISOC11:
    # mimalloc defines aligned_alloc only under that glibc macro, and
    # musl's own aligned_alloc refuses to work once malloc is replaced.
    # Files at run time: none needed. At start mimalloc reads
    # /proc/sys/vm/overcommit_memory if it exists (no option turns that
    # off; without it, as in an empty chroot, it assumes overcommit,
    # Linux's default); the NUMA probe of /sys is turned off below.
    # Options: MIMALLOC_* environment variables only. Randomness:
    # getrandom.
    cat >"$bld/tern-mimalloc.c" <<'EOF'
/* Written by tern's vendor/build.sh. mimalloc 2.0.9 does not track whether
 * a block is still fresh from the OS, so its calloc memsets every byte:
 * LMDB's calloc of its 2 MiB dirty list at env open would stay resident
 * for the life of the process (2 MiB more idle RSS, 3x tern's). For
 * blocks of 256 KiB and more the page-aligned interior is zeroed with
 * MADV_DONTNEED instead (private anonymous memory reads back as zeros),
 * which touches nothing; smaller blocks use mimalloc's calloc. */
#define calloc tern_mi_calloc_unused
#include "static.c"
#undef calloc
#include <sys/mman.h>

void *calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (total < 256 * 1024)
		return mi_calloc(n, size);
	uint8_t *p = mi_malloc(total);
	if (p == NULL)
		return NULL;
	uintptr_t ps = _mi_os_page_size();
	uintptr_t a = ((uintptr_t)p + ps - 1) & ~(ps - 1);
	uintptr_t b = ((uintptr_t)p + total) & ~(ps - 1);
	if (madvise((void *)a, b - a, MADV_DONTNEED) == 0) {
		memset(p, 0, a - (uintptr_t)p);
		memset((void *)b, 0, (uintptr_t)p + total - b);
	} else {
		memset(p, 0, total);
	}
	return p;
}

/* Runs before mimalloc's own constructor and before any allocation. One
 * NUMA node: mimalloc would otherwise count nodes by probing
 * /sys/devices/system/node (MIMALLOC_USE_NUMA_NODES still overrides). */
__attribute__((constructor(101))) static void tern_mi_options(void)
{
	mi_option_set_default(mi_option_use_numa_nodes, 1);
}
EOF
    "$cc" $cflags $cppflags -DNDEBUG -DMI_MALLOC_OVERRIDE -DMI_STATIC_LIB \
        -D__USE_ISOC11=1 -fvisibility=hidden -ftls-model=initial-exec \
        -fno-builtin-malloc -Wall -Wextra -I"$bld/include" -I"$bld/src" \
        -c "$bld/tern-mimalloc.c" -o "$bld/mimalloc.o"
    ar rcs "$bld/libmimalloc.a" "$bld/mimalloc.o"
    put "$bld/include/mimalloc.h" "$inc"
    put "$bld/libmimalloc.a" "$lib"
}

recipe_openssl() {
    # libcrypto only, for RSA signing (manifest says why). Everything
    # that could read a file or load code at run time is configured
    # out: no openssl.cnf autoload, no DSOs/engines/providers from disk,
    # no secure heap (it needs linux/mman.h, which musl-gcc lacks).
    # Algorithms tern does not use from here are configured out (the
    # built-in provider would link them all: 1.3 MB of the binary), as
    # are error strings; function and data sections let the static
    # link drop the rest it never calls (--gc-sections in the Makefile).
    # Kept: RSA, bignums, SHA-2 and the AES CTR-DRBG behind blinding,
    # whose seed comes from getrandom(2): no /dev needed.
    (cd "$bld" && ./Configure linux-x86_64 --prefix="$stage" CC="$cc" \
        no-shared no-dso no-engine no-module no-async no-tests no-ui-console \
        no-afalgeng no-comp no-secure-memory no-autoload-config no-err \
        no-aria no-bf no-blake2 no-camellia no-cast no-chacha no-cmac no-des \
        no-dh no-dsa no-ec no-ec2m no-gost no-idea no-md4 no-mdc2 no-ocb \
        no-poly1305 no-rc2 no-rc4 no-rc5 no-rmd160 no-scrypt no-seed \
        no-siphash no-siv no-sm2 no-sm3 no-sm4 no-whirlpool no-cms no-ct \
        no-ocsp no-ts no-srp \
        -ffunction-sections -fdata-sections $cppflags)
    make -C "$bld" -j"$JOBS" build_generated
    make -C "$bld" -j"$JOBS" libcrypto.a
    put "$bld/include/openssl" "$inc"
    put "$bld/libcrypto.a" "$lib"
}


recipe_zlib() {
    # zlib's own configure script (not autoconf): static only.
    (cd "$bld" && CC="$cc" CFLAGS="$cflags $cppflags" ./configure --static --prefix="$stage")
    make -C "$bld" -j"$JOBS" libz.a
    make -C "$bld" install
    put "$stage/include/zlib.h" "$stage/include/zconf.h" "$inc"
    put "$stage/lib/libz.a" "$lib"
}

recipe_libzxcvbn-dev() {
    # Nothing to compile: Debian's own static build of zxcvbn-c, pinned as
    # the binary package because the mirror answers 404 for its source
    # (vendor/manifest). libzxcvbn.a is one object, built by Debian's gcc
    # against glibc's headers, whose only undefined symbols are
    # __ctype_b_loc, __ctype_tolower_loc, __stack_chk_fail, malloc, calloc,
    # free, log, pow, strchr, strlen and strncmp: musl defines every one
    # (the two __ctype ones for glibc-built objects), so the same archive
    # links into the musl binary and the glibc test builds. Checked here,
    # so a new Debian build that needs more fails at vendor time, not as
    # a puzzling link error or a dynamic symbol.
    local a
    a=$(echo "$bld"/usr/lib/*/libzxcvbn.a)
    [[ -f $a ]] || { echo "no usr/lib/*/libzxcvbn.a in the package"; return 1; }
    local undef want="__ctype_b_loc __ctype_tolower_loc __stack_chk_fail calloc free log malloc pow strchr strlen strncmp"
    undef=$(nm -u "$a" | awk 'NF == 2 { print $2 }' | sort -u | tr '\n' ' ')
    [[ $undef == "$want " ]] ||
        { echo "libzxcvbn.a needs symbols we did not check against musl: $undef"; return 1; }
    put "$bld/usr/include/zxcvbn.h" "$inc"
    put "$a" "$lib"
}

recipe_icu() {
    # Nothing to compile: only Unicode's data files shipped in ICU's
    # source are taken, UTS #39's confusables.txt and UnicodeData.txt (for
    # the canonical decompositions a skeleton applies), and CaseFolding.txt
    # (core/ufold.c's full case folding, scripts/gen-ufold.c), with
    # UnicodeData.txt and DerivedNormalizationProps.txt core/unorm.c's
    # NFC (scripts/gen-unorm.c), and NormalizationTest.txt, which
    # tests/unit/test_unorm.c reads; ICU itself is not built.
    mkdir -p "$OUT/$fl/share"
    put "$bld/source/data/unidata/confusables.txt" \
        "$bld/source/data/unidata/UnicodeData.txt" \
        "$bld/source/data/unidata/CaseFolding.txt" \
        "$bld/source/data/unidata/DerivedNormalizationProps.txt" \
        "$bld/source/data/unidata/NormalizationTest.txt" "$OUT/$fl/share"
}

recipe_publicsuffix() {
    # Nothing to compile: the list as the binary package installs it.
    mkdir -p "$OUT/$fl/share"
    put "$bld/usr/share/publicsuffix/public_suffix_list.dat" "$OUT/$fl/share"
}

recipe_ca-certificates() {
    # Nothing to compile: Mozilla's certdata.txt as Debian ships it, and
    # Debian's blacklist (scripts/gen-anchors.c applies both).
    mkdir -p "$OUT/$fl/share"
    put "$bld/mozilla/certdata.txt" "$bld/mozilla/blacklist.txt" "$OUT/$fl/share"
}

# ---------------------------------------------------------------- keys

# A package's key hashes its manifest block, its recipe, whether it runs
# autoreconf, and the code every recipe shares (unpacking, the flavours'
# compilers and flags, build_one). Editing one recipe or adding a package
# rebuilds that package only; editing the shared code rebuilds them all. The
# text hashed is bash's own listing (declare -f/-p), so a new bash version
# may rebuild everything once.
SHARED_CODE=$(declare -f prepare_tree put build_one; declare -p CFG_CC CFG_CFLAGS CFG_CPPFLAGS)
code_hash() { # pkg
    local h
    h=$({ printf '%s\n' "$SHARED_CODE"; declare -f "recipe_$1"
          printf 'autoreconf %s\n' "${AUTORECONF[$1]:-0}"; } | sha256sum)
    echo "${h%% *}"
}

# Stamps written while the key hashed the whole of build.sh (up to the
# commit that added zlib; the script's hash then is LEGACY_SCRIPT) stay
# valid for the packages whose recipe and shared code are still what they
# were then (their code hashes are LEGACY_CODE): moving the recipes into
# functions changed no build. This only spares every existing checkout one
# full rebuild; the table can go once all have rebuilt.
LEGACY_SCRIPT=233275b36a190f414e88e1c74d7a93e4dc713ccee3ef26a1198eb7b3e990d30a
declare -A LEGACY_CODE=(
    [bearssl]=2cdb309389179ec53b71bd037c343e53caf330c8c7eb8d7e199b5a8e2c8e673f
    [lmdb]=5703e1dde51eb9cfe60f1c1447307e99c5dd5acface5b411a0aa116275864ccc
    [libmicrohttpd]=55c8cb26c324e34d0178c198e23342d7e99180098bf5c36be27418e260268d36
    [c-ares]=eb950b0bc37a956ff00aa929ac3e88ebe49f13f30168dd3f559b9dbe4884b588
    [libsodium]=c63f602bdd3a98eaca9e4d9f83a6d237341777700fe665291d46e07ea3bc291f
    [mimalloc]=eb524ddba950076054f6d754f71bcf2c73923179eb1fe0f82ddc0a3c9bd70683
    [openssl]=c398767370b382b46f8ffd1754c75ea8c71407f0218ceb51d7d0d0a2edc9e79c
)

declare -A VERSION=() KEY=() LEGACY_KEY=()
ALL_PKGS=()
for fl in "${FLAVOURS[@]}"; do
    for pkg in ${FLAVOUR_PKGS[$fl]}; do
        [[ -n ${VERSION[$pkg]+x} ]] && continue
        block=$(manifest_block "$pkg")
        [[ -n $block ]] || die "package $pkg is not in $MANIFEST"
        declare -F "recipe_$pkg" >/dev/null || die "no recipe_$pkg in vendor/build.sh"
        read -r _ _ ver _ <<<"$block"
        [[ -n $ver ]] || die "no version for $pkg in $MANIFEST"
        VERSION[$pkg]=$ver
        code=$(code_hash "$pkg")
        k=$(printf '%s\ncode %s\n' "$block" "$code" | sha256sum)
        KEY[$pkg]=${k%% *}
        if [[ ${LEGACY_CODE[$pkg]:-} == "$code" ]]; then
            k=$(printf '%s\nbuild.sh %s\n' "$block" "$LEGACY_SCRIPT" | sha256sum)
            LEGACY_KEY[$pkg]=${k%% *}
        fi
        ALL_PKGS+=("$pkg")
    done
done

# A block without a recipe here would otherwise be silently ignored.
for pkg in $(awk '$1 == "package" { print $2 }' "$MANIFEST"); do
    [[ -n ${VERSION[$pkg]+x} ]] ||
        die "vendor/manifest lists $pkg but vendor/build.sh has no recipe for it (add it to FLAVOUR_PKGS, LIBNAME and a recipe_$pkg function)"
done

stamp_ok() { # name key [legacy key]
    local f="$OUT/stamp/$1" have=""
    [[ -f $f ]] && read -r have <"$f"
    [[ $have == "$2" || ( -n ${3:-} && $have == "$3" ) ]]
}

# Which package+flavour pairs are out of date?
compute_todo() {
    TODO_PKGS=()
    declare -gA TODO_FL=()
    local pkg fl
    for pkg in "${ALL_PKGS[@]}"; do
        TODO_FL[$pkg]=""
        for fl in "${FLAVOURS[@]}"; do
            [[ " ${FLAVOUR_PKGS[$fl]} " == *" $pkg "* ]] || continue
            if ! stamp_ok "$pkg-$fl" "${KEY[$pkg]}" "${LEGACY_KEY[$pkg]:-}" ||
               [[ ! -f $OUT/$fl/$(outfile "$pkg") ]]; then
                TODO_FL[$pkg]+="$fl "
            fi
        done
        [[ -n ${TODO_FL[$pkg]} ]] && TODO_PKGS+=("$pkg")
    done
    return 0
}

# The HOST_DEBS not installed, one a line.
host_debs_missing() {
    local have p
    have=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' "${HOST_DEBS[@]}" 2>/dev/null |
           awk '$1 == "installed" { print $2 }') || true
    for p in "${HOST_DEBS[@]}"; do
        [[ $'\n'$have$'\n' == *$'\n'"$p"$'\n'* ]] || echo "$p"
    done
}

# Stamps of host builds of packages that are no longer built for the host
# (a checkout from before HOST_DEBS): their libraries and headers in
# out/host would shadow Debian's.
stale_host_stamps() {
    local f
    for f in "$OUT"/stamp/*-host; do
        [[ -e $f ]] || continue
        [[ " ${FLAVOUR_PKGS[host]} " == *" $(basename "$f" -host) "* ]] || echo "$f"
    done
}

compute_todo
if [[ $MODE == build || $MODE == fetch ]] && (( ${#TODO_PKGS[@]} == 0 )) &&
   [[ -z $(host_debs_missing) && -z $(stale_host_stamps) ]]; then
    exit 0                                 # the fast path: nothing to do
fi

# ---------------------------------------------------------------- slow path

T0=$SECONDS
mkdir -p "$OUT"/{src,tree,build,log,stamp,musl/include,musl/lib,host/include,host/lib,host/share}

as_root() {
    if (( EUID == 0 )); then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else die "need root for: $* (run once as root, or install sudo)"
    fi
}

APT_UPDATED=0
apt_update() {
    say "apt-get update"
    as_root apt-get update -q >>"$OUT/log/apt.log" 2>&1 ||
        { tail -n 20 "$OUT/log/apt.log" >&2; die "apt-get update failed (log: $OUT/log/apt.log)"; }
    APT_UPDATED=1
}

# Tools: command -> Debian package. Only what is missing gets installed.
ensure_tools() {
    local -A need=(
        [dpkg-source]=dpkg-dev [make]=make [gcc]=gcc [ar]=binutils
        [xz]=xz-utils [patch]=patch
    )
    local pkg fl want_musl=0 want_autotools=0
    for pkg in "${TODO_PKGS[@]}"; do
        [[ ${TODO_FL[$pkg]} == *musl* ]] && want_musl=1
        [[ -n ${AUTORECONF[$pkg]:-} ]] && want_autotools=1
    done
    (( want_musl )) && need[musl-gcc]=musl-tools
    (( want_autotools )) && need+=([autoreconf]=autoconf [automake]=automake [libtoolize]=libtool)
    local cmd missing=()
    for cmd in "${!need[@]}"; do
        command -v "$cmd" >/dev/null || missing+=("${need[$cmd]}")
    done
    (( ${#missing[@]} == 0 )) && return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    apt_install "${missing[@]}"
}

# The test builds' libraries from Debian (HOST_DEBS), where missing; and
# whatever an older checkout built of them into out/host goes, with the
# host stamps, so the packages still built for the host are put back.
ensure_host_debs() {
    local missing
    if [[ -n $(stale_host_stamps) ]]; then
        say "out/host: the test builds now link Debian's libraries (HOST_DEBS); removing the old host builds"
        rm -rf "$OUT/host/include" "$OUT/host/lib" "$OUT"/stamp/*-host
        mkdir -p "$OUT/host/include" "$OUT/host/lib"
    fi
    mapfile -t missing < <(host_debs_missing)
    (( ${#missing[@]} == 0 )) || apt_install "${missing[@]}"
}

apt_install() { # package...
    local missing=("$@")
    say "installing: ${missing[*]}"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends)
    if ! as_root "${apt[@]}" "${missing[@]}" >>"$OUT/log/apt.log" 2>&1; then
        (( APT_UPDATED )) && { tail -n 20 "$OUT/log/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
        apt_update
        as_root "${apt[@]}" "${missing[@]}" >>"$OUT/log/apt.log" 2>&1 ||
            { tail -n 20 "$OUT/log/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
    fi
}

# deb-src for bookworm, written only if absent or different.
ensure_debsrc() {
    local want
    want=$(cat <<'EOF'
# Written by tern's vendor/build.sh: source packages for `apt-get source`.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
)
    if [[ -f $DEBSRC_FILE ]] && [[ $(<"$DEBSRC_FILE") == "$want" ]]; then
        return 0
    fi
    say "enabling deb-src in $DEBSRC_FILE"
    printf '%s\n' "$want" | as_root tee "$DEBSRC_FILE" >/dev/null
    apt_update
}

# Source versions apt knows for a package, one per line.
src_versions() {
    local out
    out=$(apt-cache showsrc --only-source "$1" 2>/dev/null) || true
    awk '$1 == "Version:" { print $2 }' <<<"$out" | sort -u
}
src_known() { # pkg ver: does apt know this exact source version?
    local v
    v=$(src_versions "$1")
    [[ $'\n'$v$'\n' == *$'\n'"$2"$'\n'* ]]
}

# Manifest files of a package: lines "HASH FILENAME". For a package built
# from a fallback version (see fallback below), the files its downloaded
# .dsc names, with the .dsc's own hash: apt checked them all against
# Debian's signed index when it downloaded them.
declare -A FALLBACK=()
manifest_files() {
    if [[ -n ${FALLBACK[$1]:-} ]] && is_deb "$1"; then
        local deb h
        deb=$(fallback_deb_file "$1")
        h=$(sha256sum <"$deb"); echo "${h%% *} $(basename "$deb")"
        return
    fi
    if [[ -n ${FALLBACK[$1]:-} ]]; then
        local dsc="$OUT/src/${1}_${FALLBACK[$1]#*:}.dsc" h
        h=$(sha256sum <"$dsc"); echo "${h%% *} $(basename "$dsc")"
        awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on { print $1, $3 }' "$dsc"
        return
    fi
    manifest_block "$1" | awk '$1 == "sha256" { print $2, $3 }'
}

# Are all of pkg's files present in out/src with the manifest hash?
# With "report", print each mismatch.
verify_files() { # pkg [report]
    local pkg=$1 report=${2:-} ok=0 hash file got
    while read -r hash file; do
        if [[ ! -f $OUT/src/$file ]]; then
            [[ -n $report ]] && printf 'vendor:   missing %s\n' "$file" >&2
            ok=1; continue
        fi
        got=$(sha256sum <"$OUT/src/$file"); got=${got%% *}
        if [[ $got != "$hash" ]]; then
            [[ -n $report ]] && printf 'vendor:   sha256 mismatch for %s\nvendor:     manifest %s\nvendor:     got      %s\n' "$file" "$hash" "$got" >&2
            ok=1
        fi
    done < <(manifest_files "$pkg")
    return $ok
}

# The .dsc a block pins; it must be NAME_VERSION.dsc (epoch dropped).
pinned_dsc() { # pkg
    local pkg=$1 ver=${VERSION[$1]} dscs
    if [[ -n ${FALLBACK[$pkg]:-} ]]; then
        echo "${pkg}_${ver#*:}.dsc"
        return
    fi
    dscs=$(manifest_files "$pkg" | awk '$2 ~ /\.dsc$/ { print $2 }')
    [[ -n $dscs ]] || die "$pkg: vendor/manifest pins no .dsc"
    [[ $dscs == "${pkg}_${ver#*:}.dsc" ]] ||
        die "$pkg: vendor/manifest says version $ver but pins ${dscs//$'\n'/ }; update the sha256 lines too (vendor/build.sh --hashes $pkg $ver)"
    echo "$dscs"
}

# Is a package's version known to apt (after one apt-get update if not)?
require_src_version() { # pkg ver
    src_known "$1" "$2" && return 0
    (( APT_UPDATED )) || apt_update
    src_known "$1" "$2" && return 0
    local have
    have=$(src_versions "$1")
    have=${have//$'\n'/ }
    die "$1=$2 is not on the Debian mirror any more (apt-cache showsrc offers: ${have:-nothing}). Bump it in vendor/manifest, see vendor/README.md"
}

# The newest source version apt offers for a package (the deb-src suites
# above: bookworm, bookworm-updates, bookworm-security), or nothing.
newest_version() { # pkg
    local v best=""
    for v in $(src_versions "$1"); do
        if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
    done
    echo "$best"
}

download() { # pkg ver: apt-get source into out/src (apt checks Debian's signed index)
    local log="$OUT/log/$1-src.log"
    say "fetching $1 $2"
    (cd "$OUT/src" && apt-get source --download-only -q "$1=$2") >>"$log" 2>&1
}

# Debian's archive keeps only the newest version of a package in a suite,
# so every exact pin vanishes one day. Then the build takes the version
# Debian has now (apt verifies it against the signed index), says so in
# one loud line, and goes on; scripts/update-pins moves the pin for good.
fallback() { # pkg pinned
    local pkg=$1 pinned=$2 now
    (( APT_UPDATED )) || apt_update
    now=$(newest_version "$pkg")
    [[ -n $now && $now != "$pinned" ]] ||
        die "$pkg=$pinned cannot be fetched and Debian offers no other version (apt-cache showsrc $pkg; log: $OUT/log/$pkg-src.log)"
    printf 'vendor: !!!!!!!! %s %s (pinned in vendor/manifest) can no longer be fetched: building %s, the version Debian has now; run scripts/update-pins to pin it !!!!!!!!\n' \
        "$pkg" "$pinned" "$now" >&2
    download "$pkg" "$now" || { tail -n 20 "$OUT/log/$pkg-src.log" >&2; die "apt-get source $pkg=$now failed too"; }
    FALLBACK[$pkg]=$now
    VERSION[$pkg]=$now
}

# ---- binary packages
# A block whose sha256 line names a .deb pins a binary package (data only,
# taken when the mirror serves no source for it: publicsuffix). It is
# fetched with `apt-get download` (apt checks it against Debian's signed
# index), checked against the manifest's hash and unpacked with dpkg-deb.
is_deb() { # pkg
    manifest_block "$1" | awk '$1 == "sha256" && $3 ~ /\.deb$/ { f = 1 } END { exit !f }'
}
deb_versions() { # pkg: the binary versions apt knows, one per line
    local out
    out=$(apt-cache show "$1" 2>/dev/null) || true
    awk '$1 == "Version:" { print $2 }' <<<"$out" | sort -u
}
fallback_deb_file() { # pkg: the .deb a fallback downloaded
    local f
    for f in "$OUT/src/${1}_${FALLBACK[$1]#*:}"_*.deb; do echo "$f"; return; done
}
download_deb() { # pkg ver
    say "fetching $1 $2 (binary package)"
    (cd "$OUT/src" && apt-get download -q "$1=$2") >>"$OUT/log/$1-src.log" 2>&1
}
fetch_deb() { # pkg
    local pkg=$1 ver=${VERSION[$1]} hash file v now=""
    verify_files "$pkg" && return 0
    while read -r hash file; do rm -f "$OUT/src/$file"; done < <(manifest_files "$pkg")
    if download_deb "$pkg" "$ver" || { (( APT_UPDATED )) || apt_update; download_deb "$pkg" "$ver"; }; then
        verify_files "$pkg" report ||
            die "$pkg $ver: the downloaded .deb does not match vendor/manifest; refusing to build"
        return 0
    fi
    for v in $(deb_versions "$pkg"); do
        if [[ -z $now ]] || dpkg --compare-versions "$v" gt "$now"; then now=$v; fi
    done
    [[ -n $now && $now != "$ver" ]] ||
        die "$pkg=$ver cannot be fetched and Debian offers no other version (apt-cache show $pkg; log: $OUT/log/$pkg-src.log)"
    printf 'vendor: !!!!!!!! %s %s (pinned in vendor/manifest) can no longer be fetched: building %s, the version Debian has now; run scripts/update-pins to pin it !!!!!!!!\n' \
        "$pkg" "$ver" "$now" >&2
    download_deb "$pkg" "$now" || { tail -n 20 "$OUT/log/$pkg-src.log" >&2; die "apt-get download $pkg=$now failed too"; }
    FALLBACK[$pkg]=$now
    VERSION[$pkg]=$now
}
# Unpacks a binary package into out/tree/PKG (prepare_tree's counterpart).
prepare_deb() { # pkg
    local pkg=$1 tree="$OUT/tree/$1" deb
    stamp_ok "$pkg-src" "${KEY[$pkg]}" && [[ -d $tree ]] && return 0
    rm -f "$OUT/stamp/$pkg-src"
    rm -rf "$tree"
    verify_files "$pkg" report || { echo "sha256 mismatch, see above"; return 1; }
    deb=$(manifest_files "$pkg" | awk '$2 ~ /\.deb$/ { print $2 }')
    mkdir -p "$tree"
    dpkg-deb -x "$OUT/src/$deb" "$tree"
    echo "${KEY[$pkg]}" >"$OUT/stamp/$pkg-src"
}

fetch() { # pkg
    local pkg=$1 ver=${VERSION[$1]} hash file dsc pinned
    if is_deb "$pkg"; then
        fetch_deb "$pkg"
        return
    fi
    dsc=$(pinned_dsc "$pkg")
    pinned=$(manifest_files "$pkg")
    if ! verify_files "$pkg"; then
        # Drop stale or partial files so apt fetches them again.
        while read -r hash file; do rm -f "$OUT/src/$file"; done <<<"$pinned"
        if { src_known "$pkg" "$ver" || { (( APT_UPDATED )) || apt_update; src_known "$pkg" "$ver"; }; } &&
           download "$pkg" "$ver"; then
            verify_files "$pkg" report ||
                die "$pkg $ver: downloaded files do not match vendor/manifest; refusing to build"
        else
            fallback "$pkg" "$ver"
            ver=${VERSION[$pkg]}
            dsc=$(pinned_dsc "$pkg")
            pinned=$(manifest_files "$pkg")
        fi
    fi
    # The .dsc (now trusted by hash) must describe this package and version,
    # and every file it names must be pinned in the manifest.
    local src dver
    src=$(awk '$1 == "Source:" { print $2; exit }' "$OUT/src/$dsc")
    dver=$(awk '$1 == "Version:" { print $2; exit }' "$OUT/src/$dsc")
    [[ $src == "$pkg" && $dver == "$ver" ]] ||
        die "$pkg: $dsc is source '$src' version '$dver', but vendor/manifest says $pkg $ver"
    while read -r hash _ file; do
        [[ $'\n'$pinned$'\n' == *$'\n'"$hash $file"$'\n'* ]] ||
            die "$pkg: $file (listed in $dsc) is not pinned in vendor/manifest"
    done < <(awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on' "$OUT/src/$dsc")
}

# One background job per package: prepare the tree, then build the stale
# flavours side by side. Each step logs to its own file; the logs of failed
# steps are listed in out/log/.PKG.failed so their tails can be shown.
# Steps run as plain background jobs and are checked with wait: inside an
# `if` or `||` bash would silently ignore set -e in them.
package_job() { # pkg
    local pkg=$1 fl pid rc=0 failed="$OUT/log/.$1.failed"
    local -A pid_log=()
    rm -f "$failed"
    [[ -n ${LONG_CHAIN[$pkg]:-} ]] || renice -n 10 -p "$BASHPID" >/dev/null
    if is_deb "$pkg"; then
        prepare_deb "$pkg" >>"$OUT/log/$pkg-src.log" 2>&1 &
    else
        prepare_tree "$pkg" >>"$OUT/log/$pkg-src.log" 2>&1 &
    fi
    if ! wait $!; then
        echo "$OUT/log/$pkg-src.log" >>"$failed"
        return 1
    fi
    for fl in ${TODO_FL[$pkg]}; do
        build_one "$pkg" "$fl" >"$OUT/log/$pkg-$fl.log" 2>&1 &
        pid_log[$!]="$OUT/log/$pkg-$fl.log"
    done
    for pid in "${!pid_log[@]}"; do
        wait "$pid" || { echo "${pid_log[$pid]}" >>"$failed"; rc=1; }
    done
    return $rc
}

# --hashes-deb NAME VERSION: the same for a binary package.
if [[ $MODE == hashes-deb ]]; then
    name=$2 ver=$3
    exec 3>&1 1>&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get download -q "$name=$ver") >"$OUT/log/hashes.log" 2>&1 ||
        { tail -n 20 "$OUT/log/hashes.log" >&2; die "apt-get download $name=$ver failed"; }
    {
        echo "package $name $ver"
        echo "why TODO: one line saying what tern needs it for"
        (cd "$tmp" && sha256sum ./*.deb) | awk '{ sub(/^\.\//, "", $2); print "sha256", $1, $2 }'
    } >&3
    exit 0
fi

# --hashes NAME VERSION: print a manifest block for a version to pin.
if [[ $MODE == hashes ]]; then
    name=$2 ver=$3
    exec 3>&1 1>&2                 # progress on stderr, the block on stdout
    ensure_debsrc
    require_src_version "$name" "$ver"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get source --download-only -q "$name=$ver") >"$OUT/log/hashes.log" 2>&1 ||
        { tail -n 20 "$OUT/log/hashes.log" >&2; die "apt-get source $name=$ver failed"; }
    {
        echo "package $name $ver"
        echo "why TODO: one line saying what tern needs it for"
        (cd "$tmp" && sha256sum ./*.dsc && sha256sum $(ls | grep -v '\.dsc$')) |
            awk '{ sub(/^\.\//, "", $2); print "sha256", $1, $2 }'
    } >&3
    exit 0
fi

# --test-source NAME DIR [COMPONENT]: a test suite that ships inside a
# Debian source package (pyspf's RFC 7208 suite for
# tests/proto/test_spf_suite.py, Pigeonhole's Sieve suite in dovecot's
# "pigeonhole" component for make sievesuite), for scripts/install-test-deps.
# Fetched as `apt-get source --tar-only` (apt checks the tarballs against
# Debian's signed index): only upstream tarballs, so a mirror that lacks
# the Debian part (this one answers 404 for pyspf's debian.tar.xz and
# dovecot's newest .dsc) does not matter. The upstream tarball, or the
# COMPONENT's (NAME_V.orig-COMPONENT.tar.*), is unpacked into DIR. Each
# version apt offers is tried, newest first: a mirror may lag behind its
# index. DIR/.version names what DIR holds; a second run with nothing
# newer does nothing.
if [[ $MODE == test-source ]]; then
    name=$2 dest=$3 comp=${4:-}
    exec 3>&1 1>&2
    ensure_debsrc
    vers=$(src_versions "$name")
    [[ -n $vers ]] || { apt_update; vers=$(src_versions "$name"); }
    [[ -n $vers ]] || die "apt-cache showsrc $name: no such source package"
    vers=$(sort -r -V <<<"$vers")
    [[ -f $dest/.version && $(<"$dest/.version") == "$(head -n 1 <<<"$vers")" ]] && exit 0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    got=""
    for ver in $vers; do
        rm -rf "${tmp:?}"/*
        if (cd "$tmp" && apt-get source --download-only --tar-only -q "$name=$ver") \
            >"$OUT/log/$name-src.log" 2>&1; then
            got=$ver
            break
        fi
        say "$name $ver: apt-get source --tar-only failed, trying an older version"
    done
    [[ -n $got ]] || { tail -n 20 "$OUT/log/$name-src.log" >&2; die "no version of $name could be fetched"; }
    if [[ -n $comp ]]; then tars=("$tmp"/*.orig-"$comp".tar.*)
    else tars=("$tmp"/*.orig.tar.[gbx]z*); fi
    [[ ${#tars[@]} -eq 1 && -f ${tars[0]} ]] ||
        die "$name $got: expected one upstream tarball${comp:+ for $comp}, got: $(ls "$tmp")"
    rm -rf "$dest"
    mkdir -p "$dest"
    tar -xf "${tars[0]}" -C "$dest" --strip-components=1
    echo "$got" >"$dest/.version"
    say "$name $got${comp:+ ($comp)} unpacked into $dest"
    exit 0
fi

# One build at a time (make -j may start us twice).
exec 9>"$OUT/.lock"
flock 9
ensure_host_debs
compute_todo
(( ${#TODO_PKGS[@]} == 0 )) && exit 0

if (( BASH_VERSINFO[0] < 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] < 1) )); then
    die "bash >= 5.1 needed (have $BASH_VERSION)"
fi

# Fetch first (serial: apt), then build packages in parallel.
NEED_FETCH=0
for pkg in "${TODO_PKGS[@]}"; do
    is_deb "$pkg" || verify_files "$pkg" || NEED_FETCH=1
done
(( NEED_FETCH )) && ensure_debsrc
ensure_tools
for pkg in "${TODO_PKGS[@]}"; do
    : >"$OUT/log/$pkg-src.log"
    fetch "$pkg"
done
[[ $MODE == fetch ]] && exit 0

declare -A PID_PKG=() PKG_T0=()
trap 'kill "${!PID_PKG[@]}" 2>/dev/null; exit 130' INT TERM
for pkg in "${TODO_PKGS[@]}"; do
    PKG_T0[$pkg]=$SECONDS
    package_job "$pkg" &
    PID_PKG[$!]=$pkg
done

FAILED=0
while (( ${#PID_PKG[@]} > 0 )); do
    pid=""
    if wait -n -p pid "${!PID_PKG[@]}"; then rc=0; else rc=$?; fi
    [[ -n $pid ]] || break
    pkg=${PID_PKG[$pid]}; unset "PID_PKG[$pid]"
    dt=$(( SECONDS - PKG_T0[$pkg] ))
    if (( rc == 0 )); then
        say "$pkg ${VERSION[$pkg]}: built ${TODO_FL[$pkg]% } (${dt}s)"
    else
        FAILED=1
        say "$pkg ${VERSION[$pkg]}: FAILED after ${dt}s"
        logs=$(cat "$OUT/log/.$pkg.failed" 2>/dev/null || echo "$OUT/log/$pkg-src.log")
        for log in $logs; do
            say "  last lines of $log:"
            tail -n 25 "$log" | sed 's/^/    /'
        done
    fi
done
trap - INT TERM

(( FAILED )) && die "build failed (logs in $OUT/log/)"
say "done in $(( SECONDS - T0 ))s"
