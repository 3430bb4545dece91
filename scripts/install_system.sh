#!/usr/bin/env bash
# System packages the project needs: Tesseract + chi_sim, CJK fonts, Chromium for the browser test.
# Installs with apt-get when it is there (as root, or via sudo); otherwise says what is missing and goes on,
# so the Python parts still install and the tests that need these skip with a clear message.
set -u
PKGS=(tesseract-ocr tesseract-ocr-chi-sim fonts-noto-cjk fonts-wqy-zenhei fonts-wqy-microhei
      fonts-arphic-ukai fonts-arphic-uming fonts-lxgw-wenkai fonts-arphic-gkai00mp fonts-smiley-sans
      chromium chromium-driver)
# `--training`: the faces that render training lines (ocr/training/synth/kinds.py): traditional-Chinese
# ming/kai/hei faces and the heavy/light Noto weights for signs (~500 MB; not needed to run or test).
if [ "${1:-}" = "--training" ]; then
  PKGS+=(fonts-noto-cjk-extra fonts-arphic-bsmi00lp fonts-arphic-bkai00mp fonts-cns11643-kai
         fonts-cns11643-sung fonts-cwtex-ming fonts-cwtex-kai fonts-cwtex-heib fonts-cwtex-yen fonts-cwtex-fs fonts-babelstone-han)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "system packages: all present"; exit 0; }
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages: apt-get not found; install these yourself: ${missing[*]}" >&2
  echo "  (without them: Tesseract engine unavailable, font-based tests and the browser test skip)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "system packages: not root and no sudo; install these yourself: ${missing[*]}" >&2; exit 0; fi
fi
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq || echo "apt-get update failed; trying the install anyway" >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || { echo "system packages: apt-get install failed for some of: ${missing[*]}" >&2; exit 0; }
echo "system packages: installed"
