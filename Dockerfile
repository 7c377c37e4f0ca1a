# One image for every service: `pipeline ingest|streams|sink|recommendations|history|topics|...`.
# Stages: `base` (the runtime packages), `dev` (adds devtools/, for the local profile's
# Personalize emulator) and `production`, the last and so the default: it ships no dev tools
# (`pipeline emulator` and `pipeline dev` say so there).

FROM python:3.11-slim AS base
RUN useradd --create-home --uid 10001 pipeline
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY core ./core
COPY schemas ./schemas
COPY ingest ./ingest
COPY streams ./streams
COPY sinks ./sinks
COPY recommendations ./recommendations
COPY backfill ./backfill
COPY provision ./provision
COPY pipeline ./pipeline
RUN pip install --no-cache-dir -c constraints.txt . && mkdir /data && chown pipeline /data
USER pipeline
ENTRYPOINT ["pipeline"]

# docker-compose.yml's emulator (--profile local) builds this target.
FROM base AS dev
USER root
COPY devtools ./devtools
RUN pip install --no-cache-dir --no-deps --force-reinstall -c constraints.txt .
USER pipeline

FROM base AS production
