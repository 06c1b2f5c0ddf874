package io.onceflow.apps;

import io.onceflow.api.HeapStateBackend;
import io.onceflow.api.KeyedValue;
import io.onceflow.api.StateBackend;
import io.onceflow.api.StreamEnvironment;
import io.onceflow.api.functions.KeyedProcessFunction;
import io.onceflow.kafka.sink.DeliveryGuarantee;
import io.onceflow.kafka.sink.KafkaRecordSerializer;
import io.onceflow.kafka.sink.KafkaSink;
import io.onceflow.kafka.sink.KafkaSinkBuilder;
import io.onceflow.kafka.source.KafkaRecordDeserializer;
import io.onceflow.kafka.source.KafkaSource;
import io.onceflow.kafka.source.KafkaSourceBuilder;
import io.onceflow.kafka.source.DeadLetter;
import io.onceflow.kafka.source.OffsetOutOfRangePolicy;
import io.onceflow.api.functions.MapFunction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The word-count pipeline: text lines from Kafka, split on whitespace, a running count per word in
 * keyed state, and for every occurrence one record to Kafka with key = the word and value = its count
 * so far as a decimal string, so a word's values are 1, 2, 3, … in order.
 */
final class WordCountJob {

    /** What the pipeline needs to know. */
    record Settings(String bootstrapServers, String input, String output, String checkpointStorage, Duration interval,
                    int parallelism, DeliveryGuarantee delivery, String jobName, boolean bounded,
                    boolean ignoreFailuresAfterTransactionTimeout, String deadLetterTopic,
                    OffsetOutOfRangePolicy offsetOutOfRange, boolean takeOver, StateBackend stateBackend) {

        /** The settings of a bounded run with every edge option at its default. */
        static Settings of(String bootstrapServers, String input, String output, Path checkpointDir, Duration interval,
                           int parallelism, DeliveryGuarantee delivery, String jobName, boolean bounded) {
            return new Settings(bootstrapServers, input, output, checkpointDir.toUri().toString(), interval, parallelism,
                    delivery, jobName,
                    bounded, false, null, OffsetOutOfRangePolicy.FAIL, false, new HeapStateBackend());
        }
    }

    /**
     * Running counts into a database table instead of a Kafka topic: idempotent upserts, through the
     * write-ahead log (each checkpoint's counts with its commit row in one transaction once it completed), or
     * in one prepared (XA) transaction per checkpoint.
     */
    record JdbcOutput(String url, String user, String password, String table, Mode mode) {

        /** How the counts reach the table. */
        enum Mode { UPSERT, WRITE_AHEAD, XA }

        private String upsertSql() {
            return "INSERT INTO " + table + " (word, count) VALUES (?, ?)" + (postgres()
                    ? " ON CONFLICT (word) DO UPDATE SET count = EXCLUDED.count"
                    : " ON DUPLICATE KEY UPDATE count = VALUES(count)");
        }

        private boolean postgres() {
            return url.toLowerCase(java.util.Locale.ROOT).startsWith("jdbc:postgresql:");
        }

        /** The operator: each mode keeps different state, so each has its own uid. */
        String uid() {
            return switch (mode) {
                case UPSERT -> "jdbc-output";
                case WRITE_AHEAD -> "jdbc-wal-output";
                case XA -> "jdbc-xa-output";
            };
        }

        /** The table's DDL: {@code word} (the primary key) and {@code count}, for the URL's database. */
        String createTable() {
            return postgres()
                    ? "CREATE TABLE " + table + " (word TEXT PRIMARY KEY, count BIGINT NOT NULL)"
                    : "CREATE TABLE " + table + " (word VARCHAR(512) NOT NULL PRIMARY KEY, count BIGINT NOT NULL)";
        }

        io.onceflow.api.sink.Sink<KeyedValue<String, Long>> sink() {
            if (mode == Mode.XA) {
                return io.onceflow.twophase.jdbc.JdbcXaSink.<KeyedValue<String, Long>>builder()
                        .setJdbcUrl(url).setUsername(user).setPassword(password)
                        .setSql(upsertSql())
                        .setStatementFiller((ps, kv) -> {
                            ps.setString(1, kv.key());
                            ps.setLong(2, kv.value());
                        })
                        .setCreateTableIfMissing(table, createTable())
                        .build();
            }
            if (mode == Mode.WRITE_AHEAD) {
                return io.onceflow.wal.jdbc.JdbcWriteAheadSink.builder(COUNT_SERIALIZER)
                        .setJdbcUrl(url).setUsername(user).setPassword(password)
                        .setSql(upsertSql())
                        .setStatementBuilder((ps, kv) -> {
                            ps.setString(1, kv.key());
                            ps.setLong(2, kv.value());
                        })
                        .setCreateTableIfMissing(createTable())
                        .build();
            }
            var b = io.onceflow.sinks.jdbc.JdbcUpsertSink.<KeyedValue<String, Long>>builder().setJdbcUrl(url)
                    .setTable(table).setColumns("word", "count").setKeyColumns("word").setVersionColumn("count")
                    .setRowMapper(kv -> new Object[] {kv.key(), kv.value()}).setCreateTableIfMissing(createTable());
            if (user != null) {
                b.setUsername(user);
            }
            if (password != null) {
                b.setPassword(password);
            }
            return b.build();
        }
    }

