package io.onceflow.sinks.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.api.JobMetrics;
import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.RestartStrategies;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.metrics.MetricGroup;
import io.onceflow.api.sink.SinkWriter;
import io.onceflow.runtime.fault.FaultPoint;
import io.onceflow.sinks.jdbc.TestContexts;
import io.onceflow.testing.InjectedFailure;
import io.onceflow.testing.RunningCount;
import io.onceflow.testing.SequenceChecker;
import io.onceflow.testing.SequenceSource;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Redis sink on the real Redis (127.0.0.1:6379), checked with plain Redis commands. */
class RedisSinkTest {

    private static final long TOTAL = 30_000;
    private static final int KEYS = 200;

    @TempDir
    Path dir;

    /** "word,count" lines as a versioned SET of prefix+word. */
    static RedisSink.Builder<String> countsSink(String prefix, boolean versioned) {
        return RedisSink.<String>builder().setRedisUri(TestRedis.url()).setBatchSize(50)
                .setMapper(line -> {
                    int comma = line.lastIndexOf(',');
                    String count = line.substring(comma + 1);
                    RedisWrite w = RedisWrite.set(prefix + line.substring(0, comma), count);
                    return versioned ? w.withVersion(Long.parseLong(count)) : w;
                });
    }

    static Map<String, String> expectedCounts() {
        Map<String, String> expected = new HashMap<>();
        SequenceChecker.expectedForSequence(TOTAL, KEYS).forEach((k, n) -> expected.put(k, Long.toString(n)));
        return expected;
    }

    @Test
    void aJobLeavesExactRunningCountsInRedisThroughFailures() throws Exception {
        String prefix = TestRedis.freshPrefix("counts");
        try (TestRedis redis = new TestRedis()) {
            try {
                StreamEnvironment env = StreamEnvironment.create();
                env.setParallelism(2);
                env.enableCheckpointing(Duration.ofMillis(50));
                env.getCheckpointConfig().setCheckpointStorage(dir.resolve("checkpoints").toUri().toString());
                env.setRestartStrategy(RestartStrategies.fixedDelay(10, Duration.ZERO));
                env.fromSource(SequenceSource.bounded(4, TOTAL, KEYS).throttled(3_000), "sequence").uid("source")
                        .keyBy(w -> w)
                        .process(new RunningCount()).uid("count")
                        .sinkTo(countsSink(prefix, true).build()).uid("redis");
                Set<FaultPoint> fired = ConcurrentHashMap.newKeySet();
                env.setFaultInjector((point, uid, subtask, checkpointId) -> {
                    boolean fail = switch (point) {
                        case AFTER_SNAPSHOT -> checkpointId == 4 && "redis".equals(uid);
                        case AFTER_CHECKPOINT_COMPLETE_BEFORE_NOTIFY -> checkpointId == 9;
                        default -> false;
                    };
                    if (fail && fired.add(point)) {
                        throw new InjectedFailure(point + " at checkpoint " + checkpointId);
                    }
                });
                JobMetrics metrics = env.execute("redis-faults");
                assertEquals(2, fired.size(), "every planned failure fired: " + fired);
                assertTrue(metrics.numRestarts() >= 2, metrics.toString());
                assertEquals(expectedCounts(), redis.strings(prefix, ":version"),
                        "every key's final count after " + metrics.numRestarts() + " restarts");
            } finally {
                redis.deleteAll(prefix);
            }
        }
    }

