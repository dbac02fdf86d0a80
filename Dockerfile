# One image for every process of the platform: web (gunicorn), Celery worker,
# Celery beat and the one-shot migrate job. docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=loyalty.settings \
    WEB_CONCURRENCY=3

WORKDIR /app

# The processes run as an unprivileged user. The code stays owned by root (read-only
# to the app); only var/ (beat's schedule file, media) is writable.
RUN groupadd --system --gid 10001 loyalty \
 && useradd --system --uid 10001 --gid loyalty --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin loyalty

# Dependencies first, so a code change does not reinstall them: the runtime lock, every file checked
# against its hash (`make lock` writes it from requirements.txt).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY . .

# Static files are collected into the image and served by WhiteNoise. With DEBUG off the
# settings refuse to load without a secret key, so this step alone gets a throwaway one;
# it is not kept in the image's environment, and every container must be given its own.
RUN DJANGO_SECRET_KEY=build-time-collectstatic-only-not-a-secret-0123456789 DJANGO_STATIC_MANIFEST=true \
      python manage.py collectstatic --noinput \
 && mkdir -p var/media \
 && chown -R loyalty:loyalty var

# Serve the collected, hashed and compressed files.
ENV DJANGO_STATIC_MANIFEST=true

USER loyalty
EXPOSE 8000

# No HEALTHCHECK here: the same image runs web, worker and beat, and each needs its own
# probe. docker-compose.yml defines them (web: GET /healthz).
CMD ["gunicorn", "loyalty.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-", \
     "--timeout", "30"]
