package io.onceflow.sinks.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.onceflow.api.ValidatesConfiguration;
import io.onceflow.api.sink.Sink;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import java.time.Duration;
import java.util.Objects;

/**
 * Writes records into Redis as {@code SET}, {@code HSET} or {@code ZADD} ({@link RedisWrite}), pipelined:
 * each subtask keeps the newest write per key (and field or member) and sends them in one pipeline when the
 * batch is full and at every checkpoint barrier, waiting for every reply. So a completed checkpoint's writes
 * are in Redis, and after a crash the job replays from its checkpoint and writes the same keys with the same
 * values again: Redis ends exact.
 *
 * <p><b>Replays.</b> Without a version, while a replay runs a key can show an older value until the replay
 * catches up: replays converge to the final state. With {@link RedisWrite#withVersion} (anything that grows
 * with each newer value of a key: a source offset, an event time, a running count) a Lua script applies a
 * write only over a lower version, so a reader never sees a value go back.
 *
 * <pre>{@code
 * counts.sinkTo(RedisSink.<KeyedValue<String, Long>>builder()
 *         .setRedisUri("redis://localhost:6379")
 *         .setMapper(kv -> RedisWrite.set("wordcount:" + kv.key(), kv.value().toString()).withVersion(kv.value()))
 *         .build()).uid("redis");
 * }</pre>
 *
 * <p>Transient failures (a lost connection, a timeout, a restarted server that forgot the script) are
 * retried with backoff; a command Redis refuses (a key of another type: {@code WRONGTYPE}) stops the job
 * naming the key. Needs {@code io.lettuce:lettuce-core} on the classpath.
 */
public final class RedisSink<T> implements Sink<T>, ValidatesConfiguration {
    private final String uri;
    private final RedisMapper<T> mapper;
    private final int batchSize;
    private final int maxRetries;
    private final Duration retryBackoff;
    private final Duration timeout;
    private final String versionSuffix;

    private RedisSink(Builder<T> b) {
        this.uri = b.uri;
        this.mapper = b.mapper;
        this.batchSize = b.batchSize;
        this.maxRetries = b.maxRetries;
        this.retryBackoff = b.retryBackoff;
        this.timeout = b.timeout;
        this.versionSuffix = b.versionSuffix;
    }

    public static <T> Builder<T> builder() {
        return new Builder<>();
    }

    @Override
    public SinkWriter<T> createWriter(SinkInitContext context) {
        return new RedisWriter<>(context, RedisURI.create(uri), mapper, batchSize, maxRetries, retryBackoff, timeout,
                versionSuffix);
    }

    /** At job start: Redis answers a PING within the timeout. */
    @Override
    public void validate(Context context) {
        RedisClient client = RedisClient.create();
        try {
            RedisURI redisUri = RedisURI.create(uri);
            redisUri.setTimeout(timeout);
            try (StatefulRedisConnection<String, String> c = client.connect(redisUri)) {
                c.sync().ping();
            }
        } catch (RuntimeException e) {
            throw new IllegalStateException("Redis sink '" + context.operatorUid() + "': Redis at " + uri
                    + " does not answer (" + e.getMessage() + "). Start it (e.g. sudo service redis-server start) or "
                    + "point the sink at a running one", e);
        } finally {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        }
    }

    /** Builds a {@link RedisSink}; the URI and the mapper are required. */
    public static final class Builder<T> {
        private String uri;
        private RedisMapper<T> mapper;
        private int batchSize = 1000;
        private int maxRetries = 5;
        private Duration retryBackoff = Duration.ofMillis(100);
        private Duration timeout = Duration.ofSeconds(10);
        private String versionSuffix = ":version";

        /** {@code redis://[password@]host:port[/database]}, or {@code rediss://} for TLS. */
        public Builder<T> setRedisUri(String uri) {
            this.uri = uri;
            return this;
        }

        public Builder<T> setMapper(RedisMapper<T> mapper) {
            this.mapper = mapper;
            return this;
        }

        /** Distinct keys a subtask collects before it sends them in one pipeline (default 1000). */
        public Builder<T> setBatchSize(int batchSize) {
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch size must be at least 1, not " + batchSize);
            }
            this.batchSize = batchSize;
            return this;
        }

        /** Retries of a pipeline that failed transiently (default 5), backoff doubling from {@code backoff} (100 ms). */
        public Builder<T> setRetries(int maxRetries, Duration backoff) {
            this.maxRetries = maxRetries;
            this.retryBackoff = Objects.requireNonNull(backoff);
            return this;
        }

        /** How long a pipeline's replies may take (default 10 s). */
        public Builder<T> setTimeout(Duration timeout) {
            this.timeout = Objects.requireNonNull(timeout);
            return this;
        }

        /** Where versions are kept: {@code <key><suffix>} (default {@code :version}). */
        public Builder<T> setVersionSuffix(String suffix) {
            if (suffix == null || suffix.isEmpty()) {
                throw new IllegalArgumentException("the version suffix must not be empty: the version would overwrite the value");
            }
            this.versionSuffix = suffix;
            return this;
        }

        public RedisSink<T> build() {
            if (uri == null || uri.isBlank()) {
                throw new IllegalStateException("Redis sink: set where Redis is with setRedisUri(\"redis://host:6379\")");
            }
            try {
                RedisURI.create(uri);
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("Redis sink: '" + uri + "' is not a Redis URI; use redis://host:port, "
                        + "redis://password@host:port/database or rediss:// for TLS", e);
            }
            if (mapper == null) {
                throw new IllegalStateException("Redis sink: set how a record becomes a write with setMapper(record -> "
                        + "RedisWrite.set(key, value))");
            }
            return new RedisSink<>(this);
        }
    }
}
