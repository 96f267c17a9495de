# BotBuilder image: `botbuilder api` by default; override the command for `worker` / `migrate`.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY . .
# pyproject.toml names README.md as the readme; make sure the build does not fail without it.
RUN touch README.md && pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    BOTBUILDER_DATA_DIR=/app/data
COPY --from=build /opt/venv /opt/venv
RUN useradd --create-home --uid 10001 botbuilder \
    && mkdir -p /app/data && chown -R botbuilder:botbuilder /app
WORKDIR /app
USER botbuilder
EXPOSE 8000
CMD ["botbuilder", "api"]
