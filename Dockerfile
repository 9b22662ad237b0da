# syntax=docker/dockerfile:1
# The ledgerpilot image: the worker, beat, the web UI and the CLI (docker-compose.yml runs
# each with its own command). Only the runtime: no `train` extra, so no torch, no CUDA.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/ledgerpilot
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so that a code change rebuilds one layer.
COPY pyproject.toml README.md ./
RUN mkdir ledgerpilot && touch ledgerpilot/__init__.py \
    && /opt/ledgerpilot/bin/pip install . \
    && /opt/ledgerpilot/bin/pip uninstall --yes ledgerpilot \
    && rm -rf build ledgerpilot ledgerpilot.egg-info
COPY ledgerpilot ./ledgerpilot
RUN /opt/ledgerpilot/bin/pip install --no-deps . \
    && /opt/ledgerpilot/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)"

FROM python:3.11-slim
ENV PATH=/opt/ledgerpilot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LEDGERPILOT_DATA_DIR=/var/lib/ledgerpilot
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/ledgerpilot --create-home ledgerpilot
COPY --from=build /opt/ledgerpilot /opt/ledgerpilot
USER 10001:10001
WORKDIR /var/lib/ledgerpilot
EXPOSE 8000
CMD ["ledgerpilot", "web", "--host", "0.0.0.0", "--port", "8000"]
