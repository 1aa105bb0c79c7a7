#!/usr/bin/env bash
# Build the Debian package jetsentry_<version>_<arch>.deb (docs/PACKAGING.md).
#   packaging/build_deb.sh [--arch amd64|arm64] [--version V] [--pythons "3.10 3.11 3.12"] [--out DIR]
# --arch defaults to this machine's, --version to the package's (pyproject.toml), --pythons to
# the three supported (one .deb then serves Debian 12, Ubuntu 22.04/JetPack 6 and Ubuntu
# 24.04/JetPack 7), --out to dist/.  Steps:
#   1. the jetsentry wheel, from this checkout (pip wheel; setuptools comes from the index);
#   2. the wheelhouse: binary wheels of its runtime dependencies and of the extras cpu and nvml,
#      for the arch and each Python (pip download --platform; cached in $JETSENTRY_WHEEL_CACHE,
#      default ${XDG_CACHE_HOME:-~/.cache}/jetsentry/wheels);
#   3. a staging tree with packaging/debian as debian/, then dpkg-buildpackage -b.
# Only steps 1 and 2 use the network; installing the .deb never does.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[[ -x $PYTHON ]] || PYTHON=python3

arch=$(dpkg --print-architecture)
version=""
pythons="3.10 3.11 3.12"
out=$ROOT/dist
while (($#)); do
  case "$1" in
    --arch) arch=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --pythons) pythons=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: packaging/build_deb.sh [--arch amd64|arm64] [--version V] [--pythons \"3.10 3.11 3.12\"] [--out DIR]" >&2
       exit 2 ;;
  esac
done
case "$arch" in
  amd64) machine=x86_64 ;;
  arm64) machine=aarch64 ;;
  *) echo "packaging/build_deb.sh: no wheels for architecture $arch (amd64 or arm64)" >&2; exit 2 ;;
esac
upstream=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/daemon/jetsentry/__init__.py")
version=${version:-$upstream}
cache=${JETSENTRY_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jetsentry/wheels}
work=$(mktemp -d "${TMPDIR:-/tmp}/jetsentry-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
pip=("$PYTHON" -m pip --disable-pip-version-check -q)

# 1. The jetsentry wheel, built from a copy so the checkout gets no build/ or egg-info.
mkdir -p "$work/src" "$work/jetsentry-wheel"
tar -C "$ROOT" --exclude=__pycache__ -cf - pyproject.toml README.md daemon | tar -C "$work/src" -xf -
"${pip[@]}" wheel --no-deps -w "$work/jetsentry-wheel" "$work/src"
wheel=$(echo "$work"/jetsentry-wheel/jetsentry-*.whl)

# 2. The wheelhouse.  The oldest glibc of the targets is Ubuntu 22.04's 2.35: any manylinux
# wheel up to it runs everywhere.  pip download needs each manylinux tag named.
platforms=(--platform "manylinux2014_$machine")
for minor in $(seq 17 35); do platforms+=(--platform "manylinux_2_${minor}_$machine"); done
stage=$work/jetsentry-$version
mkdir -p "$stage/wheels"
for py in $pythons; do
  dest=$cache/$arch/cp${py/./}
  mkdir -p "$dest"
  rm -f "$dest"/jetsentry-*.whl
  "${pip[@]}" download --dest "$dest" --only-binary=:all: --implementation cp --python-version "$py" \
    "${platforms[@]}" "jetsentry[cpu,nvml] @ file://$wheel"
  rm -f "$dest"/jetsentry-*.whl
  cp -n "$dest"/*.whl "$stage/wheels/"   # one copy of each pure-Python and abi3 wheel
done
cp "$wheel" "$stage/wheels/"
printf '%s\n' $pythons > "$stage/wheels/PYTHONS"

# 3. The staging tree.
cp -r "$ROOT/packaging/debian" "$stage/debian"
cp "$ROOT/systemd/jetsentry.service" "$stage/debian/jetsentry.service"
cp "$ROOT/systemd/jetsentry.sysusers.conf" "$stage/debian/jetsentry.sysusers"
mkdir -p "$stage/systemd" "$stage/config" "$stage/engines/models" "$stage/engines/samples" "$stage/docs" "$stage/bin"
cp "$ROOT/systemd/jetsentry.slice" "$stage/systemd/"
cp "$ROOT"/engines/models/*.onnx "$ROOT/engines/models/README.md" "$stage/engines/models/"
cp "$ROOT/engines/samples/sample-scene.mp4" "$stage/engines/samples/"
cp "$ROOT"/docs/*.md "$stage/docs/"
cp "$ROOT/README.md" "$stage/"
cp "$ROOT/config/jetsentry.example.yaml" "$stage/config/"
cp "$ROOT/packaging/jetsentry.sh" "$stage/bin/jetsentry"
"$ROOT/packaging/package_config.sh" "$ROOT/config/jetsentry.yaml" > "$stage/config/config.yaml"
sed -i "1s/^jetsentry ([^)]*)/jetsentry ($version)/" "$stage/debian/changelog"
# Depends: python3 within the Pythons the wheelhouse serves (debian/rules reads this).
lowest=$(printf '%s\n' $pythons | sort -V | head -1)
highest=$(printf '%s\n' $pythons | sort -V | tail -1)
echo "python3 (>= $lowest), python3 (<< ${highest%.*}.$((${highest#*.} + 1)))" > "$stage/debian/python-depends"

(cd "$stage" && dpkg-buildpackage -b -us -uc -d --host-arch "$arch" >"$work/build.log" 2>&1) \
  || { cat "$work/build.log" >&2; exit 1; }
mkdir -p "$out"
deb=jetsentry_${version}_${arch}.deb
mv "$work/$deb" "$out/$deb"
echo "$out/$deb"
