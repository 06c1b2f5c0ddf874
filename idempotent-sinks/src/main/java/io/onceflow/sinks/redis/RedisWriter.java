package io.onceflow.sinks.redis;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.metrics.Counter;
import io.onceflow.api.sink.SinkInitContext;
import io.onceflow.api.sink.SinkWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One subtask of a {@link RedisSink}: the newest write per target, sent in a pipeline at a full batch and at every barrier. */
final class RedisWriter<T> implements SinkWriter<T> {
    private static final Logger LOG = LoggerFactory.getLogger(RedisWriter.class);

    /**
     * A versioned write: KEYS[1] the key, KEYS[2] where its versions are; ARGV kind, version, field or member,
     * value or score. Applies the write only over a lower version (or none), and then records the version.
     */
    static final String VERSIONED_WRITE = String.join("\n",
            "local kind = ARGV[1]",
            "local version = tonumber(ARGV[2])",
            "local current",
            "if kind == 'SET' then current = redis.call('GET', KEYS[2]) else current = redis.call('HGET', KEYS[2], ARGV[3]) end",
            "if current and tonumber(current) >= version then return 0 end",
            "if kind == 'SET' then",
            "  redis.call('SET', KEYS[1], ARGV[4]); redis.call('SET', KEYS[2], ARGV[2])",
            "elseif kind == 'HSET' then",
            "  redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]); redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])",
            "else",
            "  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3]); redis.call('HSET', KEYS[2], ARGV[3], ARGV[2])",
            "end",
            "return 1");

    private final String operatorUid;
    private final int subtask;
    private final RedisURI uri;
    private final RedisMapper<T> mapper;
    private final int batchSize;
    private final int maxRetries;
    private final Duration retryBackoff;
    private final Duration timeout;
    private final String versionSuffix;
    private final Counter commandsWritten;
    private final Counter batchesWritten;
    private final Counter writeRetries;
    private final Map<String, RedisWrite> pending = new LinkedHashMap<>();
    private final RedisClient client;
    private StatefulRedisConnection<String, String> connection;
    private String scriptSha;

