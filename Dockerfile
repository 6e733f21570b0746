# Self-hosting on a GPU box:
#   docker build -t mmdemo . && docker run --gpus all -p 7860:7860 -v hf-cache:/home/mmdemo/.cache/huggingface mmdemo
#
# Python 3.11, the version the tests run. CUDA comes with torch's own wheels (the nvidia-* packages), not
# from the base image, so the two cannot disagree: the pinned torch from PyPI is built for CUDA 13.0 and
# needs an NVIDIA driver >= 580 on the host. For an older driver build with one of PyTorch's other CUDA
# indexes, where it publishes the pinned version (e.g. --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128,
# driver >= 570). Without a usable GPU the app says why in its log and runs on the CPU.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim-bookworm

ARG TORCH_INDEX=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH \
    NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7860
# The Debian packages the app uses (mmdemo/deploy.py DEBIAN_PACKAGES): a font with Chinese glyphs for plots.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/venv \
    && useradd --create-home --uid 1000 --shell /usr/sbin/nologin mmdemo

WORKDIR /app
COPY requirements.txt .
# torch first, from TORCH_INDEX, at the version requirements.txt pins; then everything else.
RUN pip install "$(sed -n 's/^\(torch==[^ #]*\).*/\1/p' requirements.txt)" --index-url "$TORCH_INDEX" \
    && pip install -r requirements.txt
COPY app.py ./
COPY assets ./assets
COPY mmdemo ./mmdemo
# The app's bytecode, made once here: the user below cannot write it beside the sources, and every start would
# compile them again (about 0.1 s of CPU for its 109 modules).
RUN python -m compileall -q app.py mmdemo

# Not root: the models, Gradio's uploads and the conversion caches live in the user's home.
USER mmdemo
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/', timeout=4)"]
CMD ["python", "app.py"]
