#!/usr/bin/env bash
# System packages some tests use: WordNet 3.0 (EDA synonyms), Chromium (report screenshot test),
# PostgreSQL (multi-worker study tests), Fashion-MNIST (the fashion_mnist built-in dataset). Installed with apt where it is available and we are root;
# elsewhere the tests that need them say what is missing.
set -u
want=()
[ -f /usr/share/wordnet/index.noun ] || want+=(wordnet-base)
command -v chromium >/dev/null 2>&1 || want+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || want+=(postgresql)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || want+=(dataset-fashion-mnist)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not root or no apt-get; missing: ${want[*]}" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
