package io.onceflow.sinks.redis;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScanArgs;
import io.lettuce.core.ScanIterator;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The real Redis the tests write to: 127.0.0.1:6379, or another with {@code -Donceflow.test.redis.url=…}.
 * Each test uses a key prefix of its own. A server that does not answer fails the test, naming it and
 * saying how to start it: never a silent skip.
 */
final class TestRedis implements AutoCloseable {
    private final RedisClient client = RedisClient.create();
    private final StatefulRedisConnection<String, String> connection;

    TestRedis() {
        try {
            RedisURI uri = RedisURI.create(url());
            uri.setTimeout(Duration.ofSeconds(5));
            connection = client.connect(uri);
        } catch (RuntimeException e) {
            client.shutdown();
            throw new AssertionError("Redis at " + url() + " is not reachable: " + e.getMessage() + ". These tests need "
                    + "it running: start it (sudo service redis-server start), or point them at another server with "
                    + "-Donceflow.test.redis.url=redis://host:port", e);
        }
    }

    static String url() {
        return System.getProperty("onceflow.test.redis.url", "redis://127.0.0.1:6379");
    }

    /** A key prefix no other run uses. */
    static String freshPrefix(String name) {
        return name + "-" + UUID.randomUUID().toString().substring(0, 8) + ":";
    }

    RedisCommands<String, String> sync() {
        return connection.sync();
    }

    /** Every string key under {@code prefix} (without the prefix) and its value, read independently of the job. */
    Map<String, String> strings(String prefix, String skipSuffix) {
        Map<String, String> values = new HashMap<>();
        ScanIterator<String> keys = ScanIterator.scan(sync(), ScanArgs.Builder.matches(prefix + "*").limit(1000));
        while (keys.hasNext()) {
            String key = keys.next();
            if (skipSuffix == null || !key.endsWith(skipSuffix)) {
                values.put(key.substring(prefix.length()), sync().get(key));
            }
        }
        return values;
    }

    /** Deletes every key under {@code prefix}. */
    void deleteAll(String prefix) {
        ScanIterator<String> keys = ScanIterator.scan(sync(), ScanArgs.Builder.matches(prefix + "*").limit(1000));
        while (keys.hasNext()) {
            sync().del(keys.next());
        }
    }

    @Override
    public void close() {
        connection.close();
        client.shutdown();
    }
}
