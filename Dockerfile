# One image for every service: `pipeline ingest|streams|sink|emulator|topics`.
FROM python:3.11-slim
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
COPY devtools ./devtools
RUN pip install --no-cache-dir -c constraints.txt . && mkdir /data && chown pipeline /data
USER pipeline
ENTRYPOINT ["pipeline"]
