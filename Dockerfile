# The platform's image: web (gunicorn), worker, beat, Flower, migrations and Jupyter all run it,
# with different commands (docker-compose.yml). Build: docker compose build.

# The browser libraries (centrifuge-js for the live pages, uPlot for /dashboards/) come from npm
# (package-lock.json), as in `make up`; only the dist/ folders settings.STATICFILES_DIRS serves
# are copied into the final image (.dockerignore keeps the local node_modules out).
FROM node:22-slim AS js
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --silent

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=chatplatform.settings \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /app

# Dependencies first, from pyproject.toml alone, so that a code change reuses this layer.
COPY pyproject.toml constraints.txt ./
RUN pip install -c constraints.txt .

COPY . .
COPY --from=js /build/node_modules/centrifuge/dist node_modules/centrifuge/dist
COPY --from=js /build/node_modules/uplot/dist node_modules/uplot/dist
# Static files are collected at build time and served by whitenoise from the image. The build
# has no .env and no secrets, which the settings refuse to load without when DEBUG is off (its
# default): this one command, which serves nothing and signs nothing, runs with it on.
RUN DJANGO_DEBUG=true python manage.py collectstatic --noinput -v 0

# Never run as root. The folders the named volumes are mounted on are created here and owned by
# the app user, so a fresh volume starts with the right owner (/data/static: the copy of
# /app/var/static, above, that compose's TLS proxy serves).
RUN useradd --create-home --uid 10001 app \
    && mkdir -p /data/reports /data/flower /data/beat /data/alertmanager /data/static /app/var \
    && chown -R app:app /data /app/var
USER app
EXPOSE 8000
# gunicorn with make prod's settings (launchers/gunicorn_conf.py), on every address of the
# container; compose's web runs the same.
CMD ["gunicorn", "-c", "python:launchers.gunicorn_conf", "--bind", "0.0.0.0:8000", \
     "chatplatform.wsgi:application"]
