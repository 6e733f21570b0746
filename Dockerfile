# Self-hosting on a GPU box: docker build -t mmdemo . && docker run --gpus all -p 7860:7860 mmdemo
# (models download on first use into the mounted cache: add -v ~/.cache/huggingface:/root/.cache/huggingface)
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv

WORKDIR /app
COPY requirements.txt .
# PyPI's Linux torch 2.13.0 wheel is the CUDA build: the same pin as everywhere else.
RUN pip install -r requirements.txt
COPY app.py ./
COPY mmdemo ./mmdemo
COPY assets ./assets

EXPOSE 7860
CMD ["python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