    RedisWriter(SinkInitContext context, RedisURI uri, RedisMapper<T> mapper, int batchSize, int maxRetries,
                Duration retryBackoff, Duration timeout, String versionSuffix) {
        this.operatorUid = context.getOperatorUid();
        this.subtask = context.getIndexOfSubtask();
        this.uri = uri;
        this.mapper = mapper;
        this.batchSize = batchSize;
        this.maxRetries = maxRetries;
        this.retryBackoff = retryBackoff;
        this.timeout = timeout;
        this.versionSuffix = versionSuffix;
        this.commandsWritten = context.getMetricGroup().counter("commandsWritten");
        this.batchesWritten = context.getMetricGroup().counter("batchesWritten");
        this.writeRetries = context.getMetricGroup().counter("writeRetries");
        this.uri.setTimeout(timeout);
        this.client = RedisClient.create();
        // a command on a lost connection fails at once (and is retried here) instead of waiting for a reconnect
        client.setOptions(ClientOptions.builder().autoReconnect(true)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS).build());
    }

    @Override
    public void write(T element) throws Exception {
        RedisWrite w = mapper.map(element);
        if (w == null) {
            throw new NonRecoverableException("Redis sink '" + operatorUid + "': the mapper made no write for record "
                    + element + "; it must return a RedisWrite for every record");
        }
        // the newest write of a target wins; with versions, the highest
        pending.merge(w.target(), w, (old, now) -> now.versioned() && old.versioned() && old.version() > now.version() ? old : now);
        if (pending.size() >= batchSize) {
            flushPending();
        }
    }

    @Override
    public void flush(boolean endOfInput) throws Exception {
        flushPending();
    }

    private void flushPending() throws Exception {
        if (pending.isEmpty()) {
            return;
        }
        List<RedisWrite> batch = new ArrayList<>(pending.values());
        for (int attempt = 0; ; attempt++) {
            try {
                send(batch);
                break;
            } catch (RedisCommandExecutionException e) {
                if (e.getMessage() != null && e.getMessage().startsWith("NOSCRIPT") && attempt < maxRetries) {
                    scriptSha = null; // the server restarted and forgot the script: load it again
                    writeRetries.inc();
                    continue;
                }
                throw new NonRecoverableException("Redis sink '" + operatorUid + "' subtask " + subtask + ": Redis at "
                        + uri.getHost() + ":" + uri.getPort() + " refused a write: " + e.getMessage()
                        + (e.getMessage() != null && e.getMessage().startsWith("WRONGTYPE")
                        ? ". The key already holds a value of another type: delete it, or write under other keys" : ""), e);
            } catch (Exception e) {
                closeConnection();
                if (attempt >= maxRetries) {
                    throw new IllegalStateException("Redis sink '" + operatorUid + "' subtask " + subtask + ": could not "
                            + "write " + batch.size() + " keys to Redis at " + uri.getHost() + ":" + uri.getPort()
                            + " after " + attempt + " retries: " + e, e);
                }
                long sleep = Math.min(retryBackoff.toMillis() << Math.min(attempt, 6), 5_000);
                LOG.warn("Redis sink '{}' subtask {}: writing {} keys failed ({}), retry {} of {} in {} ms", operatorUid,
                        subtask, batch.size(), e.toString(), attempt + 1, maxRetries, sleep);
                writeRetries.inc();
                Thread.sleep(sleep);
            }
        }
        pending.clear();
        commandsWritten.inc(batch.size());
        batchesWritten.inc();
    }

    /** Sends one pipeline and waits for every reply; throws the first failure. */
    private void send(List<RedisWrite> batch) throws Exception {
        StatefulRedisConnection<String, String> c = connection();
        RedisAsyncCommands<String, String> async = c.async();
        List<RedisFuture<?>> replies = new ArrayList<>(batch.size());
        for (RedisWrite w : batch) {
            replies.add(issue(async, w));
        }
        c.flushCommands();
        long deadline = System.nanoTime() + timeout.toNanos();
        for (int i = 0; i < replies.size(); i++) {
            try {
                replies.get(i).get(Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new java.util.concurrent.TimeoutException("no reply to " + (batch.size() - i) + " of " + batch.size()
                        + " commands within " + timeout.toMillis() + " ms");
            } catch (ExecutionException e) {
                if (e.getCause() instanceof RedisCommandExecutionException refused) {
                    RedisWrite w = batch.get(i);
                    throw new RedisCommandExecutionException(refused.getMessage() + " [" + w.kind() + " " + w.key()
                            + (w.field() != null ? " " + w.field() : "") + "]", refused);
                }
                if (e.getCause() instanceof Exception cause) {
                    throw cause;
                }
                throw e;
            }
        }
    }

    private RedisFuture<?> issue(RedisAsyncCommands<String, String> async, RedisWrite w) {
        if (w.versioned()) {
            String valueOrScore = w.kind() == RedisWrite.Kind.ZADD ? Double.toString(w.score()) : w.value();
            return async.evalsha(scriptSha, ScriptOutputType.INTEGER, new String[] {w.key(), w.key() + versionSuffix},
                    w.kind().name(), Long.toString(w.version()), w.field() == null ? "" : w.field(), valueOrScore);
        }
        return switch (w.kind()) {
            case SET -> async.set(w.key(), w.value());
            case HSET -> async.hset(w.key(), w.field(), w.value());
            case ZADD -> async.zadd(w.key(), w.score(), w.field());
        };
    }

    private StatefulRedisConnection<String, String> connection() {
        if (connection == null) {
            connection = client.connect(uri);
            connection.setTimeout(timeout);
        }
        if (scriptSha == null) {
            connection.setAutoFlushCommands(true);
            scriptSha = connection.sync().scriptLoad(VERSIONED_WRITE);
        }
        connection.setAutoFlushCommands(false);
        return connection;
    }

    private void closeConnection() {
        if (connection != null) {
            try {
                connection.close();
            } catch (RuntimeException e) {
                // closing only
            }
            connection = null;
        }
    }

    @Override
    public void close() {
        closeConnection();
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
}