    /** A count in the write-ahead log: the word, then the count. */
    static final io.onceflow.api.serialization.TypeSerializer<KeyedValue<String, Long>> COUNT_SERIALIZER =
            new io.onceflow.api.serialization.TypeSerializer<>() {
                @Override
                public void serialize(KeyedValue<String, Long> value, java.io.DataOutput out) throws java.io.IOException {
                    byte[] word = value.key().getBytes(StandardCharsets.UTF_8);
                    out.writeInt(word.length);
                    out.write(word);
                    out.writeLong(value.value());
                }

                @Override
                public KeyedValue<String, Long> deserialize(java.io.DataInput in) throws java.io.IOException {
                    byte[] word = new byte[in.readInt()];
                    in.readFully(word);
                    return new KeyedValue<>(new String(word, StandardCharsets.UTF_8), in.readLong());
                }
            };

    private WordCountJob() {
    }

    static StreamEnvironment build(Settings s) {
        return build(s, new WordCounter(), null, null);
    }

    static StreamEnvironment build(Settings s, JdbcOutput jdbc) {
        return build(s, new WordCounter(), null, jdbc, null);
    }

    /** @param redisUrl where the counts go instead (keys {@code <job-name>:<word>}), or null */
    static StreamEnvironment build(Settings s, JdbcOutput jdbc, String redisUrl) {
        return build(s, new WordCounter(), null, jdbc, redisUrl);
    }

    static StreamEnvironment build(Settings s, KeyedProcessFunction<String, String, KeyedValue<String, Long>> counter,
                                   MapFunction<String, String> pace) {
        return build(s, counter, pace, null);
    }

    /**
     * @param counter the counting function (the demo's tests swap in a broken one)
     * @param pace    a map applied to every line before splitting, or null
     * @param jdbc    where the counts go instead of the Kafka topic, or null
     */
    static StreamEnvironment build(Settings s, KeyedProcessFunction<String, String, KeyedValue<String, Long>> counter,
                                   MapFunction<String, String> pace, JdbcOutput jdbc) {
        return build(s, counter, pace, jdbc, null);
    }

    static StreamEnvironment build(Settings s, KeyedProcessFunction<String, String, KeyedValue<String, Long>> counter,
                                   MapFunction<String, String> pace, JdbcOutput jdbc, String redisUrl) {
        StreamEnvironment env = StreamEnvironment.create();
        env.setParallelism(s.parallelism());
        env.enableCheckpointing(s.interval());
        env.getCheckpointConfig().setCheckpointTimeout(Duration.ofMinutes(1));
        env.getCheckpointConfig().setCheckpointStorage(s.checkpointStorage());
        env.getCheckpointConfig().setTakeOver(s.takeOver());
        env.setStateBackend(s.stateBackend());

        KafkaSourceBuilder<String> source = KafkaSource.<String>builder()
                .setBootstrapServers(s.bootstrapServers())
                .setTopics(s.input())
                .setDeserializer(KafkaRecordDeserializer.strictUtf8Values())
                .setGroupId("onceflow-" + s.jobName())
                .setOffsetOutOfRangePolicy(s.offsetOutOfRange());
        if (s.deadLetterTopic() != null) {
            source.enableDeadLetters();
        }
        if (s.bounded()) {
            source.setBounded();
        }
        String output = s.output();
        KafkaSinkBuilder<KeyedValue<String, Long>> sink = KafkaSink.<KeyedValue<String, Long>>builder()
                .setBootstrapServers(s.bootstrapServers())
                .setRecordSerializer(KafkaRecordSerializer.forTopic(output,
                        kv -> kv.key().getBytes(StandardCharsets.UTF_8),
                        kv -> Long.toString(kv.value()).getBytes(StandardCharsets.UTF_8)))
                .setDeliveryGuarantee(s.delivery());
        if (s.delivery() == DeliveryGuarantee.EXACTLY_ONCE) {
            sink.setTransactionalIdPrefix("onceflow-" + s.jobName());
            if (s.ignoreFailuresAfterTransactionTimeout()) {
                sink.ignoreFailuresAfterTransactionTimeout();
            }
        }

        var lines = env.fromSource(source.build(), "kafka-input").uid("kafka-input");
        if (s.deadLetterTopic() != null) {
            KafkaSinkBuilder<DeadLetter> deadLetters = KafkaSink.<DeadLetter>builder()
                    .setBootstrapServers(s.bootstrapServers())
                    .setRecordSerializer(DeadLetter.toTopic(s.deadLetterTopic()))
                    .setDeliveryGuarantee(s.delivery());
            if (s.delivery() == DeliveryGuarantee.EXACTLY_ONCE) {
                deadLetters.setTransactionalIdPrefix("onceflow-" + s.jobName() + "-dead-letters");
            }
            lines.getSideOutput(KafkaSource.DEAD_LETTERS).sinkTo(deadLetters.build()).uid("dead-letters");
        }
        if (pace != null) {
            lines = lines.map(pace).uid("pace");
        }
        var counts = lines.flatMap(new SplitWords()).uid("split")
                .keyBy(w -> w)
                .process(counter).uid("count");
        if (jdbc != null) {
            counts.sinkTo(jdbc.sink()).uid(jdbc.uid());
        } else if (redisUrl != null) {
            String prefix = s.jobName() + ":";
            counts.sinkTo(io.onceflow.sinks.redis.RedisSink.<KeyedValue<String, Long>>builder().setRedisUri(redisUrl)
                    .setMapper(kv -> io.onceflow.sinks.redis.RedisWrite.set(prefix + kv.key(), kv.value().toString())
                            .withVersion(kv.value()))
                    .build()).uid("redis-output");
        } else {
            counts.sinkTo(sink.build()).uid("kafka-output");
        }
        return env;
    }
}
