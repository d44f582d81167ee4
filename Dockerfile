# EasyBackend image: HTTP on 8000, gRPC on 9000, WebSocket on 9001.
# The sqlite database lives in the /app/conversations volume.
FROM denoland/deno:2.9.6

WORKDIR /app

# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
COPY deno.json deno.lock ./
RUN deno install --frozen

# The program itself, type-checked and cached at build time so start-up is fast.
COPY main.ts ./
COPY lib/ lib/
COPY proto/ proto/
COPY deploy/ deploy/
RUN deno cache --frozen main.ts lib/tokens/load_worker.ts lib/store/checkpoint_worker.ts deploy/healthcheck.ts \
  && mkdir -p /app/conversations \
  && chown -R deno:deno /app/conversations /deno-dir

USER deno

ENV DATA_DIR=/app/conversations
VOLUME /app/conversations
EXPOSE 8000 9000 9001

HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["deno", "run", "--cached-only", "--allow-net=127.0.0.1", "--allow-env", "--unsafely-ignore-certificate-errors=127.0.0.1", "deploy/healthcheck.ts"]

ENTRYPOINT ["deno", "run", "--cached-only", "--v8-flags=--heap-growing-percent=25", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "--allow-sys", "main.ts"]
