# One image for every mailhub process; the command picks the role (smtp, web, worker, migrate).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY mailhub ./mailhub
COPY templates ./templates
COPY schema ./schema
RUN pip install --no-cache-dir -e . && useradd --system --home /app mailhub && mkdir -p /data && chown mailhub /data
USER mailhub
ENV MAILHUB_DATA_DIR=/data
ENTRYPOINT ["mailhub"]
CMD ["serve"]