    @Test
    void theVersionGuardNeverWritesAnOlderValueOverANewerOne() throws Exception {
        String guarded = TestRedis.freshPrefix("guarded");
        String plain = TestRedis.freshPrefix("plain");
        try (TestRedis redis = new TestRedis()) {
            try {
                MetricGroup metrics = MetricGroup.unregistered();
                try (SinkWriter<String> g = countsSink(guarded, true).build().createWriter(TestContexts.context(metrics));
                     SinkWriter<String> p = countsSink(plain, false).build().createWriter(TestContexts.context(metrics))) {
                    for (SinkWriter<String> w : List.of(g, p)) {
                        w.write("a,5");
                        w.write("b,1");
                        w.flush(false);
                        // a replay: older values of a, one newer value of b; within one batch too
                        w.write("a,3");
                        w.write("b,4");
                        w.write("b,2");
                        w.flush(false);
                    }
                }
                assertEquals(Map.of("a", "5", "b", "4"), redis.strings(guarded, ":version"), "guarded: only newer versions win");
                assertEquals(Map.of("a", "3", "b", "2"), redis.strings(plain, null), "unguarded: the last write wins");
            } finally {
                redis.deleteAll(guarded);
                redis.deleteAll(plain);
            }
        }
    }

    @Test
    void hashesAndSortedSetsWithAndWithoutVersions() throws Exception {
        String prefix = TestRedis.freshPrefix("shapes");
        try (TestRedis redis = new TestRedis()) {
            try {
                RedisSink<RedisWrite> sink = RedisSink.<RedisWrite>builder().setRedisUri(TestRedis.url()).setMapper(w -> w).build();
                try (SinkWriter<RedisWrite> w = sink.createWriter(TestContexts.context(MetricGroup.unregistered()))) {
                    w.write(RedisWrite.hset(prefix + "h", "f1", "x"));
                    w.write(RedisWrite.hset(prefix + "h", "f2", "y").withVersion(7));
                    w.write(RedisWrite.zadd(prefix + "z", 2.5, "m1"));
                    w.write(RedisWrite.zadd(prefix + "z", 9, "m2").withVersion(3));
                    w.flush(false);
                    w.write(RedisWrite.hset(prefix + "h", "f2", "older").withVersion(6));
                    w.write(RedisWrite.zadd(prefix + "z", 1, "m2").withVersion(2));
                    w.flush(false);
                }
                assertEquals(Map.of("f1", "x", "f2", "y"), redis.sync().hgetall(prefix + "h"));
                assertEquals(2.5, redis.sync().zscore(prefix + "z", "m1"));
                assertEquals(9.0, redis.sync().zscore(prefix + "z", "m2"), "the older version of m2 was not applied");
            } finally {
                redis.deleteAll(prefix);
            }
        }
    }

    @Test
    void aKeyOfAnotherTypeStopsTheJobNamingIt() throws Exception {
        String prefix = TestRedis.freshPrefix("wrongtype");
        try (TestRedis redis = new TestRedis()) {
            try {
                redis.sync().set(prefix + "a", "a string");
                SinkWriter<RedisWrite> w = RedisSink.<RedisWrite>builder().setRedisUri(TestRedis.url()).setMapper(x -> x)
                        .build().createWriter(TestContexts.context(MetricGroup.unregistered()));
                w.write(RedisWrite.hset(prefix + "a", "field", "1"));
                NonRecoverableException e = assertThrows(NonRecoverableException.class, () -> w.flush(false));
                w.close();
                assertTrue(e.getMessage().contains("WRONGTYPE") && e.getMessage().contains(prefix + "a")
                        && e.getMessage().contains("another type"), e.getMessage());
            } finally {
                redis.deleteAll(prefix);
            }
        }
    }

    @Test
    void aRedisThatDoesNotAnswerStopsTheStartSayingWhere() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        StreamEnvironment env = StreamEnvironment.create();
        env.enableCheckpointing(Duration.ofMillis(100));
        env.getCheckpointConfig().setCheckpointStorage("memory:");
        env.setRestartStrategy(RestartStrategies.noRestart());
        env.fromSource(SequenceSource.bounded(1, 10, 2), "sequence").uid("source")
                .sinkTo(RedisSink.<String>builder().setRedisUri("redis://127.0.0.1:" + port).setTimeout(Duration.ofSeconds(2))
                        .setMapper(v -> RedisWrite.set(v, v)).build()).uid("redis");
        Exception e = assertThrows(Exception.class, () -> env.execute("redis-down"));
        assertTrue(e.getMessage().contains("127.0.0.1:" + port) && e.getMessage().contains("does not answer"),
                e.getMessage());
    }
}
