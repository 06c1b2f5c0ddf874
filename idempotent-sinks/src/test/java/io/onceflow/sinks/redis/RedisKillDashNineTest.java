package io.onceflow.sinks.redis;

import io.onceflow.kafka.broker.Topics;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.onceflow.kafka.testing.KafkaTestCluster;
import io.onceflow.kafka.testing.TestInput;
import io.onceflow.testing.ChildJvm;
import io.onceflow.testing.KillDashNine;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Kafka → keyed running count → Redis job in a child JVM, killed with {@code kill -9} five times at random
 * moments and restarted; then every key's value, read with plain GETs, is the word's exact count.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class RedisKillDashNineTest {

    @RegisterExtension
    static final KafkaTestCluster kafka = new KafkaTestCluster();

    private static final int KILLS = 5;
    private static final int TOTAL = 300_000;
    private static final int KEYS = 500;

    @TempDir
    Path dir;

    private Process running;

    @Test
    void killedAtRandomMomentsRedisEndsExact() throws Exception {
        String input = "redis-in-" + UUID.randomUUID().toString().substring(0, 8);
        try (Admin admin = kafka.createAdmin()) {
            Topics.create(admin, 4, input);
        }
        try (TestInput writer = TestInput.to(kafka.bootstrapServers())) {
            for (int i = 0; i < TOTAL; i++) {
                writer.send(input, "w" + (i % KEYS));
            }
        }
        Map<String, String> expected = new HashMap<>();
        TestInput.wordCounts(TestInput.readAll(kafka.bootstrapServers(), input, Duration.ofSeconds(60)))
                .forEach((w, n) -> expected.put(w, Long.toString(n)));
        String prefix = TestRedis.freshPrefix("killed");
        Path log = dir.resolve("child.log");
        Random random = new Random(23);
        List<Long> sumAtKill = new ArrayList<>();
        try (TestRedis redis = new TestRedis()) {
            try {
                for (int i = 0; i < KILLS; i++) {
                    KillDashNine.killAfterProgress(() -> start(input, prefix, log), () -> sum(redis, prefix), random, 1000,
                            "run " + i, () -> ChildJvm.tail(log));
                    sumAtKill.add(sum(redis, prefix));
                }
                System.out.println("Redis: sum of the counts at each kill: " + sumAtKill);
                Process last = start(input, prefix, log);
                assertTrue(last.waitFor(180, TimeUnit.SECONDS), "the last run did not finish:\n" + ChildJvm.tail(log));
                assertEquals(0, last.exitValue(), "the last run failed:\n" + ChildJvm.tail(log));
                Map<String, String> actual = redis.strings(prefix, ":version");
                assertEquals(expected.size(), actual.size(), "one key per word");
                List<String> wrong = new ArrayList<>();
                expected.forEach((word, n) -> {
                    if (!n.equals(actual.get(word))) {
                        wrong.add(word + ": " + actual.get(word) + " instead of " + n);
                    }
                });
                assertTrue(wrong.isEmpty(), wrong.size() + " wrong count(s), e.g. " + wrong.subList(0, Math.min(10, wrong.size())));
            } finally {
                if (running != null && running.isAlive()) {
                    running.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
                }
                redis.deleteAll(prefix);
            }
        }
    }

    private static long sum(TestRedis redis, String prefix) {
        return redis.strings(prefix, ":version").values().stream().mapToLong(Long::parseLong).sum();
    }

    private Process start(String input, String prefix, Path log) throws Exception {
        running = ChildJvm.of(RedisJobMain.class, List.of("-Xmx256m", "-Dslf4j.provider=org.slf4j.simple.SimpleServiceProvider",
                        "-Dorg.slf4j.simpleLogger.log.org.apache.kafka=warn", "-Dorg.slf4j.simpleLogger.log.io.lettuce=warn",
                        "-Dorg.slf4j.simpleLogger.log.io.netty=warn", "-Dorg.slf4j.simpleLogger.showDateTime=true"),
                        kafka.bootstrapServers(), input, dir.resolve("checkpoints").toString(), TestRedis.url(), prefix)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        return running;
    }
}
